// Command ingest is cx360's ingest service: POST /v1/{channel}/events → cx.events.
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
	"github.com/cx360/cx360/pkg/ingest"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg config.Ingest
	fs := config.NewFlagSet("ingest", os.LookupEnv)
	cfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ingest [flags]\n\nAccepts store, web, app, phone and mapped-channel events over HTTP\n(POST /v1/{channel}/events) and produces them as Avro to Kafka.\nEvery flag can also be set by the environment variable shown.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "ingest:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		return 2
	}
	logger, err := cfg.Log.Logger("ingest")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		return 2
	}
	defer func() { _ = logger.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("ingest failed", zap.Error(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config.Ingest, logger *zap.Logger) error {
	svc, err := ingest.NewService(ctx, cfg, "ingest", health.NewRegistry(), logger)
	if err != nil {
		return err
	}
	if err := svc.Start(); err != nil {
		return errors.Join(err, svc.Shutdown(context.Background()))
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return svc.Shutdown(sctx)
}
