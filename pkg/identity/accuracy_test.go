package identity_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/identity/truth"
)

// accuracyConfig is the benchmark dataset the README quotes: 2,000 persons over
// 60 days with every adversarial scenario at its default rate.
var accuracyConfig = truth.Config{Seed: 20261101, Persons: 2000, Days: 60}

// Accuracy targets: a wrong merge costs more than a missed one, and no
// customer may ever mix persons through a shared identifier.
const (
	minPrecision = 0.999
	minRecall    = 0.99
)

// accuracyRun is the benchmark dataset resolved in arrival order, computed
// once for the tests that read it (they do not modify the graph).
type accuracyRun struct {
	ds      truth.Dataset
	g       *identity.Graph
	elapsed time.Duration
	err     error
}

var sharedRun = sync.OnceValue(func() accuracyRun {
	ds := truth.Generate(accuracyConfig)
	start := time.Now()
	g, err := resolveEvents(ds.Events)
	return accuracyRun{ds: ds, g: g, elapsed: time.Since(start), err: err}
})

func resolvedDataset(t *testing.T) accuracyRun {
	t.Helper()
	run := sharedRun()
	if run.err != nil {
		t.Fatal(run.err)
	}
	return run
}

// resolveEvents applies events in the order given to a fresh graph.
func resolveEvents(events []*event.Event) (*identity.Graph, error) {
	g, err := identity.NewGraph(identity.DefaultRules())
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		if res := g.Apply(e); res.CustomerID == "" {
			return nil, fmt.Errorf("event %s resolved to no customer", e.EventID)
		}
	}
	return g, nil
}

func graphLookup(g *identity.Graph) truth.Lookup {
	return func(typ, value string) (string, bool) {
		p, ok := g.Lookup(typ, value)
		return p.CustomerID, ok
	}
}

// TestAccuracy resolves a generated retail stream whose true owners are known
// and checks pairwise precision and recall. Run with -v for the figures.
func TestAccuracy(t *testing.T) {
	run := resolvedDataset(t)
	ds, g := run.ds, run.g
	r := truth.Evaluate(graphLookup(g), ds)

	t.Logf("accuracy: %s", r)
	t.Logf("scenarios: %+v", ds.Counts)
	t.Logf("graph: %+v; applied %d events in %v", g.Stats(), len(ds.Events), run.elapsed.Round(time.Millisecond))

	if r.Precision < minPrecision {
		t.Errorf("precision %.5f < %.3f", r.Precision, minPrecision)
	}
	if len(r.Mixed) > 0 {
		t.Errorf("%d customers mix persons (holding shared identifiers: %s); the first of them:\n%s",
			len(r.Mixed), sharedKinds(g, ds, r.Mixed), describeMixed(g, ds, r.Mixed, 5))
	}
	if r.Recall < minRecall {
		t.Errorf("recall %.5f < %.2f; the first fragmented persons:\n%s", r.Recall, minRecall, describeFragments(ds, r.Fragments, 5))
	}
}

