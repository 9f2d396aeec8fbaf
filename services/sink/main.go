// Command sink is cx360's ClickHouse sink: cx.journeys, cx.customers and
// cx.identity.changes → ClickHouse database cx360.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/sink"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg config.Sink
	fs := config.NewFlagSet("sink", os.LookupEnv)
	cfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: sink [flags]

Writes cx360's unified journeys into ClickHouse (database cx360): cx.journeys,
cx.customers and cx.identity.changes, in batches, committing Kafka offsets only
after ClickHouse acknowledged. Applies the migrations at start.
Every flag can also be set by the environment variable shown.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "sink:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		return 2
	}
	logger, err := cfg.Log.Logger("sink")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		return 2
	}
	defer func() { _ = logger.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("sink failed", zap.Error(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config.Sink, logger *zap.Logger) error {
	svc, err := sink.NewService(ctx, cfg, health.NewRegistry(), logger)
	if err != nil {
		return err
	}
	if err := svc.Start(); err != nil {
		return errors.Join(err, svc.Shutdown(context.Background()))
	}
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case <-svc.Done():
		runErr = svc.Err()
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(runErr, svc.Shutdown(sctx))
}
