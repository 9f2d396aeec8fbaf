package realdata

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/importer"
)

// BenchmarkImportOnlineRetail imports the whole Online Retail file (541,909
// rows) end to end: read and gunzip, map and group into invoices, ingest
// (validate, normalise, Avro, Kafka), identity resolution, the sink, until
// ClickHouse holds every invoice. rows/s is source rows per second of that
// whole span. Each iteration runs on a fresh pipeline (started untimed).
//
//	go test -run '^$' -bench 'OnlineRetail' -benchtime 1x ./pkg/realdata/
func BenchmarkImportOnlineRetail(b *testing.B) {
	path := filepath.Join(dataDir(b), OnlineRetailFile)
	rows, err := ReadRetail(path)
	if err != nil {
		b.Fatal(err)
	}
	want, err := ImportRetail(rows)
	if err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p := startPipeline(b)
		b.StartTimer()
		start := time.Now()
		sum, err := importer.RunFile(context.Background(), p.proc, path, importer.Options{Channel: "online-retail", Mapping: p.mappings["online-retail"]})
		if err != nil {
			b.Fatal(err)
		}
		produced := time.Since(start)
		p.waitLanded(b, map[string]int{"online-retail": len(want.Invoices)}, 10*time.Minute)
		elapsed += time.Since(start)
		b.StopTimer()
		if sum.Rows != want.Rows || sum.Accepted != len(want.Invoices) {
			b.Fatalf("summary %+v, want %d rows and %d invoices", sum, want.Rows, len(want.Invoices))
		}
		b.Logf("imported into Kafka in %s (%.0f rows/s); in ClickHouse after %s", produced.Round(time.Millisecond),
			float64(sum.Rows)/produced.Seconds(), time.Since(start).Round(time.Millisecond))
		b.StartTimer()
	}
	b.ReportMetric(float64(want.Rows*b.N)/elapsed.Seconds(), "rows/s")
	// Not "events/s": scripts/bench.sh reads rows/s and events/s as one figure.
	b.ReportMetric(float64(len(want.Invoices)*b.N)/elapsed.Seconds(), "invoices/s")
}

// BenchmarkRawClientInsertOnlineRetail is the baseline: the same file's rows
// gunzipped into `clickhouse-client --query "INSERT … FORMAT CSVWithNames"`,
// into a plain MergeTree table of the file's eight columns, on a ClickHouse
// server of its own.
func BenchmarkRawClientInsertOnlineRetail(b *testing.B) {
	path := filepath.Join(dataDir(b), OnlineRetailFile)
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		b.Fatalf("clickhouse-client (installed by scripts/setup.sh): %v", err)
	}
	srv := chtest.NewServer(b)
	ctx := context.Background()
	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	host, port, _ := strings.Cut(srv.Addr(), ":")
	var elapsed time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		table := fmt.Sprintf("default.online_retail_%d", i)
		if err := ch.Exec(ctx, "CREATE TABLE "+table+` (InvoiceNo String, StockCode String, Description String, Quantity Int32,
			InvoiceDate DateTime, UnitPrice Float64, CustomerID String, Country String) ENGINE = MergeTree ORDER BY InvoiceNo`); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		zr, err := gzip.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(client, "--host", host, "--port", port, "--query", "INSERT INTO "+table+" FORMAT CSVWithNames")
		cmd.Stdin = zr
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("clickhouse-client: %v: %s", err, out)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		f.Close()
		var n uint64
		if err := ch.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil || n != 541909 {
			b.Fatalf("%s holds %d rows (%v), want 541,909", table, n, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(541909*b.N)/elapsed.Seconds(), "rows/s")
}
