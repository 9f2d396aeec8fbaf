package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/schemas"
)

// rejectCase is one invalid item and the code it must be answered with.
type rejectCase struct {
	raw   string
	code  string
	field string // "" when the answer need not name one
}

// Each invalid item is answered with its index and code, the valid ones are
// produced, and every rejected item has exactly one dead letter holding its
// exact bytes, keyed by the channel.
func TestRejectsInvalidItemsWithCodesAndDeadLetters(t *testing.T) {
	h := newHarness(t, nil)
	const ts = `"timestamp":"2026-01-15T10:15:00Z"`
	valid := func(id string) string {
		return `{"event_id":"` + id + `","type":"purchase",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"store":{"store_id":"S-1"}}`
	}
	arrayItems := []rejectCase{
		{raw: valid("ok-1")},
		{raw: `{"event_id":"r-1",` + ts + `,"identifiers":{"loyalty_id":"L-1"}}`, code: "missing_type", field: "type"},
		{raw: `{"event_id":"r-2","type":"visit","identifiers":{"loyalty_id":"L-1"}}`, code: "missing_timestamp", field: "timestamp"},
		{raw: `{"event_id":"r-3","type":"visit",` + ts + `,"identifiers":{}}`, code: "missing_identifier", field: "identifiers"},
		{raw: `{"event_id":"r-4","type":"visit",` + ts + `}`, code: "missing_identifier", field: "identifiers"},
		{raw: `{"event_id":"r-5","type":"visit",` + ts + `,"identifiers":{"email":"ann(at)example.com"}}`, code: "invalid_email", field: "identifiers.email"},
		{raw: `{"event_id":"r-6","type":"visit",` + ts + `,"identifiers":{"phone":"12"}}`, code: "invalid_phone", field: "identifiers.phone"},
		{raw: `{"event_id":"r-7","type":"visit",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"colour":"red"}`, code: "unknown_field", field: "colour"},
		{raw: `{"event_id":"r-8","type":"page_view",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"web":{"url":"https://x.example/"}}`, code: "block_not_allowed", field: "web"},
		{raw: `42`, code: "not_an_object"},
		{raw: `"a string"`, code: "not_an_object"},
		{raw: `{"event_id":"r-9","type":"survey_response",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"survey":{"kind":"csat","score":9}}`, code: "invalid_survey", field: "survey.score"},
		{raw: `{"event_id":"r-10","type":"visit",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"properties":{"basket":{"n":1}}}`, code: "invalid_property", field: "properties.basket"},
		{raw: `{"event_id":"r-11","type":"visit","timestamp":"yesterday","identifiers":{"loyalty_id":"L-1"}}`, code: "invalid_timestamp", field: "timestamp"},
		// Valid times whose skew correction lands before 1970 (1800-01-03).
		{raw: `{"event_id":"r-13","type":"visit","timestamp":"1973-01-01T00:00:00Z","sent_at":"2200-01-01T00:00:00Z","identifiers":{"loyalty_id":"L-1"}}`, code: "invalid_timestamp", field: "timestamp"},
		{raw: valid("ok-2")},
	}
	ndjsonItems := []rejectCase{
		{raw: valid("ok-3")},
		{raw: `{"event_id":"r-12","type":"visit",`, code: "invalid_json"},
		{raw: `not json at all`, code: "invalid_json"},
		{raw: valid("ok-4")},
	}

	sent := map[int]rejectCase{} // dead letters expected, by request number * 100 + index
	checkAnswer := func(req int, items []rejectCase, res ingest.Result) {
		t.Helper()
		var wantErrs []ingest.ItemError
		accepted := 0
		for i, it := range items {
			if it.code == "" {
				accepted++
				continue
			}
			wantErrs = append(wantErrs, ingest.ItemError{Index: i, Code: it.code, Field: it.field})
			sent[req*100+i] = it
		}
		if res.Accepted != accepted || res.Rejected != len(wantErrs) || len(res.Errors) != len(wantErrs) {
			t.Fatalf("request %d: answer %+v, want %d accepted, %d rejected", req, res, accepted, len(wantErrs))
		}
		for i, want := range wantErrs {
			got := res.Errors[i]
			if got.Index != want.Index || got.Code != want.Code || (want.Field != "" && got.Field != want.Field) || got.Message == "" {
				t.Errorf("request %d error %d: %+v, want index %d code %s field %q and a message", req, i, got, want.Index, want.Code, want.Field)
			}
		}
	}

	items := make([][]byte, len(arrayItems))
	for i, it := range arrayItems {
		items[i] = []byte(it.raw)
	}
	before := time.Now()
	checkAnswer(1, arrayItems, h.post("store", jsonType, arrayBody(items...), nil).result(t))
	lines := make([][]byte, len(ndjsonItems))
	for i, it := range ndjsonItems {
		lines[i] = []byte(it.raw)
	}
	checkAnswer(2, ndjsonItems, h.post("store", ndjsonType, ndjsonBody(lines...), nil).result(t))
	after := time.Now()

	got := eventsByID(t, h.readEvents(4))
	for _, id := range []string{"ok-1", "ok-2", "ok-3", "ok-4"} {
		if _, ok := got[id]; !ok {
			t.Errorf("valid event %s not on %s", id, eventsTopic)
		}
	}

	dls := h.readDeadLetters(len(sent))
	seen := map[string]bool{}
	for _, dl := range dls {
		if dl.Key != "store" || dl.Source != "store" || dl.Stage != "ingest" {
			t.Errorf("dead letter %s: key %q source %q stage %q, want store/store/ingest", dl.ID, dl.Key, dl.Source, dl.Stage)
		}
		if dl.Index == nil {
			t.Errorf("dead letter %s (%s) has no index", dl.ID, dl.ReasonCode)
			continue
		}
		// Match the dead letter to the item by its exact bytes and index.
		var want rejectCase
		found := false
		for k, c := range sent {
			if k%100 == *dl.Index && c.raw == string(dl.Raw) {
				want, found = c, true
				delete(sent, k)
				break
			}
		}
		if !found {
			t.Errorf("dead letter %s: index %d raw %q matches no rejected item (or matches one twice)", dl.ID, *dl.Index, dl.Raw)
			continue
		}
		if dl.ReasonCode != want.code || dl.Error == "" {
			t.Errorf("dead letter of %q: reason %q error %q, want reason %s and an error text", dl.Raw, dl.ReasonCode, dl.Error, want.code)
		}
		if dl.ReceivedAt.Before(before.Truncate(time.Millisecond)) || dl.ReceivedAt.After(after) {
			t.Errorf("dead letter %s: received_at %s outside the requests [%s, %s]", dl.ID, dl.ReceivedAt, before, after)
		}
		if dl.Topic != nil || dl.Partition != nil || dl.Offset != nil {
			t.Errorf("dead letter %s from ingest has a topic/partition/offset", dl.ID)
		}
		if seen[dl.ID] {
			t.Errorf("dead letter id %s repeated", dl.ID)
		}
		seen[dl.ID] = true
	}
	for _, c := range sent {
		t.Errorf("rejected item %q (%s) has no dead letter", c.raw, c.code)
	}
}

