// Package e2e_test runs cx360's whole pipeline — ingest, identity, sink — on
// a generated retailer (pkg/gen) and compares what lands in ClickHouse with
// the generator's ground truth.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/gen"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

// e2eCustomers makes a dataset of just over 100k valid events.
var e2eCustomers = envInt("CX360_E2E_CUSTOMERS", 7500)

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

// TestEndToEndMatchesGroundTruth sends 100k+ generated events through the
// real ingest API of the in-process stack (broker, registry, ingest, identity,
// ClickHouse 18.16, sink) and requires, in ClickHouse: exactly the truth's
// events once each, by channel and type; exactly its live customers; every
// event owned by the customer the truth names, through one identity_map
// lookup; every merged id resolving to where the truth says it lives; and
// every bad record in the DLQ.
func TestEndToEndMatchesGroundTruth(t *testing.T) {
	ds, err := gen.Generate(gen.Config{Seed: 20261122, Customers: e2eCustomers})
	if err != nil {
		t.Fatal(err)
	}
	truth := ds.Truth
	if truth.Counts.Events < 100_000 && os.Getenv("CX360_E2E_CUSTOMERS") == "" {
		t.Fatalf("the dataset has %d events; the test wants at least 100k", truth.Counts.Events)
	}
	t.Logf("dataset: %d records, %d events, %d bad, %d customers, %d merges", truth.Counts.Records, truth.Counts.Events, truth.Counts.Bad, truth.Counts.Customers, truth.Counts.Merges)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stack := startStack(t)
	ep := stack.Endpoints()

	began := time.Now()
	stats, err := gen.Send(ctx, ds.Records, gen.SendConfig{URL: ep.Ingest, Concurrency: 4})
	if err != nil {
		t.Fatalf("sending: %v", err)
	}
	if stats.UnexpectedCount != 0 {
		t.Fatalf("ingest answered %d items unlike the truth: %v", stats.UnexpectedCount, stats.Unexpected)
	}
	t.Logf("ingest accepted %d records in %v (%.0f/s)", stats.Accepted, stats.Elapsed, stats.Rate())

	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: ep.ClickHouse})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	waitFor(ctx, t, ch, "SELECT count() FROM cx360.journey_events FINAL", uint64(truth.Counts.Events))
	t.Logf("all %d events queryable in ClickHouse %v after the first request (%.0f events/s end to end)",
		truth.Counts.Events, time.Since(began), float64(truth.Counts.Events)/time.Since(began).Seconds())
	waitFor(ctx, t, ch, "SELECT count() FROM cx360.customers FINAL WHERE is_deleted = 0", uint64(truth.Counts.Customers))

	// The events, each once, by channel and type.
	if got, want := queryStrings(ctx, t, ch, "SELECT event_id FROM cx360.journey_events"), truth.EventIDs(); !sameSet(got, want) {
		t.Errorf("journey_events holds %d distinct event ids; the truth has %d (first differences: %v)", len(dedupe(got)), len(want), firstDiff(got, want))
	}
	byType := map[string]int{}
	rows, err := ch.Query(ctx, "SELECT channel, type, count() FROM cx360.journey_events FINAL GROUP BY channel, type")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var channel, typ string
		var n uint64
		if err := rows.Scan(&channel, &typ, &n); err != nil {
			t.Fatal(err)
		}
		byType[channel+"/"+typ] = int(n)
	}
	rows.Close()
	for channel, types := range truth.Counts.ByType {
		for typ, n := range types {
			if byType[channel+"/"+typ] != n {
				t.Errorf("%s %s events: ClickHouse %d, truth %d", channel, typ, byType[channel+"/"+typ], n)
			}
			delete(byType, channel+"/"+typ)
		}
	}
	if len(byType) != 0 {
		t.Errorf("ClickHouse has channel/type pairs the truth lacks: %v", byType)
	}

	// The live customers.
	if got, want := queryStrings(ctx, t, ch, "SELECT customer_id FROM cx360.customers FINAL WHERE is_deleted = 0"), truth.CustomerIDs(); !sameSet(got, want) {
		t.Errorf("live customers: ClickHouse %d, truth %d (first differences: %v)", len(got), len(want), firstDiff(got, want))
	}

	// Every event's owner, through one identity_map lookup.
	owners := eventOwners(ctx, t, ch)
	wrong := 0
	for _, e := range truth.Events {
		if owners[e.ID] != e.Customer {
			if wrong < 5 {
				t.Errorf("event %s (%s %s) belongs to %q in ClickHouse, to %q in the truth", e.ID, e.Channel, e.Type, owners[e.ID], e.Customer)
			}
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d events have another owner than the truth's", wrong, len(truth.Events))
	}

	// The merges: every merged id identity issued resolves to the truth's live customer.
	survivors := map[string]string{}
	rows, err = ch.Query(ctx, "SELECT customer_id, argMax(survivor_id, version) FROM cx360.identity_map GROUP BY customer_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		survivors[id] = s
	}
	rows.Close()
	issued, badMerges := 0, 0
	for _, m := range truth.Merges {
		s, ok := survivors[m.Merged]
		if !ok {
			continue // never issued: its events arrived after the merge's (the truth's note)
		}
		issued++
		if s != m.Live {
			badMerges++
			if badMerges <= 5 {
				t.Errorf("merged id %s resolves to %s; the truth says %s", m.Merged, s, m.Live)
			}
		}
	}
	if issued == 0 && truth.Counts.Merges > 0 {
		t.Errorf("none of the truth's %d merged ids is in identity_map", truth.Counts.Merges)
	}
	t.Logf("merges: %d of the truth's %d merged ids were issued and all resolve to their live customer", issued, len(truth.Merges))

	// Every bad record is dead-lettered.
	dlq := kafkatest.ReadN(t, []string{ep.Kafka}, "cx.events.dlq", truth.Counts.Bad, time.Minute)
	if len(dlq) != truth.Counts.Bad {
		t.Errorf("cx.events.dlq has %d records; the truth has %d bad records", len(dlq), truth.Counts.Bad)
	}
}

