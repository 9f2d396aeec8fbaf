// Package devstacktest runs the embedded dev stack (kfake broker, schema
// registry, and as asked ingest, identity, ClickHouse and the sink) for
// tests, on free 127.0.0.1 ports with its data in the test's temp dir.
package devstacktest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
)

// startTimeout bounds starting the stack, and stopping it: ClickHouse and
// a cold registry take seconds on a loaded machine.
const startTimeout = 2 * time.Minute

// Ingest returns ingest's settings as its flags default them, listening on a
// free 127.0.0.1 port, without an admin listener.
func Ingest(t testing.TB) config.Ingest {
	t.Helper()
	var ic config.Ingest
	fs := config.NewFlagSet("test", func(string) (string, bool) { return "", false })
	ic.Bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	ic.Addr, ic.AdminAddr = "127.0.0.1:0", ""
	return ic
}

// Start runs the stack cfg describes and shuts it down when t ends. Fields
// left zero are filled: the data dir is a temp dir, the broker and the
// registry listen on free ports, and ingest has the settings of Ingest. reg
// (metrics) and logger may be nil.
func Start(t testing.TB, cfg devstack.Config, reg *prometheus.Registry, logger *zap.Logger) *devstack.Stack {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.KafkaAddr == "" {
		cfg.KafkaAddr = "127.0.0.1:0"
	}
	if cfg.RegistryAddr == "" {
		cfg.RegistryAddr = "127.0.0.1:0"
	}
	if cfg.Ingest.Addr == "" {
		cfg.Ingest = Ingest(t)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := devstack.Start(ctx, cfg, reg, logger)
	if err != nil {
		t.Fatalf("starting the dev stack: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("dev stack shutdown: %v", err)
		}
	})
	return s
}

// Logger returns a logger at level that writes to a file; when t fails, its
// last lines are logged with the failure.
func Logger(t testing.TB, level zapcore.Level, lines int) *zap.Logger {
	t.Helper()
	file := filepath.Join(t.TempDir(), "stack.log")
	logger, err := zap.Config{
		Level: zap.NewAtomicLevelAt(level), Encoding: "console", EncoderConfig: zap.NewDevelopmentEncoderConfig(),
		OutputPaths: []string{file}, ErrorOutputPaths: []string{file},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(file)
			all := strings.Split(string(b), "\n")
			t.Logf("the stack's last log lines:\n%s", strings.Join(all[max(0, len(all)-lines):], "\n"))
		}
	})
	return logger
}
