package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/health"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cx360-sink-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sink")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sink:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestKillNineMidBatchEndsWithExactCounts kills the sink binary with SIGKILL
// while it writes, restarts it, and requires every event exactly once in
// ClickHouse after FINAL: offsets are committed only after an insert.
func TestKillNineMidBatchEndsWithExactCounts(t *testing.T) {
	srv := chtest.NewServer(t)
	ic := devstacktest.Ingest(t)
	ep := devstacktest.Start(t, devstack.Config{Ingest: ic, Identity: config.Identity{ProfileInterval: 100 * time.Millisecond}},
		health.NewRegistry(), nil).Endpoints()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()

	// The sink's logs (kafka-go's group protocol at debug) are shown only when
	// the test fails.
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("the sink's last log lines:\n%s", strings.Join(lines[max(0, len(lines)-300):], "\n"))
		}
	})
	run := func() *exec.Cmd {
		cmd := exec.Command(binary, "--kafka-brokers", ep.Kafka, "--registry-url", ep.Registry, "--clickhouse-addr", srv.Addr(),
			"--sink-admin-addr", "", "--sink-batch-rows", "300", "--sink-flush-interval", "100ms", "--log-level", "debug")
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
			}
		})
		return cmd
	}
	const total = 6000
	post := func(from, n int) {
		var b strings.Builder
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, `{"event_id":"e-%05d","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"a-%d"}}`+"\n", i, i%700)
		}
		resp, err := http.Post(ep.Ingest+"/v1/web/events", "application/x-ndjson", strings.NewReader(b.String()))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	count := func(q string) uint64 {
		var n uint64
		if err := ch.QueryRow(context.Background(), q).Scan(&n); err != nil {
			return 0
		}
		return n
	}

	sinkProc := run()
	for i := 0; i < total; i += 500 {
		post(i, 500)
		if i == 2000 || i == 4000 {
			// Mid-load, mid-batch: the rows inserted since the last commit come
			// again after the restart, and FINAL collapses them.
			for count("SELECT count() FROM cx360.journey_events") == 0 {
				time.Sleep(20 * time.Millisecond)
			}
			_ = sinkProc.Process.Signal(syscall.SIGKILL)
			_ = sinkProc.Wait()
			t.Logf("kill -9 with %d rows written", count("SELECT count() FROM cx360.journey_events"))
			sinkProc = run()
		}
	}
	deadline := time.Now().Add(120 * time.Second) // each restart waits out the dead member's 6 s session
	for {
		final := count("SELECT count() FROM cx360.journey_events FINAL")
		distinct := count("SELECT uniqExact(event_id) FROM cx360.journey_events")
		if final == total && distinct == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after kill -9 and restart: %d rows after FINAL, %d distinct events; want %d", final, distinct, total)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lockedBuffer collects a child process's stderr across restarts.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
