package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/config"
)

// TestComposeUsesRealConfigKeys fails when docker-compose.yml sets a CX360_*
// variable that sink does not read.
func TestComposeUsesRealConfigKeys(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	var cfg config.Sink
	fs := config.NewFlagSet("sink", func(string) (string, bool) { return "", false })
	cfg.Bind(fs)
	known := map[string]bool{}
	for _, n := range fs.Names() {
		known[config.EnvName(n)] = true
	}
	env := compose.Services["sink"].Environment
	if len(env) == 0 {
		t.Fatal("no sink service with environment in docker-compose.yml")
	}
	for k := range env {
		if strings.HasPrefix(k, config.EnvPrefix) && !known[k] {
			t.Errorf("docker-compose.yml sets %s, which sink does not read", k)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	if code := run([]string{"-h"}); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
	if code := run([]string{"--kafka-brokers", "nohost"}); code != 2 {
		t.Errorf("invalid config: exit %d, want 2", code)
	}
}
