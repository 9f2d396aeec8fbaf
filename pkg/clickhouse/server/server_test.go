//go:build linux

// The server's tests run on Linux only: they read /proc and rely on Pdeathsig.

package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.uber.org/zap/zaptest"

	"github.com/cx360/cx360/pkg/clickhouse/server"
)

func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	srv, err := server.Start(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return srv
}

func connect(t *testing.T, addr string) clickhouse.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartServesNativeAndHTTPOnLoopback(t *testing.T) {
	dir := t.TempDir()
	srv := start(t, server.Config{DataDir: dir})

	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1:<port>", srv.Addr())
	}
	cfg := srv.Config()
	if strconv.Itoa(cfg.TCPPort) != port || cfg.HTTPPort == 0 || cfg.HTTPPort == cfg.TCPPort {
		t.Fatalf("Config() ports = %d/%d, Addr %s", cfg.TCPPort, cfg.HTTPPort, srv.Addr())
	}

	conn := connect(t, srv.Addr())
	var one uint8
	var tz string
	if err := conn.QueryRow(ctxT(t), "SELECT 1, timezone()").Scan(&one, &tz); err != nil {
		t.Fatal(err)
	}
	if one != 1 || !strings.HasSuffix(tz, "UTC") {
		t.Fatalf("SELECT 1, timezone() = %d, %q; want 1 and UTC", one, tz)
	}

	resp, err := http.Get("http://" + srv.HTTPAddr() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Ok." {
		t.Fatalf("GET /ping = %d %q", resp.StatusCode, body)
	}

	for _, name := range []string{"config.xml", "users.xml", "data", "logs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("data dir lacks %s: %v", name, err)
		}
	}
	config, err := os.ReadFile(filepath.Join(dir, "config.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(config), "<listen_host>127.0.0.1</listen_host>") ||
		strings.Contains(string(config), "interserver_http_port") {
		t.Fatalf("config.xml must listen on 127.0.0.1 only and open no interserver port:\n%s", config)
	}
}

func TestStopIsGracefulAndIdempotent(t *testing.T) {
	srv := start(t, server.Config{})
	pid := srv.PID()
	if pid == 0 {
		t.Fatal("PID() = 0 for a running server")
	}
	if err := srv.Stop(ctxT(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := srv.Stop(ctxT(t)); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatalf("Kill after Stop: %v", err)
	}
	if srv.PID() != 0 || processAlive(pid) {
		t.Fatalf("process %d still alive after Stop", pid)
	}
	if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", srv.Addr())
	}
}

func TestStopKillsWhenDeadlinePasses(t *testing.T) {
	srv := start(t, server.Config{})
	pid := srv.PID()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := srv.Stop(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a done context = %v, want an error wrapping context.Canceled", err)
	}
	if processAlive(pid) {
		t.Fatalf("process %d alive after forced stop", pid)
	}
}

func TestRestartKeepsDataAndPorts(t *testing.T) {
	srv := start(t, server.Config{})
	addr, httpAddr := srv.Addr(), srv.HTTPAddr()

	conn := connect(t, addr)
	ctx := ctxT(t)
	if err := conn.Exec(ctx, "CREATE TABLE kept (n UInt32) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO kept (n) SELECT number FROM system.numbers LIMIT 1000"); err != nil {
		t.Fatal(err)
	}

	countRows := func(stage string) {
		t.Helper()
		if srv.Addr() != addr || srv.HTTPAddr() != httpAddr {
			t.Fatalf("%s: address moved from %s/%s to %s/%s", stage, addr, httpAddr, srv.Addr(), srv.HTTPAddr())
		}
		conn := connect(t, srv.Addr())
		var n uint64
		if err := conn.QueryRow(ctxT(t), "SELECT count() FROM kept").Scan(&n); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		if n != 1000 {
			t.Fatalf("%s: count() = %d, want 1000", stage, n)
		}
	}

	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start after stop: %v", err)
	}
	countRows("after stop and start")

	if err := srv.Start(ctx); err != nil {
		t.Fatalf("Start on a running server: %v", err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start after kill: %v", err)
	}
	countRows("after kill and start")

	// A new Server on the same data dir and ports sees the same data.
	cfg := srv.Config()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	srv = start(t, cfg)
	countRows("new Server on the same data dir")
}

func TestStartOnTakenPortFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	began := time.Now()
	_, err = server.Start(ctxT(t), server.Config{DataDir: t.TempDir(), TCPPort: port}, zaptest.NewLogger(t))
	if err == nil {
		t.Fatalf("Start on taken port %d succeeded", port)
	}
	if !strings.Contains(err.Error(), "did not start") || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("error does not say the port is in use: %v", err)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Fatalf("failing start took %v; it should notice the exit at once", took)
	}
}

func TestStartWithoutBinaryIsErrNotInstalled(t *testing.T) {
	_, err := server.Start(ctxT(t), server.Config{DataDir: t.TempDir(), Binary: "/nonexistent/clickhouse-server"}, nil)
	if !errors.Is(err, server.ErrNotInstalled) {
		t.Fatalf("Start with a missing binary = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("error does not say how to install: %v", err)
	}
}
