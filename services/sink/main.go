// Command sink is cx360's ClickHouse sink: cx.journeys, cx.customers and
// cx.identity.changes → ClickHouse database cx360.
package main

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/runner"
	"github.com/cx360/cx360/pkg/sink"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg config.Sink
	return runner.Command{
		Name: "sink",
		About: `Writes cx360's unified journeys into ClickHouse (database cx360): cx.journeys,
cx.customers and cx.identity.changes, in batches, committing Kafka offsets only
after ClickHouse acknowledged. Applies the migrations at start.`,
		Bind: cfg.Bind, Validate: cfg.Validate,
		Log:             func() config.Log { return cfg.Log },
		ShutdownTimeout: func() time.Duration { return cfg.ShutdownTimeout },
		New: func(ctx context.Context, logger *zap.Logger) (runner.Service, error) {
			return sink.NewService(ctx, cfg, health.NewRegistry(), logger)
		},
	}.Run(args, os.Stderr)
}
