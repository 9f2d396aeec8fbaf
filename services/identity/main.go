// Command identity is cx360's identity-resolution service: cx.events →
// cx.journeys, cx.customers and cx.identity.changes, with the profile API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity/stage"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg config.Identity
	fs := config.NewFlagSet("identity", os.LookupEnv)
	cfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: identity [flags]

Resolves every event on cx.events to one customer (identity graph with
priorities, limits, hub quarantine and reversible merges) and produces
cx.journeys, cx.customers (compacted) and cx.identity.changes. Serves the profile
API. Run two instances for failover: one works, the other takes over.
Every flag can also be set by the environment variable shown.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "identity:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "identity:", err)
		return 2
	}
	logger, err := cfg.Log.Logger("identity")
	if err != nil {
		fmt.Fprintln(os.Stderr, "identity:", err)
		return 2
	}
	defer func() { _ = logger.Sync() }()
	if _, set := os.LookupEnv("GOGC"); !set {
		// The graph is a large, long-lived heap that every GC cycle rescans;
		// collecting at 3x the live heap instead of 2x cuts GC CPU by half.
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("identity failed", zap.Error(err))
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config.Identity, logger *zap.Logger) error {
	svc, err := stage.NewService(ctx, cfg, health.NewRegistry(), logger)
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