// TestAccuracyDoesNotDependOnArrivalOrder resolves the benchmark dataset in
// event-time order too: every identifier must end in the same customer as in
// arrival order, late events included.
func TestAccuracyDoesNotDependOnArrivalOrder(t *testing.T) {
	run := resolvedDataset(t)
	ds := run.ds
	byTime := slices.Clone(ds.Events)
	slices.SortStableFunc(byTime, func(a, b *event.Event) int {
		if c := a.EventTime.Compare(b.EventTime); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	if slices.Equal(byTime, ds.Events) {
		t.Fatal("the dataset has no out-of-order events")
	}
	inTime, err := resolveEvents(byTime)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, e := range ds.Events {
		for _, id := range e.Identifiers {
			keys[id.Type+":"+id.Value] = true
		}
	}
	differ := 0
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		typ, value, _ := strings.Cut(key, ":")
		a, okA := run.g.Lookup(typ, value)
		b, okB := inTime.Lookup(typ, value)
		if okA != okB || a.CustomerID != b.CustomerID {
			if differ++; differ <= 5 {
				t.Errorf("%s (%s): customer %q in arrival order, %q in time order", key, whose(ds, key), a.CustomerID, b.CustomerID)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d identifiers resolve differently", differ, len(keys))
	}
	if sa, sb := run.g.Stats(), inTime.Stats(); sa != sb {
		t.Errorf("stats %+v in arrival order, %+v in time order", sa, sb)
	}
}

// TestLateEventKeepsCustomerIDs is the smallest case the arrival-order test
// found: family members register loyalty cards with one email, and the first
// registration arrives late. Replaying the component leaves tok-2 unlinked on
// the way (the family email stops the evidence), as an in-order run does; the
// customer must still be L-2's, as in the in-order run.
func TestLateEventKeepsCustomerIDs(t *testing.T) {
	at := func(minute int) time.Time { return time.Date(2026, 11, 1, 9, minute, 0, 0, time.UTC) }
	evt := func(id string, minute int, keys ...string) *event.Event {
		e := &event.Event{EventID: id, Channel: event.ChannelStore, Type: "purchase", EventTime: at(minute), ReceivedAt: at(minute)}
		for _, k := range keys {
			typ, v, _ := strings.Cut(k, ":")
			e.Identifiers = append(e.Identifiers, event.Identifier{Type: typ, Value: v})
		}
		event.SortIdentifiers(e.Identifiers)
		return e
	}
	e1 := evt("e1", 10, "loyalty_id:L-1", "email:family@example.com")
	e2 := evt("e2", 20, "loyalty_id:L-2", "email:family@example.com")
	e3 := evt("e3", 21, "loyalty_id:L-2", "email:family@example.com", "payment_token:tok-2")
	e4 := evt("e4", 30, "loyalty_id:L-2", "payment_token:tok-2")
	want := uuid.NewSHA1(identity.Namespace, []byte("loyalty_id:L-2")).String()
	for name, order := range map[string][]*event.Event{"in order": {e1, e2, e3, e4}, "e1 late": {e2, e3, e1, e4}} {
		g, err := resolveEvents(order)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"loyalty_id:L-2", "payment_token:tok-2"} {
			typ, value, _ := strings.Cut(key, ":")
			if p, _ := g.Lookup(typ, value); p.CustomerID != want {
				t.Errorf("%s: %s is in customer %q, want %q (L-2's)", name, key, p.CustomerID, want)
			}
		}
	}
}

// sharedKinds tallies the kinds of shared identifier the mixed customers hold:
// the bridges their persons were merged through.
func sharedKinds(g *identity.Graph, ds truth.Dataset, mixed []truth.Mixed) string {
	kinds := map[string]int{}
	for _, m := range mixed {
		p, _ := g.Profile(m.CustomerID)
		held := map[string]bool{}
		for _, id := range p.Identifiers {
			if why := ds.SharedReason[id.Type+":"+id.Value]; why != "" {
				held[why] = true
			}
		}
		for why := range held {
			kinds[why]++
		}
	}
	var parts []string
	for _, why := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s in %d", why, kinds[why]))
	}
	return strings.Join(parts, ", ")
}

// describeMixed prints customers that mix persons: every identifier of the
// customer with its owner, or why it is shared, so the merging path shows.
func describeMixed(g *identity.Graph, ds truth.Dataset, mixed []truth.Mixed, limit int) string {
	var b strings.Builder
	for _, m := range mixed[:min(limit, len(mixed))] {
		p, _ := g.Profile(m.CustomerID)
		fmt.Fprintf(&b, "customer %s (persons %v):\n", m.CustomerID, slices.Sorted(maps.Keys(m.Owners)))
		for _, id := range p.Identifiers {
			fmt.Fprintf(&b, "  %-60s %s\n", id.Type+":"+id.Value, whose(ds, id.Type+":"+id.Value))
		}
	}
	return b.String()
}

// describeFragments prints persons whose connected identifiers the graph
// spread over several customers ("unresolved" ones it linked to nothing).
func describeFragments(ds truth.Dataset, frags []truth.Fragment, limit int) string {
	var b strings.Builder
	for _, f := range frags[:min(limit, len(frags))] {
		fmt.Fprintf(&b, "person %d (household %v):\n", f.Person, householdOf(ds, f.Person))
		for _, c := range slices.Sorted(maps.Keys(f.Customers)) {
			fmt.Fprintf(&b, "  %s: %v\n", c, f.Customers[c])
		}
	}
	return b.String()
}

func householdOf(ds truth.Dataset, person int) []int {
	for _, h := range ds.Households {
		if slices.Contains(h, person) {
			return h
		}
	}
	return nil
}

func whose(ds truth.Dataset, key string) string {
	if p, ok := ds.Owner[key]; ok {
		return fmt.Sprintf("person %d", p)
	}
	if why := ds.SharedReason[key]; why != "" {
		return "shared: " + why
	}
	return "not in the dataset"
}

// BenchmarkAccuracy resolves the benchmark dataset and reports the figures as
// metrics next to the resolution speed:
//
//	go test -run '^$' -bench BenchmarkAccuracy -benchtime 1x ./pkg/identity/
func BenchmarkAccuracy(b *testing.B) {
	ds := truth.Generate(accuracyConfig)
	var g *identity.Graph
	for b.Loop() {
		var err error
		if g, err = resolveEvents(ds.Events); err != nil {
			b.Fatal(err)
		}
	}
	r := truth.Evaluate(graphLookup(g), ds)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds.Events)), "ns/event")
	b.ReportMetric(r.Precision, "precision")
	b.ReportMetric(r.Recall, "recall")
	b.ReportMetric(float64(len(r.Mixed)), "mixed-customers")
	b.ReportMetric(float64(r.Persons), "persons")
	b.ReportMetric(float64(r.Identifiers), "identifiers")
	b.ReportMetric(float64(r.Events), "events")
}
