// Package marts holds a small, hand-reasoned data set for cx360's ClickHouse
// CX marts (schemas/clickhouse/002_marts.sql) and the exact answer of every
// example query (schemas/clickhouse/queries) on it, so that any ClickHouse
// server (the 18.16 one in this package's tests, a modern one elsewhere) can
// be checked against the same numbers.
//
// The customers, in brief (times are UTC, 2024):
//   - cust-ann browses the web, buys in store s1 two days later, rates it,
//     calls once (a long wait) and buys again in June;
//     one event is stored twice with the same version, one with an older
//     version that must lose.
//   - cust-bob is three profiles merged in a chain (bob-app into bob-web,
//     later bob-web into cust-bob): web and app browsing, a store purchase
//     ten days later, a long-waited call, an abandoned repeat call, a return,
//     an outbound call, and low survey scores.
//   - cust-cara buys twice in February/March, calls billing twice, and stops
//     buying: a lapsed customer with friction after her last purchase.
//   - cust-gus browses, visits a store the next day, buys on the web, and
//     calls about the delivery twice (the first abandoned after a long wait).
//   - cust-hal and cust-ivy browse the web and buy in a store, 2 and 20 days
//     later: the common "web > store" path, in and out of the 7-day funnel.
//   - cust-dan is erased (an erasures row for him and his merged web id);
//     cust-eve has a tombstone in customers and no identity_map row (an
//     erasure whose audit row has not arrived): neither may appear anywhere.
package marts

import (
	"context"
	"fmt"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
)

// Event is one journey_events row of the fixture; zero fields are left to the
// column defaults of the row (empty strings, NULL).
type Event struct {
	ID, Customer, Channel, Type, Phase string
	At                                 time.Time
	Version                            uint64
	URL, Store, Order                  string
	Total                              *float64
	Call                               *Call
	Survey                             *Survey
}

// Call is the call block of an Event.
type Call struct {
	ID, Direction, Queue, Outcome, Reason string
	Wait, Handle                          *float64
}

// Survey is the survey block of an Event.
type Survey struct {
	Kind     string
	Score    float64
	ScaleMax *float64
	About    string
}

// AsOf is the reference day of the RFM and churn queries in Expected.
const AsOf = "2024-06-30"

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err) // the literals below are fixed; a typo is a programming error
	}
	return t
}

func num(f float64) *float64 { return &f }

func call(id, direction, queue, reason, outcome string, wait, handle *float64) *Call {
	return &Call{ID: id, Direction: direction, Queue: queue, Reason: reason, Outcome: outcome, Wait: wait, Handle: handle}
}

func survey(kind string, score float64, scale *float64, about string) *Survey {
	return &Survey{Kind: kind, Score: score, ScaleMax: scale, About: about}
}

