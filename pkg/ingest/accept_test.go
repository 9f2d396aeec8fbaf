package ingest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"
)

// Every body form (object, array, NDJSON) on every built-in channel is
// answered 202 with exact counts, and each event lands on cx.events in the
// Confluent wire format, readable by an independent consumer, normalised.
func TestAcceptsEveryBodyFormOnEveryChannel(t *testing.T) {
	h := newHarness(t, nil)
	g := newGenerator(1)

	want := map[string]genEvent{}
	spans := map[string][2]time.Time{} // event id -> request span
	post := func(channel, contentType string, body []byte, evs []genEvent) {
		t.Helper()
		before := time.Now()
		res := h.post(channel, contentType, body, nil).result(t)
		after := time.Now()
		if res.Accepted != len(evs) || res.Rejected != 0 || res.Duplicates != 0 || len(res.Errors) != 0 {
			t.Errorf("%s %s: answer %+v, want accepted %d and nothing else", channel, contentType, res, len(evs))
		}
		for _, e := range evs {
			want[e.In.EventID] = e
			spans[e.In.EventID] = [2]time.Time{before, after}
		}
	}
	for _, ch := range channels {
		one := g.next(t, ch, ch+"-obj-")
		post(ch, jsonType, one.Raw, []genEvent{one})

		arr := g.batch(t, ch, ch+"-arr-", 3)
		post(ch, jsonType, arrayBody(raws(arr)...), arr)

		lines := g.batch(t, ch, ch+"-nd-", 4)
		post(ch, ndjsonType+"; charset=utf-8", ndjsonBody(raws(lines)...), lines)
	}

	got := eventsByID(t, h.readEvents(len(want)))
	for id, w := range want {
		e, ok := got[id]
		if !ok {
			t.Errorf("event %s answered 202 but not on %s", id, eventsTopic)
			continue
		}
		checkEvent(t, e, w, spans[id][0], spans[id][1])
	}
	if dl := h.readDeadLetters(0); len(dl) != 0 {
		t.Errorf("%d dead letters for valid input", len(dl))
	}
}

