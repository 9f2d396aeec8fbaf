// Package deployments_test checks cx360's deployment artefacts on a machine
// without Docker or Kubernetes: docker-compose.yml, the Kubernetes manifests
// in k8s/, the Dockerfile, the Prometheus configuration and the Grafana
// dashboard. Each file is parsed strictly and cross-checked against the code it
// deploys: every CX360_* variable is a key the service reads and the values
// pass its validation; probes hit the ports and paths the services serve; the
// Dockerfile's go build commands build the service binaries here; the
// dashboard's SQL runs on a real ClickHouse 18.16 server over a fixture.
package deployments_test

import (
	"errors"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
)

// repoRoot is the module root, relative to this package's directory (where go
// test runs).
const repoRoot = ".."

// serviceConfig is a service binary's configuration: the flags (and CX360_*
// variables) it binds and the validation it runs at start.
type serviceConfig interface {
	Bind(*config.FlagSet)
	Validate() error
}

// serviceConfigs names the configuration of each service binary under
// services/ that runs as a long-lived stage (TestServiceList keeps it in step
// with services/).
var serviceConfigs = map[string]func() serviceConfig{
	"ingest":   func() serviceConfig { return &config.Ingest{} },
	"identity": func() serviceConfig { return &config.Identity{} },
	"sink":     func() serviceConfig { return &config.Sink{} },
}

// services returns the deployed services in name order.
func services() []string {
	names := make([]string, 0, len(serviceConfigs))
	for n := range serviceConfigs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestServiceList fails when a service binary is added under services/ (a main
// package run by pkg/runner, as every stage is) without being deployed here,
// or when one listed here is gone.
func TestServiceList(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join(repoRoot, "services"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, "services", d.Name(), "main.go"), nil, parser.ImportsOnly)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if imp.Path.Value == `"github.com/cx360/cx360/pkg/runner"` && f.Name.Name == "main" {
				found = append(found, d.Name())
			}
		}
	}
	sort.Strings(found)
	if !slices.Equal(found, services()) {
		t.Fatalf("service binaries under services/ (main packages using pkg/runner) are %v; deployments cover %v", found, services())
	}
}

// configKeys returns the CX360_* variables a service reads.
func configKeys(t *testing.T, service string) map[string]bool {
	t.Helper()
	newCfg, ok := serviceConfigs[service]
	if !ok {
		t.Fatalf("%q is not a cx360 service", service)
	}
	fs := config.NewFlagSet(service, func(string) (string, bool) { return "", false })
	newCfg().Bind(fs)
	keys := map[string]bool{}
	for _, n := range fs.Names() {
		keys[config.EnvName(n)] = true
	}
	return keys
}

// anyConfigKeys returns the CX360_* variables any service reads (for containers
// that are not cx360 services but take a cx360 setting, like Grafana).
func anyConfigKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, s := range services() {
		for k := range configKeys(t, s) {
			keys[k] = true
		}
	}
	return keys
}

// checkEnvKeys reports every CX360_* variable of env that service does not read:
// an unread variable is silently ignored at run time, so a typo there is a
// setting that never applies.
func checkEnvKeys(t *testing.T, where, service string, env map[string]string) {
	t.Helper()
	known := configKeys(t, service)
	for _, k := range sortedKeys(env) {
		if strings.HasPrefix(k, config.EnvPrefix) && !known[k] {
			t.Errorf("%s sets %s, which %s does not read", where, k, service)
		}
	}
}

// validateEnv runs the service's own flag parsing and validation with env as
// its whole environment, as the binary does at start.
func validateEnv(service string, env map[string]string) error {
	fs := config.NewFlagSet(service, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	cfg := serviceConfigs[service]()
	cfg.Bind(fs)
	if err := fs.Parse(nil); err != nil {
		return err
	}
	return cfg.Validate()
}

// adminAddrKey and apiAddrKey name each service's listen addresses.
var (
	adminAddrKey = map[string]string{"ingest": "CX360_INGEST_ADMIN_ADDR", "identity": "CX360_IDENTITY_ADMIN_ADDR", "sink": "CX360_SINK_ADMIN_ADDR"}
	apiAddrKey   = map[string]string{"ingest": "CX360_INGEST_ADDR", "identity": "CX360_IDENTITY_ADDR"}
)

// listenPort checks that a listen address set in a deployment file is reachable
// from outside the container (not loopback) and returns its port.
func listenPort(t *testing.T, where, key, addr string) int {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: %s=%q is not host:port", where, key, addr)
		return 0
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		t.Errorf("%s: %s=%q listens on loopback only; probes and other containers cannot reach it", where, key, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Errorf("%s: %s=%q has no numeric port", where, key, addr)
	}
	return n
}

// servedStatus is the status the services' admin handler (pkg/health, which
// every stage mounts on its admin port) answers for path with every dependency
// healthy: 404 means a probe or scrape pointed there would never succeed.
func servedStatus(t *testing.T, path string) int {
	t.Helper()
	mux := http.NewServeMux()
	health.Register(mux, health.NewChecker(), prometheus.NewRegistry())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

// durationSeconds parses a Go duration setting.
func durationSeconds(t *testing.T, where, v string) float64 {
	t.Helper()
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("%s: %q is not a duration: %v", where, v, err)
	}
	return d.Seconds()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
