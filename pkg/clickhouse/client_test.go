package clickhouse_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
)

func TestOpenReportsServerVersion(t *testing.T) {
	c, db := sharedClient(t)
	v := c.ServerVersion()
	if v.Version.Major == 0 || v.Revision == 0 {
		t.Fatalf("ServerVersion() = %+v", v)
	}
	var version, current string
	if err := c.QueryRow(testCtx(t), "SELECT version(), currentDatabase()").Scan(&version, &current); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, v.Version.String()) && !strings.HasPrefix(version, strings.TrimSuffix(v.Version.String(), ".0")) {
		t.Fatalf("version() = %q, ServerVersion() = %s", version, v.Version)
	}
	if current != db {
		t.Fatalf("currentDatabase() = %q, want Options.Database %q", current, db)
	}
}

func TestOpenOnClosedPortIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	began := time.Now()
	_, err = clickhouse.Open(testCtx(t), clickhouse.Options{Addr: addr, DialTimeout: time.Second})
	if err == nil || !clickhouse.IsRetryable(err) {
		t.Fatalf("Open(%s) = %v; want a retryable error", addr, err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Fatalf("Open on a closed port took %v", took)
	}
	if _, err := clickhouse.Open(testCtx(t), clickhouse.Options{}); err == nil {
		t.Fatal("Open without Addr succeeded")
	}
}

func TestExecAndQuery(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE q (k String, n UInt32) ENGINE = MergeTree ORDER BY k"); err != nil {
		t.Fatal(err)
	}
	// INSERT … SELECT runs on the server and works on every version.
	if err := c.Exec(ctx, "INSERT INTO q (k, n) SELECT toString(number % 3), toUInt32(number) FROM system.numbers LIMIT 30"); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, "SELECT k, sum(n) FROM q WHERE k != ? GROUP BY k ORDER BY k", "it's '2'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]uint64{}
	for rows.Next() {
		var k string
		var s uint64
		if err := rows.Scan(&k, &s); err != nil {
			t.Fatal(err)
		}
		got[k] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// 0+3+…+27 = 135, 1+4+…+28 = 145, 2+5+…+29 = 155
	if len(got) != 3 || got["0"] != 135 || got["1"] != 145 || got["2"] != 155 {
		t.Fatalf("sums = %v", got)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestServerErrorsArePermanent(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE typed (n Int64) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELEC 1",                            // SYNTAX_ERROR
		"INSERT INTO typed (n) SELECT 'abc'", // a string where Int64 belongs
		"INSERT INTO typed (n) SELECT toInt64('abc')", // CANNOT_PARSE_TEXT
		"SELECT no_such_column FROM typed",            // UNKNOWN_IDENTIFIER
	} {
		err := c.Exec(ctx, q)
		code, ok := clickhouse.ExceptionCode(err)
		if !ok {
			t.Errorf("%s: %v; want a server exception", q, err)
			continue
		}
		if clickhouse.IsRetryable(err) {
			t.Errorf("%s: IsRetryable(code %d: %v) = true", q, code, err)
		}
	}
	// A table that does not exist (yet) is retryable: a migration may create it.
	err := c.InsertBatch(ctx, "not_yet_created", []string{"n"}, [][]any{{int64(1)}})
	if code, _ := clickhouse.ExceptionCode(err); code != 60 || !clickhouse.IsRetryable(err) {
		t.Fatalf("insert into a missing table = %v (code %d); want retryable UNKNOWN_TABLE (60)", err, code)
	}
}

func TestAddingAnExistingColumnIsRecognised(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE evolving (n Int64) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "ALTER TABLE evolving ADD COLUMN tier Nullable(String)"); err != nil {
		t.Fatal(err)
	}
	err := c.Exec(ctx, "ALTER TABLE evolving ADD COLUMN tier Nullable(String)")
	if !clickhouse.IsDuplicateColumn(err) || clickhouse.IsRetryable(err) {
		t.Errorf("adding tier again: %v; want IsDuplicateColumn and not retryable", err)
	}
	if clickhouse.IsDuplicateColumn(c.Exec(ctx, "ALTER TABLE evolving ADD COLUMN other String")) {
		t.Error("a new column's success counts as a duplicate")
	}
	if err := c.Exec(ctx, "ALTER TABLE evolving ADD COLUMN bad Nonsense"); err == nil || clickhouse.IsDuplicateColumn(err) {
		t.Errorf("an unknown type: %v; want an error that is not a duplicate column", err)
	}
}

