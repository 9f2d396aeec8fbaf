package devstack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

func testConfig(t *testing.T, dir string) Config {
	t.Helper()
	var ic config.Ingest
	fs := config.NewFlagSet("t", func(string) (string, bool) { return "", false })
	ic.Bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	ic.Addr, ic.AdminAddr = "127.0.0.1:0", ""
	return Config{DataDir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Ingest: ic}
}

func post(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url+"/v1/web/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestartKeepsData runs the stack, stops it cleanly, runs it again on the
// same data dir, and finds the first run's events, topics and schema ids there.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s1, err := Start(ctx, testConfig(t, dir), health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	post(t, s1.Endpoints().Ingest, `{"event_id":"first","type":"page_view","timestamp":"2026-11-02T10:00:00Z","identifiers":{"anonymous_id":"a-1"}}`)
	id1 := schemaID(t, s1.Endpoints().Registry)
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s1.Shutdown(ctx); err != nil { // idempotent
		t.Fatal(err)
	}

	s2, err := Start(ctx, testConfig(t, dir), health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(context.Background())
	if got := schemaID(t, s2.Endpoints().Registry); got != id1 {
		t.Fatalf("schema id changed across restart: %d then %d", id1, got)
	}
	post(t, s2.Endpoints().Ingest, `{"event_id":"second","type":"page_view","timestamp":"2026-11-02T10:01:00Z","identifiers":{"anonymous_id":"a-1"}}`)
	msgs := kafkatest.ReadN(t, []string{s2.Endpoints().Kafka}, "cx.events", 2, 10*time.Second)
	// Same key → same partition → in order.
	if !strings.Contains(string(msgs[0].Value), "first") || !strings.Contains(string(msgs[1].Value), "second") {
		t.Fatalf("events after restart: %q, %q", msgs[0].Value, msgs[1].Value)
	}
}

func schemaID(t *testing.T, url string) int {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), "cx.events-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	return ss.ID
}
