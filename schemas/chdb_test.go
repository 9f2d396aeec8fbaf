package schemas_test

// These tests prove cx360's ClickHouse SQL on a modern engine (chDB, ClickHouse
// 26.x as a library) next to the ClickHouse 18.16 that the other tests use:
// every migration must apply on both, leave the same tables, and every shipped
// query must run on the modern engine.

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chdb"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/schemas"
)

// database is the database the migrations create.
const database = "cx360"

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// tableShape is what a migration decides about a table, as system.tables and
// system.columns report it on every ClickHouse version from 18.16 on.
//
// Types and key expressions are compared verbatim: 18.16 and 26.7 spell them
// identically, so no normalisation is needed (also checked by hand for
// Decimal(18, 2), Tuple(String, Float64), Enum8('x' = 1), DateTime('UTC') and
// Nullable(FixedString(3)), which both write the same way).
type tableShape struct {
	Engine       string
	PartitionKey string
	SortingKey   string
	PrimaryKey   string
	Columns      []columnShape // in definition order
}

type columnShape struct {
	Name              string
	Type              string
	DefaultKind       string
	DefaultExpression string
	InPartitionKey    bool
	InSortingKey      bool
	InPrimaryKey      bool
}

const (
	tablesQuery = "SELECT name, engine, partition_key, sorting_key, primary_key FROM system.tables WHERE database = '" + database + "' ORDER BY name"
	// 18.16's system.columns has no position column, but both versions list a
	// table's columns in definition order; the modern engine is asked to sort by
	// position anyway, so its order is guaranteed rather than observed.
	columnsSelect      = "SELECT table, name, type, default_kind, default_expression, is_in_partition_key, is_in_sorting_key, is_in_primary_key FROM system.columns WHERE database = '" + database + "'"
	columnsQuery1816   = columnsSelect
	columnsQueryChDB   = columnsSelect + " ORDER BY table, position"
	migrationPasses    = 2
	randomRowsPerTable = 20
)

// applyMigrations runs every statement of every migration, in order, passes times.
func applyMigrations(t *testing.T, exec func(context.Context, string) error, passes int) {
	t.Helper()
	ms, err := schemas.ClickHouse()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for pass := 1; pass <= passes; pass++ {
		for _, m := range ms {
			for i, st := range m.Statements {
				if err := exec(ctx, st); err != nil {
					t.Fatalf("pass %d, migration %03d_%s statement %d: %v\n%s", pass, m.Version, m.Name, i+1, err, st)
				}
			}
		}
	}
}

func TestMigrationsOnModernClickHouseMatch1816(t *testing.T) {
	engine := chdb.New(t)
	// Twice: every migration must be idempotent (cx360 runs them on every start).
	applyMigrations(t, engine.Exec, migrationPasses)
	modern := chdbShapes(t, engine)

	srv := chtest.NewServer(t)
	ctx := testCtx(t)
	client, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	applyMigrations(t, func(ctx context.Context, st string) error { return client.Exec(ctx, st) }, 1)
	old := shapes1816(t, client)

	if len(old) == 0 {
		t.Fatalf("the migrations created no tables in %s on ClickHouse 18.16", database)
	}
	for name, want := range old {
		if len(want.Columns) == 0 || want.Engine == "" {
			t.Errorf("18.16 reports no engine or columns for %s.%s: %+v", database, name, want)
		}
		got, ok := modern[name]
		if !ok {
			t.Errorf("table %s.%s exists on 18.16 but not on chDB", database, name)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("table %s.%s differs:\n chDB  %+v\n 18.16 %+v", database, name, got, want)
		}
	}
	for name := range modern {
		if _, ok := old[name]; !ok {
			t.Errorf("table %s.%s exists on chDB but not on 18.16", database, name)
		}
	}
	t.Logf("%d tables and views match between chDB and ClickHouse 18.16", len(old))
}

func chdbShapes(t *testing.T, e *chdb.Engine) map[string]*tableShape {
	t.Helper()
	ctx := testCtx(t)
	tables, err := e.Query(ctx, tablesQuery)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*tableShape{}
	for _, r := range tables.Rows {
		out[str(r[0])] = &tableShape{Engine: str(r[1]), PartitionKey: str(r[2]), SortingKey: str(r[3]), PrimaryKey: str(r[4])}
	}
	cols, err := e.Query(ctx, columnsQueryChDB)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cols.Rows {
		tbl, ok := out[str(r[0])]
		if !ok {
			t.Fatalf("system.columns lists a column of %s, which system.tables lacks", str(r[0]))
		}
		tbl.Columns = append(tbl.Columns, columnShape{
			Name: str(r[1]), Type: str(r[2]), DefaultKind: str(r[3]), DefaultExpression: str(r[4]),
			InPartitionKey: flag(r[5]), InSortingKey: flag(r[6]), InPrimaryKey: flag(r[7]),
		})
	}
	return out
}

