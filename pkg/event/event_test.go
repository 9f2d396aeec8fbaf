package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/cx360/cx360/pkg/normalize"
	"github.com/cx360/cx360/schemas"
)

var received = time.Date(2026, 11, 2, 10, 15, 2, 0, time.UTC)

func testNormalizer(t testing.TB) *Normalizer {
	t.Helper()
	bl, err := normalize.NewBlocklist(normalize.DefaultBlocklistRules())
	if err != nil {
		t.Fatal(err)
	}
	return NewNormalizer(NormalizerConfig{DefaultRegion: "GB", Blocklist: bl})
}

func eventCodec(t testing.TB) *goavro.Codec {
	t.Helper()
	c, err := goavro.NewCodec(schemas.MustAvro(schemas.Event))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func normalizeRaw(t testing.TB, channel, raw string) (Event, *Rejection) {
	t.Helper()
	in, rej := Decode([]byte(raw))
	if rej != nil {
		return Event{}, rej
	}
	return testNormalizer(t).Normalize(channel, BuiltinBlocks[channel], in, []byte(raw), received)
}

func TestNormalizeDesignExample(t *testing.T) {
	raw := `{"event_id":"e-123", "type":"purchase", "timestamp":"2026-11-02T10:15:00.123Z",
	 "sent_at":"2026-11-02T10:15:01Z",
	 "identifiers":{"user_id":"u-9","email":" Ann@Example.com","phone":"+44 20 7946 0958",
	                "loyalty_id":"L-77","device_id":"d-1","anonymous_id":"a-1","payment_token":"tok_x"},
	 "properties":{"any":"string","n":2.5,"b":true,"gone":null},
	 "store": {"store_id":"S-12","register_id":"R-3","staff_id":"st-5"},
	 "order": {"order_id":"o-1","total":42.5,"currency":"gbp","items":[{"sku":"A1","quantity":2,"price":21.25}]},
	 "survey":{"kind":"CSAT","score":4,"scale_max":5,"comment":"ok","about_event_id":"e-100"}}`
	e, rej := normalizeRaw(t, ChannelStore, raw)
	if rej != nil {
		t.Fatalf("rejected: %+v", rej)
	}
	// Skew: the client clock is 1 s behind the server, so the event happened 1 s later.
	if want := time.Date(2026, 11, 2, 10, 15, 1, 123e6, time.UTC); !e.EventTime.Equal(want) {
		t.Errorf("event_time = %v, want %v", e.EventTime, want)
	}
	wantIDs := []Identifier{
		{Type: "user_id", Value: "u-9"}, {Type: "loyalty_id", Value: "L-77"}, {Type: "email", Value: "ann@example.com"},
		{Type: "phone", Value: "+442079460958"}, {Type: "payment_token", Value: "tok_x"},
		{Type: "device_id", Value: "d-1"}, {Type: "anonymous_id", Value: "a-1"},
	}
	if !reflect.DeepEqual(e.Identifiers, wantIDs) {
		t.Errorf("identifiers = %+v\nwant %+v", e.Identifiers, wantIDs)
	}
	if e.RoutingKey() != "user_id:u-9" {
		t.Errorf("routing key = %q", e.RoutingKey())
	}
	if e.Order.Currency != "GBP" || e.Survey.Kind != "csat" {
		t.Errorf("order currency %q, survey kind %q not normalised", e.Order.Currency, e.Survey.Kind)
	}
	if _, ok := e.Properties["gone"]; ok || e.Properties["n"] != 2.5 || e.Properties["b"] != true {
		t.Errorf("properties = %v", e.Properties)
	}
	roundTrip(t, e)
}

// roundTrip encodes e with the real cx.Event schema and decodes it back.
func roundTrip(t testing.TB, e Event) {
	t.Helper()
	codec := eventCodec(t)
	bin, err := codec.BinaryFromNative(nil, e.Native())
	if err != nil {
		t.Fatalf("accepted event does not encode: %v\n%+v", err, e)
	}
	native, rest, err := codec.NativeFromBinary(bin)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode: %v (%d trailing bytes)", err, len(rest))
	}
	back, err := FromNative(native)
	if err != nil {
		t.Fatal(err)
	}
	// Avro stores milliseconds; compare at that precision.
	for _, p := range []*time.Time{&e.EventTime, &e.ClientTime, &e.SentAt, &e.ReceivedAt} {
		if !p.IsZero() {
			*p = p.Truncate(time.Millisecond)
		}
	}
	if len(e.Properties) == 0 {
		e.Properties = nil
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", back, e)
	}
}

