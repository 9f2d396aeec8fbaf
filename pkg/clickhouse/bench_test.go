package clickhouse_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse/chtest"
)

// benchTable is shaped like journey_events: ~300 bytes a row as JSON. It is a
// plain MergeTree: every iteration writes the same rows, which a ReplacingMergeTree
// would merge away before the row count is checked; the insert path is the same.
const benchTable = `CREATE TABLE bench (
	event_id String,
	customer_id String,
	channel String,
	type String,
	event_time DateTime,
	event_ts_ms Int64,
	amount Float64,
	prop_keys Array(String),
	prop_values Array(String),
	note Nullable(String)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (customer_id, event_id)`

var benchColumns = []string{"event_id", "customer_id", "channel", "type", "event_time", "event_ts_ms", "amount", "prop_keys", "prop_values", "note"}

var benchSizes = []int{10_000, 100_000}

// benchRows makes n customer events; all fall on one day, as live events do.
func benchRows(n int) [][]any {
	channels := []string{"store", "web", "app", "phone"}
	types := []string{"purchase", "page_view", "call_answered", "survey_response"}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		at := base.Add(time.Duration(i%86400) * time.Second)
		var note any
		if i%2 == 0 {
			note = "asked about delivery of order " + strconv.Itoa(i)
		}
		rows[i] = []any{
			fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i),
			fmt.Sprintf("cust-%010d", i%5000),
			channels[i%4],
			types[i%4],
			at,
			at.UnixMilli() + int64(i%1000),
			float64(i%10000) / 100,
			[]string{"sku", "store_id", "campaign"},
			[]string{"SKU-" + strconv.Itoa(i%977), "store-" + strconv.Itoa(i%61), "summer-sale"},
			note,
		}
	}
	return rows
}

// benchJSON renders rows as JSONEachRow, what a user would pipe to clickhouse-client.
func benchJSON(b *testing.B, rows [][]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range rows {
		obj := make(map[string]any, len(benchColumns))
		for i, col := range benchColumns {
			v := r[i]
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.DateTime)
			}
			obj[col] = v
		}
		if err := enc.Encode(obj); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

// BenchmarkInsertBatch measures InsertBatch: rows/s, one batch per operation.
func BenchmarkInsertBatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			c, _ := sharedClient(b)
			ctx := testCtx(b)
			if err := c.Exec(ctx, benchTable); err != nil {
				b.Fatal(err)
			}
			rows := benchRows(n)
			b.SetBytes(int64(len(benchJSON(b, rows)))) // bytes as JSON, comparable with the raw client
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.InsertBatch(ctx, "bench", benchColumns, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			assertRowCount(b, c.QueryRow(ctx, "SELECT count() FROM bench").Scan, n*b.N)
		})
	}
}

// BenchmarkRawClientInsert is the baseline a user would reach for: the server's
// own clickhouse-client reading JSONEachRow from stdin, one process per batch.
func BenchmarkRawClientInsert(b *testing.B) {
	client := rawClientCommand(b)
	for _, n := range benchSizes {
		b.Run("rows="+strconv.Itoa(n), func(b *testing.B) {
			srv := chtest.Shared(b)
			c, db := sharedClient(b)
			ctx := testCtx(b)
			if err := c.Exec(ctx, benchTable); err != nil {
				b.Fatal(err)
			}
			payload := benchJSON(b, benchRows(n))
			host, port, _ := strings.Cut(srv.Addr(), ":")
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				args := slices.Concat(client[1:], []string{"--host", host, "--port", port, "--database", db,
					"--query", "INSERT INTO bench FORMAT JSONEachRow"})
				cmd := exec.Command(client[0], args...)
				cmd.Stdin = bytes.NewReader(payload)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", client[0], err, out)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			assertRowCount(b, c.QueryRow(ctx, "SELECT count() FROM bench").Scan, n*b.N)
		})
	}
}

func rawClientCommand(b *testing.B) []string {
	if path, err := exec.LookPath("clickhouse-client"); err == nil {
		return []string{path}
	}
	if path, err := exec.LookPath("clickhouse"); err == nil {
		return []string{path, "client"}
	}
	b.Fatal("clickhouse-client is not installed: run scripts/setup.sh")
	return nil
}

func assertRowCount(b *testing.B, scan func(...any) error, want int) {
	b.Helper()
	var got uint64
	if err := scan(&got); err != nil {
		b.Fatal(err)
	}
	if got != uint64(want) {
		b.Fatalf("count() = %d, want %d", got, want)
	}
}
