// Command ingest is cx360's ingest service: POST /v1/{channel}/events → cx.events.
package main

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/runner"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg config.Ingest
	return runner.Command{
		Name: "ingest",
		About: `Accepts store, web, app, phone and mapped-channel events over HTTP
(POST /v1/{channel}/events) and produces them as Avro to Kafka.`,
		Bind: cfg.Bind, Validate: cfg.Validate,
		Log:             func() config.Log { return cfg.Log },
		ShutdownTimeout: func() time.Duration { return cfg.ShutdownTimeout },
		New: func(ctx context.Context, logger *zap.Logger) (runner.Service, error) {
			return ingest.NewService(ctx, cfg, "ingest", health.NewRegistry(), logger)
		},
	}.Run(args, os.Stderr)
}
