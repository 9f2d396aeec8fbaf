package importer_test

import (
	"bytes"
	"compress/gzip"
	"context"
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
)

type env struct {
	proc     *ingest.Processor
	brokers  []string
	registry string
}

// start runs the embedded stack (real broker over TCP, real registry over HTTP)
// and an import-stage processor against it.
func start(t *testing.T) env {
	t.Helper()
	ic := devstacktest.Ingest(t)
	ep := devstacktest.Start(t, devstack.Config{Ingest: ic}, nil, nil).Endpoints()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ic.Kafka.Brokers = []string{ep.Kafka}
	ic.Registry.URL = ep.Registry
	svc, err := ingest.NewService(ctx, ic, "import", nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return env{proc: svc.Processor(), brokers: []string{ep.Kafka}, registry: ep.Registry}
}

func decodeAll(t *testing.T, e env, topic string, n int) []map[string]any {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(e.registry))
	if err != nil {
		t.Fatal(err)
	}
	serde := avro.NewSerde(cl)
	var out []map[string]any
	for _, m := range kafkatest.ReadN(t, e.brokers, topic, n, 10*time.Second) {
		native, _, err := serde.Decode(context.Background(), m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, avro.Plain(native).(map[string]any))
	}
	return out
}

const posCSV = `event_id,type,timestamp,identifiers.loyalty_id,identifiers.email,store.store_id,order.order_id,order.total,order.currency,properties.till
pos-1,purchase,2026-11-01T09:00:00Z,L-1,Ann@Example.com,S-1,o-1,19.99,GBP,3
pos-2,purchase,2026-11-01T09:05:00Z,L-2,,S-1,o-2,5,GBP,3
pos-3,purchase,,L-3,,S-1,o-3,7,GBP,3
pos-4,return,2026-11-01T10:00:00Z,L-1,,S-2,o-1,-19.99,GBP,
pos-5,purchase,2026-11-01T11:00:00Z,,,S-2,o-5,1,GBP,
pos-6,purchase,2026-11-01T11:00:00Z,L-6,,S-2,o-6,not-a-number,GBP,
`

