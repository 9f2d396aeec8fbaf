package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cx360/cx360/pkg/identity"
)

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
