package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AdminServer serves /healthz, /readyz and /metrics on its own address (9100+),
// so probes and scrapes never queue behind API traffic.
type AdminServer struct {
	srv      *http.Server
	ln       net.Listener
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

// NewAdminServer builds the server; Start makes it listen on addr.
func NewAdminServer(checker *Checker, gatherer prometheus.Gatherer) *AdminServer {
	mux := http.NewServeMux()
	Register(mux, checker, gatherer)
	return &AdminServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
}

// Start listens on addr and serves in the background.
func (a *AdminServer) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin server: listening on %s: %w", addr, err)
	}
	a.ln = ln
	a.done = make(chan error, 1)
	go func() {
		err := a.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.done <- err
	}()
	return nil
}

// Addr is the listening address after Start.
func (a *AdminServer) Addr() string { return a.ln.Addr().String() }

// Shutdown stops the server; idempotent.
func (a *AdminServer) Shutdown(ctx context.Context) error {
	a.stopOnce.Do(func() {
		if a.ln == nil {
			return
		}
		err := a.srv.Shutdown(ctx)
		if serveErr := <-a.done; err == nil {
			err = serveErr
		}
		a.stopErr = err
	})
	return a.stopErr
}