func TestImportCSVGzip(t *testing.T) {
	e := start(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(posCSV))
	zw.Close()

	var progress []importer.Summary
	sum, err := importer.Run(context.Background(), e.proc, &gz, importer.Options{
		Channel: "store", Format: importer.FormatCSV, BatchSize: 2,
		Progress: func(s importer.Summary) { progress = append(progress, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 6 || sum.Accepted != 3 || sum.Rejected != 3 {
		t.Fatalf("summary %+v, want read 6, accepted 3, rejected 3", sum)
	}
	want := map[string]int{"missing_timestamp": 1, "missing_identifier": 1, "invalid_field": 1}
	for code, n := range want {
		if sum.Codes[code] != n {
			t.Errorf("code %s: %d, want %d (all: %v)", code, sum.Codes[code], n, sum.Codes)
		}
	}
	if len(progress) != 3 || progress[2].Read != 6 {
		t.Errorf("progress callbacks: %+v", progress)
	}

	events := decodeAll(t, e, "cx.events", 3)
	byID := map[string]map[string]any{}
	for _, ev := range events {
		byID[ev["event_id"].(string)] = ev
	}
	first := byID["pos-1"]
	if first == nil || first["channel"] != "store" {
		t.Fatalf("pos-1 missing or wrong: %v", events)
	}
	ids := first["identifiers"].([]any)
	if ids[1].(map[string]any)["value"] != "ann@example.com" {
		t.Errorf("email not normalised: %v", ids)
	}
	if first["order"].(map[string]any)["total"] != 19.99 || first["properties"].(map[string]any)["till"] != "3" {
		t.Errorf("order/properties: %v %v", first["order"], first["properties"])
	}
	if byID["pos-4"]["order"].(map[string]any)["total"] != -19.99 {
		t.Errorf("return total: %v", byID["pos-4"]["order"])
	}

	dead := decodeAll(t, e, "cx.events.dlq", 3)
	for _, d := range dead {
		if d["stage"] != "import" || d["source"] != "store" || !strings.Contains(d["raw"].(string), "pos-") {
			t.Errorf("dead letter %v", d)
		}
	}
}

func TestImportNDJSONAndMalformedLines(t *testing.T) {
	e := start(t)
	in := strings.NewReader(`{"event_id":"c-1","type":"call","timestamp":"2026-11-01T09:00:00Z","identifiers":{"phone":"020 7946 0958"},"call":{"wait_seconds":30,"outcome":"answered"}}

{"event_id":"c-2","type":"call"
{"event_id":"c-1","type":"call","timestamp":"2026-11-01T09:00:00Z","identifiers":{"phone":"020 7946 0958"},"call":{"wait_seconds":30,"outcome":"answered"}}
`)
	sum, err := importer.Run(context.Background(), e.proc, in, importer.Options{Channel: "phone", Format: importer.FormatNDJSON})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 3 || sum.Accepted != 2 || sum.Duplicates != 1 || sum.Rejected != 1 || sum.Codes["invalid_json"] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	events := decodeAll(t, e, "cx.events", 1) // the repeated c-1 is not produced twice
	if events[0]["identifiers"].([]any)[0].(map[string]any)["value"] != "+442079460958" {
		t.Fatalf("phone not E.164: %v", events[0]["identifiers"])
	}
}

func TestFormatFor(t *testing.T) {
	for name, want := range map[string]string{"a.csv": "csv", "a.CSV.gz": "csv", "calls.tsv": "tsv", "x.jsonl": "ndjson", "x.ndjson.gz": "ndjson"} {
		if got, err := importer.FormatFor(name); err != nil || got != want {
			t.Errorf("FormatFor(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := importer.FormatFor("data.bin"); err == nil {
		t.Error("unknown extension accepted")
	}
}

// A cell that opens a quote and never closes it costs its own row, not the
// rest of the file: that row is dead-lettered with its row and line numbers
// and its text, and the rows after it are imported. A quoted cell may still
// span lines in CSV; in TSV, whose cells hold no line breaks, a quote open
// at the end of a line is the error.
func TestImportUnclosedQuoteRejectsOneRow(t *testing.T) {
	e := start(t)
	const ts = "2026-11-01T09:00:00Z"
	csvIn := "event_id,type,timestamp,identifiers.loyalty_id,properties.note\n" +
		"q-1,visit," + ts + ",L-1,\n" +
		"q-2,visit," + ts + ",\"u1,\n" +
		"q-3,visit," + ts + ",L-3,\n" +
		"q-4,visit," + ts + ",\"L-4\",\"two\r\nlines\"\n" +
		"q-5,visit," + ts + ",L-5,\"oops\n"
	tsvIn := "event_id\ttype\ttimestamp\tidentifiers.loyalty_id\n" +
		"t-1\tvisit\t" + ts + "\tL-1\n" +
		"t-2\tvisit\t" + ts + "\t\"u1\n" +
		"t-3\tvisit\t" + ts + "\tL-3\n" +
		"t-4\tvisit\t" + ts + "\t\"L-4\"\n"
	for _, c := range []struct {
		format, in string
		accepted   []string
		rejected   int
	}{
		{importer.FormatCSV, csvIn, []string{"q-1", "q-3", "q-4"}, 2},
		{importer.FormatTSV, tsvIn, []string{"t-1", "t-3", "t-4"}, 1},
	} {
		sum, err := importer.Run(context.Background(), e.proc, strings.NewReader(c.in), importer.Options{Channel: "store", Format: c.format})
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if sum.Rows != len(c.accepted)+c.rejected || sum.Accepted != len(c.accepted) || sum.Rejected != c.rejected {
			t.Errorf("%s: summary %+v, want %d accepted and %d rejected", c.format, sum, len(c.accepted), c.rejected)
		}
	}

	events := decodeAll(t, e, "cx.events", 6)
	byID := map[string]map[string]any{}
	for _, ev := range events {
		byID[ev["event_id"].(string)] = ev
	}
	for _, id := range []string{"q-1", "q-3", "q-4", "t-1", "t-3", "t-4"} {
		if byID[id] == nil {
			t.Errorf("event %s, after an unclosed quote, was not imported", id)
		}
	}
	if q4 := byID["q-4"]; q4 != nil {
		ids := q4["identifiers"].([]any)
		if v := ids[0].(map[string]any)["value"]; v != "L-4" || q4["properties"].(map[string]any)["note"] != "two\nlines" {
			t.Errorf("q-4: identifier %v, note %q; want L-4 and a cell of two lines", v, q4["properties"].(map[string]any)["note"])
		}
	}
	if t4 := byID["t-4"]; t4 != nil {
		if v := t4["identifiers"].([]any)[0].(map[string]any)["value"]; v != "L-4" {
			t.Errorf("t-4: identifier %v, want L-4 unquoted", v)
		}
	}

	want := map[string]bool{}
	for _, raw := range []string{
		// Its quote closes on line 5, but not well: encoding/csv's error.
		`"unparseable CSV row 2 (line 3): extraneous or missing \" in quoted-field: q-2,visit,` + ts + `,\"u1,"`,
		`"unparseable CSV row 5 (line 7): unclosed quote: q-5,visit,` + ts + `,L-5,\"oops"`,
		`"unparseable TSV row 2 (line 3): unclosed quote: t-2\tvisit\t` + ts + `\t\"u1"`,
	} {
		want[raw] = true
	}
	for _, d := range decodeAll(t, e, "cx.events.dlq", len(want)) {
		raw := d["raw"].(string)
		if !want[raw] || d["stage"] != "import" {
			t.Errorf("dead letter stage %v raw %s; want stage import and one of %v", d["stage"], raw, want)
		}
		delete(want, raw)
	}
}
