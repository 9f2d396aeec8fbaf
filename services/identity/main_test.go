package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/identity"
)

// TestComposeUsesRealConfigKeys fails when docker-compose.yml sets a CX360_*
// variable that identity does not read.
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
	var cfg config.Identity
	fs := config.NewFlagSet("identity", func(string) (string, bool) { return "", false })
	cfg.Bind(fs)
	known := map[string]bool{}
	for _, n := range fs.Names() {
		known[config.EnvName(n)] = true
	}
	env := compose.Services["identity"].Environment
	if len(env) == 0 {
		t.Fatal("no identity service with environment in docker-compose.yml")
	}
	for k := range env {
		if strings.HasPrefix(k, config.EnvPrefix) && !known[k] {
			t.Errorf("docker-compose.yml sets %s, which identity does not read", k)
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

func TestRulesFileOverridesDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(file, []byte("types:\n  email: {priority: 3, max: 1}\n  member_no: {priority: 2, max: 1}\nhub_profiles: 3\n"), 0o644)
	r, err := identity.LoadRules(file)
	if err != nil {
		t.Fatal(err)
	}
	if r.Types["email"].Max != 1 || r.Types["member_no"].Priority != 2 || r.HubProfiles != 3 || r.Types["user_id"].Max != 1 {
		t.Fatalf("rules not merged over defaults: %+v", r)
	}
	os.WriteFile(file, []byte("types:\n  email: {priority: 0, max: 1}\n"), 0o644)
	if _, err := identity.LoadRules(file); err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("invalid rule accepted or unnamed: %v", err)
	}
}