// The rest of this file covers what only servers older than 19.x need.

func TestLegacyServerInlineInsertIsRefusedAtOnce(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if c.ServerVersion().Version.Major >= 19 {
		if err := c.Exec(ctx, "CREATE TABLE inl (n Int64) ENGINE = Memory"); err != nil {
			t.Fatal(err)
		}
		if err := c.Exec(ctx, "INSERT INTO inl VALUES (1)"); err != nil {
			t.Fatalf("modern server: inline VALUES: %v", err)
		}
		return
	}
	if err := c.Exec(ctx, "CREATE TABLE inl (n Int64) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO inl VALUES (1)",
		"insert into inl (n) values (1), (2)",
		"INSERT INTO TABLE inl FORMAT TabSeparated\n1\n",
		"  INSERT  INTO  inl(n)VALUES(1)",
	} {
		began := time.Now()
		err := c.Exec(ctx, q)
		if !errors.Is(err, clickhouse.ErrInlineInsert) || clickhouse.IsRetryable(err) {
			t.Errorf("Exec(%q) = %v; want ErrInlineInsert", q, err)
		}
		if took := time.Since(began); took > time.Second {
			t.Errorf("Exec(%q) took %v; it must not reach the server", q, took)
		}
	}
}

func TestLowCardinalityNeedsNoSettings(t *testing.T) {
	c, _ := sharedClient(t)
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE lc (channel LowCardinality(String), n UInt32) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatalf("LowCardinality DDL on %s: %v", c.ServerVersion().Version, err)
	}
	rows := make([][]any, 300)
	channels := []string{"store", "web", "app", "phone"}
	for i := range rows {
		rows[i] = []any{channels[i%4], uint32(i)}
	}
	if err := c.InsertBatch(ctx, "lc", []string{"channel", "n"}, rows); err != nil {
		t.Fatal(err)
	}
	var distinct, count uint64
	if err := c.QueryRow(ctx, "SELECT uniqExact(channel), count() FROM lc WHERE channel IN ('web', 'phone', 'app', 'store')").Scan(&distinct, &count); err != nil {
		t.Fatal(err)
	}
	if distinct != 4 || count != 300 {
		t.Fatalf("uniqExact = %d, count = %d; want 4 and 300", distinct, count)
	}
}

func TestCompressedConnection(t *testing.T) {
	srv := chtest.Shared(t)
	db := chtest.NewDatabase(t, srv)
	c, err := clickhouse.Open(testCtx(t), clickhouse.Options{Addr: srv.Addr(), Database: db, Compress: true,
		Settings: map[string]any{"max_block_size": 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	if err := c.Exec(ctx, "CREATE TABLE z (s String) ENGINE = MergeTree ORDER BY s"); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 5000)
	for i := range rows {
		rows[i] = []any{strings.Repeat("compressible ", 20)}
	}
	if err := c.InsertBatch(ctx, "z", []string{"s"}, rows); err != nil {
		t.Fatal(err)
	}
	var n uint64
	var blockSize string
	if err := c.QueryRow(ctx, "SELECT count(), (SELECT value FROM system.settings WHERE name = 'max_block_size') FROM z").Scan(&n, &blockSize); err != nil {
		t.Fatal(err)
	}
	if n != 5000 || blockSize != "1000" {
		t.Fatalf("count() = %d, max_block_size = %s; want 5000 and 1000", n, blockSize)
	}
}
