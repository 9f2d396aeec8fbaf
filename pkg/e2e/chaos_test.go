package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/gen"
	"github.com/cx360/cx360/pkg/kafka"
)

// TestChaosKillsEveryProcess runs the pipeline as four processes and, while
// a generated retailer is sent through ingest, kills each of them with
// SIGKILL at seeded random moments — ingest, identity, the sink, and the
// infrastructure (broker with its data dir, registry, ClickHouse) — and
// restarts it. Afterwards ClickHouse must hold every accepted event exactly
// once, and identity's result must be the uninterrupted run's: the ground
// truth, which TestEndToEndMatchesGroundTruth holds an uninterrupted run to.
func TestChaosKillsEveryProcess(t *testing.T) {
	ds, err := gen.Generate(gen.Config{Seed: 99, Customers: envInt("CX360_CHAOS_CUSTOMERS", 1500)})
	if err != nil {
		t.Fatal(err)
	}
	truth := ds.Truth
	bin := buildBinaries(t)
	p := newProcesses(t, bin)
	for _, name := range []string{"infra", "ingest", "identity", "sink"} {
		p.start(name)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The records go in rounds; in each round one process is killed at a
	// random moment while the round's records are being sent, and restarted.
	rng := rand.New(rand.NewPCG(99, 1))
	victims := []string{"ingest", "identity", "sink", "infra", "identity", "sink", "ingest", "infra"}
	records, retries := 0, 0
	for round, victim := range victims {
		lo, hi := round*len(ds.Records)/len(victims), (round+1)*len(ds.Records)/len(victims)
		sent := make(chan error, 1)
		var stats gen.SendStats
		go func() {
			var err error
			stats, err = gen.Send(ctx, ds.Records[lo:hi], gen.SendConfig{URL: "http://" + p.addr("ingest"), BatchSize: 50, Concurrency: 1, MaxElapsed: 3 * time.Minute})
			sent <- err
		}()
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		p.kill(victim)
		time.Sleep(time.Duration(rng.IntN(800)) * time.Millisecond)
		p.start(victim)
		if err := <-sent; err != nil {
			t.Fatalf("round %d (killed %s): sending: %v", round, victim, err)
		}
		records, retries = records+stats.Records, retries+stats.Retries
	}
	t.Logf("%d kills while sending %d records (%d requests retried)", len(victims), records, retries)

	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: p.addr("ch")})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	waitFor(ctx, t, ch, "SELECT count() FROM cx360.journey_events FINAL", uint64(truth.Counts.Events))
	if !waitUntil(ctx, ch, "SELECT count() FROM cx360.customers FINAL WHERE is_deleted = 0", uint64(truth.Counts.Customers), time.Minute) {
		explainCustomers(ctx, t, ch, p.addr("identity"), p.addr("kafka"), truth)
	}

	if got, want := queryStrings(ctx, t, ch, "SELECT event_id FROM cx360.journey_events FINAL"), truth.EventIDs(); !sameSet(got, want) || len(got) != len(want) {
		t.Errorf("after the chaos: %d rows after FINAL for %d distinct events; the truth has %d (first differences: %v)", len(got), len(dedupe(got)), len(want), firstDiff(got, want))
	}
	if got, want := queryStrings(ctx, t, ch, "SELECT customer_id FROM cx360.customers FINAL WHERE is_deleted = 0"), truth.CustomerIDs(); !sameSet(got, want) {
		t.Errorf("after the chaos: %d live customers; the truth has %d (first differences: %v)", len(got), len(want), firstDiff(got, want))
	}
	owners := eventOwners(ctx, t, ch)
	wrong := 0
	explained := map[string]bool{}
	for _, e := range truth.Events {
		if owners[e.ID] != e.Customer {
			wrong++
			if len(explained) < 5 {
				var resolved string
				_ = ch.QueryRow(ctx, "SELECT customer_id FROM cx360.journey_events FINAL WHERE event_id = '"+e.ID+"'").Scan(&resolved)
				if !explained[resolved] {
					explained[resolved] = true
					maps, changes := identityHistory(ctx, t, ch, resolved)
					t.Logf("event %s: truth %s, ClickHouse %s via resolved id %s\n  identity_map: %v\n  changes: %v", e.ID, e.Customer, owners[e.ID], resolved, maps, changes)
				}
			}
		}
	}
	if wrong > 0 {
		t.Errorf("after the chaos, %d of %d events have another owner than an uninterrupted run's", wrong, len(truth.Events))
	}
}

// waitUntil polls a single-number query until it answers want or the wait ends.
func waitUntil(ctx context.Context, ch *clickhouse.Client, query string, want uint64, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got uint64
		if err := ch.QueryRow(ctx, query).Scan(&got); err == nil && got == want {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// explainCustomers fails the test naming the live customers ClickHouse and
// the truth disagree on, with what identity's API and ClickHouse say of each.
func explainCustomers(ctx context.Context, t *testing.T, ch *clickhouse.Client, identityAddr, broker string, truth *gen.Truth) {
	t.Helper()
	// What Kafka holds of each: records keyed by it on cx.customers (nil:
	// a tombstone), and changes mentioning it.
	onKafka := func(topic, id string) []string {
		msgs, err := kafka.Snapshot(ctx, []string{broker}, topic, 0)
		if err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, m := range msgs {
			if string(m.Key) == id || bytes.Contains(m.Value, []byte(id)) {
				out = append(out, fmt.Sprintf("p%d@%d key=%.8s tombstone=%v", m.Partition, m.Offset, m.Key, m.Value == nil))
			}
		}
		return out
	}
	got := queryStrings(ctx, t, ch, "SELECT customer_id FROM cx360.customers FINAL WHERE is_deleted = 0")
	diff := firstDiff(got, truth.CustomerIDs())
	t.Errorf("live customers: ClickHouse %d, truth %d; first differences: %v", len(got), len(truth.CustomerIDs()), diff)
	for _, d := range diff {
		id := d[strings.LastIndex(d, " ")+1:]
		resp, err := http.Get("http://" + identityAddr + "/v1/customers/" + id)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
		}
		rows := queryStrings(ctx, t, ch, "SELECT concat(toString(version), ' deleted=', toString(is_deleted), ' orders=', toString(orders)) FROM cx360.customers WHERE customer_id = '"+id+"' ORDER BY version")
		maps, changes := identityHistory(ctx, t, ch, id)
		t.Logf("%s\n  identity API: %.200s\n  customers rows: %v\n  identity_map: %v\n  changes: %v\n  kafka cx.customers: %v\n  kafka cx.identity.changes: %v",
			d, body, rows, maps, changes, onKafka("cx.customers", id), onKafka("cx.identity.changes", id))
	}
}

// identityHistory is what ClickHouse holds of a customer id's identity: its
// identity_map rows and the changes naming it, oldest version first.
func identityHistory(ctx context.Context, t *testing.T, ch *clickhouse.Client, id string) (maps, changes []string) {
	t.Helper()
	maps = queryStrings(ctx, t, ch, "SELECT concat(survivor_id, ' v', toString(version)) FROM cx360.identity_map WHERE customer_id = '"+id+"' ORDER BY version")
	changes = queryStrings(ctx, t, ch, "SELECT concat(kind, ' ', customer_id, ' ', arrayStringConcat(related_ids, ','), ' v', toString(version), ' ', reason) FROM cx360.identity_changes WHERE customer_id = '"+id+"' OR has(related_ids, '"+id+"') ORDER BY version")
	return maps, changes
}
