// Package chtest starts real ClickHouse servers for tests: one per test with
// NewServer, or one per test package with Main and Shared, each test then working
// in its own database from NewDatabase.
package chtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/cx360/cx360/pkg/clickhouse/server"
)

// stopTimeout bounds a graceful stop at the end of a test before the server is
// killed.
const stopTimeout = 30 * time.Second

// NewServer starts a ClickHouse server with its data in t.TempDir() and stops it
// when the test ends. It fails the test if ClickHouse is not installed.
func NewServer(t testing.TB) *server.Server {
	t.Helper()
	return NewServerWith(t, server.Config{})
}

// NewServerWith is NewServer with settings (TLS, a password); the data dir is
// always t.TempDir().
func NewServerWith(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	cfg.DataDir = t.TempDir()
	srv, err := server.Start(context.Background(), cfg,
		zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(describe(err))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop clickhouse: %v", err)
		}
	})
	return srv
}

// shared is the package-wide server that Shared starts and Main stops.
var shared struct {
	mu   sync.Mutex
	srv  *server.Server
	dir  string
	err  error
	used bool // Main was called, so someone stops the server
}

// Main runs a test package whose tests call Shared, and stops the shared server
// afterwards. Use it as: func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }.
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.used = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := shared.srv.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "chtest: stop shared clickhouse: %v\n", err)
			code = 1
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

// Shared returns the server shared by the tests of this package, starting it on
// first use. The package's TestMain must call Main, which stops it.
func Shared(t testing.TB) *server.Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.used {
		t.Fatal("chtest.Shared needs func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) } in the test package")
	}
	if shared.srv == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "chtest-")
		if shared.err == nil {
			shared.srv, shared.err = server.Start(context.Background(), server.Config{DataDir: shared.dir}, zap.NewNop())
		}
	}
	if shared.err != nil {
		t.Fatal(describe(shared.err))
	}
	return shared.srv
}

var databaseSeq atomic.Int64

// NewDatabase creates an empty database on srv for this test, drops it when the
// test ends, and returns its name.
func NewDatabase(t testing.TB, srv *server.Server) string {
	t.Helper()
	name := fmt.Sprintf("test_%d_%d_%s", os.Getpid(), databaseSeq.Add(1), sanitize(t.Name()))
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}})
	if err != nil {
		t.Fatalf("chtest: open: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close()
		t.Fatalf("chtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The test may have stopped the server; a dropped server has nothing to clean.
		if srv.PID() == 0 {
			return
		}
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("chtest: drop database %s: %v", name, err)
		}
	})
	return name
}

// sanitize keeps the letters, digits and underscores of a test name, so it can be
// part of an unquoted identifier.
func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

func describe(err error) string {
	if errors.Is(err, server.ErrNotInstalled) {
		return "ClickHouse is not installed on this machine: run scripts/setup.sh (" + err.Error() + ")"
	}
	return "start clickhouse: " + err.Error()
}
