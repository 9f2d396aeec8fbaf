package event

import (
	"bytes"
	"testing"
)

// FuzzSplitBody: any body either splits into non-empty items that are parts of
// the body, or is refused with an error; never a panic.
func FuzzSplitBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},2]`, "{\"a\":1}\n{\"b\":", "[", "\x00\xff", "\n\n{}\n"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		items, err := SplitBody(body, ndjson, 0)
		if err != nil {
			if len(items) != 0 {
				t.Fatal("items returned with an error")
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("no items and no error")
		}
		for _, it := range items {
			if len(bytes.TrimSpace(it)) == 0 {
				t.Fatalf("empty item from %q", body)
			}
		}
	})
}

// FuzzNormalize: any item is either rejected with a code, or accepted as an
// event that encodes with the real cx.Event schema and decodes back unchanged.
// An accepted event that cannot be encoded would be lost, so this is the
// invariant that matters.
func FuzzNormalize(f *testing.F) {
	seeds := []string{
		`{"event_id":"e-1","type":"purchase","timestamp":"2026-11-02T10:15:00.123Z","sent_at":"2026-11-02T10:15:01Z","identifiers":{"email":" Ann@Example.com","phone":"+44 20 7946 0958","loyalty_id":"L-77"},"store":{"store_id":"S-12"},"order":{"order_id":"o-1","total":42.5,"currency":"GBP","items":[{"sku":"A1","quantity":2,"price":21.25}]}}`,
		`{"type":"call","timestamp":1793613600000,"identifiers":{"phone":"020 7946 0958"},"call":{"queue":"q","wait_seconds":1e2,"outcome":"abandoned"},"survey":{"kind":"nps","score":9}}`,
		`{"type":"x","timestamp":"2026-11-02T10:15:00Z","identifiers":{"user_id":"\u0000"},"properties":{"k":"\ud800"}}`,
		`{"type":"x","timestamp":"2026-11-02T10:15:00Z","identifiers":{"custom_id":1e400}}`,
		`{"type":"x","timestamp":"0","identifiers":{"email":"a@b.co"},"web":{"url":"u"},"app":{},"properties":{"":1}}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	n := testNormalizer(f)
	channels := []string{ChannelStore, ChannelWeb, ChannelApp, ChannelPhone}
	f.Fuzz(func(t *testing.T, raw []byte, ch uint8) {
		channel := channels[int(ch)%len(channels)]
		in, rej := Decode(raw)
		if rej == nil {
			var e Event
			e, rej = n.Normalize(channel, BuiltinBlocks[channel], in, raw, received)
			if rej == nil {
				if e.EventID == "" || e.Type == "" || len(e.Identifiers) == 0 {
					t.Fatalf("accepted an incomplete event: %+v", e)
				}
				roundTrip(t, e)
				return
			}
		}
		if rej.Code == "" || rej.Message == "" {
			t.Fatalf("rejection without code or message: %+v", rej)
		}
	})
}
