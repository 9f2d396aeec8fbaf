// Package reporttest completes pkg/marts' fixture for the report: the
// identity_changes rows that go with its identity_map and erasures (pkg/marts
// has none), and loads both.
package reporttest

import (
	"context"
	"fmt"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/marts"
)

// Change is one identity_changes row.
type Change struct {
	ID, Kind, Customer string
	Related            []string
	EventID, Channel   string
	Reason             string
	At                 time.Time
	Version            int64
}

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err) // the literals below are fixed; a typo is a programming error
	}
	return t
}

// Changes returns the identity changes behind marts' fixture, one row each
// except chg-merge-bob2, stored twice (a redelivered record) to be counted once:
//
//   - bob-web absorbed bob-app when b2 arrived (identity_map version 1), and
//     cust-bob absorbed bob-web with b3 (version 3);
//   - cust-dan absorbed dan-web with d1, and was erased later: the merge is
//     counted but never listed;
//   - two links (a new identifier on a known customer) and one split.
//
// So: 3 merges, 1 split, 2 links, 1 erasure; the merges listed, newest first,
// are cust-bob ← bob-web (2024-03-20 11:00) and bob-web ← bob-app (2024-03-10
// 12:30), whose survivor bob-web belongs to cust-bob now.
func Changes() []Change {
	return []Change{
		{ID: "chg-merge-bob1", Kind: "merge", Customer: "bob-web", Related: []string{"bob-app"}, EventID: "b2", Channel: "app",
			Reason: "shared identifiers", At: at("2024-03-10 12:30"), Version: 1},
		{ID: "chg-merge-bob2", Kind: "merge", Customer: "cust-bob", Related: []string{"bob-web"}, EventID: "b3", Channel: "store",
			Reason: "shared identifiers", At: at("2024-03-20 11:00"), Version: 3},
		{ID: "chg-merge-bob2", Kind: "merge", Customer: "cust-bob", Related: []string{"bob-web"}, EventID: "b3", Channel: "store",
			Reason: "shared identifiers", At: at("2024-03-20 11:00"), Version: 3},
		{ID: "chg-merge-dan", Kind: "merge", Customer: "cust-dan", Related: []string{"dan-web"}, EventID: "d1", Channel: "store",
			Reason: "shared identifiers", At: at("2024-03-03 12:00"), Version: 2},
		{ID: "chg-link-ann", Kind: "link", Customer: "cust-ann", Related: []string{}, EventID: "a3", Channel: "store",
			At: at("2024-03-03 15:00"), Version: 2},
		{ID: "chg-link-gus", Kind: "link", Customer: "cust-gus", Related: []string{}, EventID: "g3", Channel: "web",
			At: at("2024-04-05 12:00"), Version: 2},
		{ID: "chg-split-ivy", Kind: "split", Customer: "cust-ivy", Related: []string{"cust-ivy"}, Channel: "",
			Reason: "identifier unlinked", At: at("2024-06-01 09:00"), Version: 3},
		{ID: "chg-erase-dan", Kind: "erase", Customer: "cust-dan", Related: []string{"cust-dan", "dan-web"},
			Reason: "erasure requested", At: at("2024-05-01 00:00"), Version: 4},
	}
}

var changeColumns = []string{"change_id", "kind", "customer_id", "related_ids", "identifier_types", "identifier_values",
	"event_id", "channel", "reason", "at", "at_ms", "version"}

// Load writes marts' fixture and Changes into the cx360 tables of the server
// behind c (the migrations must have run).
func Load(ctx context.Context, c *clickhouse.Client) error {
	if err := marts.Load(ctx, c); err != nil {
		return err
	}
	rows := make([][]any, 0, len(Changes()))
	for _, ch := range Changes() {
		rows = append(rows, []any{ch.ID, ch.Kind, ch.Customer, ch.Related, []string{}, []string{},
			ch.EventID, ch.Channel, ch.Reason, ch.At, ch.At.UnixMilli(), ch.Version})
	}
	if err := c.InsertBatch(ctx, "cx360.identity_changes", changeColumns, rows); err != nil {
		return fmt.Errorf("reporttest: loading identity_changes: %w", err)
	}
	return nil
}

// SummaryLines is the text summary of the report on the loaded fixture, as
// Summary.Lines writes it (arithmetic in pkg/marts' Expected):
//
//   - 36 events of 6 live customers; channels by events: web 16, store 9,
//     phone 8, app 3; first c1 2024-02-10, last h2 2024-06-25;
//   - CSAT: store/visit 50% of 2 and phone/visit 0% of 1 → 100 / 3 = 33.33;
//     NPS: 100 (1) − 100 (1) + 50 (2) + 100 (1) → 200 / 5 = 40;
//     CES: 2 + 6 + 4.2 → 12.2 / 3 = 4.07;
//   - 7 inbound calls, 2 abandoned → 28.57%; ASA (60 + 240 + 200 + 2 × 145)
//     / 5 = 158; FCR 4 of 5 answered = 80%;
//   - friction: cust-bob 11; the journey drawn is cust-bob's (4 channels,
//     like ann's and cara's, and the most events, 9).
var SummaryLines = []string{
	"events:         36 from 6 customers on 4 channels (web, store, phone, app), 2024-02-10 to 2024-06-25",
	"identity:       3 merges, 1 split, 2 links, 1 erasure",
	"satisfaction:   CSAT 33.33% (3 answers), NPS 40 (5 answers), CES 4.07 of 7 (3 answers)",
	"contact centre: 7 inbound calls, ASA 158 s, abandonment 28.57%, FCR 80%",
	"top friction:   cust-bob, score 11 (2 low survey scores, 1 abandoned call, 1 return, 1 long wait)",
	"journey shown:  cust-bob, 9 events on 4 channels",
}
