package gen

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/normalize"
)

// badKind is one way a real integration gets an event wrong, and the code
// ingest rejects it with.
type badKind struct {
	code    string
	channel string
	weight  float64
	build   func(b *badMaker) []byte
}

// badKinds are the bad records: each is a plausible mistake of one channel's
// systems, and each fails exactly one of ingest's checks.
var badKinds = []badKind{
	{event.CodeInvalidJSON, event.ChannelWeb, 2, (*badMaker).truncated},
	{event.CodeMissingIdentifier, event.ChannelStore, 3, (*badMaker).anonymousSale},
	{event.CodeInvalidTimestamp, event.ChannelStore, 2, (*badMaker).localDate},
	{event.CodeMissingType, event.ChannelApp, 1, (*badMaker).noType},
	{normalize.CodeInvalidEmail, event.ChannelWeb, 2, (*badMaker).badEmail},
	{normalize.CodeInvalidPhone, event.ChannelPhone, 2, (*badMaker).extension},
	{event.CodeInvalidSurvey, event.ChannelWeb, 1, (*badMaker).surveyOffScale},
	{event.CodeBlockNotAllowed, event.ChannelStore, 1, (*badMaker).wrongBlock},
	{event.CodeUnknownField, event.ChannelApp, 1, (*badMaker).unknownField},
	{event.CodeInvalidOrder, event.ChannelStore, 1, (*badMaker).badCurrency},
	{event.CodeTimestampInFuture, event.ChannelApp, 1, (*badMaker).futureClock},
	{event.CodeInvalidProperty, event.ChannelWeb, 1, (*badMaker).nestedProperty},
}

// badMaker builds bad records from its own random stream.
type badMaker struct {
	w   *world
	rng *rand.Rand
	at  int64
}

func (b *badMaker) encode(in *input) []byte {
	out, err := json.Append(nil, in, 0)
	if err != nil {
		panic(fmt.Sprintf("gen: encoding a bad record: %v", err))
	}
	return out
}

func (b *badMaker) webView() *input {
	sku := pick(b.rng, b.w.catalogue).sku
	return &input{
		EventID: uuidString(b.rng), Type: "page_view", Timestamp: timestamp(tsISOMillis, b.at),
		Identifiers: &identifiers{AnonymousID: uuidString(b.rng)},
		Web:         &event.Web{URL: siteURL + "/p/" + sku, SessionID: "ws-" + randHex(b.rng, 12)},
	}
}

func (b *badMaker) tillSale() *input {
	s := pick(b.rng, b.w.stores)
	pr := pick(b.rng, b.w.catalogue)
	total := pr.price
	return &input{
		EventID: "pos-" + randHex(b.rng, 20), Type: "purchase", Timestamp: timestamp(tsPOS, b.at),
		Identifiers: &identifiers{PaymentToken: "tok_" + randHex(b.rng, 16)},
		Store:       &event.Store{StoreID: s.id, RegisterID: "R-1"},
		Order:       &event.Order{OrderID: "o-" + s.id + "-" + randHex(b.rng, 10), Total: &total, Currency: currency, Items: []event.OrderItem{{SKU: pr.sku, Quantity: 1, Price: pr.price}}},
	}
}

func (b *badMaker) appView() *input {
	return &input{
		EventID: uuidString(b.rng), Type: "screen_view", Timestamp: timestamp(tsEpochMs, b.at),
		Identifiers: &identifiers{DeviceID: "dev-" + uuidString(b.rng)},
		App:         &event.App{Platform: "android", AppVersion: appVersionA, Screen: "home"},
	}
}

// truncated: a beacon cut off mid-flight.
func (b *badMaker) truncated() []byte {
	body := b.encode(b.webView())
	return body[:len(body)/2+b.rng.IntN(len(body)/3)]
}

// anonymousSale: a till export row whose loyalty column is empty (a cash sale).
func (b *badMaker) anonymousSale() []byte {
	in := b.tillSale()
	in.Identifiers = &identifiers{}
	return bytes.Replace(b.encode(in), []byte(`"identifiers":{}`), []byte(`"identifiers":{"loyalty_id":""}`), 1)
}

// localDate: a till that writes dates the British way.
func (b *badMaker) localDate() []byte {
	in := b.tillSale()
	in.Timestamp = strconv.AppendQuote(nil, time.UnixMilli(b.at).UTC().Format("02/01/2006 15:04"))
	return b.encode(in)
}

func (b *badMaker) noType() []byte {
	in := b.appView()
	in.Type = ""
	return b.encode(in)
}

