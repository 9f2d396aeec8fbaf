package importer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/importer"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/mapping"
)

const tillMapping = `channel: till
group: {by: receipt, within_rows: 2, distinct_rows: true}
rules:
  - when: {sku: {equals: VOID}}
    reject: voided line
fields:
  event_id: {template: "till-{receipt}"}
  type: {const: purchase}
  timestamp: at
  identifiers.loyalty_id: {path: card, normalize: [integer]}
  identifiers.anonymous_id: {template: "guest-{receipt}", when: {card: {empty: true}}}
  order.total: {items_total: true}
  order.items.sku: sku
  order.items.quantity: qty
  order.items.price: price
`

// Rows 1, 2 and 4 are receipt r1 (row 4 comes back after one row of r2,
// within the window); row 5 repeats row 2 exactly; row 6 is voided by a rule
// and stands alone; r1 closes after rows 6 and 7 passed, so its row 8 is late.
const tillCSV = `receipt,sku,qty,price,at,card
r1,A,1,2.5,2026-11-01 09:00:00,17.0
r1,B,2,1,2026-11-01 09:00:00,17.0
r2,X,1,1,2026-11-01 09:01:00,
r1,C,3,0.1,2026-11-01 09:00:00,17.0
r1,B,2,1,2026-11-01 09:00:00,17.0
r3,VOID,1,9,2026-11-01 09:02:00,
r3,Y,1,4,2026-11-01 09:02:00,
r4,Z,1,1,2026-11-01 09:03:00,
r1,D,1,1,2026-11-01 09:00:00,17.0
`

func TestImportMappedGroupsRows(t *testing.T) {
	e := start(t)
	m, err := mapping.Parse([]byte(tillMapping))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "till.csv")
	if err := os.WriteFile(path, []byte(tillCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	// A processor that knows the channel: ingest's, with the mapping loaded.
	proc := newProcessorWithMapping(t, e, tillMapping)

	sum, err := importer.RunFile(context.Background(), proc, path, importer.Options{Channel: "till", Mapping: m, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Items: r1 (rows 1, 2, 4; row 5 dropped), r2, the voided row, r3, r4, late r1.
	if sum.Rows != 9 || sum.Read != 6 || sum.Accepted != 4 || sum.Rejected != 2 || sum.DuplicateRows != 1 ||
		sum.Codes[mapping.CodeRejectedByRule] != 1 || sum.Reasons["voided line"] != 1 || sum.Codes["mapping_failed"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	byID := map[string]map[string]any{}
	for _, ev := range decodeAll(t, e, "cx.events", 4) {
		byID[ev["event_id"].(string)] = ev
	}
	r1 := byID["till-r1"]
	if r1 == nil {
		t.Fatalf("no till-r1 in %v", byID)
	}
	order := r1["order"].(map[string]any)
	var skus []string
	for _, it := range order["items"].([]any) {
		skus = append(skus, it.(map[string]any)["sku"].(string))
	}
	// 1 x 2.5 + 2 x 1 + 3 x 0.1 = 4.8
	if strings.Join(skus, ",") != "A,B,C" || order["total"] != 4.8 || r1["identifiers"].([]any)[0].(map[string]any)["value"] != "17" {
		t.Errorf("r1: items %v, order %v, identifiers %v", skus, order, r1["identifiers"])
	}
	if r3 := byID["till-r3"]; r3 == nil || len(r3["order"].(map[string]any)["items"].([]any)) != 1 {
		t.Errorf("r3 keeps its one valid line: %v", r3)
	}
	dead := decodeAll(t, e, "cx.events.dlq", 2)
	var reasons []string
	for _, d := range dead {
		reasons = append(reasons, d["reason_code"].(string)+": "+d["error"].(string)+" "+d["raw"].(string)[:10])
	}
	joined := strings.Join(reasons, "\n")
	if !strings.Contains(joined, `rejected_by_rule: voided line {"$row":6`) || !strings.Contains(joined, `mapping_failed: row of group "r1" arrived after the group was sent`) ||
		!strings.Contains(joined, `{"$error":`) {
		t.Errorf("dead letters:\n%s", joined)
	}
}

// newProcessorWithMapping is an import-stage ingest on e's broker and registry
// that knows the channel the mapping defines.
func newProcessorWithMapping(t *testing.T, e env, doc string) *ingest.Processor {
	t.Helper()
	file := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	ic := devstacktest.Ingest(t)
	ic.Kafka.Brokers, ic.Registry.URL, ic.MappingsDir = e.brokers, e.registry, file
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	svc, err := ingest.NewService(ctx, ic, "import", nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return svc.Processor()
}

// NDJSON lines of a mapped channel are source objects too: grouped the same
// way, and a broken line is one rejected item that never joins a group.
func TestImportMappedNDJSON(t *testing.T) {
	e := start(t)
	m, err := mapping.Parse([]byte(tillMapping))
	if err != nil {
		t.Fatal(err)
	}
	proc := newProcessorWithMapping(t, e, tillMapping)
	in := strings.NewReader(`{"receipt":"r1","sku":"A","qty":1,"price":2,"at":"2026-11-01 09:00:00","card":7}
{"receipt":"r1","sku":"B","qty":"2","price":"0.5","at":"2026-11-01 09:00:00","card":7}
{"receipt":"r1",
{"receipt":"r2","sku":"C","qty":1,"price":1,"at":"2026-11-01 09:05:00"}
`)
	sum, err := importer.Run(context.Background(), proc, in, importer.Options{Channel: "till", Format: importer.FormatNDJSON, Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 4 || sum.Read != 3 || sum.Accepted != 2 || sum.Rejected != 1 || sum.Codes["invalid_json"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	byID := map[string]map[string]any{}
	for _, ev := range decodeAll(t, e, "cx.events", 2) {
		byID[ev["event_id"].(string)] = ev
	}
	if r1 := byID["till-r1"]; r1 == nil || r1["order"].(map[string]any)["total"] != 3.0 || len(r1["order"].(map[string]any)["items"].([]any)) != 2 {
		t.Errorf("r1: %v", r1)
	}
	if r2 := byID["till-r2"]; r2 == nil || r2["identifiers"].([]any)[0].(map[string]any)["value"] != "guest-r2" {
		t.Errorf("r2: %v", r2)
	}
}
