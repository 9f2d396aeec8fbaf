package deployments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chdb"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/sink"
	"github.com/cx360/cx360/schemas"
)

// The time range and interval the dashboard's queries run with in the test.
var (
	rangeFrom     = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rangeTo       = time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)
	intervalSecs  = 3600
	grafanaMacro  = regexp.MustCompile(`\$__(\w+)(?:\(([^()]*)\))?`)
	leftoverVar   = regexp.MustCompile(`\$\{?\w+`)
	baseTableRefs = regexp.MustCompile(`(?i)\bcx360\.(journey_events|customers|identity_map|identity_changes)\b(\s+FINAL\b)?`)
	// Constructs ClickHouse 18.16 lacks (window functions, DateTime64, Map,
	// JSON functions, toStartOfInterval) or that the grafana plugin expands into
	// them ($__timeInterval, $__fromTime_ms, …).
	notPortable = regexp.MustCompile(`(?i)\bOVER\s*\(|DateTime64|\bMap\(|JSONExtract|toStartOfInterval|\$__(timeInterval|timeFilter_ms|fromTime_ms|toTime_ms|dateTimeFilter|dt)\b`)
)

// expandMacros does what the grafana-clickhouse-datasource plugin does with
// the macros the dashboard uses, for the test's time range and interval
// (pkg/macros of github.com/grafana/clickhouse-datasource): $__timeFilter(col)
// is col >= toDateTime(from) AND col <= toDateTime(to), $__fromTime and
// $__toTime are toDateTime(unix seconds), $__interval_s the interval in
// seconds. Any other $ reference fails.
func expandMacros(sql string) (string, error) {
	var err error
	out := grafanaMacro.ReplaceAllStringFunc(sql, func(m string) string {
		sub := grafanaMacro.FindStringSubmatch(m)
		from, to := fmt.Sprintf("toDateTime(%d)", rangeFrom.Unix()), fmt.Sprintf("toDateTime(%d)", rangeTo.Unix())
		switch {
		case sub[1] == "timeFilter" && sub[2] != "":
			col := strings.TrimSpace(sub[2])
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, from, col, to)
		case sub[1] == "fromTime" && !strings.Contains(m, "("):
			return from
		case sub[1] == "toTime" && !strings.Contains(m, "("):
			return to
		case sub[1] == "interval_s" && !strings.Contains(m, "("):
			return strconv.Itoa(intervalSecs)
		}
		err = fmt.Errorf("macro %s is not one the test knows how the plugin expands", m)
		return m
	})
	if err != nil {
		return "", err
	}
	if v := leftoverVar.FindString(out); v != "" {
		return "", fmt.Errorf("%s is left after expanding macros: a template variable the test does not substitute", v)
	}
	return out, nil
}

// panelExpectation is what one ClickHouse panel returns over the fixture.
type panelExpectation struct {
	columns     []string
	rows        [][]string         // the exact result, when set
	firstColumn []string           // the first column's values, when set
	sums        map[string]float64 // column totals, when set
	rowCount    int                // when set
}