// A body that cannot be split into items is answered 400 and dead-lettered
// whole, byte for byte; an unknown channel is 404 and stores nothing.
func TestUnparseableBodyAndUnknownChannel(t *testing.T) {
	h := newHarness(t, nil)
	bodies := []struct {
		name, contentType, body string
	}{
		{"garbage", jsonType, "garbage\n"},
		{"broken array", jsonType, `[{"type":"visit"},` + "\n" + `{"type":`},
		{"broken object", jsonType, `  {"type":"visit","identifiers":{"user_id":"u-1"}`},
		// Not NDJSON for want of a content type: not every line is JSON.
		{"broken pretty object", jsonType, "{\n \"type\":\"x\",\n}"},
		{"lines, one broken", jsonType, "{\"type\":\"visit\"}\n{\"type\":\n"},
		{"empty", jsonType, "  \n"},
		{"empty ndjson", ndjsonType, "\n\n"},
	}
	for _, b := range bodies {
		r := h.post("web", b.contentType, []byte(b.body), nil)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400; body %s", b.name, r.status, r.body)
		}
		if code := r.errorCode(t); code != "unparseable_body" {
			t.Errorf("%s: code %q, want unparseable_body", b.name, code)
		}
	}

	r := h.post("fax", jsonType, []byte(`{"type":"visit","timestamp":"2026-01-15T10:15:00Z","identifiers":{"user_id":"u-1"}}`), nil)
	if r.status != http.StatusNotFound {
		t.Errorf("unknown channel: status %d, want 404; body %s", r.status, r.body)
	} else if code := r.errorCode(t); code != "unknown_channel" {
		t.Errorf("unknown channel: code %q, want unknown_channel", code)
	}

	dls := h.readDeadLetters(len(bodies))
	for i, dl := range dls {
		found := false
		for _, b := range bodies {
			if bytes.Equal(dl.Raw, []byte(b.body)) {
				found = true
			}
		}
		if !found {
			t.Errorf("dead letter %d: raw %q is none of the bodies sent", i, dl.Raw)
		}
		if dl.ReasonCode != "unparseable_body" || dl.Error == "" || dl.Key != "web" || dl.Source != "web" || dl.Index != nil {
			t.Errorf("dead letter %d: reason %q error %q key %q source %q index %v; want unparseable_body, a text, web, web, no index",
				i, dl.ReasonCode, dl.Error, dl.Key, dl.Source, fmtIndex(dl.Index))
		}
	}
	if evs := h.readEvents(0); len(evs) != 0 {
		t.Errorf("%d events produced from bad bodies", len(evs))
	}
}

