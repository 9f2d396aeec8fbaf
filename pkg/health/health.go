// Package health serves every cx360 service's operational endpoints: /healthz
// (the process is alive), /readyz (every dependency answers) and /metrics
// (Prometheus).
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency answers; it must respect ctx.
type Check func(ctx context.Context) error

// DefaultCheckTimeout bounds each readiness check, so a hung dependency makes
// /readyz answer "not ready" instead of hanging the probe.
const DefaultCheckTimeout = 2 * time.Second

// Checker runs named readiness checks.
type Checker struct {
	mu     sync.RWMutex
	checks map[string]Check
}

// NewChecker returns an empty Checker (ready until checks are added).
func NewChecker() *Checker { return &Checker{checks: map[string]Check{}} }

// Add registers a named check, replacing one of the same name.
func (c *Checker) Add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks[name] = check
}

// Run runs every check concurrently and returns each one's error text ("" when ok).
func (c *Checker) Run(ctx context.Context) (map[string]string, bool) {
	c.mu.RLock()
	names := make([]string, 0, len(c.checks))
	for n := range c.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(c.checks))
	for n, ch := range c.checks {
		checks[n] = ch
	}
	c.mu.RUnlock()
	sort.Strings(names)

	results := make([]string, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, DefaultCheckTimeout)
			defer cancel()
			if err := checks[n](cctx); err != nil {
				results[i] = err.Error()
			}
		}()
	}
	wg.Wait()
	out := make(map[string]string, len(names))
	ok := true
	for i, n := range names {
		if results[i] != "" {
			ok = false
			out[n] = results[i]
		} else {
			out[n] = "ok"
		}
	}
	return out, ok
}

// NewRegistry returns a Prometheus registry with the Go and process collectors,
// one per service so that embedded services in one process do not collide.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Register adds /healthz, /readyz and /metrics (only with a gatherer) to mux
// and returns the patterns it added, so that a service can list its routes
// (its OpenAPI document is checked against them).
func Register(mux *http.ServeMux, checker *Checker, gatherer prometheus.Gatherer) []string {
	routes := []route{
		{"GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})},
		{"GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			results, ok := checker.Run(r.Context())
			status := http.StatusOK
			state := "ready"
			if !ok {
				status, state = http.StatusServiceUnavailable, "not ready"
			}
			writeJSON(w, status, map[string]any{"status": state, "checks": results})
		})},
	}
	if gatherer != nil {
		routes = append(routes, route{"GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})})
	}
	patterns := make([]string, 0, len(routes))
	for _, r := range routes {
		mux.Handle(r.pattern, r.handler)
		patterns = append(patterns, r.pattern)
	}
	return patterns
}

// StaticJSON serves fixed JSON bytes, such as a service's embedded OpenAPI
// document at /openapi.json. Like the probes it is unauthenticated: it says
// how to call an API, not what is in it.
func StaticJSON(body []byte) http.Handler {
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body) // the client went away; nothing to do
	})
}

// route is one pattern of a ServeMux and its handler.
type route struct {
	pattern string
	handler http.Handler
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
