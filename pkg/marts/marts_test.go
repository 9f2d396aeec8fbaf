package marts_test

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/marts"
	"github.com/cx360/cx360/pkg/sink"
	"github.com/cx360/cx360/schemas"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// The views 002_marts.sql creates, in the cx360 database.
var martViews = []string{
	"calls", "customer_survivor", "erased_customers", "friction_moments", "identity_hop2", "identity_hop4",
	"identity_latest", "journey", "purchases", "survey_responses",
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// engine is a ClickHouse the marts are checked on: the 18.16 server through
// pkg/clickhouse, or chDB (modern ClickHouse). Query answers rendered rows.
type engine struct {
	migrate func(context.Context) error
	load    func(context.Context) error
	exec    func(context.Context, string) error
	query   func(context.Context, string) (columns []string, rows [][]string, err error)
	// queryParams runs a query whose {name:Type} placeholders the engine binds
	// itself; nil when the engine cannot (18.16).
	queryParams func(ctx context.Context, sql string, params map[string]string) (columns []string, rows [][]string, err error)
}

// TestMartsAndQueries applies every migration to a real ClickHouse server
// (18.16 on this machine) twice, loads the fixture with InsertBatch, and checks
// every example query's exact answer.
func TestMartsAndQueries(t *testing.T) {
	ctx := testCtx(t)
	srv := chtest.Shared(t)
	c, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Logf("ClickHouse %s", c.ServerVersion())
	verify(t, engine{
		migrate: func(ctx context.Context) error { return sink.Migrate(ctx, c) },
		load:    func(ctx context.Context) error { return marts.Load(ctx, c) },
		exec:    func(ctx context.Context, sql string) error { return c.Exec(ctx, sql) },
		query: func(ctx context.Context, sql string) ([]string, [][]string, error) {
			rows, err := c.Query(ctx, sql)
			if err != nil {
				return nil, nil, err
			}
			return marts.Render(rows)
		},
	})
}

// verify migrates twice (idempotence), loads the fixture, and checks the views
// and every query's exact answer: before ClickHouse merged the duplicate rows
// away, after it did (OPTIMIZE … FINAL), and after the migrations ran once
// more over the data (the views are dropped and created again).
func verify(t *testing.T, e engine) {
	ctx := testCtx(t)
	for range 2 { // idempotent: a second run changes nothing and fails on nothing
		if err := e.migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, views, err := e.query(ctx, "SELECT name FROM system.tables WHERE database = 'cx360' AND engine = 'View' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range views {
		names = append(names, r[0])
	}
	if !reflect.DeepEqual(names, martViews) {
		t.Fatalf("views in cx360: %v, want %v", names, martViews)
	}
	if err := e.load(ctx); err != nil {
		t.Fatal(err)
	}

	queries, err := schemas.Queries()
	if err != nil {
		t.Fatal(err)
	}
	expected := marts.Expected()
	names = names[:0]
	for _, q := range queries {
		names = append(names, q.Name)
	}
	var want []string
	for name := range expected {
		want = append(want, name)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("query files %v, but the fixture has answers for %v: every query needs its exact answer", names, want)
	}

	check := func(t *testing.T) {
		checkViews(ctx, t, e)
		for _, q := range queries {
			t.Run(q.Name, func(t *testing.T) {
				for _, tc := range expected[q.Name] {
					checkCase(ctx, t, e, q, tc)
				}
			})
		}
	}
	t.Run("duplicates stored", func(t *testing.T) {
		if n := count(ctx, t, e, "SELECT count() FROM cx360.journey_events"); n != "44" {
			t.Fatalf("journey_events holds %s rows, want 44 (36 events + 2 duplicates + 6 of erased customers)", n)
		}
		check(t)
	})
	t.Run("duplicates merged", func(t *testing.T) {
		for _, table := range []string{"journey_events", "identity_map", "customers"} {
			if err := e.exec(ctx, "OPTIMIZE TABLE cx360."+table+" FINAL"); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(ctx, t, e, "SELECT count() FROM cx360.journey_events"); n != "42" {
			t.Fatalf("journey_events holds %s rows after OPTIMIZE FINAL, want 42", n)
		}
		check(t)
	})
	t.Run("migrated again over data", func(t *testing.T) {
		if err := e.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
}

// checkViews checks the identity and dedup views every query stands on.
func checkViews(ctx context.Context, t *testing.T, e engine) {
	t.Helper()
	rows := query(ctx, t, e, "SELECT customer_id, survivor_id FROM cx360.customer_survivor ORDER BY customer_id")
	// bob-app's own latest row names bob-web, which was merged later: two hops.
	want := [][]string{
		{"bob-app", "cust-bob"}, {"bob-web", "cust-bob"}, {"cust-bob", "cust-bob"},
		{"cust-dan", "cust-dan"}, {"dan-web", "cust-dan"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("customer_survivor = %v, want %v", rows, want)
	}
	// cust-dan twice (customer_id and related_ids), dan-web, and cust-eve
	// (tombstone without identity_map row); not bob-web or bob-app, whose
	// tombstones are merges.
	rows = query(ctx, t, e, "SELECT customer_id FROM cx360.erased_customers ORDER BY customer_id")
	if want := [][]string{{"cust-dan"}, {"cust-dan"}, {"cust-eve"}, {"dan-web"}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("erased_customers = %v, want %v", rows, want)
	}
	rows = query(ctx, t, e, `SELECT customer_id, count(), uniqExact(event_id), arraySort(groupUniqArray(resolved_customer_id))
		FROM cx360.journey GROUP BY customer_id ORDER BY customer_id`)
	// ann 7, bob 9 (under 3 resolved ids), cara 8, gus 8, hal 2, ivy 2:
	// 36 events, each once.
	want = [][]string{
		{"cust-ann", "7", "7", "[cust-ann]"},
		{"cust-bob", "9", "9", "[bob-app,bob-web,cust-bob]"},
		{"cust-cara", "8", "8", "[cust-cara]"},
		{"cust-gus", "8", "8", "[cust-gus]"},
		{"cust-hal", "2", "2", "[cust-hal]"},
		{"cust-ivy", "2", "2", "[cust-ivy]"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("journey per customer = %v, want %v", rows, want)
	}
	// The newest version of a3 wins.
	if rows := query(ctx, t, e, "SELECT toString(order_total), version FROM cx360.journey WHERE event_id = 'a3'"); !reflect.DeepEqual(rows, [][]string{{"120", "200"}}) {
		t.Errorf("a3 = %v, want total 120 at version 200", rows)
	}
}

// checkCase runs q with tc's parameters as literals (Query.Bind, what 18.16
// is sent) and, where the engine binds parameters itself, as written too.
func checkCase(ctx context.Context, t *testing.T, e engine, q schemas.Query, tc marts.Case) {
	t.Helper()
	sql, err := q.Bind(tc.Params)
	if err != nil {
		t.Fatal(err)
	}
	compare := func(form string, columns []string, got [][]string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %v (%s): %v", q.Name, tc.Params, form, err)
		}
		if !reflect.DeepEqual(columns, tc.Columns) {
			t.Errorf("%s %v (%s): columns\n got %v\nwant %v", q.Name, tc.Params, form, columns, tc.Columns)
		}
		if !reflect.DeepEqual(got, tc.Rows) {
			t.Errorf("%s %v (%s): rows\n got %s\nwant %s", q.Name, tc.Params, form, table(got), table(tc.Rows))
		}
	}
	columns, got, err := e.query(ctx, sql)
	compare("literals", columns, got, err)
	if len(q.Params) > 0 && e.queryParams != nil {
		columns, got, err := e.queryParams(ctx, q.SQL, tc.Params)
		compare("parameters", columns, got, err)
	}
}

func table(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("\n  " + strings.Join(r, " | "))
	}
	return b.String()
}

func query(ctx context.Context, t *testing.T, e engine, sql string) [][]string {
	t.Helper()
	_, rows, err := e.query(ctx, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

func count(ctx context.Context, t *testing.T, e engine, sql string) string {
	t.Helper()
	rows := query(ctx, t, e, sql)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: %v, want one value", sql, rows)
	}
	return rows[0][0]
}

// TestQueryFiles checks what the files promise beyond their answers: a header
// an analyst can read, parameters with example values, and nothing 18.16 or
// modern ClickHouse lacks.
func TestQueryFiles(t *testing.T) {
	queries, err := schemas.Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 9 {
		t.Fatalf("%d queries, want at least 9", len(queries))
	}
	for _, q := range queries {
		if !strings.HasSuffix(q.Question, "?") {
			t.Errorf("%s: the question %q does not end with '?'", q.Name, q.Question)
		}
		if m := unportable.FindString(q.SQL); m != "" {
			t.Errorf("%s uses %s, which ClickHouse 18.16 lacks or answers differently", q.Name, m)
		}
		if _, err := q.Bind(q.Example); err != nil {
			t.Errorf("%s: its example does not bind: %v", q.Name, err)
		}
	}
	journey := find(t, queries, "customer_journey")
	if want := []schemas.Param{{Name: "customer_id", Type: "String"}}; !reflect.DeepEqual(journey.Params, want) {
		t.Errorf("customer_journey params = %v, want %v", journey.Params, want)
	}
	sql, err := journey.Bind(map[string]string{"customer_id": `o'brien\`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sql, "{customer_id") || strings.Count(sql, `'o\'brien\\'`) != 2 {
		t.Errorf("customer_journey bound to a quoted id:\n%s", sql)
	}
	if _, err := journey.Bind(map[string]string{}); err == nil {
		t.Error("Bind without a value succeeded")
	}
	rfm := find(t, queries, "rfm_segments")
	sql, err = rfm.Bind(map[string]string{"as_of": "2024-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sql, "CAST('2024-06-30' AS Date)") {
		t.Errorf("as_of is not bound as a Date literal:\n%s", sql)
	}
	limited := schemas.Query{Name: "limited", SQL: "SELECT 1 LIMIT {n:UInt32}"}
	if sql, err := limited.Bind(map[string]string{"n": "5"}); err != nil || sql != "SELECT 1 LIMIT 5" {
		t.Errorf("an integer binds bare: %q, %v", sql, err)
	}
	if _, err := limited.Bind(map[string]string{"n": "5; DROP TABLE x"}); err == nil {
		t.Error("a non-integer bound as UInt32")
	}
}

// unportable matches what one of the two dialects lacks (DateTime64, Map,
// TTL, JSONExtract, window functions) or answers differently (avgIf over no
// rows: nan on 18.16, NULL on modern servers).
var unportable = regexp.MustCompile(`\b(DateTime64|Map\(|TTL|JSONExtract\w*|OVER\s*\(|avgIf\()`)

func find(t *testing.T, queries []schemas.Query, name string) schemas.Query {
	t.Helper()
	i := slices.IndexFunc(queries, func(q schemas.Query) bool { return q.Name == name })
	if i < 0 {
		t.Fatalf("no query %s", name)
	}
	return queries[i]
}
