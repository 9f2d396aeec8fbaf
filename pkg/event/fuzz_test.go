package event

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitBody: any body is either refused with an error and no items, or
// split into items that account for every byte of it, never a panic. An
// array's items with commas between and brackets around are the array (up to
// insignificant whitespace), at indexes 0..n-1; a lone object is itself, at
// 0; NDJSON items are exactly the non-blank lines, each at its line number
// minus one, and every line of NDJSON sniffed without its content type is
// JSON. No more than the item limit is ever returned.
func FuzzSplitBody(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `[{"a":1},2]`, "{\"a\":1}\n{\"b\":", "[", "\x00\xff", "\n\n{}\n",
		"{\n \"type\":\"x\",\n}", `[ "a,]\"", {"b":[1,{}]} , 3 ]`, "\r\n{}\r\n\r\n 1 \n", "{}\n{}\n{}",
	} {
		f.Add([]byte(s), false, uint8(0))
		f.Add([]byte(s), true, uint8(2))
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool, limit uint8) {
		maxItems := int(limit) // 0: no limit
		items, index, err := SplitBody(body, ndjson, maxItems)
		if err != nil {
			if items != nil || index != nil {
				t.Fatal("items returned with an error")
			}
			return
		}
		if len(items) == 0 || len(index) != len(items) {
			t.Fatalf("%d items and %d indexes, no error", len(items), len(index))
		}
		if maxItems > 0 && len(items) > maxItems {
			t.Fatalf("%d items over the limit of %d", len(items), maxItems)
		}
		for i, it := range items {
			if len(bytes.TrimSpace(it)) == 0 {
				t.Fatalf("empty item from %q", body)
			}
			if index[i] < 0 || i > 0 && index[i] <= index[i-1] {
				t.Fatalf("indexes %v are not increasing from 0", index)
			}
		}
		trimmed := bytes.TrimSpace(body)
		switch {
		case !ndjson && trimmed[0] == '[':
			var got, want bytes.Buffer
			rebuilt := append(append([]byte{'['}, bytes.Join(items, []byte{','})...), ']')
			if json.Compact(&got, rebuilt) != nil || json.Compact(&want, trimmed) != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("array %q split into %q", body, items)
			}
			for i, at := range index {
				if at != i {
					t.Fatalf("array item %d at index %d", i, at)
				}
			}
		case !ndjson && json.Valid(trimmed):
			if len(items) != 1 || index[0] != 0 || !bytes.Equal(items[0], trimmed) {
				t.Fatalf("object %q split into %q at %v", body, items, index)
			}
		default:
			next := 0
			for n, line := range bytes.Split(body, []byte{'\n'}) {
				if line = bytes.TrimSpace(line); len(line) == 0 {
					continue
				}
				if next == len(items) || index[next] != n || !bytes.Equal(items[next], line) {
					t.Fatalf("line %d %q of %q is not item %d (items %q at %v)", n, line, body, next, items, index)
				}
				if !ndjson && !json.Valid(line) {
					t.Fatalf("line %d %q of %q sniffed as NDJSON is not JSON", n, line, body)
				}
				next++
			}
			if next != len(items) {
				t.Fatalf("%d items from %d non-blank lines", len(items), next)
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
