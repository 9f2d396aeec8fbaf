package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/event"
)

func mustLoad(t *testing.T, name string) *Mapping {
	t.Helper()
	m, err := Load(filepath.Join("..", "..", "schemas", "mappings", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rows(t *testing.T, first int, objs ...string) []byte {
	t.Helper()
	raws := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		if !json.Valid([]byte(o)) {
			t.Fatalf("bad test row %s", o)
		}
		raws[i] = json.RawMessage(o)
	}
	return Envelope(first, raws)
}

func TestMappingRetailInvoiceBecomesOnePurchaseWithItems(t *testing.T) {
	m := mustLoad(t, "online-retail.yaml")
	in, rej := m.Decode(rows(t, 2,
		`{"InvoiceNo":"536365","StockCode":"85123A","Quantity":"6","InvoiceDate":"2010-12-01 08:26:00","UnitPrice":"2.55","CustomerID":"17850.0","Country":"United Kingdom"}`,
		`{"InvoiceNo":"536365","StockCode":"71053","Quantity":"6","InvoiceDate":"2010-12-01 08:26:00","UnitPrice":"3.39","CustomerID":"17850.0","Country":"United Kingdom"}`,
		`{"InvoiceNo":"536365","StockCode":"22632","Quantity":"3","InvoiceDate":"2010-12-01 08:27:00","UnitPrice":"0.1","CustomerID":"17850.0","Country":"United Kingdom"}`,
	))
	if rej != nil {
		t.Fatal(rej)
	}
	if in.EventID != "uci-retail-536365" || in.Type != "purchase" || string(in.Timestamp) != `"2010-12-01 08:26:00"` ||
		string(in.Identifiers["loyalty_id"]) != `"17850"` || in.Identifiers["anonymous_id"] != nil ||
		string(in.Properties["country"]) != `"United Kingdom"` {
		t.Fatalf("decoded %+v", in)
	}
	o := in.Order
	// 6 x 2.55 + 6 x 3.39 + 3 x 0.1 = 15.3 + 20.34 + 0.3 = 35.94, without float noise.
	if o == nil || o.OrderID != "536365" || o.Currency != "GBP" || *o.Total != 35.94 || len(o.Items) != 3 ||
		o.Items[0] != (event.OrderItem{SKU: "85123A", Quantity: 6, Price: 2.55}) || o.Items[2].Price != 0.1 {
		t.Fatalf("order %+v", o)
	}
}

func TestMappingRetailRulesReturnsGuestsAndRejects(t *testing.T) {
	m := mustLoad(t, "online-retail.yaml")
	// A cancellation without a customer: a return by an anonymous walk-in.
	in, rej := m.Decode(rows(t, 9, `{"InvoiceNo":"C536379","StockCode":"D","Quantity":"-1","InvoiceDate":"2010-12-01 09:41:00","UnitPrice":"27.5","Country":"United Kingdom"}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if in.Type != "return" || string(in.Identifiers["anonymous_id"]) != `"walk-in-C536379"` || in.Identifiers["loyalty_id"] != nil || *in.Order.Total != -27.5 {
		t.Fatalf("return %+v order %+v", in, in.Order)
	}
	// A free line on a customer's invoice stays, at price 0.
	if _, rej := m.Decode([]byte(`{"InvoiceNo":"537197","StockCode":"22841","Quantity":"1","InvoiceDate":"2010-12-05 14:02:00","UnitPrice":"0.0","CustomerID":"12647.0","Country":"Germany"}`)); rej != nil {
		t.Fatalf("free item of a customer rejected: %v", rej)
	}
	for raw, reason := range map[string]string{
		`{"InvoiceNo":"A563185","StockCode":"B","Quantity":"1","InvoiceDate":"2011-08-12 14:50:00","UnitPrice":"11062.06","Country":"United Kingdom"}`: "bad-debt adjustment",
		`{"InvoiceNo":"536414","StockCode":"22139","Quantity":"56","InvoiceDate":"2010-12-01 11:52:00","UnitPrice":"0.0","Country":"United Kingdom"}`:  "stock adjustment",
	} {
		_, rej := m.Decode([]byte(raw))
		if rej == nil || rej.Code != CodeRejectedByRule || !strings.HasPrefix(rej.Message, reason) {
			t.Errorf("%s: got %+v, want %s: %s...", raw, rej, CodeRejectedByRule, reason)
		}
	}
	// A reject rule matching any row of a group rejects the group: nothing is
	// dropped silently (the importer sends such rows on their own).
	_, rej = m.Decode(rows(t, 5,
		`{"InvoiceNo":"537534","StockCode":"1","Quantity":"1","InvoiceDate":"2010-12-07 11:48:00","UnitPrice":"2","Country":"UK"}`,
		`{"InvoiceNo":"537534","StockCode":"2","Quantity":"1","InvoiceDate":"2010-12-07 11:48:00","UnitPrice":"0.0","Country":"UK"}`))
	if rej == nil || rej.Code != CodeRejectedByRule {
		t.Fatalf("group with a rejected row: %+v", rej)
	}
	if k, ok := m.GroupKey(map[string]any{"InvoiceNo": "536365", "UnitPrice": "2.55", "CustomerID": "1.0"}); !ok || k != "536365" {
		t.Errorf("GroupKey = %q, %v", k, ok)
	}
	if _, ok := m.GroupKey(map[string]any{"InvoiceNo": "536414", "UnitPrice": "0"}); ok {
		t.Error("a rejected row joined a group")
	}
	if _, rej := m.Decode(ErrorEnvelope(7, "rows of group 1 arrived late", []json.RawMessage{json.RawMessage(`{"InvoiceNo":"1"}`)})); rej == nil ||
		rej.Code != event.CodeMappingFailed || rej.Message != "rows of group 1 arrived late" {
		t.Errorf("error envelope: %+v", rej)
	}
}

func TestMappingBankCallTimesOutcomesAndCallers(t *testing.T) {
	m := mustLoad(t, "bank-calls.yaml")
	row := func(fields string) []byte {
		base := map[string]any{"vru+line": "AA0101", "call_id": "34536", "customer_id": "0", "priority": "0", "type": "PS", "date": "990201",
			"vru_entry": "7:02:47", "vru_exit": "7:02:56", "vru_time": "9", "q_start": "0:00:00", "q_exit": "0:00:00", "q_time": "0",
			"outcome": "AGENT", "ser_start": "7:02:55", "ser_exit": "7:05:41", "ser_time": "166", "server": "DORIT"}
		if err := json.Unmarshal([]byte(fields), &base); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(base)
		return b
	}
	in, rej := m.Decode(row(`{}`))
	if rej != nil {
		t.Fatal(rej)
	}
	c := in.Call
	if in.EventID != "bank-call-AA0101-34536" || in.Type != "call" || string(in.Timestamp) != `"1999-02-01T07:02:47Z"` ||
		string(in.Identifiers["anonymous_id"]) != `"bank-call-AA0101-34536"` || in.Identifiers["user_id"] != nil ||
		c.CallID != "AA0101-34536" || c.Queue != "PS" || c.Outcome != "answered" || *c.WaitSeconds != 0 || *c.HandleSeconds != 166 ||
		c.AgentID != "DORIT" || c.Direction != "inbound" || string(in.Properties["answered_at"]) != `"1999-02-01T07:02:55Z"` {
		t.Fatalf("decoded %+v call %+v", in, c)
	}

	// Entered at 23:59:54 on the 15th, queued and answered after midnight.
	in, rej = m.Decode(row(`{"customer_id":"15696776","date":"990215","vru_entry":"23:59:54","q_start":"0:00:00","q_exit":"0:00:27","q_time":"27","ser_start":"0:00:26","ser_time":"67","server":"AVNI"}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if string(in.Timestamp) != `"1999-02-15T23:59:54Z"` || string(in.Properties["answered_at"]) != `"1999-02-16T00:00:26Z"` ||
		string(in.Identifiers["user_id"]) != `"15696776"` || in.Identifiers["anonymous_id"] != nil || *in.Call.WaitSeconds != 27 {
		t.Fatalf("midnight call %+v %+v", in, in.Call)
	}
	// The source's negative VRU gaps (exit a minute before entry) stay on the same day.
	in, _ = m.Decode(row(`{"vru_entry":"9:48:14","ser_start":"9:47:50"}`))
	if string(in.Properties["answered_at"]) != `"1999-02-01T09:47:50Z"` {
		t.Errorf("small negative gap rolled over: %s", in.Properties["answered_at"])
	}

	// HANG is abandoned: no agent, no handle time, no answer time.
	in, _ = m.Decode(row(`{"outcome":"HANG","ser_start":"0:00:00","ser_exit":"0:00:00","ser_time":"0","server":"NO_SERVER","q_time":"5"}`))
	if in.Call.Outcome != "abandoned" || in.Call.HandleSeconds != nil || in.Call.AgentID != "" || in.Properties["answered_at"] != nil || *in.Call.WaitSeconds != 5 {
		t.Errorf("hang %+v %+v", in.Call, in.Properties)
	}
	// AGENT with ser_start 0:00:00: answered, handle time unknown.
	in, _ = m.Decode(row(`{"ser_start":"0:00:00","ser_time":"0"}`))
	if in.Call.Outcome != "answered" || in.Call.HandleSeconds != nil {
		t.Errorf("agent without service start %+v", in.Call)
	}
	for fields, reason := range map[string]string{`{"outcome":"PHANTOM"}`: "PHANTOM call", `{"outcome":"BUSY"}`: "unknown outcome"} {
		if _, rej := m.Decode(row(fields)); rej == nil || rej.Code != CodeRejectedByRule || !strings.HasPrefix(rej.Message, reason) || rej.Field != "outcome" {
			t.Errorf("%s: %+v", fields, rej)
		}
	}
	if _, rej := m.Decode(row(`{"date":"99-02-01"}`)); rej == nil || rej.Code != event.CodeMappingFailed || !strings.Contains(rej.Message, "does not match date_format") {
		t.Errorf("bad date: %+v", rej)
	}
	if _, rej := m.Decode(row(`{"vru_entry":"25:00:00"}`)); rej == nil || rej.Code != event.CodeMappingFailed {
		t.Errorf("bad clock: %+v", rej)
	}
}

func TestMappingConditionsAndValueOptions(t *testing.T) {
	m, err := Parse([]byte(`channel: shop
fields:
  type: {const: visit}
  timestamp: {path: when, format: "D/M/YYYY h:mm"}
  identifiers.loyalty_id: {path: card, normalize: [trim, integer]}
  identifiers.email: {path: mail, normalize: [lower], null_if: ["-"]}
  properties.tier: {path: tier, map: {G: gold, S: silver}, default: none}
  properties.big: {const: true, when: {amount: {gt: 100}}}
  properties.code: {template: "{region}/{shop.id}"}
rules:
  - when: {tier: {in: [X, Y]}}
    reject: test tiers
  - when: {region: {regex: "^N[0-9]+$"}, amount: {le: 5}}
    set: {type: small_visit}
`))
	if err != nil {
		t.Fatal(err)
	}
	in, rej := m.Decode([]byte(`{"when":"1/12/2010 8:26","card":" 17850.0 ","mail":"Ann@X.com","tier":"G","amount":"150","region":"N1","shop":{"id":7}}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if string(in.Timestamp) != `"2010-12-01T08:26:00Z"` || string(in.Identifiers["loyalty_id"]) != `"17850"` || string(in.Identifiers["email"]) != `"ann@x.com"` ||
		string(in.Properties["tier"]) != `"gold"` || string(in.Properties["big"]) != "true" || string(in.Properties["code"]) != `"N1/7"` || in.Type != "visit" {
		t.Fatalf("decoded %+v", in)
	}
	in, rej = m.Decode([]byte(`{"when":"31/1/2011 18:05","card":"1234567890123456789012","mail":"-","tier":"B","amount":"4","region":"N22"}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if string(in.Identifiers["loyalty_id"]) != `"1234567890123456789012"` || in.Identifiers["email"] != nil || string(in.Properties["tier"]) != `"B"` ||
		in.Properties["big"] != nil || in.Properties["code"] != nil || in.Type != "small_visit" {
		t.Fatalf("second %+v", in)
	}
	in, _ = m.Decode([]byte(`{"when":"1/1/2011 0:00","card":"1"}`))
	if string(in.Properties["tier"]) != `"none"` {
		t.Errorf("default: %s", in.Properties["tier"])
	}
	for raw, code := range map[string]string{
		`{"when":"1/1/2011 0:00","card":"17850.5"}`:      event.CodeMappingFailed, // not a whole number
		`{"when":"2011-01-01","card":"1"}`:               event.CodeMappingFailed, // not the format
		`{"when":"1/1/2011 0:00","card":"1","tier":"Y"}`: CodeRejectedByRule,
	} {
		if _, rej := m.Decode([]byte(raw)); rej == nil || rej.Code != code {
			t.Errorf("%s: %+v, want %s", raw, rej, code)
		}
	}

	cond := func(yml string) *condition {
		var c Condition
		if err := yaml.Unmarshal([]byte(yml), &c); err != nil {
			t.Fatal(err)
		}
		cc, err := compileCondition(c)
		if err != nil {
			t.Fatal(err)
		}
		return cc
	}
	row := map[string]any{"s": "C123", "n": json.Number("0.0"), "blank": "  "}
	for yml, want := range map[string]bool{
		"{s: {prefix: C}}": true, "{s: {prefix: A}}": false, "{s: {equals: C123}}": true, "{s: {not_equals: C123}}": false,
		"{missing: {not_equals: x}}": true, "{missing: {equals: x}}": false, "{missing: {empty: true}}": true, "{blank: {empty: true}}": true,
		"{s: {empty: false}}": true, "{n: {eq: 0}}": true, "{n: {ne: 0}}": false, "{s: {eq: 0}}": false, "{n: {lt: 1, ge: 0}}": true,
		"{n: {gt: 0}}": false, "{s: {in: [A, C123]}}": true, "{missing: {not_in: [A]}}": true, "{s: {not_in: [C123]}}": false,
		"{s: {regex: '^C[0-9]+$'}, n: {le: 0}}": true, "{s: {regex: '^C[0-9]+$'}, n: {gt: 0}}": false,
	} {
		if got := cond(yml).match(row); got != want {
			t.Errorf("%s on %v = %v, want %v", yml, row, got, want)
		}
	}
}

func TestMappingParseRejectsBadExtensions(t *testing.T) {
	base := "channel: c\nfields: {type: x, timestamp: t, %s}\n%s"
	for name, parts := range map[string][2]string{
		"two sources":           {"properties.a: {path: a, template: 'x{a}'}", ""},
		"date without time":     {"properties.a: {date: d}", ""},
		"bad date format":       {"properties.a: {date: d, time: t, date_format: 'Q'}", ""},
		"after without clock":   {"properties.a: {path: a, after: b}", ""},
		"items_total elsewhere": {"properties.a: {items_total: true}", ""},
		"items_total no items":  {"order.total: {items_total: true}", ""},
		"unknown item field":    {"order.items.colour: c", ""},
		"unknown normaliser":    {"properties.a: {path: a, normalize: [shout]}", ""},
		"bad template":          {"properties.a: {template: 'x{a'}", ""},
		"bad regex":             {"properties.a: {path: a, when: {a: {regex: '('}}}", ""},
		"empty test":            {"properties.a: {path: a, when: {a: {}}}", ""},
		"rule without action":   {"properties.a: a", "rules: [{when: {a: {empty: true}}}]"},
		"rule with both":        {"properties.a: a", "rules: [{when: {a: {empty: true}}, reject: r, set: {type: y}}]"},
		"rule without when":     {"properties.a: a", "rules: [{reject: r}]"},
		"rule sets items":       {"order.items.sku: s", "rules: [{when: {a: {empty: true}}, set: {order.items.sku: y}}]"},
		"group without key":     {"properties.a: a", "group: {within_rows: 3}"},
		"negative window":       {"properties.a: a", "group: {by: k, within_rows: -1}"},
	} {
		doc := strings.Replace(strings.Replace(base, "%s", parts[0], 1), "%s", parts[1], 1)
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted\n%s", name, doc)
		}
	}
}

func TestMappingLoadDirTakesFilesAndLists(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "chat.yaml"), []byte(chat), 0o644)
	retail := filepath.Join("..", "..", "schemas", "mappings", "online-retail.yaml")
	ms, err := LoadDir(dir + string(filepath.ListSeparator) + retail)
	if err != nil || len(ms) != 2 || ms[0].Channel != "chat" || ms[1].Channel != "online-retail" || ms[1].File() != retail {
		t.Fatalf("LoadDir list: %v %v", ms, err)
	}
	// The same file named twice (or named and in a named dir) is one mapping;
	// two files defining one channel are an error.
	if ms, err := LoadDir(retail + string(filepath.ListSeparator) + filepath.Dir(retail)); err != nil || len(ms) != 2 {
		t.Fatalf("a file named and in a named dir: %v %v", ms, err)
	}
	b, _ := os.ReadFile(retail)
	os.WriteFile(filepath.Join(dir, "copy.yaml"), b, 0o644)
	if _, err := LoadDir(retail + string(filepath.ListSeparator) + dir); err == nil || !strings.Contains(err.Error(), "defined by both") {
		t.Fatalf("same channel twice: %v", err)
	}
	if _, err := LoadDir(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing mapping file was ignored")
	}
}

// FuzzDecodeRows: any item — a row, an envelope of rows, garbage — through the
// shipped file mappings is mapped or rejected with a code; never a panic.
func FuzzDecodeRows(f *testing.F) {
	retail, err := Load(filepath.Join("..", "..", "schemas", "mappings", "online-retail.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	bank, err := Load(filepath.Join("..", "..", "schemas", "mappings", "bank-calls.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"$row":1,"$rows":[{"InvoiceNo":"1","StockCode":"A","Quantity":"2","UnitPrice":"1.5","InvoiceDate":"2010-12-01 08:26:00","CustomerID":"1.0"}]}`,
		`{"$rows":[]}`, `{"$rows":[1]}`, `{"$rows":{}}`, `{"$error":"x"}`, `{"$error":1}`,
		`{"InvoiceNo":"C1","Quantity":"x","UnitPrice":"1e400","InvoiceDate":"2010-12-01 08:26:00"}`,
		`{"date":"990229","vru_entry":"23:59:59","ser_start":"0:00:01","outcome":"AGENT","customer_id":"0","vru+line":"A","call_id":"1"}`,
		`{"date":"990201","vru_entry":"7:2","outcome":"HANG","q_time":"-1"}`, `[]`, `{`, `{"$rows":[{"InvoiceNo":{"a":1}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, m := range []*Mapping{retail, bank} {
			in, rej := m.Decode(raw)
			if (in == nil) == (rej == nil) {
				t.Fatalf("want exactly one of input or rejection, got %v %v", in, rej)
			}
			if rej != nil && rej.Code == "" {
				t.Fatal("rejection without a code")
			}
		}
	})
}

// Without a mapped event_id, an envelope's event is identified by its rows,
// wherever they sat in the file: re-importing an overlapping export dedups.
func TestMappingEnvelopeIDIgnoresRowNumber(t *testing.T) {
	m, err := Parse([]byte("channel: c\nfields: {type: {const: t}, timestamp: at, identifiers.user_id: u}\n"))
	if err != nil {
		t.Fatal(err)
	}
	row := `{"at":"2026-11-01 09:00:00","u":"7"}`
	a, rejA := m.Decode(rows(t, 3, row))
	b, rejB := m.Decode(rows(t, 9000, row))
	c, rejC := m.Decode(rows(t, 3, `{"at":"2026-11-01 09:00:01","u":"7"}`))
	if rejA != nil || rejB != nil || rejC != nil {
		t.Fatal(rejA, rejB, rejC)
	}
	if a.EventID == "" || !strings.HasPrefix(a.EventID, "h-") || a.EventID != b.EventID || a.EventID == c.EventID {
		t.Errorf("ids %q %q %q: want equal for equal rows, different otherwise", a.EventID, b.EventID, c.EventID)
	}
	// A plain item keeps ingest's own derivation (the processor hashes it).
	if in, _ := m.Decode([]byte(row)); in.EventID != "" {
		t.Errorf("plain item got id %q", in.EventID)
	}
}
