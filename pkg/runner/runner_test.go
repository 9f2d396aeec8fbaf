package runner

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
)

// failingService is a test stand-in for a stage whose work ends on its own
// with an error (identity or sink losing a dependency for good); it records
// whether the runner shut it down.
type failingService struct {
	done     chan struct{}
	shutdown bool
}

func (f *failingService) Start() error                   { close(f.done); return nil }
func (f *failingService) Shutdown(context.Context) error { f.shutdown = true; return nil }
func (f *failingService) Done() <-chan struct{}          { return f.done }
func (f *failingService) Err() error                     { return errors.New("worker died") }

func command(svc Service) Command {
	var log config.Log
	var n int
	return Command{
		Name: "t", About: "a test service",
		Bind: func(fs *config.FlagSet) {
			log.Bind(fs)
			fs.Int(&n, "n", 1, "a number")
		},
		Validate: func() error {
			if n < 0 {
				return errors.New("n must not be negative")
			}
			return nil
		},
		Log:             func() config.Log { return log },
		ShutdownTimeout: func() time.Duration { return time.Second },
		New:             func(context.Context, *zap.Logger) (Service, error) { return svc, nil },
	}
}

func TestExitCodes(t *testing.T) {
	var out strings.Builder
	if code := command(nil).Run([]string{"-h"}, &out); code != ExitOK || !strings.Contains(out.String(), "a test service") {
		t.Errorf("-h: exit %d, help %q", code, out.String())
	}
	if code := command(nil).Run([]string{"--n=-1"}, io.Discard); code != ExitUsage {
		t.Errorf("invalid config: exit %d", code)
	}
	if code := command(nil).Run([]string{"--nope"}, io.Discard); code != ExitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
	svc := &failingService{done: make(chan struct{})}
	if code := command(svc).Run([]string{"--log-level=error"}, io.Discard); code != ExitFailed || !svc.shutdown {
		t.Errorf("a worker that dies: exit %d, shut down %v; want %d and a shutdown", code, svc.shutdown, ExitFailed)
	}
}
