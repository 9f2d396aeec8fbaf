// Package runner runs a cx360 service binary: flags and environment into a
// validated config, a logger, start, wait for a signal or a fatal error, and a
// bounded shutdown — with one exit code, once. Every service's main uses it.
package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
)

// Service is a started stage: Start returns quickly, Shutdown is idempotent.
type Service interface {
	Start() error
	Shutdown(ctx context.Context) error
}

// stopper is a Service whose work can end on its own with an error.
type stopper interface {
	Done() <-chan struct{}
	Err() error
}

// Command describes one service binary.
type Command struct {
	Name            string
	About           string // the help text's paragraph after the usage line
	Bind            func(*config.FlagSet)
	Validate        func() error
	Log             func() config.Log
	ShutdownTimeout func() time.Duration
	New             func(ctx context.Context, logger *zap.Logger) (Service, error)
}

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // the service failed while running
	ExitUsage  = 2 // bad flags, environment or configuration
)

// Run parses args, runs the service until SIGINT or SIGTERM, and returns the exit code.
func (c Command) Run(args []string, stderr io.Writer) int {
	fs := config.NewFlagSet(c.Name, os.LookupEnv)
	fs.SetOutput(stderr)
	c.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\nEvery flag can also be set by the environment variable shown.\n\n", c.Name, c.About)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return ExitUsage
	}
	if err := c.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return ExitUsage
	}
	logger, err := c.Log().Logger(c.Name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return ExitUsage
	}
	defer func() { _ = logger.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.serve(ctx, logger); err != nil {
		logger.Error(c.Name+" failed", zap.Error(err))
		return ExitFailed
	}
	return ExitOK
}

func (c Command) serve(ctx context.Context, logger *zap.Logger) error {
	svc, err := c.New(ctx, logger)
	if err != nil {
		return err
	}
	if err := svc.Start(); err != nil {
		return errors.Join(err, svc.Shutdown(context.Background()))
	}
	var done <-chan struct{} // nil: a service that only stops when asked
	if s, ok := svc.(stopper); ok {
		done = s.Done()
	}
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case <-done:
		runErr = svc.(stopper).Err()
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout())
	defer cancel()
	return errors.Join(runErr, svc.Shutdown(sctx))
}