func TestRejections(t *testing.T) {
	base := `"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"user_id":"u"}`
	cases := []struct {
		name, channel, raw, code, field string
	}{
		{"not json", ChannelWeb, `{"type":`, CodeInvalidJSON, ""},
		{"array item", ChannelWeb, `[1]`, CodeNotObject, ""},
		{"string item", ChannelWeb, `"x"`, CodeNotObject, ""},
		{"unknown field", ChannelWeb, `{` + base + `,"colour":"red"}`, CodeUnknownField, "colour"},
		{"wrong type", ChannelWeb, `{` + base + `,"order":{"total":"12"}}`, CodeInvalidField, "order.total"},
		{"missing type", ChannelWeb, `{"timestamp":"2026-11-02T10:00:00Z","identifiers":{"user_id":"u"}}`, CodeMissingType, "type"},
		{"bad type", ChannelWeb, `{"type":"<script>","timestamp":"2026-11-02T10:00:00Z","identifiers":{"user_id":"u"}}`, CodeInvalidType, "type"},
		{"missing timestamp", ChannelWeb, `{"type":"t","identifiers":{"user_id":"u"}}`, CodeMissingTimestamp, "timestamp"},
		{"bad timestamp", ChannelWeb, `{"type":"t","timestamp":"yesterday","identifiers":{"user_id":"u"}}`, CodeInvalidTimestamp, "timestamp"},
		{"bad sent_at", ChannelWeb, `{` + base + `,"sent_at":true}`, CodeInvalidTimestamp, "sent_at"},
		{"future", ChannelWeb, `{"type":"t","timestamp":"2026-11-05T10:00:00Z","identifiers":{"user_id":"u"}}`, CodeTimestampInFuture, "timestamp"},
		{"before 1970 after skew correction", ChannelWeb, `{"type":"t","timestamp":"1973-01-01T00:00:00Z","sent_at":"2200-01-01T00:00:00Z","identifiers":{"user_id":"u"}}`, CodeInvalidTimestamp, "timestamp"},
		{"epoch ms before 1970 after skew correction", ChannelWeb, `{"type":"t","timestamp":100000000000,"sent_at":"2100-01-01T00:00:00Z","identifiers":{"user_id":"u"}}`, CodeInvalidTimestamp, "timestamp"},
		{"no identifiers", ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z"}`, CodeMissingIdentifier, "identifiers"},
		{"empty identifiers", ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"email":"  "}}`, CodeMissingIdentifier, "identifiers"},
		{"bad email", ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"email":"ann.example.com"}}`, "invalid_email", "identifiers.email"},
		{"bad phone", ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"phone":"12"}}`, "invalid_phone", "identifiers.phone"},
		{"bad identifier type", ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"Bad Type":"x"}}`, CodeInvalidIdentifier, "identifiers.Bad Type"},
		{"object identifier", ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"user_id":{"a":1}}}`, CodeInvalidIdentifier, "identifiers.user_id"},
		{"nested property", ChannelWeb, `{` + base + `,"properties":{"a":{"b":1}}}`, CodeInvalidProperty, "properties.a"},
		{"web block on store", ChannelStore, `{` + base + `,"web":{"url":"x"}}`, CodeBlockNotAllowed, "web"},
		{"call block on web", ChannelWeb, `{` + base + `,"call":{"queue":"x"}}`, CodeBlockNotAllowed, "call"},
		{"bad currency", ChannelStore, `{` + base + `,"order":{"currency":"pounds"}}`, CodeInvalidOrder, "order.currency"},
		{"item without sku", ChannelStore, `{` + base + `,"order":{"items":[{"quantity":1,"price":2}]}}`, CodeInvalidOrder, "order.items[0].sku"},
		{"survey kind", ChannelPhone, `{` + base + `,"survey":{"kind":"stars","score":3}}`, CodeInvalidSurvey, "survey.kind"},
		{"survey score", ChannelPhone, `{` + base + `,"survey":{"kind":"nps","score":11}}`, CodeInvalidSurvey, "survey.score"},
		{"survey no score", ChannelPhone, `{` + base + `,"survey":{"kind":"ces"}}`, CodeInvalidSurvey, "survey.score"},
		{"long event id", ChannelWeb, `{` + base + `,"event_id":"` + strings.Repeat("x", 300) + `"}`, CodeInvalidEventID, "event_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rej := normalizeRaw(t, c.channel, c.raw)
			if rej == nil {
				t.Fatalf("accepted %s", c.raw)
			}
			if rej.Code != c.code || rej.Field != c.field {
				t.Fatalf("got code %q field %q (%s), want %q %q", rej.Code, rej.Field, rej.Message, c.code, c.field)
			}
			if rej.Message == "" {
				t.Fatal("rejection without a message")
			}
		})
	}
}

func TestBlockedIdentifierIsKeptButNotRouted(t *testing.T) {
	e, rej := normalizeRaw(t, ChannelWeb, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"email":"TEST@test.com","anonymous_id":"a-1"}}`)
	if rej != nil {
		t.Fatal(rej)
	}
	if len(e.Identifiers) != 2 || !e.Identifiers[0].Blocked || e.Identifiers[0].Value != "test@test.com" {
		t.Fatalf("identifiers = %+v", e.Identifiers)
	}
	if e.RoutingKey() != "anonymous_id:a-1" {
		t.Fatalf("routing key = %q, want the non-blocked identifier", e.RoutingKey())
	}
}