func fmtIndex(p *int) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// Items and bodies over the producer's message limit are client errors, not
// Kafka outages: the producer refuses such a record for good, so answering
// 503 would have the client retry forever. An unparseable body too big to
// keep whole is answered 400 and dead-lettered by its head; an event too big
// for a record is rejected alone (too_large) while the rest of its batch is
// produced, and its dead letter keeps what fits.
func TestItemsAndBodiesOverTheRecordLimitAreRejected(t *testing.T) {
	h := newHarness(t, nil)
	limit := kafka.WriterConfig{}.MaxMessageBytes()

	hugeBody := []byte(`{"type":"visit","comment":"` + strings.Repeat("x", 2<<20))
	r := h.post("web", jsonType, hugeBody, nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("2 MiB unparseable body: status %d, want 400; body %s", r.status, r.body)
	}
	if code := r.errorCode(t); code != "unparseable_body" {
		t.Errorf("2 MiB unparseable body: code %q, want unparseable_body", code)
	}

	const ts = `"timestamp":"2026-01-15T10:15:00Z"`
	valid := func(id string) []byte {
		return []byte(`{"event_id":"` + id + `","type":"visit",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"store":{"store_id":"S-1"}}`)
	}
	// Valid by every rule (256 properties of 4000 bytes each), yet over the
	// record limit as a whole.
	props := make([]string, 256)
	for i := range props {
		props[i] = fmt.Sprintf(`"p%03d":"%s"`, i, strings.Repeat("y", 4000))
	}
	huge := []byte(`{"event_id":"big-1","type":"visit",` + ts + `,"identifiers":{"loyalty_id":"L-1"},"properties":{` + strings.Join(props, ",") + `}}`)
	if len(huge) <= limit {
		t.Fatalf("test item is %d bytes, not over the %d-byte limit", len(huge), limit)
	}
	res := h.post("store", jsonType, arrayBody(valid("small-1"), huge, valid("small-2")), nil).result(t)
	if res.Accepted != 2 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Index != 1 || res.Errors[0].Code != "too_large" || res.Errors[0].Message == "" {
		t.Errorf("batch with an oversized event: %+v, want 2 accepted and index 1 rejected as too_large", res)
	}
	got := eventsByID(t, h.readEvents(2))
	for _, id := range []string{"small-1", "small-2"} {
		if _, ok := got[id]; !ok {
			t.Errorf("event %s of the batch with an oversized one is not on %s", id, eventsTopic)
		}
	}

	dls := h.readDeadLetters(2)
	byCode := map[string]decodedDeadLetter{}
	for _, dl := range dls {
		byCode[dl.ReasonCode] = dl
	}
	for _, c := range []struct {
		code  string
		raw   []byte
		index *int
	}{
		{"unparseable_body", hugeBody, nil},
		{"too_large", huge, ptr(1)},
	} {
		dl, ok := byCode[c.code]
		if !ok {
			t.Errorf("no %s dead letter among %d", c.code, len(dls))
			continue
		}
		if len(dl.Raw) == 0 || len(dl.Raw) >= len(c.raw) || len(dl.Raw) > limit || !bytes.HasPrefix(c.raw, dl.Raw) {
			t.Errorf("%s dead letter: raw of %d bytes, want a non-empty head of the %d sent, under %d", c.code, len(dl.Raw), len(c.raw), limit)
		}
		if want := fmt.Sprintf("[raw truncated: the first %d of %d bytes kept]", len(dl.Raw), len(c.raw)); !strings.HasSuffix(dl.Error, want) {
			t.Errorf("%s dead letter: error %q does not end with %q", c.code, dl.Error, want)
		}
		if fmtIndex(dl.Index) != fmtIndex(c.index) {
			t.Errorf("%s dead letter: index %s, want %s", c.code, fmtIndex(dl.Index), fmtIndex(c.index))
		}
	}
}