// badEmail: a newsletter form without validation.
func (b *badMaker) badEmail() []byte {
	in := b.webView()
	in.Type = "newsletter_signup"
	in.Identifiers.Email = pick(b.rng, firstNames) + "." + pick(b.rng, lastNames) + pick(b.rng, []string{"@gmail", "@", " at gmail.com", "@@outlook.com"})
	return b.encode(in)
}

// extension: an internal call whose caller id is a desk extension.
func (b *badMaker) extension() []byte {
	wait, handle := 0.0, float64(30+b.rng.IntN(300))
	callID := "c-" + randHex(b.rng, 10)
	return b.encode(&input{
		EventID: "cc-" + callID + "-1", Type: "call", Timestamp: timestamp(tsOffset, b.at-b.at%1000),
		Identifiers: &identifiers{Phone: strconv.Itoa(100 + b.rng.IntN(900))},
		Call:        &event.Call{CallID: callID, Direction: "internal", Queue: "general", WaitSeconds: &wait, HandleSeconds: &handle, Outcome: "resolved"},
	})
}

// surveyOffScale: a kiosk that sends a 1–10 score as CSAT out of 5.
func (b *badMaker) surveyOffScale() []byte {
	score, scale := float64(6+b.rng.IntN(5)), 5.0
	return b.encode(&input{
		EventID: uuidString(b.rng), Type: "survey_response", Timestamp: timestamp(tsISOMillis, b.at),
		Identifiers: &identifiers{AnonymousID: uuidString(b.rng)},
		Survey:      &event.Survey{Kind: "csat", Score: &score, ScaleMax: &scale},
	})
}

// wrongBlock: a click-and-collect integration that sends the web context from the till.
func (b *badMaker) wrongBlock() []byte {
	in := b.tillSale()
	in.Web = &event.Web{URL: siteURL + "/checkout/collect"}
	return b.encode(in)
}

// unknownField: an app build that puts the user at the top level.
func (b *badMaker) unknownField() []byte {
	body := b.encode(b.appView())
	return append([]byte(`{"user":{"id":"`+randHex(b.rng, 8)+`"},`), body[1:]...)
}

func (b *badMaker) badCurrency() []byte {
	in := b.tillSale()
	in.Order.Currency = "POUNDS"
	return b.encode(in)
}

// futureClock: a phone whose clock was set to 2099.
func (b *badMaker) futureClock() []byte {
	in := b.appView()
	in.Timestamp = timestamp(tsEpochMs, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()+b.at%dayMs)
	return b.encode(in)
}

// nestedProperty: a tag manager that sends the basket as an object.
func (b *badMaker) nestedProperty() []byte {
	body := b.encode(b.webView())
	return append(body[:len(body)-1], []byte(`,"properties":{"basket":{"items":`+strconv.Itoa(1+b.rng.IntN(5))+`}}}`)...)
}

// records orders the valid events as the channels send them, and adds the
// duplicates and the bad records, each from its own random stream.
func (w *world) records(events []*genEvent) []Record {
	type item struct {
		arrival int64
		seq     int
		rec     Record
	}
	items := make([]item, 0, len(events)+len(events)/50)
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b *genEvent) int {
		if c := cmp.Compare(a.arrival, b.arrival); c != 0 {
			return c
		}
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for i, e := range sorted {
		items = append(items, item{arrival: e.arrival, seq: i, rec: Record{Channel: e.channel, Body: e.body, EventID: e.id}})
	}

	bad := int(math.Round(w.cfg.BadRate * float64(len(events))))
	brng := rand.New(rand.NewPCG(w.cfg.Seed, 0xbad_bad_bad))
	weights := make([]float64, len(badKinds))
	for i, k := range badKinds {
		weights[i] = k.weight
	}
	for i := range bad {
		k := badKinds[weighted(brng, weights)]
		if i < len(badKinds) && bad >= len(badKinds) {
			k = badKinds[i] // every kind at least once when there are enough
		}
		m := &badMaker{w: w, rng: brng, at: w.start + brng.Int64N(w.end-w.start)}
		items = append(items, item{arrival: m.at, seq: len(items), rec: Record{Channel: k.channel, Body: k.build(m), Reject: k.code}})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.arrival, b.arrival); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})

	// Duplicates: a client resends an event right after it (a retry after a
	// timeout), so both copies travel in one request and the copy is
	// acknowledged as a duplicate deterministically.
	drng := rand.New(rand.NewPCG(w.cfg.Seed, 0xd0_b1e))
	out := make([]Record, 0, len(items)+len(events)/100)
	for _, it := range items {
		out = append(out, it.rec)
		if it.rec.Reject == "" && drng.Float64() < w.cfg.DuplicateRate {
			dup := it.rec
			dup.Duplicate = true
			out = append(out, dup)
		}
	}
	return out
}
