package sink

import (
	"slices"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
)

// TestPendingKeepsExtrasWithTheirRows: rows with and without values of a new
// writer schema's fields, collected by two decode workers and joined, still
// get their own values, and the others the column's zero.
func TestPendingKeepsExtrasWithTheirRows(t *testing.T) {
	col := extraColumn{name: "loyalty_tier", chType: "String", zero: ""}
	msgs := make([]kafkago.Message, 6)
	row := func(i int) []any { return []any{i} }
	first, second := newPending(3), newPending(3)
	first.add(row(0), &msgs[0], nil, nil)
	first.add(row(1), &msgs[1], map[string]any{"loyalty_tier": "gold"}, []extraColumn{col})
	first.add(row(2), &msgs[2], nil, nil)
	second.add(row(3), &msgs[3], nil, nil)
	second.add(row(4), &msgs[4], map[string]any{"loyalty_tier": "silver"}, []extraColumn{col})
	second.add(row(5), &msgs[5], nil, nil)
	all := newPending(6)
	all.extend(first)
	all.extend(second)
	for i, m := range all.from {
		if m != &msgs[i] {
			t.Fatalf("row %d lost its record", i)
		}
	}
	cols, rows := withExtras([]string{"n"}, all.rows, all.extras, all.types)
	if !slices.Equal(cols, []string{"n", "loyalty_tier"}) {
		t.Fatalf("columns %v", cols)
	}
	want := []string{"", "gold", "", "", "silver", ""}
	for i, r := range rows {
		if r[0] != i || r[1] != want[i] {
			t.Fatalf("row %d is %v, want [%d %q]", i, r, i, want[i])
		}
	}
}
