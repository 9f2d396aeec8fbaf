// Command identity is cx360's identity-resolution service: cx.events →
// cx.journeys, cx.customers and cx.identity.changes, with the profile API.
package main

import (
	"context"
	"os"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity/stage"
	"github.com/cx360/cx360/pkg/runner"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if _, set := os.LookupEnv("GOGC"); !set {
		// The graph is a large, long-lived heap that every GC cycle rescans;
		// collecting at 3x the live heap instead of 2x cuts GC CPU by half.
		debug.SetGCPercent(200)
	}
	var cfg config.Identity
	return runner.Command{
		Name: "identity",
		About: `Resolves every event on cx.events to one customer (identity graph with
priorities, limits, hub quarantine and reversible merges) and produces
cx.journeys, cx.customers (compacted) and cx.identity.changes. Serves the profile
API. Run two instances for failover: one works, the other takes over.`,
		Bind: cfg.Bind, Validate: cfg.Validate,
		Log:             func() config.Log { return cfg.Log },
		ShutdownTimeout: func() time.Duration { return cfg.ShutdownTimeout },
		New: func(ctx context.Context, logger *zap.Logger) (runner.Service, error) {
			return stage.NewService(ctx, cfg, health.NewRegistry(), logger)
		},
	}.Run(args, os.Stderr)
}
