package clickhouse_test

import (
	"slices"
	"sync/atomic"
	"testing"
)

// FuzzStringRoundTrip writes arbitrary bytes as String, Array(String) and
// Nullable(String) values through InsertBatch and reads them back from a real
// server. `go test` runs the seed corpus; scripts/fuzz.sh can run it longer with
// -fuzz=FuzzStringRoundTrip.
func FuzzStringRoundTrip(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	// One table for the whole run: the fuzz function runs many times per process.
	client, _ := sharedClient(f)
	if err := client.Exec(testCtx(f), "CREATE TABLE fuzz (id UInt64, s String, a Array(String), n Nullable(String)) ENGINE = MergeTree ORDER BY id"); err != nil {
		f.Fatal(err)
	}
	var nextID atomic.Uint64
	f.Fuzz(func(t *testing.T, s string) {
		ctx := testCtx(t)
		id := nextID.Add(1)
		row := []any{id, s, []string{s, "", s}, s}
		if err := client.InsertBatch(ctx, "fuzz", []string{"id", "s", "a", "n"}, [][]any{row}); err != nil {
			t.Fatalf("insert %q: %v", s, err)
		}
		var (
			got  string
			arr  []string
			null *string
		)
		if err := client.QueryRow(ctx, "SELECT s, a, n FROM fuzz WHERE id = ?", id).Scan(&got, &arr, &null); err != nil {
			t.Fatal(err)
		}
		if got != s || !slices.Equal(arr, []string{s, "", s}) || null == nil || *null != s {
			t.Fatalf("wrote %q; read back %q, %q, %v", s, got, arr, fmtPtr(null))
		}
	})
}