func TestMissingEventIDIsDeterministic(t *testing.T) {
	raw := `{"type":"t","timestamp":1793613600000,"identifiers":{"loyalty_id":12345}}`
	a, rej := normalizeRaw(t, ChannelStore, raw)
	if rej != nil {
		t.Fatal(rej)
	}
	b, _ := normalizeRaw(t, ChannelStore, raw)
	c, _ := normalizeRaw(t, ChannelWeb, raw)
	if !strings.HasPrefix(a.EventID, "h-") || a.EventID != b.EventID || a.EventID == c.EventID {
		t.Fatalf("ids %q %q %q: want equal for the same channel and body, different across channels", a.EventID, b.EventID, c.EventID)
	}
	if a.Identifiers[0].Value != "12345" {
		t.Fatalf("numeric loyalty id = %q", a.Identifiers[0].Value)
	}
	if want := time.UnixMilli(1793613600000).UTC(); !a.EventTime.Equal(want) {
		t.Fatalf("epoch-ms timestamp = %v, want %v", a.EventTime, want)
	}
}

func TestSplitBody(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		ndjson bool
		index  []int // of the items; nil: an error
	}{
		{"object", `{"a":1}`, false, []int{0}},
		{"pretty object", "{\n  \"a\": 1\n}\n", false, []int{0}},
		{"array", `[{"a":1}, {"b":2}, 3]`, false, []int{0, 1, 2}},
		{"ndjson by type", "{\"a\":1}\n\n{\"b\":2}\nbroken\n", true, []int{0, 2, 3}},
		{"ndjson sniffed", "{\"a\":1}\n{\"b\":2}", false, []int{0, 1}},
		{"ndjson sniffed, lines of any JSON", "{\"a\":1}\n\n42\n", false, []int{0, 2}},
		// Blank lines count, leading ones too: index is the line number minus one.
		{"ndjson, leading and blank lines", "\n \r\n{\"a\":1}\r\n\n\t\n{\"b\":2}\n\n", true, []int{2, 5}},
		{"ndjson sniffed, leading blank lines", "\n\n{\"a\":1}\n\n{\"b\":2}", false, []int{2, 4}},
		{"broken pretty object", "{\n \"type\":\"x\",\n}", false, nil},
		{"lines, one broken, no ndjson type", "{\"a\":1}\n{\"b\":", false, nil},
		{"lines, one broken, ndjson type", "{\"a\":1}\n{\"b\":", true, []int{0, 1}},
		{"empty", "  \n", false, nil},
		{"empty ndjson", "\n \n", true, nil},
		{"empty array", "[]", false, nil},
		{"broken array", `[{"a":1}`, false, nil},
		{"garbage", `garbage`, false, nil},
		{"broken object", `{"a":`, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, index, err := SplitBody([]byte(c.body), c.ndjson, 0)
			if (err != nil) != (c.index == nil) || len(items) != len(c.index) || !slices.Equal(index, c.index) {
				t.Fatalf("got %d items at %v, err %v; want indexes %v", len(items), index, err, c.index)
			}
		})
	}
}

// The item limit holds for every body form, at the item past it: a body of
// tiny items is refused before it costs memory per item.
func TestSplitBodyLimitsItems(t *testing.T) {
	for _, c := range []struct {
		name, body string
		ndjson     bool
	}{
		{"array", `[{"a":"x,y"}, [1,2], "\"]"]`, false},
		{"ndjson", "{}\n\n{}\n{}\n", true},
		{"sniffed ndjson", "{}\n{}\n{}", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if items, _, err := SplitBody([]byte(c.body), c.ndjson, 3); err != nil || len(items) != 3 {
				t.Errorf("limit 3: %d items, err %v; want 3", len(items), err)
			}
			if items, _, err := SplitBody([]byte(c.body), c.ndjson, 2); !errors.Is(err, ErrTooManyItems) || items != nil {
				t.Errorf("limit 2: %d items, err %v; want ErrTooManyItems", len(items), err)
			}
		})
	}
	items, _, err := SplitBody([]byte(` [ {"a":"x,y"} ,[1,2],"\"]" , 3 ] `), false, 0)
	want := []string{`{"a":"x,y"}`, `[1,2]`, `"\"]"`, `3`}
	if err != nil || len(items) != len(want) {
		t.Fatalf("array: %q, err %v; want %q", items, err, want)
	}
	for i, w := range want {
		if string(items[i]) != w {
			t.Errorf("array item %d: %q, want %q", i, items[i], w)
		}
	}
}

func TestProperties(t *testing.T) {
	e, rej := normalizeRaw(t, ChannelApp, `{"type":"t","timestamp":"2026-11-02T10:00:00Z","identifiers":{"device_id":"d"},"properties":{"s":"x","f":1e3,"t":false}}`)
	if rej != nil {
		t.Fatal(rej)
	}
	want := map[string]any{"s": "x", "f": 1000.0, "t": false}
	if !reflect.DeepEqual(e.Properties, want) {
		t.Fatalf("properties = %v", e.Properties)
	}
	b, _ := json.Marshal(e.Properties)
	if len(b) == 0 {
		t.Fatal("properties do not marshal")
	}
	roundTrip(t, e)
}
