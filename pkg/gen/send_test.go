package gen_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/gen"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

// startStack runs the embedded stack (kfake, registry, ingest, identity) on
// free 127.0.0.1 ports with ingest's default settings.
func startStack(t *testing.T) devstack.Endpoints {
	t.Helper()
	return devstacktest.Start(t, devstack.Config{}, nil, nil).Endpoints()
}

// TestSendThroughIngest sends a dataset through the real HTTP API and finds
// on Kafka exactly what the truth says: its valid events once each (the
// duplicates acknowledged, not produced) and its bad records in the DLQ with
// their codes.
func TestSendThroughIngest(t *testing.T) {
	ep := startStack(t)
	ds, err := gen.Generate(gen.Config{Seed: 3, Customers: 300})
	if err != nil {
		t.Fatal(err)
	}
	c := ds.Truth.Counts
	if c.Duplicates == 0 || c.Bad == 0 {
		t.Fatalf("the dataset needs duplicates and bad records: %+v", c)
	}
	progress := 0
	stats, err := gen.Send(context.Background(), ds.Records, gen.SendConfig{
		URL: ep.Ingest, BatchSize: 200, Concurrency: 3,
		Progress: func(s gen.SendStats) {
			if s.Records < progress {
				t.Errorf("progress went back from %d to %d", progress, s.Records)
			}
			progress = s.Records
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d records in %s: %.0f records/s, %d requests", stats.Records, stats.Elapsed, stats.Rate(), stats.Requests)
	if stats.Records != c.Records || stats.Accepted != c.Events+c.Duplicates || stats.Duplicates != c.Duplicates || stats.Rejected != c.Bad {
		t.Fatalf("ingest answered %+v; truth %+v", stats, c)
	}
	if stats.UnexpectedCount != 0 || progress != c.Records {
		t.Fatalf("%d unexpected answers %v; progress ended at %d", stats.UnexpectedCount, stats.Unexpected, progress)
	}
	for ch, cc := range c.ByChannel {
		got := stats.ByChannel[ch]
		if got.Records != cc.Records || got.Rejected != cc.Bad || got.Duplicates != cc.Duplicates || got.Accepted != cc.Events+cc.Duplicates {
			t.Errorf("%s: ingest answered %+v, truth %+v", ch, got, cc)
		}
	}
	for code, n := range c.BadByCode {
		if stats.Codes[code] != n {
			t.Errorf("%d rejected with %s, truth %d", stats.Codes[code], code, n)
		}
	}

	reg, err := avro.NewRegistryClient(config.Registry{URL: ep.Registry})
	if err != nil {
		t.Fatal(err)
	}
	serde := avro.NewSerde(reg)
	ctx := context.Background()
	brokers := []string{ep.Kafka}

	msgs := kafkatest.ReadN(t, brokers, "cx.events", c.Events, time.Minute)
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		native, _, err := serde.Decode(ctx, m.Value)
		if err != nil {
			t.Fatal(err)
		}
		e, err := event.FromNative(native)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.EventID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, ds.Truth.EventIDs()) {
		t.Fatalf("cx.events holds %d distinct ids; they differ from the truth's %d", len(slices.Compact(slices.Clone(ids))), len(ds.Truth.Events))
	}

	dead := kafkatest.ReadN(t, brokers, "cx.events.dlq", c.Bad, time.Minute)
	codes := map[string]int{}
	for _, m := range dead {
		native, _, err := serde.Decode(ctx, m.Value)
		if err != nil {
			t.Fatal(err)
		}
		codes[avro.Plain(native).(map[string]any)["reason_code"].(string)]++
	}
	if !maps(codes, c.BadByCode) {
		t.Fatalf("DLQ codes %v, truth %v", codes, c.BadByCode)
	}
}

// TestSendRetriesHonouringRetryAfter: a 503 with Retry-After: 1 is retried
// no sooner than a second later, and the retry is counted; a 401 is not
// retried.
func TestSendRetriesHonouringRetryAfter(t *testing.T) {
	ds, err := gen.Generate(gen.Config{Seed: 5, Customers: 20, BadRate: -1, DuplicateRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var first, second atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer k-0123456789abcdef" || r.Header.Get("Content-Type") != "application/x-ndjson" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		items := strings.Count(string(body), "\n")
		switch n {
		case 1:
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case 2:
			second.Store(time.Now().UnixNano())
		}
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]any{"accepted": items, "rejected": 0, "duplicates": 0, "errors": []any{}}) //nolint:errcheck
	}))
	defer srv.Close()

	stats, err := gen.Send(context.Background(), ds.Records, gen.SendConfig{URL: srv.URL, APIKey: "k-0123456789abcdef", Concurrency: 1, BatchSize: 100000})
	if err != nil {
		t.Fatal(err)
	}
	requests := len(ds.Truth.Counts.ByChannel) // one batch per channel
	if int(calls.Load()) != requests+1 || stats.Retries != 1 || stats.Requests != requests || stats.Accepted != len(ds.Records) {
		t.Fatalf("%d calls, stats %+v", calls.Load(), stats)
	}
	if wait := time.Duration(second.Load() - first.Load()); wait < time.Second {
		t.Fatalf("retried after %s, before Retry-After's second", wait)
	}

	calls.Store(0)
	_, err = gen.Send(context.Background(), ds.Records, gen.SendConfig{URL: srv.URL, APIKey: "wrong", Concurrency: 1})
	if err == nil || !strings.Contains(err.Error(), "401") || calls.Load() != 1 {
		t.Fatalf("with a wrong key: %v after %d calls", err, calls.Load())
	}
}