// The normalisations DESIGN.md names, on literal input: emails trimmed and
// lower-cased, phones in E.164 (national numbers read in the default region
// GB), ids trimmed, loyalty numbers as text, and the routing key is the
// highest-priority identifier whatever the order in the input.
func TestNormalisesIdentifiersAndTimes(t *testing.T) {
	h := newHarness(t, nil)
	body := ndjsonBody(
		[]byte(`{"event_id":" lit-1 ","type":" purchase ","timestamp":"2026-01-15T10:15:00.123Z","sent_at":"2026-01-15T10:20:00.000Z",`+
			`"identifiers":{"phone":"+44 20 7946 0958","email":"  Ann@Example.COM ","anonymous_id":"a-1"},`+
			`"order":{"order_id":"o-1","total":42.5,"currency":"gbp","items":[{"sku":"A1","quantity":2,"price":21.25}]}}`),
		[]byte(`{"event_id":"lit-2","type":"call","timestamp":1768472100000,"identifiers":{"phone":"020 7946 0123","loyalty_id":700001,"device_id":""},"call":{"call_id":"c-9","wait_seconds":45}}`),
	)
	before := time.Now()
	res := h.post("phone", ndjsonType, body, nil).result(t)
	after := time.Now()
	if res.Accepted != 2 || res.Rejected != 0 {
		t.Fatalf("answer %+v, want 2 accepted", res)
	}
	got := eventsByID(t, h.readEvents(2))

	e1, ok := got["lit-1"]
	if !ok {
		t.Fatalf("event lit-1 (trimmed id) not on %s; got %v", eventsTopic, got)
	}
	wantIDs := []wireIdentifier{{Type: "email", Value: "ann@example.com"}, {Type: "phone", Value: "+442079460958"}, {Type: "anonymous_id", Value: "a-1"}}
	if !slices.Equal(e1.Identifiers, wantIDs) || e1.Key != "email:ann@example.com" || e1.Type != "purchase" {
		t.Errorf("lit-1: type %q identifiers %s key %q; want purchase %s key email:ann@example.com", e1.Type, fmtIDs(e1.Identifiers), e1.Key, fmtIDs(wantIDs))
	}
	// event_time = timestamp + (received_at − sent_at): the client's clock said
	// the event happened 4m59.877s before it was sent.
	if wantTime := e1.ReceivedAt.Add(-(4*time.Minute + 59877*time.Millisecond)); !e1.EventTime.Equal(wantTime) {
		t.Errorf("lit-1: event_time %s, want received_at %s − 4m59.877s = %s", e1.EventTime, e1.ReceivedAt, wantTime)
	}
	if e1.ReceivedAt.Before(before.Truncate(time.Millisecond)) || e1.ReceivedAt.After(after) {
		t.Errorf("lit-1: received_at %s outside the request [%s, %s]", e1.ReceivedAt, before, after)
	}
	if e1.Order == nil || str(e1.Order.Currency) != "GBP" || e1.Order.Total == nil || *e1.Order.Total != 42.5 {
		t.Errorf("lit-1: order %+v, want total 42.5 GBP", e1.Order)
	}

	e2 := got["lit-2"]
	wantIDs = []wireIdentifier{{Type: "loyalty_id", Value: "700001"}, {Type: "phone", Value: "+442079460123"}}
	if !slices.Equal(e2.Identifiers, wantIDs) || e2.Key != "loyalty_id:700001" {
		t.Errorf("lit-2: identifiers %s key %q; want %s key loyalty_id:700001 (empty device_id dropped)", fmtIDs(e2.Identifiers), e2.Key, fmtIDs(wantIDs))
	}
	wantTime := time.UnixMilli(1768472100000)
	if !e2.EventTime.Equal(wantTime) || !e2.ClientTime.Equal(wantTime) || e2.SentAt != nil {
		t.Errorf("lit-2 (no sent_at): event_time %s client_time %s sent_at %v; want both %s, no sent_at", e2.EventTime, e2.ClientTime, e2.SentAt, wantTime)
	}
}

// A blocklisted identifier is accepted and kept on the event, flagged
// blocked, and never chosen as the routing key.
func TestBlocklistedIdentifierIsKeptButNotRouted(t *testing.T) {
	h := newHarness(t, nil)
	body := arrayBody(
		[]byte(`{"event_id":"b-1","type":"signup","timestamp":"2026-01-15T10:15:00Z","identifiers":{"email":" TEST@test.com","device_id":"d-77"}}`),
		[]byte(`{"event_id":"b-2","type":"signup","timestamp":"2026-01-15T10:15:00Z","identifiers":{"user_id":"unknown","phone":"+44 20 7946 0958"}}`),
	)
	res := h.post("web", jsonType, body, nil).result(t)
	if res.Accepted != 2 || res.Rejected != 0 {
		t.Fatalf("answer %+v, want 2 accepted", res)
	}
	got := eventsByID(t, h.readEvents(2))
	for id, want := range map[string]struct {
		ids []wireIdentifier
		key string
	}{
		"b-1": {[]wireIdentifier{{Type: "email", Value: "test@test.com", Blocked: true}, {Type: "device_id", Value: "d-77"}}, "device_id:d-77"},
		"b-2": {[]wireIdentifier{{Type: "user_id", Value: "unknown", Blocked: true}, {Type: "phone", Value: "+442079460958"}}, "phone:+442079460958"},
	} {
		e := got[id]
		if !slices.Equal(e.Identifiers, want.ids) {
			t.Errorf("%s: identifiers %s, want %s", id, fmtIDs(e.Identifiers), fmtIDs(want.ids))
		}
		if e.Key != want.key {
			t.Errorf("%s: key %q, want %q (the blocked identifier must not route)", id, e.Key, want.key)
		}
	}
}

var hashedID = regexp.MustCompile(`^h-[0-9a-f]{32}$`)