// startStack runs the whole embedded pipeline with ClickHouse; its logs are
// shown when the test fails.
func startStack(t *testing.T) *devstack.Stack {
	t.Helper()
	return devstacktest.Start(t, devstack.Config{ClickHouse: true, Identity: config.Identity{ProfileInterval: 200 * time.Millisecond}},
		health.NewRegistry(), devstacktest.Logger(t, zap.InfoLevel, 80))
}

// waitFor polls a single-number query until it answers want.
func waitFor(ctx context.Context, t testing.TB, ch *clickhouse.Client, query string, want uint64) {
	t.Helper()
	var got uint64
	last := time.Now()
	for {
		err := ch.QueryRow(ctx, query).Scan(&got)
		if err == nil && got == want {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %d, want %d (%v)", query, got, want, err)
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(os.Stderr, "e2e: waiting: %s = %d of %d\n", query, got, want)
			last = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func queryStrings(ctx context.Context, t testing.TB, ch *clickhouse.Client, query string) []string {
	t.Helper()
	rows, err := ch.Query(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func dedupe(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func sameSet(got, want []string) bool { return slices.Equal(dedupe(got), dedupe(want)) }

// firstDiff names up to five ids in one set and not the other.
func firstDiff(got, want []string) []string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var out []string
	for _, s := range dedupe(want) {
		if !g[s] && len(out) < 5 {
			out = append(out, "missing "+s)
		}
	}
	for _, s := range dedupe(got) {
		if !w[s] && len(out) < 10 {
			out = append(out, "extra "+s)
		}
	}
	return out
}

// eventOwners maps every event in ClickHouse to its customer now, through
// one identity_map lookup (DESIGN.md's contract).
func eventOwners(ctx context.Context, t *testing.T, ch *clickhouse.Client) map[string]string {
	t.Helper()
	rows, err := ch.Query(ctx, `SELECT event_id, if(survivor = '', customer_id, survivor)
		FROM (SELECT event_id, customer_id FROM cx360.journey_events FINAL)
		ANY LEFT JOIN (SELECT customer_id, argMax(survivor_id, version) AS survivor FROM cx360.identity_map GROUP BY customer_id)
		USING customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	owners := map[string]string{}
	for rows.Next() {
		var id, owner string
		if err := rows.Scan(&id, &owner); err != nil {
			t.Fatal(err)
		}
		owners[id] = owner
	}
	return owners
}
