package config

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeUsesRealConfigKeys fails when docker-compose.yml sets a CX360_*
// variable that its service does not read: a typo there is silently ignored
// at run time.
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
	binders := map[string]interface{ Bind(*FlagSet) }{"ingest": &Ingest{}, "identity": &Identity{}, "sink": &Sink{}}
	for service, cfg := range binders {
		fs := NewFlagSet(service, func(string) (string, bool) { return "", false })
		cfg.Bind(fs)
		known := map[string]bool{}
		for _, n := range fs.Names() {
			known[EnvName(n)] = true
		}
		env := compose.Services[service].Environment
		if len(env) == 0 {
			t.Errorf("no %s service with an environment in docker-compose.yml", service)
		}
		for k := range env {
			if strings.HasPrefix(k, EnvPrefix) && !known[k] {
				t.Errorf("docker-compose.yml sets %s for %s, which it does not read", k, service)
			}
		}
	}
}