// A body of more items than --ingest-max-items (10,000 by default) is answered
// 413 and stores nothing, whatever its form and however small its items: each
// item costs memory and work, a dead letter and an error entry.
func TestTooManyItemsAreAnswered413(t *testing.T) {
	h := newHarness(t, nil)
	lines := func(n int) []byte { return bytes.Repeat([]byte("1\n"), n) }
	for _, b := range []struct {
		name, contentType string
		body              []byte
	}{
		{"NDJSON", ndjsonType, lines(ingest.DefaultMaxItems + 1)},
		{"sniffed NDJSON", jsonType, bytes.Repeat([]byte("{}\n"), ingest.DefaultMaxItems+1)},
		{"array", jsonType, []byte("[" + strings.Repeat("1,", ingest.DefaultMaxItems) + "1]")},
		{"200,000 tiny lines", ndjsonType, lines(200_000)},
	} {
		r := h.post("web", b.contentType, b.body, nil)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: status %d, want 413; body %.300s", b.name, r.status, r.body)
		}
		if code := r.errorCode(t); code != "too_many_items" {
			t.Errorf("%s: code %q, want too_many_items", b.name, code)
		}
		if !bytes.Contains(r.body, []byte("more than 10000 items")) {
			t.Errorf("%s: message %s does not name the limit", b.name, r.body)
		}
	}

	// At the limit, every item is taken: here each is rejected, all are
	// dead-lettered, and the answer lists the first 1000 and counts the rest.
	r := h.post("web", ndjsonType, lines(ingest.DefaultMaxItems), nil)
	res := r.result(t)
	var answer any
	if err := json.Unmarshal(r.body, &answer); err != nil {
		t.Fatal(err)
	}
	if err := newContract(t, schemas.OpenAPIIngest).doc.Components.Schemas["Result"].Value.VisitJSON(answer); err != nil {
		t.Errorf("answer with omitted errors does not match the OpenAPI Result: %v", err)
	}
	if res.Accepted != 0 || res.Rejected != ingest.DefaultMaxItems || len(res.Errors) != 1000 || res.ErrorsOmitted != ingest.DefaultMaxItems-1000 {
		t.Errorf("%d bad items: accepted %d rejected %d, %d errors listed and %d omitted; want 0, %d, 1000, %d",
			ingest.DefaultMaxItems, res.Accepted, res.Rejected, len(res.Errors), res.ErrorsOmitted, ingest.DefaultMaxItems, ingest.DefaultMaxItems-1000)
	}
	for i, e := range res.Errors {
		if e.Index != i || e.Code != "not_an_object" {
			t.Fatalf("error %d: %+v, want index %d not_an_object", i, e, i)
		}
	}
	if dls := h.readDeadLetters(ingest.DefaultMaxItems); len(dls) != ingest.DefaultMaxItems {
		t.Errorf("%d dead letters, want %d", len(dls), ingest.DefaultMaxItems)
	}
}

// A configured --ingest-max-items holds for every body form; an answer that
// lists every error says nothing of omitted ones.
func TestMaxItemsIsConfigurable(t *testing.T) {
	h := newHarness(t, func(c *config.Ingest) { c.MaxItems = 2 })
	for _, body := range []string{"[1,2,3]", "{}\n{}\n{}\n"} {
		r := h.post("app", jsonType, []byte(body), nil)
		if r.status != http.StatusRequestEntityTooLarge || r.errorCode(t) != "too_many_items" {
			t.Errorf("%q over a limit of 2: status %d body %s, want 413 too_many_items", body, r.status, r.body)
		}
	}
	r := h.post("app", jsonType, []byte("[1,2]"), nil)
	if res := r.result(t); res.Rejected != 2 || len(res.Errors) != 2 || bytes.Contains(r.body, []byte("errors_omitted")) {
		t.Errorf("2 items at a limit of 2: %s, want both rejected and listed, no errors_omitted", r.body)
	}
}

// An NDJSON item's index is its line number minus one (the OpenAPI contract),
// in the answer and on its dead letter: blank lines, leading ones too, count.
func TestNDJSONIndexesAreLineNumbersMinusOne(t *testing.T) {
	h := newHarness(t, nil)
	valid := `{"event_id":"line-2","type":"visit","timestamp":"2026-01-15T10:15:00Z","identifiers":{"loyalty_id":"L-1"}}`
	body := "\n" + valid + "\n\r\n" + "not json" + "\n  \n" + `{"type":` + "\n\n"
	res := h.post("store", ndjsonType, []byte(body), nil).result(t)
	want := map[int]string{3: "not json", 5: `{"type":`} // line 4 and line 6
	if res.Accepted != 1 || res.Rejected != 2 || len(res.Errors) != 2 || res.Errors[0].Index != 3 || res.Errors[1].Index != 5 {
		t.Fatalf("answer %+v, want line 2 accepted and indexes 3 and 5 rejected", res)
	}
	for _, dl := range h.readDeadLetters(2) {
		if dl.Index == nil || want[*dl.Index] != string(dl.Raw) {
			t.Errorf("dead letter at index %s holds %q; want %v", fmtIndex(dl.Index), dl.Raw, want)
		}
	}
	if evs := h.readEvents(1); evs[0].EventID != "line-2" {
		t.Errorf("event %q produced, want line-2", evs[0].EventID)
	}
}