// expectedPanels lists every ClickHouse panel of the dashboard with what it
// returns over the fixture below (a panel added without an entry fails).
var expectedPanels = map[string]panelExpectation{
	"Events": {columns: []string{"events"}, rows: [][]string{{"12"}}},
	// c1 and c3 (merged into c1) count once.
	"Customers with events": {columns: []string{"customers"}, rows: [][]string{{"2"}}},
	// c3 is merged away, c4 erased.
	"Live profiles":   {columns: []string{"profiles"}, rows: [][]string{{"2"}}},
	"Identity merges": {columns: []string{"merges", "splits"}, rows: [][]string{{"1", "0"}}},
	"Events by journey phase": {
		columns: []string{"time", "phase", "events"}, sums: map[string]float64{"events": 12},
	},
	"Journey phases by channel": {
		columns: []string{"phase", "channel", "events", "customers"},
		rows: [][]string{
			{"pre_visit", "web", "1", "1"},
			{"visit", "phone", "1", "1"},
			{"visit", "store", "1", "1"},
			{"post_visit", "app", "2", "2"},
			{"post_visit", "phone", "3", "2"},
			{"post_visit", "store", "1", "1"},
			{"post_visit", "web", "3", "2"},
		},
	},
	// CSAT 5/5 and 2/5; NPS 10 and 3; CES 6/7.
	"CSAT, NPS and CES": {
		columns: []string{"csat_responses", "csat_pct", "nps_responses", "nps", "ces_responses", "ces_avg"},
		rows:    [][]string{{"2", "50", "2", "0", "1", "6"}},
	},
	"Satisfaction by day": {columns: []string{"time", "csat_pct", "nps", "ces_avg"}, rowCount: 2},
	// The 5/5 CSAT rates the store purchase it names (about_event_id).
	"Satisfaction by rated channel": {
		columns: []string{"rated_channel", "csat_responses", "csat_pct", "nps_responses", "nps", "ces_responses", "ces_avg"},
		rows: [][]string{
			{"app", "0", "NULL", "2", "0", "0", "NULL"},
			{"store", "1", "100", "0", "NULL", "0", "NULL"},
			{"web", "1", "0", "0", "NULL", "1", "6"},
		},
	},
	// Inbound calls: answered after 30 s (240 s handled), abandoned after
	// 200 s, resolved after 60 s (300 s); the outbound call is left out.
	"Contact-centre KPIs": {
		columns: []string{"offered", "abandoned_calls", "abandonment_pct", "asa_seconds", "aht_seconds", "long_waits"},
		rows:    [][]string{{"3", "1", "33.33", "45", "270", "1"}},
	},
	"Calls answered and abandoned": {
		columns: []string{"time", "answered", "abandoned_calls"}, sums: map[string]float64{"answered": 2, "abandoned_calls": 1},
	},
	"Queues": {
		columns: []string{"queue", "offered", "abandoned_calls", "abandonment_pct", "asa_seconds", "aht_seconds", "long_waits"},
		rows: [][]string{
			{"support", "2", "1", "50", "60", "300", "1"},
			{"orders", "1", "0", "0", "30", "240", "0"},
		},
	},
	// c2's latest profile; the erased c4's friction is not counted.
	"Friction (live profiles, all time)": {
		columns: []string{"customers_with_friction", "customers_with_friction_pct", "total_low_scores", "total_abandoned_calls", "total_long_waits", "total_returns"},
		rows:    [][]string{{"1", "50", "3", "1", "1", "1"}},
	},
	"Friction moments": {
		columns: []string{"time", "low_scores", "abandoned_calls", "long_waits", "returns"},
		sums:    map[string]float64{"low_scores": 3, "abandoned_calls": 1, "long_waits": 1, "returns": 1},
	},
	"Highest-friction customers": {
		columns: []string{"customer_id", "friction_score", "low_scores", "abandoned_calls", "long_waits", "returns", "last_csat", "last_nps", "last_ces", "orders", "spend", "last_seen"},
		rows:    [][]string{{"c2", "14", "3", "1", "1", "1", "2", "3", "6", "0", "-10", "2026-11-05 12:00:00"}},
	},
	"Seconds since the newest event": {columns: []string{"seconds_since_newest_event"}, rowCount: 1},
	"ClickHouse tables": {
		columns:     []string{"table", "stored_rows", "active_parts", "last_write"},
		firstColumn: []string{"customers", "identity_changes", "identity_map", "journey_events"},
	},
	"Identity changes by kind": {columns: []string{"time", "kind", "changes"}, sums: map[string]float64{"changes": 3}},
}

