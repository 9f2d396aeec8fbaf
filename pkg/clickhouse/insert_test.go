package clickhouse_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
)

// typesTable has every column type the sink writes, laid out like journey_events.
const typesTable = `CREATE TABLE types (
	id UInt64,
	seq Int64,
	small Int32,
	flag UInt8,
	name String,
	amount Float64,
	event_time DateTime,
	tags Array(String),
	scores Array(Float64),
	note Nullable(String),
	ratio Nullable(Float64)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY id`

var typesColumns = []string{"id", "seq", "small", "flag", "name", "amount", "event_time", "tags", "scores", "note", "ratio"}

// trickyStrings are values that break naive quoting or escaping.
var trickyStrings = []string{
	"",
	"plain",
	"it's",
	`say "hi"`,
	"back`tick",
	`\`,
	`\\`,
	`\'`,
	`'\`,
	"ends with backslash\\",
	"line\nbreak",
	"cr\r\nlf",
	"tab\there",
	"nul\x00byte",
	"\x00",
	"\x00\x00\x00",
	"ünïcödé",
	"日本語テキスト",
	"emoji 🎉👍🏽",
	"rtl עברית",
	"invalid utf8 \xff\xfe\xfd",
	"NULL",
	`\N`,
	"'); DROP TABLE types; --",
	"?", "$1", "@name", "{p:String}",
	"/* comment */", "-- comment",
	strings.Repeat("long ", 2000),
	"\a\b\f\v\x1b[31m",
}

// trickyFloats are values whose text form is easy to get wrong.
var trickyFloats = []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-300, 5e-324, math.MaxFloat64, -math.MaxFloat64,
	math.Inf(1), math.Inf(-1), math.NaN(), 0.1, 1.0 / 3, 123456789.123456789}

type typesRow struct {
	id     uint64
	seq    int64
	small  int32
	flag   uint8
	name   string
	amount float64
	at     time.Time
	tags   []string
	scores []float64
	note   *string
	ratio  *float64
}

func (r typesRow) values() []any {
	var note, ratio any // untyped nil for NULL, as a sink would pass
	if r.note != nil {
		note = *r.note
	}
	if r.ratio != nil {
		ratio = *r.ratio
	}
	return []any{r.id, r.seq, r.small, r.flag, r.name, r.amount, r.at, r.tags, r.scores, note, ratio}
}

func makeTypesRows(n int) []typesRow {
	rng := rand.New(rand.NewPCG(1, 2))
	pickS := func() string { return trickyStrings[rng.IntN(len(trickyStrings))] }
	pickF := func() float64 { return trickyFloats[rng.IntN(len(trickyFloats))] }
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	rows := make([]typesRow, n)
	for i := range rows {
		r := typesRow{
			id:     uint64(i),
			seq:    rng.Int64() - math.MaxInt64/2,
			small:  int32(rng.Uint32()),
			flag:   uint8(rng.UintN(256)),
			name:   pickS() + pickS(),
			amount: pickF(),
			// Spread over 18 months: 18 partitions.
			at:     time.Unix(start+rng.Int64N(18*30*86400), 0).UTC(),
			tags:   make([]string, rng.IntN(4)),
			scores: make([]float64, rng.IntN(4)),
		}
		for j := range r.tags {
			r.tags[j] = pickS()
		}
		for j := range r.scores {
			r.scores[j] = pickF()
		}
		if rng.IntN(3) > 0 {
			s := pickS()
			r.note = &s
		}
		if rng.IntN(3) > 0 {
			f := pickF()
			r.ratio = &f
		}
		rows[i] = r
	}
	// Extremes of every integer type.
	rows[0].seq, rows[0].small, rows[0].flag, rows[0].id = math.MinInt64, math.MinInt32, 0, 0
	rows[1].seq, rows[1].small, rows[1].flag = math.MaxInt64, math.MaxInt32, math.MaxUint8
	rows[2].id = math.MaxUint64
	return rows
}

func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

func TestInsertBatchRoundTripsEveryTypeExactly(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, typesTable); err != nil {
		t.Fatal(err)
	}
	want := makeTypesRows(10_000)
	rows := make([][]any, len(want))
	for i, r := range want {
		rows[i] = r.values()
	}
	if err := c.InsertBatch(ctx, "types", typesColumns, rows); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b typesRow) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})

	res, err := c.Query(ctx, "SELECT "+strings.Join(typesColumns, ", ")+" FROM types ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	n := 0
	for res.Next() {
		var got typesRow
		if err := res.Scan(&got.id, &got.seq, &got.small, &got.flag, &got.name, &got.amount, &got.at,
			&got.tags, &got.scores, &got.note, &got.ratio); err != nil {
			t.Fatal(err)
		}
		if n >= len(want) {
			t.Fatalf("more rows than inserted: %d", n+1)
		}
		if msg := diffRow(want[n], got); msg != "" {
			t.Fatalf("row id %d: %s", want[n].id, msg)
		}
		n++
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("read %d rows, inserted %d", n, len(want))
	}

	var partitions uint64
	if err := c.QueryRow(ctx, "SELECT uniqExact(partition) FROM system.parts WHERE database = currentDatabase() AND table = 'types' AND active").Scan(&partitions); err != nil {
		t.Fatal(err)
	}
	if partitions < 17 {
		t.Fatalf("rows landed in %d partitions; want one per month (~18)", partitions)
	}
}

func diffRow(want, got typesRow) string {
	switch {
	case want.id != got.id, want.seq != got.seq, want.small != got.small, want.flag != got.flag:
		return fmt.Sprintf("integers: want %d %d %d %d, got %d %d %d %d", want.id, want.seq, want.small, want.flag, got.id, got.seq, got.small, got.flag)
	case want.name != got.name:
		return fmt.Sprintf("name: want %q, got %q", want.name, got.name)
	case !sameFloat(want.amount, got.amount):
		return fmt.Sprintf("amount: want %v, got %v", want.amount, got.amount)
	case !want.at.Equal(got.at):
		return fmt.Sprintf("event_time: want %v, got %v", want.at, got.at)
	case !slices.Equal(want.tags, got.tags):
		return fmt.Sprintf("tags: want %q, got %q", want.tags, got.tags)
	case !slices.EqualFunc(want.scores, got.scores, sameFloat):
		return fmt.Sprintf("scores: want %v, got %v", want.scores, got.scores)
	case (want.note == nil) != (got.note == nil) || want.note != nil && *want.note != *got.note:
		return fmt.Sprintf("note: want %v, got %v", fmtPtr(want.note), fmtPtr(got.note))
	case (want.ratio == nil) != (got.ratio == nil) || want.ratio != nil && !sameFloat(*want.ratio, *got.ratio):
		return fmt.Sprintf("ratio: want %v, got %v", fmtPtr(want.ratio), fmtPtr(got.ratio))
	}
	return ""
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprintf("%#v", *p)
}

func TestInsertBatchIsAllOrNothingOnABadRow(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, typesTable); err != nil {
		t.Fatal(err)
	}
	good := makeTypesRows(20)
	cases := []struct {
		name   string
		badRow int
		mutate func([]any) []any
	}{
		{"string into Int64", 7, func(v []any) []any { v[1] = "not a number"; return v }},
		{"DateTime before 1970", 3, func(v []any) []any { v[6] = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); return v }},
		{"DateTime after 2106", 4, func(v []any) []any { v[6] = time.Date(2106, 2, 7, 6, 28, 16, 0, time.UTC); return v }},
		{"zero time.Time", 5, func(v []any) []any { v[6] = time.Time{}; return v }},
		{"number into Array(String)", 11, func(v []any) []any { v[7] = 42; return v }},
		{"too few values", 0, func(v []any) []any { return v[:5] }},
		{"too many values", 19, func(v []any) []any { return append(v, "extra") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := make([][]any, len(good))
			for i, r := range good {
				rows[i] = r.values()
			}
			rows[tc.badRow] = tc.mutate(rows[tc.badRow])
			err := c.InsertBatch(ctx, "types", typesColumns, rows)
			var rowErr *clickhouse.RowError
			if !errors.As(err, &rowErr) || rowErr.Row != tc.badRow {
				t.Fatalf("InsertBatch = %v; want a *RowError for row %d", err, tc.badRow)
			}
			if clickhouse.IsRetryable(err) {
				t.Fatalf("IsRetryable(%v) = true for a poison row", err)
			}
			var count uint64
			if err := c.QueryRow(ctx, "SELECT count() FROM types").Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != 0 {
				t.Fatalf("%d rows written by a failed batch", count)
			}
		})
	}

	// The same client keeps working once the bad row is left out.
	rows := make([][]any, len(good))
	for i, r := range good {
		rows[i] = r.values()
	}
	if err := c.InsertBatch(ctx, "types", typesColumns, rows); err != nil {
		t.Fatalf("good batch after bad ones: %v", err)
	}
	var count uint64
	if err := c.QueryRow(ctx, "SELECT count() FROM types").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != uint64(len(good)) {
		t.Fatalf("count() = %d, want %d", count, len(good))
	}
}

func TestInsertBatchTwiceIsDeduplicatedByFinal(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, typesTable); err != nil {
		t.Fatal(err)
	}
	src := makeTypesRows(500)
	rows := make([][]any, len(src))
	for i, r := range src {
		rows[i] = r.values()
	}
	// A redelivered batch (sink crashed after the insert, before committing its
	// offsets) is written twice.
	for range 2 {
		if err := c.InsertBatch(ctx, "types", typesColumns, rows); err != nil {
			t.Fatal(err)
		}
	}
	var raw, final uint64
	if err := c.QueryRow(ctx, "SELECT count() FROM types").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT count() FROM types FINAL").Scan(&final); err != nil {
		t.Fatal(err)
	}
	if raw != 1000 || final != 500 {
		t.Fatalf("count() = %d, FINAL = %d; want 1000 and 500", raw, final)
	}
}

func TestInsertBatchArgumentChecks(t *testing.T) {
	c, db := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE nested (id UInt64, `props.key` Array(String), `props.value` Array(String)) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertBatch(ctx, "nested", []string{"id"}, nil); err != nil {
		t.Fatalf("no rows: %v", err)
	}
	// Database-qualified table and Nested sub-columns.
	if err := c.InsertBatch(ctx, db+".nested", []string{"id", "props.key", "props.value"},
		[][]any{{uint64(1), []string{"a", "b"}, []string{"x", "y"}}}); err != nil {
		t.Fatal(err)
	}
	var value string
	if err := c.QueryRow(ctx, "SELECT props.value[indexOf(props.key, 'b')] FROM nested").Scan(&value); err != nil {
		t.Fatal(err)
	}
	if value != "y" {
		t.Fatalf("props b = %q, want y", value)
	}

	for _, bad := range []struct {
		table   string
		columns []string
	}{
		{"nested", nil},
		{"", []string{"id"}},
		{"a.b.c", []string{"id"}},
		{"nes ted", []string{"id"}},
		{"nested", []string{"id`; DROP TABLE nested; --"}},
		{"nested", []string{"1id"}},
		{"nested", []string{"props."}},
	} {
		err := c.InsertBatch(ctx, bad.table, bad.columns, [][]any{{uint64(2)}})
		if err == nil || clickhouse.IsRetryable(err) {
			t.Errorf("InsertBatch(%q, %q) = %v; want a permanent error", bad.table, bad.columns, err)
		}
	}
	var count uint64
	if err := c.QueryRow(ctx, "SELECT count() FROM nested").Scan(&count); err != nil || count != 1 {
		t.Fatalf("count() = %d, %v; want 1", count, err)
	}
}