func shapes1816(t *testing.T, c *clickhouse.Client) map[string]*tableShape {
	t.Helper()
	ctx := testCtx(t)
	out := map[string]*tableShape{}
	rows, err := c.Query(ctx, tablesQuery)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var s tableShape
		if err := rows.Scan(&name, &s.Engine, &s.PartitionKey, &s.SortingKey, &s.PrimaryKey); err != nil {
			t.Fatal(err)
		}
		out[name] = &s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = c.Query(ctx, columnsQuery1816)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tbl string
		var col columnShape
		var inPartition, inSorting, inPrimary uint8
		if err := rows.Scan(&tbl, &col.Name, &col.Type, &col.DefaultKind, &col.DefaultExpression, &inPartition, &inSorting, &inPrimary); err != nil {
			t.Fatal(err)
		}
		col.InPartitionKey, col.InSortingKey, col.InPrimaryKey = inPartition == 1, inSorting == 1, inPrimary == 1
		s, ok := out[tbl]
		if !ok {
			t.Fatalf("system.columns lists a column of %s, which system.tables lacks", tbl)
		}
		s.Columns = append(s.Columns, col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// flag reads a UInt8 0/1 that JSONCompact returned as a json.Number.
func flag(v any) bool {
	n, _ := v.(json.Number)
	return n == "1"
}

// sanityQuery stands in for the shipped queries while schemas/clickhouse/queries
// has none: it reads the migrated tables the way cx360's readers do (FINAL,
// argMax over identity_map, parallel key/value arrays).
var sanityQuery = schemas.Query{
	Name: "builtin_sanity",
	SQL: `SELECT e.customer_id, ifNull(m.survivor, e.customer_id) AS survivor, count() AS events,
       countIf(e.channel = 'web') AS web, anyLast(e.property_values[indexOf(e.property_keys, 'page')]) AS page
FROM cx360.journey_events AS e FINAL
LEFT JOIN (SELECT customer_id, argMax(survivor_id, version) AS survivor FROM cx360.identity_map GROUP BY customer_id) AS m
    ON e.customer_id = m.customer_id
GROUP BY e.customer_id, survivor
ORDER BY events DESC
LIMIT 10`,
}

// TestShippedQueriesRunOnModernClickHouse runs every shipped query
// (schemas/clickhouse/queries, read by schemas.Queries) on chDB after the
// migrations, over a few random rows in every table, and requires each to run.
//
// A query with {name:Type} placeholders runs twice, with its header's
// "-- Example:" values: once as written, the engine binding the parameters
// (chDB's queryBind, the same server-side binding as ClickHouse's
// param_<name>, which is how a modern client sends them), and once as
// Query.Bind writes it with literals (the text 18.16 is sent), so both forms
// are proven on modern ClickHouse.
func TestShippedQueriesRunOnModernClickHouse(t *testing.T) {
	queries, err := schemas.Queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		// TODO: once schemas/clickhouse/queries always ships queries, drop the
		// sanity query and fail here instead.
		t.Log("no shipped queries in schemas/clickhouse/queries; running the built-in sanity query")
		queries = append(queries, sanityQuery)
	}

	engine := chdb.New(t)
	applyMigrations(t, engine.Exec, 1)
	fillWithRandomRows(t, engine)

	for _, q := range queries {
		t.Run(q.Name, func(t *testing.T) {
			if !isSelect(q.SQL) {
				t.Fatalf("%s is not a SELECT (or WITH ... SELECT)", q.Name)
			}
			run := func(form string, query func() (*chdb.Result, error)) {
				r, err := query()
				if err != nil {
					t.Fatalf("%s (%s) fails on modern ClickHouse (chDB): %v", q.Name, form, err)
				}
				if len(r.Columns) == 0 {
					t.Fatalf("%s (%s) returned no columns", q.Name, form)
				}
				t.Logf("%s: %d columns, %d rows over the random data", form, len(r.Columns), len(r.Rows))
			}
			if len(q.Params) == 0 {
				run("as written", func() (*chdb.Result, error) { return engine.Query(testCtx(t), q.SQL) })
				return
			}
			run("parameters bound by the engine", func() (*chdb.Result, error) {
				return engine.QueryWithParams(testCtx(t), q.SQL, q.Example)
			})
			bound, err := q.Bind(q.Example)
			if err != nil {
				t.Fatal(err)
			}
			run("parameters as literals", func() (*chdb.Result, error) { return engine.Query(testCtx(t), bound) })
		})
	}
}

// isSelect tells whether sql is a query (shipped queries never write).
func isSelect(sql string) bool {
	upper := strings.ToUpper(strings.TrimSpace(sql))
	return strings.HasPrefix(upper, "SELECT") || strings.HasPrefix(upper, "WITH")
}

// fillWithRandomRows puts a few deterministic random rows (generateRandom with a
// fixed seed) in every migrated table, so the shipped queries run over data
// rather than only through the planner.
func fillWithRandomRows(t *testing.T, e *chdb.Engine) {
	t.Helper()
	ctx := testCtx(t)
	// Only the tables cx360 writes: views cannot be written, and materialized
	// views fill their own (.inner) tables from these.
	cols, err := e.Query(ctx, "SELECT table, name, type FROM system.columns WHERE database = '"+database+"'"+
		" AND table IN (SELECT name FROM system.tables WHERE database = '"+database+"'"+
		" AND endsWith(engine, 'MergeTree') AND NOT startsWith(name, '.inner')) ORDER BY table, position")
	if err != nil {
		t.Fatal(err)
	}
	structure := map[string][]string{}
	var order []string
	for _, r := range cols.Rows {
		tbl := str(r[0])
		if _, ok := structure[tbl]; !ok {
			order = append(order, tbl)
		}
		structure[tbl] = append(structure[tbl], fmt.Sprintf("`%s` %s", str(r[1]), str(r[2])))
	}
	for _, tbl := range order {
		st := fmt.Sprintf("INSERT INTO %s.`%s` SELECT * FROM generateRandom('%s', 360, 12, 4) LIMIT %d",
			database, tbl, strings.Join(structure[tbl], ", "), randomRowsPerTable)
		if err := e.Exec(ctx, st); err != nil {
			t.Fatalf("fill %s: %v", tbl, err)
		}
	}
}