// TestDashboardQueriesRunOnClickHouse runs every ClickHouse query of the CX
// dashboard, macros expanded as the Grafana plugin does, over a small fixture
// on two engines with cx360's migrations: a real ClickHouse 18.16 server (what
// Debian installs) and chDB, modern ClickHouse as a library (the docker-compose
// stack runs a current LTS). Each query must return the same, expected result
// on both: the SQL is the one dialect they share, and it reads the
// ReplacingMergeTree base tables with FINAL (the fixture holds stale versions
// that only FINAL collapses).
func TestDashboardQueriesRunOnClickHouse(t *testing.T) {
	queries := dashboardQueries(t)
	fixture := dashboardFixture()

	t.Run("clickhouse-18.16", func(t *testing.T) {
		srv := chtest.NewServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if err := sink.Migrate(ctx, ch); err != nil {
			t.Fatal(err)
		}
		for _, b := range fixture {
			if err := ch.InsertBatch(ctx, b.table, b.columns, b.rows); err != nil {
				t.Fatalf("fixture: %v", err)
			}
		}
		for _, q := range queries {
			t.Run(q.title, func(t *testing.T) {
				columns, rows, err := queryStrings(ctx, ch, q.sql)
				if err != nil {
					t.Fatalf("%v\n%s", err, q.sql)
				}
				checkPanelResult(t, q, columns, rows)
			})
		}
	})

	t.Run("modern-chdb", func(t *testing.T) {
		engine := chdb.New(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		migrations, err := schemas.ClickHouse()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range migrations {
			for _, st := range m.Statements {
				if err := engine.Exec(ctx, st); err != nil {
					t.Fatalf("migration %03d_%s: %v", m.Version, m.Name, err)
				}
			}
		}
		for _, b := range fixture {
			if err := engine.Exec(ctx, insertValues(b.table, b.columns, b.rows)); err != nil {
				t.Fatalf("fixture: %v", err)
			}
		}
		if v, err := engine.Version(ctx); err == nil {
			t.Logf("chDB runs ClickHouse %s", v)
		}
		for _, q := range queries {
			t.Run(q.title, func(t *testing.T) {
				res, err := engine.Query(ctx, q.sql)
				if err != nil {
					t.Fatalf("%v\n%s", err, q.sql)
				}
				rows := make([][]string, len(res.Rows))
				for i, r := range res.Rows {
					rows[i] = make([]string, len(r))
					for j, v := range r {
						rows[i][j] = formatJSONValue(v)
					}
				}
				checkPanelResult(t, q, res.Columns, rows)
			})
		}
	})
}

// dashboardQuery is one ClickHouse query of the dashboard, macros expanded.
type dashboardQuery struct{ title, raw, sql string }

// dashboardQueries returns the dashboard's ClickHouse queries after checking
// them statically: one per panel title, each with an expectation, portable
// constructs only, FINAL on every base table, macros the plugin expands.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	var queries []dashboardQuery
	seen := map[string]bool{}
	for _, p := range allPanels(loadDashboard(t).Panels) {
		for _, tg := range p.Targets {
			if tg.RawSQL == "" {
				continue
			}
			q := dashboardQuery{title: p.Title, raw: tg.RawSQL}
			if seen[q.title] {
				t.Errorf("two ClickHouse queries under the title %q", q.title)
			}
			seen[q.title] = true
			if _, ok := expectedPanels[q.title]; !ok {
				t.Errorf("panel %q has no expectation in expectedPanels", q.title)
			}
			if m := notPortable.FindString(q.raw); m != "" {
				t.Errorf("panel %q uses %q, which ClickHouse 18.16 lacks", q.title, m)
			}
			for _, ref := range baseTableRefs.FindAllStringSubmatch(q.raw, -1) {
				if ref[2] == "" {
					t.Errorf("panel %q reads cx360.%s without FINAL: replayed and updated rows would count twice", q.title, ref[1])
				}
			}
			sql, err := expandMacros(q.raw)
			if err != nil {
				t.Errorf("panel %q: %v", q.title, err)
				continue
			}
			q.sql = sql
			queries = append(queries, q)
		}
	}
	for title := range expectedPanels {
		if !seen[title] {
			t.Errorf("expectedPanels names %q, which is no ClickHouse panel of the dashboard", title)
		}
	}
	return queries
}

// checkPanelResult compares a query's result with its panel's expectation.
func checkPanelResult(t *testing.T, q dashboardQuery, columns []string, rows [][]string) {
	t.Helper()
	want := expectedPanels[q.title]
	if !slices.Equal(columns, want.columns) {
		t.Errorf("columns %v; want %v", columns, want.columns)
	}
	if len(rows) == 0 {
		t.Fatalf("no rows over the fixture\n%s", q.sql)
	}
	if want.rows != nil && !reflect.DeepEqual(rows, want.rows) {
		t.Errorf("rows\n  %v\nwant\n  %v", rows, want.rows)
	}
	if want.firstColumn != nil {
		var first []string
		for _, r := range rows {
			first = append(first, r[0])
		}
		if !slices.Equal(first, want.firstColumn) {
			t.Errorf("first column %v; want %v", first, want.firstColumn)
		}
	}
	if want.rowCount != 0 && len(rows) != want.rowCount {
		t.Errorf("%d rows; want %d: %v", len(rows), want.rowCount, rows)
	}
	for col, total := range want.sums {
		i := slices.Index(columns, col)
		if i < 0 {
			t.Fatalf("no column %s", col)
		}
		sum := 0.0
		for _, r := range rows {
			v, err := strconv.ParseFloat(r[i], 64)
			if err != nil {
				t.Fatalf("column %s: %q is not a number", col, r[i])
			}
			sum += v
		}
		if sum != total {
			t.Errorf("column %s sums to %v; want %v (rows %v)", col, sum, total, rows)
		}
	}
	if len(columns) > 0 && columns[0] == "time" {
		for _, r := range rows {
			if ts, err := time.Parse(time.DateTime, r[0]); err != nil || ts.Before(rangeFrom) || ts.After(rangeTo) {
				t.Errorf("time %q is outside the range %s..%s", r[0], rangeFrom, rangeTo)
			}
		}
	}
}