// An event without event_id gets a deterministic id, so that posting it again
// is acknowledged as a duplicate and not produced twice.
func TestMissingEventIDIsDeterministicAndDeduplicated(t *testing.T) {
	h := newHarness(t, nil)
	body := []byte(`{"type":"page_view","timestamp":"2026-01-15T10:15:00Z","identifiers":{"anonymous_id":"a-42"},"web":{"url":"https://shop.example.com/"}}`)

	first := h.post("web", jsonType, body, nil).result(t)
	if first.Accepted != 1 || first.Duplicates != 0 {
		t.Fatalf("first post: %+v, want accepted 1, duplicates 0", first)
	}
	second := h.post("web", jsonType, body, nil).result(t)
	if second.Accepted != 1 || second.Duplicates != 1 || second.Rejected != 0 {
		t.Fatalf("second post of the same body: %+v, want accepted 1, duplicates 1", second)
	}
	// The same bytes on another channel are another event.
	other := h.post("app", jsonType, []byte(`{"type":"page_view","timestamp":"2026-01-15T10:15:00Z","identifiers":{"anonymous_id":"a-42"}}`), nil).result(t)
	web2 := h.post("web", jsonType, []byte(`{"type":"page_view","timestamp":"2026-01-15T10:15:00Z","identifiers":{"anonymous_id":"a-42"}}`), nil).result(t)
	if other.Duplicates != 0 || web2.Duplicates != 0 {
		t.Fatalf("distinct id-less events: app %+v, web %+v; want no duplicates", other, web2)
	}

	evs := h.readEvents(3) // exactly: the repeat was not produced
	ids := map[string]string{}
	for _, e := range evs {
		if !hashedID.MatchString(e.EventID) {
			t.Errorf("generated event_id %q does not match %s", e.EventID, hashedID)
		}
		if prev, dup := ids[e.EventID]; dup {
			t.Errorf("event_id %s given to two events (%s and %s)", e.EventID, prev, e.Channel)
		}
		ids[e.EventID] = e.Channel
	}
}

// Explicit event ids are deduplicated within a request and across requests:
// every copy is acknowledged, one is produced.
func TestRepeatedEventIDIsProducedOnce(t *testing.T) {
	h := newHarness(t, nil)
	ev := func(id, typ string) []byte {
		return []byte(fmt.Sprintf(`{"event_id":%q,"type":%q,"timestamp":"2026-01-15T10:15:00Z","identifiers":{"user_id":"u-1"}}`, id, typ))
	}
	res := h.post("app", jsonType, arrayBody(ev("e-1", "open"), ev("e-2", "open"), ev("e-1", "open")), nil).result(t)
	if res.Accepted != 3 || res.Duplicates != 1 || res.Rejected != 0 {
		t.Fatalf("e-1 twice in one request: %+v, want accepted 3, duplicates 1", res)
	}
	res = h.post("app", ndjsonType, ndjsonBody(ev("e-2", "open"), ev("e-3", "open"), ev("e-1", "open")), nil).result(t)
	if res.Accepted != 3 || res.Duplicates != 2 {
		t.Fatalf("e-1 and e-2 again in a later request: %+v, want accepted 3, duplicates 2", res)
	}
	// A retry of an event whose content changed is still the same event.
	res = h.post("app", jsonType, ev("e-3", "changed"), nil).result(t)
	if res.Accepted != 1 || res.Duplicates != 1 {
		t.Fatalf("e-3 again: %+v, want accepted 1, duplicates 1", res)
	}

	got := eventsByID(t, h.readEvents(3))
	for _, id := range []string{"e-1", "e-2", "e-3"} {
		if e, ok := got[id]; !ok || e.Type != "open" {
			t.Errorf("%s: on topic=%v type %q; want once, type open (the first copy)", id, ok, e.Type)
		}
	}
}

// The ingest API refuses other methods on the events route.
func TestEventsRouteIsPostOnly(t *testing.T) {
	h := newHarness(t, nil)
	req, err := http.NewRequest(http.MethodGet, h.url("/v1/web/events"), bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do(req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/web/events: status %d, want 405", r.status)
	}
}
