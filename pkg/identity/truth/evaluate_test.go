package truth

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cx360/cx360/pkg/event"
)

// tinyDataset: person 0 owns a1–a3, connected by its events; person 1 owns b1
// and b2, which no event of theirs connects; both use the shared s and a
// blocked placeholder.
func tinyDataset() Dataset {
	evt := func(id string, keys ...string) *event.Event {
		e := &event.Event{EventID: id}
		for _, k := range keys {
			typ, v, _ := strings.Cut(k, ":")
			e.Identifiers = append(e.Identifiers, event.Identifier{Type: typ, Value: v, Blocked: v == BlockedUnknown})
		}
		return e
	}
	return Dataset{
		Events: []*event.Event{
			evt("e1", "x:a1", "x:a2"), evt("e2", "x:a2", "x:a3"), evt("e3", "x:b1", "x:s"),
			evt("e4", "x:b2", "x:unknown"), evt("e5", "x:a1", "x:s", "x:unknown"),
		},
		Owner:  map[string]int{"x:a1": 0, "x:a2": 0, "x:a3": 0, "x:b1": 1, "x:b2": 1},
		Shared: map[string]bool{"x:s": true, "x:unknown": true},
		Counts: Counts{Persons: 2},
	}
}

// lookupOf resolves identifiers by value from a table; missing ones are unknown.
func lookupOf(table map[string]string) Lookup {
	return func(_, value string) (string, bool) {
		c, ok := table[value]
		return c, ok
	}
}

func TestEvaluate(t *testing.T) {
	ds := tinyDataset()
	tests := []struct {
		name                                     string
		table                                    map[string]string
		predicted, tp, linkable, linked          int64
		customers, unresolved, mixed, fragmented int
	}{
		{
			name:      "perfect",
			table:     map[string]string{"a1": "A", "a2": "A", "a3": "A", "b1": "B1", "b2": "B2", "s": "A", "unknown": "Z"},
			predicted: 3, tp: 3, linkable: 3, linked: 3, customers: 3,
		},
		{
			// b1 and b2 are the same person: joining them is right, though no
			// evidence in the data requires it.
			name:      "unlinkable pair joined",
			table:     map[string]string{"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"},
			predicted: 4, tp: 4, linkable: 3, linked: 3, customers: 2,
		},
		{
			name:      "everything merged through the shared identifier",
			table:     map[string]string{"a1": "X", "a2": "X", "a3": "X", "b1": "X", "b2": "X"},
			predicted: 10, tp: 4, linkable: 3, linked: 3, customers: 1, mixed: 1,
		},
		{
			name:      "one identifier unresolved",
			table:     map[string]string{"a1": "A", "a2": "A", "b1": "B1", "b2": "B2"},
			predicted: 1, tp: 1, linkable: 3, linked: 1, customers: 4, unresolved: 1, fragmented: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(lookupOf(tc.table), ds)
			if r.PredictedPairs != tc.predicted || r.TruePositives != tc.tp || r.LinkablePairs != tc.linkable ||
				r.LinkedPairs != tc.linked || r.Customers != tc.customers || r.Unresolved != tc.unresolved ||
				len(r.Mixed) != tc.mixed || len(r.Fragments) != tc.fragmented {
				t.Fatalf("report %s\n%+v", r, r)
			}
			if r.Persons != 2 || r.Identifiers != 5 || r.Shared != 2 || r.Events != 5 {
				t.Fatalf("sizes %s", r)
			}
			if want := float64(tc.tp) / float64(tc.predicted); r.Precision != want {
				t.Fatalf("precision %v, want %v", r.Precision, want)
			}
			if want := float64(tc.linked) / float64(tc.linkable); r.Recall != want {
				t.Fatalf("recall %v, want %v", r.Recall, want)
			}
		})
	}
}

func TestEvaluateNamesTheErrors(t *testing.T) {
	ds := tinyDataset()
	r := Evaluate(lookupOf(map[string]string{"a1": "A", "a2": "A", "a3": "B", "b1": "B", "b2": "B"}), ds)
	if len(r.Mixed) != 1 || r.Mixed[0].CustomerID != "B" ||
		!slices.Equal(r.Mixed[0].Owners[0], []string{"x:a3"}) || !slices.Equal(r.Mixed[0].Owners[1], []string{"x:b1", "x:b2"}) {
		t.Fatalf("mixed %+v", r.Mixed)
	}
	if len(r.Fragments) != 1 || r.Fragments[0].Person != 0 ||
		!slices.Equal(slices.Sorted(maps.Keys(r.Fragments[0].Customers)), []string{"A", "B"}) ||
		!slices.Equal(r.Fragments[0].Customers["A"], []string{"x:a1", "x:a2"}) {
		t.Fatalf("fragments %+v", r.Fragments)
	}
	if got := r.String(); !strings.Contains(got, "precision=0.50000 (2/4 pairs)") ||
		!strings.Contains(got, "recall=0.33333 (1/3 linkable pairs)") || !strings.Contains(got, "customers_mixing_persons=1") {
		t.Fatalf("String() = %s", got)
	}
}

func TestEvaluateEmptyScoresOne(t *testing.T) {
	r := Evaluate(lookupOf(nil), Dataset{})
	if r.Precision != 1 || r.Recall != 1 || r.Identifiers != 0 {
		t.Fatalf("%s", r)
	}
}

// TestEvaluateGeneratedPerfectAnswer scores the truth itself: a resolver that
// answers each person's linkable groups exactly.
func TestEvaluateGeneratedPerfectAnswer(t *testing.T) {
	ds := Generate(Config{Seed: 3, Persons: 300, Days: 20})
	byPerson := func(typ, value string) (string, bool) {
		p, ok := ds.Owner[typ+":"+value]
		return string(rune('A'+p%26)) + strings.Repeat("-", p/26), ok
	}
	r := Evaluate(byPerson, ds)
	if r.Precision != 1 || r.Recall != 1 || len(r.Mixed) != 0 || r.Customers != r.Persons || r.PredictedPairs < r.LinkablePairs {
		t.Fatalf("%s", r)
	}
	if r.Persons != 300 || r.Events != len(ds.Events) || r.Identifiers != len(ds.Owner) {
		t.Fatalf("sizes %s", r)
	}
}
