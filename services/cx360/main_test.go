package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
)

func startStack(t *testing.T) devstack.Endpoints {
	t.Helper()
	return devstacktest.Start(t, devstack.Config{}, nil, nil).Endpoints()
}

func cli(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestImportThenTail drives the CLI as a user would: import a POS export with a
// bad row, then read both topics back decoded.
func TestImportThenTail(t *testing.T) {
	ep := startStack(t)
	file := filepath.Join(t.TempDir(), "pos.csv")
	csv := "event_id,type,timestamp,identifiers.loyalty_id,order.total\n" +
		"p-1,purchase,2026-11-01T09:00:00Z,L-1,10\n" +
		"p-2,purchase,2026-11-01T09:01:00Z,,11\n"
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--kafka-brokers", ep.Kafka, "--registry-url", ep.Registry}

	code, out, errOut := cli(append(append([]string{"import", "--channel", "store"}, conn...), file)...)
	if code != 0 {
		t.Fatalf("import exit %d: %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "read 2, accepted 1 (0 duplicates), rejected 1") || !strings.Contains(out, "missing_identifier") {
		t.Fatalf("summary: %q", out)
	}

	code, out, errOut = cli(append([]string{"tail", "--topic", "events", "--format", "brief"}, conn...)...)
	if code != 0 || !strings.Contains(out, "purchase") || !strings.Contains(out, "loyalty_id=L-1") {
		t.Fatalf("tail events exit %d: %q %q", code, out, errOut)
	}
	code, out, _ = cli(append([]string{"tail", "--topic", "cx.events.dlq", "--format", "brief"}, conn...)...)
	if code != 0 || !strings.Contains(out, "missing_identifier") {
		t.Fatalf("tail dlq exit %d: %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, _ := cli(); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
	if code, _, errOut := cli("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli("import", "x.csv"); code != 2 || !strings.Contains(errOut, "--channel") {
		t.Errorf("import without channel: exit %d %q", code, errOut)
	}
	if code, _, _ := cli("dev", "-h"); code != 0 {
		t.Errorf("dev -h: exit %d, want 0", code)
	}
	if code, out, _ := cli("help"); code != 0 || !strings.Contains(out, "cx360 dev") {
		t.Errorf("help: exit %d %q", code, out)
	}
	if code, _, errOut := cli("import", "--channel", "store", "--kafka-brokers", "nohost", "x.csv"); code != 2 || !strings.Contains(errOut, "kafka-brokers") {
		t.Errorf("bad config: exit %d %q", code, errOut)
	}
}

func TestImportUnreachableKafkaFailsClearly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "e.ndjson")
	os.WriteFile(file, []byte(`{"type":"t"}`+"\n"), 0o644)
	t.Setenv("CX360_STARTUP_TIMEOUT", "2s")
	done := make(chan struct{})
	var code int
	var errOut string
	go func() {
		defer close(done)
		// A closed port: nothing listens on 127.0.0.1:1.
		code, _, errOut = cli("import", "--channel", "web", "--kafka-brokers", "127.0.0.1:1", "--registry-url", "http://127.0.0.1:1", file)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("import against an unreachable cluster did not give up")
	}
	if code != 1 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q: want 1 and an error naming the broker", code, errOut)
	}
}