func TestInsertBatchOnStoppedServerIsRetryableAndRecovers(t *testing.T) {
	srv := chtest.NewServer(t)
	c := openClient(t, srv, "default")
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE kv (k String, v Int64) ENGINE = MergeTree ORDER BY k"); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{{"a", int64(1)}, {"b", int64(2)}}
	if err := c.InsertBatch(ctx, "kv", []string{"k", "v"}, rows); err != nil {
		t.Fatal(err)
	}

	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	err := c.InsertBatch(ctx, "kv", []string{"k", "v"}, rows)
	if err == nil || !clickhouse.IsRetryable(err) {
		t.Fatalf("InsertBatch on a stopped server = %v; want a retryable error", err)
	}
	if _, ok := clickhouse.ExceptionCode(err); ok {
		t.Fatalf("network failure reported as a server exception: %v", err)
	}

	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.InsertBatch(ctx, "kv", []string{"k", "v"}, rows); err != nil {
		t.Fatalf("InsertBatch after restart: %v", err)
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	err = c.InsertBatch(ctx, "kv", []string{"k", "v"}, rows)
	if err == nil || !clickhouse.IsRetryable(err) {
		t.Fatalf("InsertBatch on a killed server = %v; want a retryable error", err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var sum int64
	if err := c.QueryRow(ctx, "SELECT sum(v) FROM kv").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 6 {
		t.Fatalf("sum(v) = %d after two good batches and two failed ones, want 6", sum)
	}
}
