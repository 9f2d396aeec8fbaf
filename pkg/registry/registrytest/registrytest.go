// Package registrytest runs the embedded schema registry for tests, and puts
// outages in front of it.
package registrytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/registry"
)

// Start runs the embedded registry on a free 127.0.0.1 port with its data in
// a temp dir, until t ends (a test may shut it down before: Shutdown is
// idempotent).
func Start(t testing.TB) *registry.Server {
	t.Helper()
	reg, err := registry.New(t.TempDir(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reg.Shutdown(ctx); err != nil {
			t.Errorf("registry shutdown: %v", err)
		}
	})
	return reg
}

// Outage is a proxy in front of a real registry that answers 503, as a
// registry under maintenance or behind a failing load balancer does, while
// Down is set.
type Outage struct {
	URL  string // the proxy's
	Down atomic.Bool
}

// NewOutage returns a proxy to the registry at target, up, closed when t ends.
func NewOutage(t testing.TB, target string) *Outage {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	o := &Outage{}
	forward := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error_code":50301,"message":"schema registry unavailable"}`))
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}
