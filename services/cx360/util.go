package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
)

func isFlagSet(fs *config.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// writeEndpoints writes ep atomically (temp file + rename) so a script polling
// for the file never reads half of it.
func writeEndpoints(path string, ep devstack.Endpoints) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("ready file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// bindIdentityDev binds the identity settings that make sense in the dev stack
// (the shared ones — Kafka, registry, logging, region — come from ingest's flags).
func bindIdentityDev(fs *config.FlagSet, c *config.Identity) {
	fs.String(&c.Addr, "identity-addr", config.DefaultIdentityAddr, "profile API listen address")
	fs.String(&c.AdminAddr, "identity-admin-addr", config.DefaultIdentityAdminAddr, "identity health and metrics listen address")
	fs.String(&c.RulesFile, "identity-rules-file", "", "YAML overriding identity rules")
	fs.Duration(&c.SnapshotInterval, "identity-snapshot-interval", config.DefaultSnapshotInterval, "how often the identity graph is saved")
	fs.Int(&c.BatchSize, "identity-batch-size", config.DefaultIdentityBatch, "most events resolved per produce")
	c.GroupID = config.DefaultIdentityGroup
	c.StartupTimeout = config.DefaultStartupTimeout
	c.ShutdownTimeout = config.DefaultShutdownTimeout
	c.DefaultRegion = config.DefaultRegion
}