// queryStrings runs sql and returns the column names and every value as text
// (NULL for a null, DateTime in UTC).
func queryStrings(ctx context.Context, ch *clickhouse.Client, sql string) ([]string, [][]string, error) {
	rows, err := ch.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	columns := rows.Columns()
	types := rows.ColumnTypes()
	var out [][]string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			row[i] = formatValue(reflect.ValueOf(d).Elem())
		}
		out = append(out, row)
	}
	return columns, out, rows.Err()
}

func formatValue(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC().Format(time.DateTime)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	default:
		return fmt.Sprint(x)
	}
}

// formatJSONValue formats a value chDB decoded from JSONCompact (json.Number
// for numbers, DateTime as UTC text) as formatValue does 18.16's.
func formatJSONValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case json.Number:
		if f, err := x.Float64(); err == nil && !strings.ContainsAny(x.String(), "eE") {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// insertValues writes a fixture batch as INSERT … VALUES for chDB (18.16
// refuses inline VALUES over the native protocol, so the server gets
// InsertBatch).
func insertValues(table string, columns []string, rows [][]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(columns, ", "))
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, v := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(sqlLiteral(v))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func sqlLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case *float64:
		if x == nil {
			return "NULL"
		}
		return strconv.FormatFloat(*x, 'f', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x) + "'"
	case time.Time:
		return "'" + x.UTC().Format(time.DateTime) + "'"
	case []string:
		quoted := make([]string, len(x))
		for i, s := range x {
			quoted[i] = sqlLiteral(s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	default:
		return fmt.Sprint(x) // integers
	}
}

func ptr(f float64) *float64 { return &f }

// fixtureBatch is one insert of the fixture.
type fixtureBatch struct {
	table   string
	columns []string
	rows    [][]any
}

// dashboardFixture is a small retailer week: two live customers (c1, and c2
// with friction), c3 merged into c1, c4 erased; web, app, store and phone
// events in every journey phase, calls, surveys and a return; plus what only
// the time filter or FINAL removes: an event and a change before the range,
// and stale versions of an event, a profile and a change.
func dashboardFixture() []fixtureBatch {
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC) }
	type event struct {
		id, customer, channel, typ, phase string
		at                                time.Time
		callID, direction, queue, outcome string
		wait, handle                      *float64
		surveyKind                        string
		score, scale                      *float64
		about                             string
		orderTotal                        *float64
		version                           uint64
	}
	events := []event{
		{id: "e0", customer: "c1", channel: "web", typ: "page_view", phase: "pre_visit", at: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC), version: 1},
		// e1's first version has the wrong phase; only FINAL hides it.
		{id: "e1", customer: "c1", channel: "web", typ: "page_view", phase: "visit", at: at(2, 9, 0), version: 1},
		{id: "e2", customer: "c3", channel: "store", typ: "purchase", phase: "visit", at: at(3, 11, 0), orderTotal: ptr(42.5), version: 1},
		{id: "e3", customer: "c1", channel: "phone", typ: "call", phase: "visit", at: at(3, 15, 0), callID: "k1", direction: "inbound", queue: "orders", outcome: "answered", wait: ptr(30), handle: ptr(240), version: 1},
		{id: "e4", customer: "c2", channel: "phone", typ: "call", phase: "post_visit", at: at(4, 9, 0), callID: "k2", direction: "inbound", queue: "support", outcome: "abandoned", wait: ptr(200), version: 1},
		{id: "e5", customer: "c2", channel: "phone", typ: "call", phase: "post_visit", at: at(4, 9, 30), callID: "k3", queue: "support", outcome: "resolved", wait: ptr(60), handle: ptr(300), version: 1},
		{id: "e6", customer: "c1", channel: "phone", typ: "call", phase: "post_visit", at: at(4, 12, 0), callID: "k4", direction: "outbound", queue: "outbound", outcome: "answered", version: 1},
		{id: "e7", customer: "c1", channel: "web", typ: "survey", phase: "post_visit", at: at(4, 18, 0), surveyKind: "csat", score: ptr(5), about: "e2", version: 1},
		{id: "e8", customer: "c2", channel: "web", typ: "survey", phase: "post_visit", at: at(4, 19, 0), surveyKind: "csat", score: ptr(2), scale: ptr(5), version: 1},
		{id: "e9", customer: "c1", channel: "app", typ: "survey", phase: "post_visit", at: at(5, 8, 0), surveyKind: "nps", score: ptr(10), version: 1},
		{id: "e10", customer: "c2", channel: "app", typ: "survey", phase: "post_visit", at: at(5, 9, 0), surveyKind: "nps", score: ptr(3), version: 1},
		{id: "e11", customer: "c2", channel: "web", typ: "survey", phase: "post_visit", at: at(5, 10, 0), surveyKind: "ces", score: ptr(6), scale: ptr(7), version: 1},
		{id: "e12", customer: "c2", channel: "store", typ: "return", phase: "post_visit", at: at(5, 12, 0), orderTotal: ptr(-10), version: 1},
	}
	eventRows := func(es []event) [][]any {
		var rows [][]any
		for _, e := range es {
			rows = append(rows, []any{
				e.id, e.customer, e.channel, e.typ, e.phase, e.at, e.at.UnixMilli(), e.at.UnixMilli() + 150,
				e.callID, e.direction, e.queue, e.outcome, e.wait, e.handle,
				e.surveyKind, e.score, e.scale, e.about, e.orderTotal, e.version,
			})
		}
		return rows
	}
	eventColumns := []string{
		"event_id", "customer_id", "channel", "type", "phase", "event_time", "event_ts_ms", "received_ts_ms",
		"call_id", "call_direction", "call_queue", "call_outcome", "wait_seconds", "handle_seconds",
		"survey_kind", "survey_score", "survey_scale_max", "about_event_id", "order_total", "version",
	}
	e1 := events[1]
	e1.phase, e1.version = "pre_visit", 2 // redelivered after a correction

	customerColumns := []string{
		"customer_id", "version", "is_deleted", "first_seen", "last_seen", "orders", "total_spend",
		"last_csat", "last_nps", "last_ces", "low_scores", "abandoned_calls", "long_waits", "returns", "friction_score", "updated_at",
	}
	changeColumns := []string{"change_id", "kind", "customer_id", "related_ids", "at", "at_ms", "version"}
	change := func(id, kind, customer string, related []string, when time.Time, version int64) []any {
		return []any{id, kind, customer, related, when, when.UnixMilli(), version}
	}
	return []fixtureBatch{
		{"cx360.journey_events", eventColumns, eventRows(events)},
		{"cx360.journey_events", eventColumns, eventRows([]event{e1})},
		{"cx360.customers", customerColumns, [][]any{
			{"c1", int64(5), uint8(0), time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC), at(5, 8, 0), int64(1), 42.5, ptr(5), ptr(10), nil, int64(0), int64(0), int64(0), int64(0), 0.0, at(5, 8, 0)},
			{"c2", int64(1), uint8(0), at(4, 9, 0), at(4, 9, 30), int64(0), 0.0, nil, nil, nil, int64(0), int64(1), int64(1), int64(0), 3.0, at(4, 9, 30)},
			{"c3", int64(3), uint8(1), at(3, 11, 0), at(3, 11, 0), int64(1), 42.5, nil, nil, nil, int64(0), int64(0), int64(0), int64(0), 0.0, at(3, 16, 0)},
			{"c4", int64(2), uint8(1), at(2, 9, 0), at(2, 9, 0), int64(0), 0.0, ptr(1), nil, nil, int64(3), int64(0), int64(0), int64(0), 9.0, at(5, 13, 0)},
		}},
		{"cx360.customers", customerColumns, [][]any{
			{"c2", int64(7), uint8(0), at(4, 9, 0), at(5, 12, 0), int64(0), -10.0, ptr(2), ptr(3), ptr(6), int64(3), int64(1), int64(1), int64(1), 14.0, at(5, 12, 0)},
		}},
		{"cx360.identity_map", []string{"customer_id", "survivor_id", "version"}, [][]any{{"c3", "c1", int64(1)}}},
		{"cx360.identity_changes", changeColumns, [][]any{
			change("ch0", "link", "c1", []string{}, time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC), 1),
			change("ch1", "merge", "c1", []string{"c3"}, at(3, 16, 0), 1),
			change("ch2", "link", "c2", []string{}, at(4, 9, 0), 1),
			change("ch3", "erase", "c4", []string{}, at(5, 13, 0), 1),
		}},
		{"cx360.identity_changes", changeColumns, [][]any{
			change("ch1", "merge", "c1", []string{"c3"}, at(3, 16, 0), 2), // replayed
		}},
	}
}