// Events returns the fixture's journey_events rows, duplicates included.
func Events() []Event {
	return []Event{
		// cust-ann. a1 is stored twice with the same version (a redelivered
		// batch); a3 twice, the older version with a wrong total.
		{ID: "a1", Customer: "cust-ann", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-03-01 10:00"), Version: 100, URL: "/shoes"},
		{ID: "a1", Customer: "cust-ann", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-03-01 10:00"), Version: 100, URL: "/shoes"},
		{ID: "a2", Customer: "cust-ann", Channel: "web", Type: "product_viewed", Phase: "pre_visit", At: at("2024-03-01 10:05"), Version: 100},
		{ID: "a3", Customer: "cust-ann", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-03-03 15:00"), Version: 100, Store: "s1", Order: "o-a3", Total: num(100)},
		{ID: "a3", Customer: "cust-ann", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-03-03 15:00"), Version: 200, Store: "s1", Order: "o-a3", Total: num(120)},
		{ID: "a4", Customer: "cust-ann", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-05 09:00"), Version: 100, Survey: survey("csat", 5, num(5), "a3")},
		{ID: "a5", Customer: "cust-ann", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-06-20 12:00"), Version: 100, Store: "s1", Order: "o-a5", Total: num(80)},
		{ID: "a6", Customer: "cust-ann", Channel: "app", Type: "survey_response", Phase: "post_visit", At: at("2024-06-21 09:00"), Version: 100, Survey: survey("nps", 10, num(10), "a5")},
		{ID: "a7", Customer: "cust-ann", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-04-06 15:00"), Version: 100,
			Call: call("call-a7", "inbound", "orders", "order_status", "resolved", num(190), num(250))},

		// cust-bob: b1 arrived as bob-web, b2 as bob-app (both merged later).
		{ID: "b1", Customer: "bob-web", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-03-10 12:00"), Version: 100},
		{ID: "b2", Customer: "bob-app", Channel: "app", Type: "screen_view", Phase: "pre_visit", At: at("2024-03-10 12:30"), Version: 100},
		{ID: "b3", Customer: "cust-bob", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-03-20 11:00"), Version: 100, Store: "s2", Order: "o-b3", Total: num(250)},
		{ID: "b4", Customer: "cust-bob", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-03-21 09:00"), Version: 100,
			Call: call("call-b4", "inbound", "orders", "order_status", "resolved", num(200), num(300))},
		{ID: "b5", Customer: "cust-bob", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-03-23 09:00"), Version: 100,
			Call: call("call-b5", "inbound", "orders", "order_status", "abandoned", num(30), num(0))},
		{ID: "b6", Customer: "cust-bob", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-22 10:00"), Version: 100, Survey: survey("nps", 3, num(10), "b4")},
		{ID: "b7", Customer: "cust-bob", Channel: "store", Type: "return", Phase: "post_visit", At: at("2024-03-25 16:00"), Version: 100, Store: "s2", Order: "o-b3", Total: num(-50)},
		{ID: "b8", Customer: "cust-bob", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-26 10:00"), Version: 100, Survey: survey("ces", 6, num(7), "b7")},
		{ID: "b9", Customer: "cust-bob", Channel: "phone", Type: "call", Phase: "post_visit", At: at("2024-03-27 10:00"), Version: 100,
			Call: call("call-b9", "outbound", "returns", "refund", "resolved", nil, num(120))},

		// cust-cara.
		{ID: "c1", Customer: "cust-cara", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-02-10 11:00"), Version: 100, Store: "s1", Order: "o-c1", Total: num(40)},
		{ID: "c2", Customer: "cust-cara", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-03-01 11:00"), Version: 100, Store: "s1", Order: "o-c2", Total: num(60)},
		{ID: "c3", Customer: "cust-cara", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-03-04 14:00"), Version: 100,
			Call: call("call-c3", "inbound", "billing", "payment", "resolved", num(60), num(400))},
		{ID: "c4", Customer: "cust-cara", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-05 08:00"), Version: 100, Survey: survey("nps", 9, num(10), "c3")},
		{ID: "c5", Customer: "cust-cara", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-03-15 14:00"), Version: 100,
			Call: call("call-c5", "inbound", "billing", "payment", "resolved", num(240), num(500))},
		{ID: "c6", Customer: "cust-cara", Channel: "app", Type: "survey_response", Phase: "post_visit", At: at("2024-03-16 08:00"), Version: 100, Survey: survey("csat", 2, num(5), "c5")},
		{ID: "c7", Customer: "cust-cara", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-05 09:30"), Version: 100, Survey: survey("csat", 6, num(10), "c2")},
		{ID: "c8", Customer: "cust-cara", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-17 08:00"), Version: 100, Survey: survey("ces", 2, nil, "c5")},

		// cust-gus.
		{ID: "g1", Customer: "cust-gus", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-04-01 09:00"), Version: 100},
		{ID: "g2", Customer: "cust-gus", Channel: "store", Type: "store_visit", Phase: "visit", At: at("2024-04-02 17:00"), Version: 100, Store: "s2"},
		{ID: "g3", Customer: "cust-gus", Channel: "web", Type: "order_completed", Phase: "visit", At: at("2024-04-05 12:00"), Version: 100, Order: "o-g3", Total: num(60)},
		{ID: "g4", Customer: "cust-gus", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-04-06 10:00"), Version: 100,
			Call: call("call-g4", "", "orders", "delivery_date", "hangup", num(400), nil)},
		{ID: "g5", Customer: "cust-gus", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-04-06 10:30"), Version: 100,
			Call: call("call-g5", "inbound", "orders", "delivery_date", "resolved", num(100), num(200))},
		{ID: "g6", Customer: "cust-gus", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-04-07 09:00"), Version: 100, Survey: survey("nps", 8, num(10), "g5")},
		{ID: "g7", Customer: "cust-gus", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-04-07 09:10"), Version: 100, Survey: survey("nps", 10, num(10), "g4")},
		{ID: "g8", Customer: "cust-gus", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-04-07 09:20"), Version: 100, Survey: survey("ces", 3, num(5), "g5")},

		// cust-hal and cust-ivy: web, then a store purchase (2 and 20 days later).
		{ID: "h1", Customer: "cust-hal", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-06-23 10:00"), Version: 100},
		{ID: "h2", Customer: "cust-hal", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-06-25 10:00"), Version: 100, Store: "s1", Order: "o-h2", Total: num(30)},
		{ID: "i1", Customer: "cust-ivy", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-05-10 10:00"), Version: 100},
		{ID: "i2", Customer: "cust-ivy", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-05-30 10:00"), Version: 100, Store: "s2", Order: "o-i2", Total: num(700)},

		// cust-dan (erased): d0 arrived as dan-web.
		{ID: "d0", Customer: "dan-web", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-03-02 10:00"), Version: 100},
		{ID: "d1", Customer: "cust-dan", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-03-03 12:00"), Version: 100, Store: "s1", Order: "o-d1", Total: num(500)},
		{ID: "d2", Customer: "cust-dan", Channel: "web", Type: "survey_response", Phase: "post_visit", At: at("2024-03-04 09:00"), Version: 100, Survey: survey("nps", 10, num(10), "d1")},
		{ID: "d3", Customer: "cust-dan", Channel: "phone", Type: "call", Phase: "visit", At: at("2024-03-04 10:00"), Version: 100,
			Call: call("call-d3", "inbound", "orders", "order_status", "abandoned", num(500), nil)},

		// cust-eve (tombstoned, erasure in flight).
		{ID: "e1", Customer: "cust-eve", Channel: "web", Type: "page_view", Phase: "pre_visit", At: at("2024-03-06 10:00"), Version: 100},
		{ID: "e2", Customer: "cust-eve", Channel: "store", Type: "purchase", Phase: "visit", At: at("2024-03-07 10:00"), Version: 100, Store: "s2", Order: "o-e2", Total: num(75)},
	}
}

// IdentityMapRow is one identity_map row.
type IdentityMapRow struct {
	Customer, Survivor string
	Version            int64
}

// IdentityMap returns the fixture's identity_map: bob-web absorbed bob-app
// (version 1), then cust-bob absorbed bob-web (version 3), so bob-app's own
// latest row still names bob-web. cust-dan's rows are still there, as they
// are until the sink's erasure mutation finishes.
func IdentityMap() []IdentityMapRow {
	return []IdentityMapRow{
		{"bob-app", "bob-web", 1},
		{"bob-web", "bob-web", 1},
		{"bob-web", "cust-bob", 3},
		{"cust-bob", "cust-bob", 3},
		{"dan-web", "cust-dan", 2},
		{"cust-dan", "cust-dan", 2},
	}
}

// CustomerRow is one customers row (only what the marts read).
type CustomerRow struct {
	Customer string
	Version  int64
	Deleted  bool
}

// Customers returns the fixture's customers rows: live profiles, the
// tombstones of merged-away profiles (bob-web, bob-app), and the tombstones
// of cust-dan and cust-eve (cust-eve was live at version 1).
func Customers() []CustomerRow {
	const tombstone = 1_711_000_000_000_000 // the sink's tombstone version: epoch ms x 1000
	return []CustomerRow{
		{"cust-ann", 4, false},
		{"cust-bob", 5, false},
		{"bob-web", 2, false},
		{"bob-web", tombstone, true},
		{"bob-app", tombstone, true},
		{"cust-cara", 6, false},
		{"cust-gus", 5, false},
		{"cust-hal", 2, false},
		{"cust-ivy", 2, false},
		{"cust-dan", tombstone, true},
		{"cust-eve", 1, false},
		{"cust-eve", tombstone, true},
	}
}

// ErasureRow is one erasures row.
type ErasureRow struct {
	Customer string
	Related  []string
	At       time.Time
	ChangeID string
}

// Erasures returns the fixture's erasures: cust-dan and his merged web id.
func Erasures() []ErasureRow {
	return []ErasureRow{{Customer: "cust-dan", Related: []string{"cust-dan", "dan-web"}, At: at("2024-05-01 00:00"), ChangeID: "chg-erase-dan"}}
}

var journeyColumns = []string{
	"event_id", "customer_id", "channel", "type", "phase", "event_time", "event_ts_ms", "received_ts_ms",
	"url", "store_id", "order_id", "order_total", "currency",
	"call_id", "call_direction", "call_queue", "wait_seconds", "handle_seconds", "call_outcome", "call_reason",
	"survey_kind", "survey_score", "survey_scale_max", "about_event_id", "version",
}

func (e Event) row() []any {
	var c Call
	if e.Call != nil {
		c = *e.Call
	}
	var s Survey
	var score *float64
	if e.Survey != nil {
		s = *e.Survey
		score = num(s.Score)
	}
	currency := ""
	if e.Total != nil {
		currency = "GBP"
	}
	return []any{
		e.ID, e.Customer, e.Channel, e.Type, e.Phase, e.At, e.At.UnixMilli(), e.At.UnixMilli() + int64(e.Version),
		e.URL, e.Store, e.Order, e.Total, currency,
		c.ID, c.Direction, c.Queue, c.Wait, c.Handle, c.Outcome, c.Reason,
		s.Kind, score, s.ScaleMax, s.About, e.Version,
	}
}

// Batch is rows for one table, in the order of Columns.
type Batch struct {
	Table   string
	Columns []string
	Rows    [][]any
}

// Batches returns the fixture as insert batches, in the order Load writes
// them: every table in one batch, except journey_events, whose duplicate rows
// come in a second batch, so that they sit in a part of their own until
// ClickHouse merges, as redelivered rows do. Values are string, int64,
// uint8, uint64, *float64 (nil is NULL), []string and time.Time (UTC).
func Batches() []Batch {
	var first, dups [][]any
	seen := map[string]bool{}
	for _, e := range Events() {
		if seen[e.ID] {
			dups = append(dups, e.row())
			continue
		}
		seen[e.ID] = true
		first = append(first, e.row())
	}
	var idMap [][]any
	for _, m := range IdentityMap() {
		idMap = append(idMap, []any{m.Customer, m.Survivor, m.Version})
	}
	var customers [][]any
	for _, r := range Customers() {
		deleted := uint8(0)
		if r.Deleted {
			deleted = 1
		}
		customers = append(customers, []any{r.Customer, r.Version, deleted})
	}
	var erasures [][]any
	for _, r := range Erasures() {
		erasures = append(erasures, []any{r.Customer, r.Related, r.At, r.ChangeID})
	}
	return []Batch{
		{"cx360.journey_events", journeyColumns, first},
		{"cx360.journey_events", journeyColumns, dups},
		{"cx360.identity_map", []string{"customer_id", "survivor_id", "version"}, idMap},
		{"cx360.customers", []string{"customer_id", "version", "is_deleted"}, customers},
		{"cx360.erasures", []string{"customer_id", "related_ids", "requested_at", "change_id"}, erasures},
	}
}

// Load writes the fixture into the cx360 tables of the server behind c (the
// migrations must have run), one InsertBatch per Batch.
func Load(ctx context.Context, c *clickhouse.Client) error {
	for _, b := range Batches() {
		if err := c.InsertBatch(ctx, b.Table, b.Columns, b.Rows); err != nil {
			return fmt.Errorf("marts: loading %s: %w", b.Table, err)
		}
	}
	return nil
}
