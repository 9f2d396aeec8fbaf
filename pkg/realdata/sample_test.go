package realdata

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/importer"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/mapping"
)

// TestRealImportSampleEventByEvent imports one day of Online Retail
// (sample-2010-12-01.csv, 3,108 rows) through the shipped mapping into a real
// broker and registry, and checks every cx.events record and every dead
// letter against the invoices computed from the file.
func TestRealImportSampleEventByEvent(t *testing.T) {
	dir := dataDir(t)
	path := filepath.Join(dir, RetailSampleFile)
	rows, err := ReadRetail(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ImportRetail(rows)
	if err != nil {
		t.Fatal(err)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}

	ic := devstacktest.Ingest(t)
	ep := devstacktest.Start(t, devstack.Config{InfraOnly: true, Ingest: ic}, nil, nil).Endpoints()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ic.Kafka.Brokers, ic.Registry.URL = []string{ep.Kafka}, ep.Registry
	mappingFile := filepath.Join(root, "schemas", "mappings", "online-retail.yaml")
	ic.MappingsDir = mappingFile
	svc, err := ingest.NewService(ctx, ic, "import", nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	m, err := mapping.Load(mappingFile)
	if err != nil {
		t.Fatal(err)
	}

	sum, err := importer.RunFile(ctx, svc.Processor(), path, importer.Options{Channel: m.Channel, Mapping: m, BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	rejected := want.BadDebtRows + want.StockRows
	if sum.Rows != 3108 || sum.Accepted != len(want.Invoices) || sum.Rejected != rejected || sum.DuplicateRows != want.DuplicateRows {
		t.Fatalf("summary %+v; want 3108 rows, %d invoices, %d rejected, %d duplicate rows", sum, len(want.Invoices), rejected, want.DuplicateRows)
	}
	t.Logf("sample: %d rows → %d invoices (%d stock-adjustment rows rejected, %d duplicate rows dropped)", sum.Rows, sum.Accepted, want.StockRows, want.DuplicateRows)

	cl, err := sr.NewClient(sr.URLs(ep.Registry))
	if err != nil {
		t.Fatal(err)
	}
	serde := avro.NewSerde(cl)
	decode := func(topic string, n int) []map[string]any {
		var out []map[string]any
		for _, msg := range kafkatest.ReadN(t, []string{ep.Kafka}, topic, n, 20*time.Second) {
			native, _, err := serde.Decode(ctx, msg.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, avro.Plain(native).(map[string]any))
		}
		return out
	}

	got := map[string]map[string]any{}
	for _, e := range decode("cx.events", len(want.Invoices)) {
		got[e["event_id"].(string)] = e
	}
	for _, inv := range want.Invoices {
		e := got["uci-retail-"+inv.No]
		if e == nil {
			t.Errorf("invoice %s: no event", inv.No)
			continue
		}
		typ := "purchase"
		if inv.Return {
			typ = "return"
		}
		ids := e["identifiers"].([]any)
		id := ids[0].(map[string]any)
		order := e["order"].(map[string]any)
		total := order["total"].(float64)
		if e["channel"] != "online-retail" || e["type"] != typ || e["event_time"] != inv.Time.Format(time.RFC3339Nano) || len(ids) != 1 ||
			id["type"].(string)+":"+id["value"].(string) != inv.Customer || math.Abs(total-inv.Total.Float()) > 1e-6 ||
			len(order["items"].([]any)) != inv.Lines || order["order_id"] != inv.No || e["properties"].(map[string]any)["country"] != inv.Country {
			t.Errorf("invoice %s: event %v; computed %+v", inv.No, e, inv)
		}
	}

	dead := decode("cx.events.dlq", rejected)
	for _, d := range dead {
		raw := d["raw"].(string)
		if d["reason_code"] != mapping.CodeRejectedByRule || d["error"] != "stock adjustment (price 0 and no customer), not a sale" ||
			d["stage"] != "import" || d["source"] != "online-retail" || !strings.HasPrefix(raw, `{"$row":`) || !strings.Contains(raw, `"UnitPrice":"0.0"`) {
			t.Errorf("dead letter %v", d)
		}
	}
}
