package chdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse/chdb"
)

// testCtx is a context that ends with the test, bounded so a hang fails fast.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestVersionIsModern(t *testing.T) {
	e := chdb.New(t)
	v, err := e.Version(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	major, err := strconv.Atoi(strings.Split(v, ".")[0])
	if err != nil {
		t.Fatalf("version %q: %v", v, err)
	}
	if major < 24 {
		t.Fatalf("chDB runs ClickHouse %s; want 24 or newer", v)
	}
	t.Logf("chDB runs ClickHouse %s", v)
}

func TestExecQueryRoundTrip(t *testing.T) {
	e := chdb.New(t)
	ctx := testCtx(t)
	for _, st := range []string{
		"CREATE DATABASE rt",
		`CREATE TABLE rt.t (
			id UInt64, name String, delta Int64, score Float64, maybe Nullable(Float64),
			tags Array(String), at DateTime, ok UInt8
		) ENGINE = MergeTree ORDER BY id`,
		`INSERT INTO rt.t VALUES
			(18446744073709551615, 'tab\there "quoted" ünï', -9223372036854775808, 0.1, NULL, ['a', 'b'], '2026-01-02 03:04:05', 1),
			(1, '', 42, -2.5, 7.25, [], 0, 0)`,
	} {
		if err := e.Exec(ctx, st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	r, err := e.Query(ctx, "SELECT * FROM rt.t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"id", "name", "delta", "score", "maybe", "tags", "at", "ok"}
	wantTypes := []string{"UInt64", "String", "Int64", "Float64", "Nullable(Float64)", "Array(String)", "DateTime", "UInt8"}
	wantRows := [][]any{
		{json.Number("1"), "", json.Number("42"), json.Number("-2.5"), json.Number("7.25"), []any{}, "1970-01-01 00:00:00", json.Number("0")},
		{json.Number("18446744073709551615"), "tab\there \"quoted\" ünï", json.Number("-9223372036854775808"), json.Number("0.1"), nil, []any{"a", "b"}, "2026-01-02 03:04:05", json.Number("1")},
	}
	if !reflect.DeepEqual(r.Columns, wantCols) {
		t.Errorf("columns %v, want %v", r.Columns, wantCols)
	}
	if !reflect.DeepEqual(r.Types, wantTypes) {
		t.Errorf("types %v, want %v", r.Types, wantTypes)
	}
	if !reflect.DeepEqual(r.Rows, wantRows) {
		t.Errorf("rows\n got %#v\nwant %#v", r.Rows, wantRows)
	}

	// A statement without a result set gives an empty Result, not an error.
	empty, err := e.Query(ctx, "CREATE TABLE rt.u (a UInt8) ENGINE = Memory")
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Columns) != 0 || len(empty.Rows) != 0 {
		t.Errorf("DDL returned %+v", empty)
	}
}

func TestQueryWithParams(t *testing.T) {
	e := chdb.New(t)
	r, err := e.QueryWithParams(testCtx(t),
		"SELECT {s:String} AS s, {n:Int64} + 1 AS n, {at:DateTime} AS at, length({xs:Array(String)}) AS xs",
		map[string]string{"s": "it's a\ttab", "n": "41", "at": "2026-03-04 05:06:07", "xs": "['p','q','r']"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{"it's a\ttab", json.Number("42"), "2026-03-04 05:06:07", json.Number("3")}}
	if !reflect.DeepEqual(r.Rows, want) {
		t.Fatalf("rows %#v, want %#v", r.Rows, want)
	}

	_, err = e.Query(testCtx(t), "SELECT {s:String}")
	var chErr *chdb.Error
	if !errors.As(err, &chErr) || chErr.Code != 456 { // UNKNOWN_QUERY_PARAMETER
		t.Fatalf("unbound placeholder: %v, want code 456", err)
	}
}

func TestBadSQLIsAnErrorAndTheEngineGoesOn(t *testing.T) {
	e := chdb.New(t)
	ctx := testCtx(t)
	for _, c := range []struct {
		sql  string
		code int
	}{
		{"SELEC 1", 62},                     // SYNTAX_ERROR
		{"SELECT * FROM no_such_table", 60}, // UNKNOWN_TABLE
		{"SELECT no_such_function(1)", 46},  // UNKNOWN_FUNCTION
	} {
		_, err := e.Query(ctx, c.sql)
		var chErr *chdb.Error
		if !errors.As(err, &chErr) {
			t.Fatalf("%s: got %v, want a *chdb.Error", c.sql, err)
		}
		if chErr.Code != c.code || !strings.Contains(chErr.Message, "DB::Exception") {
			t.Errorf("%s: code %d (%s), want %d", c.sql, chErr.Code, chErr.Message, c.code)
		}
		if err := e.Exec(ctx, c.sql); err == nil {
			t.Errorf("Exec(%s) succeeded", c.sql)
		}
		r, err := e.Query(ctx, "SELECT 40 + 2 AS answer")
		if err != nil {
			t.Fatalf("after %s: %v", c.sql, err)
		}
		if want := [][]any{{json.Number("42")}}; !reflect.DeepEqual(r.Rows, want) {
			t.Fatalf("after %s: rows %v", c.sql, r.Rows)
		}
	}
}

func TestConcurrentRequestsGetTheirOwnAnswers(t *testing.T) {
	e := chdb.New(t)
	ctx := testCtx(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*1000 + i
				r, err := e.Query(ctx, fmt.Sprintf("SELECT %d AS n, toString(%d) AS s", n, n))
				if err != nil {
					errs <- err
					continue
				}
				want := [][]any{{json.Number(strconv.Itoa(n)), strconv.Itoa(n)}}
				if !reflect.DeepEqual(r.Rows, want) {
					errs <- fmt.Errorf("query %d got %v", n, r.Rows)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDataOutlivesTheProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)
	e, err := chdb.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{
		"CREATE DATABASE keep",
		"CREATE TABLE keep.t (k String, v Int64) ENGINE = ReplacingMergeTree(v) ORDER BY k",
		"INSERT INTO keep.t VALUES ('a', 1), ('a', 2), ('b', 5)",
	} {
		if err := e.Exec(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := chdb.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	r, err := again.Query(ctx, "SELECT k, v FROM keep.t FINAL ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{"a", json.Number("2")}, {"b", json.Number("5")}}
	if !reflect.DeepEqual(r.Rows, want) {
		t.Fatalf("rows after restart %v, want %v", r.Rows, want)
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	e, err := chdb.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pid := e.PID()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("engine process %d not running before Close: %v", pid, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertGone(t, pid)
	if _, err := e.Query(testCtx(t), "SELECT 1"); !errors.Is(err, chdb.ErrClosed) {
		t.Fatalf("query after Close: %v, want ErrClosed", err)
	}
}

func TestAbandonedRequestKillsTheEngine(t *testing.T) {
	e, err := chdb.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pid := e.PID()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// Far more work than 300 ms; the engine cannot be interrupted, so it is killed.
	_, err = e.Query(ctx, "SELECT sum(cityHash64(number)) FROM numbers(100000000000)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	if _, err := e.Query(testCtx(t), "SELECT 1"); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("query on a killed engine: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
}

func TestStartWithoutNodeModulesSaysRunSetup(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "tools", "chdb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.mjs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CX360_ROOT", root)
	_, err := chdb.Start(t.TempDir())
	if !errors.Is(err, chdb.ErrNotInstalled) || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("got %v, want ErrNotInstalled naming scripts/setup.sh", err)
	}
}

// assertGone checks that pid was reaped: no such process remains.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("engine process %d still exists after Close (kill 0: %v)", pid, err)
	}
}

// BenchmarkStart measures starting an engine (Node, the engine library and a
// session on an empty data dir) and closing it.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		e, err := chdb.Start(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
