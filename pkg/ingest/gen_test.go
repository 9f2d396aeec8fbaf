package ingest_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// This file is the realistic event generator shared by the tests and the
// benchmark: shoppers of a small retailer meeting it in its four channels.

// channels are the built-in channels, in a fixed order.
var channels = []string{"store", "web", "app", "phone"}

// identifierPriority is DESIGN.md's identifier order ("Identity resolution"):
// the routing key is the first linkable identifier in it.
var identifierPriority = []string{"user_id", "loyalty_id", "email", "phone", "payment_token", "device_id", "anonymous_id"}

// customer is one shopper: identifiers as channels send them (Raw) and as
// cx.events must carry them, written out by hand rather than computed.
type customer struct {
	UserID       string
	LoyaltyID    string // digits: the POS sends it as a JSON number
	EmailRaw     string
	Email        string
	PhoneRaw     string
	Phone        string
	PaymentToken string
	DeviceID     string
	AnonymousID  string
}

var customers = []customer{
	{UserID: "u-1001", LoyaltyID: "700001", EmailRaw: "  Ann.Smith@Example.COM ", Email: "ann.smith@example.com",
		PhoneRaw: "+44 20 7946 0958", Phone: "+442079460958", PaymentToken: "tok_visa_4242", DeviceID: "d-ios-5f2a", AnonymousID: "a-77c1"},
	{UserID: "u-1002", LoyaltyID: "700002", EmailRaw: "BOB@example.org", Email: "bob@example.org",
		PhoneRaw: "020 7946 0123", Phone: "+442079460123", PaymentToken: "tok_mc_5454", DeviceID: "d-and-91b0", AnonymousID: "a-0e42"},
	{UserID: "u-1003", LoyaltyID: "700003", EmailRaw: "Chloe+News@Mail.Example.co.uk", Email: "chloe+news@mail.example.co.uk",
		PhoneRaw: "07911 123456", Phone: "+447911123456", PaymentToken: "tok_amex_0005", DeviceID: "d-ios-c3d4", AnonymousID: "a-5d19"},
	{UserID: "u-1004", LoyaltyID: "700004", EmailRaw: "Dev.Patel@Example.NET", Email: "dev.patel@example.net",
		PhoneRaw: "+1 (415) 555-0132", Phone: "+14155550132", PaymentToken: "tok_visa_1881", DeviceID: "d-and-7e7e", AnonymousID: "a-b2aa"},
	{UserID: "u-1005", LoyaltyID: "700005", EmailRaw: "\tzoe@example.com", Email: "zoe@example.com",
		PhoneRaw: "(0113) 496 0999", Phone: "+441134960999", PaymentToken: "tok_visa_0077", DeviceID: "d-ios-0a0a", AnonymousID: "a-3c3c"},
	{UserID: "u-1006", LoyaltyID: "700006", EmailRaw: "Marc@Exemple.FR", Email: "marc@exemple.fr",
		PhoneRaw: "+33 1 99 00 12 34", Phone: "+33199001234", PaymentToken: "tok_cb_3141", DeviceID: "d-and-f00d", AnonymousID: "a-9f9f"},
	{UserID: "u-1007", LoyaltyID: "700007", EmailRaw: "li.wei@example.com ", Email: "li.wei@example.com",
		PhoneRaw: "0161 496 0321", Phone: "+441614960321", PaymentToken: "tok_mc_2718", DeviceID: "d-ios-beef", AnonymousID: "a-1234"},
	{UserID: "u-1008", LoyaltyID: "700008", EmailRaw: "Olivia.Brown@Example.com.au", Email: "olivia.brown@example.com.au",
		PhoneRaw: "+61 2 5550 1234", Phone: "+61255501234", PaymentToken: "tok_visa_6011", DeviceID: "d-and-cafe", AnonymousID: "a-abcd"},
}

// inputEvent is the ingest API's input event (DESIGN.md "Input event"),
// declared here independently of pkg/event.
type inputEvent struct {
	EventID     string         `json:"event_id,omitempty"`
	Type        string         `json:"type,omitempty"`
	Timestamp   any            `json:"timestamp,omitempty"` // RFC 3339 string or epoch-ms json.Number
	SentAt      any            `json:"sent_at,omitempty"`
	Identifiers map[string]any `json:"identifiers,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	Web         *webBlock      `json:"web,omitempty"`
	App         *appBlock      `json:"app,omitempty"`
	Store       *storeBlock    `json:"store,omitempty"`
	Order       *orderBlock    `json:"order,omitempty"`
	Call        *callBlock     `json:"call,omitempty"`
	Survey      *surveyBlock   `json:"survey,omitempty"`
}

type webBlock struct {
	URL       string `json:"url,omitempty"`
	Referrer  string `json:"referrer,omitempty"`
	Title     string `json:"title,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

type appBlock struct {
	Platform   string `json:"platform,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
	Screen     string `json:"screen,omitempty"`
	SessionID  string `json:"session_id,omitempty"`
}

type storeBlock struct {
	StoreID    string `json:"store_id,omitempty"`
	RegisterID string `json:"register_id,omitempty"`
	StaffID    string `json:"staff_id,omitempty"`
}

type orderBlock struct {
	OrderID  string      `json:"order_id,omitempty"`
	Total    *float64    `json:"total,omitempty"`
	Currency string      `json:"currency,omitempty"`
	Items    []orderItem `json:"items,omitempty"`
}

type orderItem struct {
	SKU      string  `json:"sku"`
	Quantity float64 `json:"quantity"`
	Price    float64 `json:"price"`
}

type callBlock struct {
	CallID        string   `json:"call_id,omitempty"`
	Direction     string   `json:"direction,omitempty"`
	Queue         string   `json:"queue,omitempty"`
	WaitSeconds   *float64 `json:"wait_seconds,omitempty"`
	HandleSeconds *float64 `json:"handle_seconds,omitempty"`
	Outcome       string   `json:"outcome,omitempty"`
	AgentID       string   `json:"agent_id,omitempty"`
	Reason        string   `json:"reason,omitempty"`
}

type surveyBlock struct {
	Kind     string   `json:"kind"`
	Score    *float64 `json:"score,omitempty"`
	ScaleMax *float64 `json:"scale_max,omitempty"`
	Comment  string   `json:"comment,omitempty"`
}

// genEvent is one generated event: its bytes and what cx.events must hold for it.
type genEvent struct {
	In         inputEvent
	Raw        []byte // the item as sent: one line of compact JSON
	Channel    string
	ClientTime time.Time // the timestamp, exact to the millisecond
	SentAt     time.Time // zero when the channel does not send it
	// WantIdentifiers are the normalised identifiers in priority order.
	WantIdentifiers []wireIdentifier
	// WantKey is the routing key: the first linkable identifier as "type:value".
	WantKey string
}

// generator makes realistic events; it is deterministic for a seed.
type generator struct {
	rng  *rand.Rand
	base time.Time // the first event's timestamp
	seq  int
}

// newGenerator starts events an hour before now, so that skew-corrected times
// stay in the past.
func newGenerator(seed uint64) *generator {
	return &generator{
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		base: time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC(),
	}
}

// next returns the next event of channel with event id idPrefix + a sequence
// number (no event_id at all when idPrefix is "").
func (g *generator) next(t testing.TB, channel, idPrefix string) genEvent {
	t.Helper()
	g.seq++
	r := g.rng
	// Round robin, so that a test's first events of each channel cover every customer.
	c := customers[g.seq%len(customers)]
	ts := g.base.Add(time.Duration(g.seq) * 1500 * time.Millisecond)
	in := inputEvent{Timestamp: ts.Format("2006-01-02T15:04:05.000Z07:00"), Identifiers: map[string]any{}}
	if idPrefix != "" {
		in.EventID = fmt.Sprintf("%s%06d", idPrefix, g.seq)
	}
	want := map[string]string{}
	add := func(typ, raw, norm string) {
		in.Identifiers[typ] = raw
		want[typ] = norm
	}
	var sentAt time.Time
	withSentAt := func() {
		// A client clock off by up to ±10 min, sending up to 30 s after the event.
		sentAt = ts.Add(time.Duration(r.IntN(30_000)) * time.Millisecond).Add(time.Duration(r.IntN(1_200_000)-600_000) * time.Millisecond)
		in.SentAt = sentAt.Format(time.RFC3339Nano)
	}

	switch channel {
	case "web":
		in.Type = pick(r, "page_view", "product_view", "add_to_cart", "purchase")
		add("anonymous_id", c.AnonymousID, c.AnonymousID)
		if r.IntN(2) == 0 {
			add("user_id", c.UserID, c.UserID)
		}
		if g.seq%2 == 1 { // signed up to the newsletter from this browser
			add("email", c.EmailRaw, c.Email)
		}
		in.Web = &webBlock{
			URL: "https://shop.example.com/p/" + fmt.Sprint(100+r.IntN(900)), Referrer: pick(r, "https://www.google.com/", "https://news.example.org/spring", ""),
			Title: "Linen shirt – Example Shop", SessionID: fmt.Sprintf("ws-%d", r.IntN(10_000)),
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		}
		in.Properties = map[string]any{"campaign": pick(r, "spring-sale", "newsletter-12"), "logged_in": want["user_id"] != ""}
		withSentAt()
	case "app":
		in.Type = pick(r, "app_open", "screen_view", "add_to_cart", "purchase")
		add("device_id", c.DeviceID, c.DeviceID)
		if r.IntN(10) < 7 {
			add("user_id", c.UserID, c.UserID)
		}
		in.App = &appBlock{Platform: pick(r, "ios", "android"), AppVersion: "5.2." + fmt.Sprint(r.IntN(4)), Screen: pick(r, "home", "cart", "product"), SessionID: fmt.Sprintf("as-%d", r.IntN(10_000))}
		in.Properties = map[string]any{"push_opt_in": r.IntN(2) == 0}
		// App SDKs send epoch milliseconds.
		in.Timestamp = json.Number(fmt.Sprint(ts.UnixMilli()))
		withSentAt()
	case "store":
		in.Type = pick(r, "purchase", "purchase", "return", "visit", "loyalty_scan")
		// POS terminals send the loyalty number as a JSON number.
		in.Identifiers["loyalty_id"] = json.Number(c.LoyaltyID)
		want["loyalty_id"] = c.LoyaltyID
		if in.Type == "purchase" || in.Type == "return" {
			add("payment_token", c.PaymentToken, c.PaymentToken)
		}
		if g.seq%2 == 0 || r.IntN(10) < 3 { // e-receipt requested
			add("email", c.EmailRaw, c.Email)
		}
		in.Store = &storeBlock{StoreID: fmt.Sprintf("S-%02d", 1+r.IntN(40)), RegisterID: fmt.Sprintf("R-%d", 1+r.IntN(6)), StaffID: fmt.Sprintf("st-%d", r.IntN(200))}
		in.Properties = map[string]any{"basket_size": float64(1 + r.IntN(12))}
	case "phone":
		in.Type = pick(r, "call", "call", "survey_response")
		add("phone", c.PhoneRaw, c.Phone)
		if r.IntN(10) < 4 {
			in.Identifiers["loyalty_id"] = c.LoyaltyID
			want["loyalty_id"] = c.LoyaltyID
		}
		in.Call = &callBlock{
			CallID: fmt.Sprintf("c-%d", r.IntN(1_000_000)), Direction: pick(r, "inbound", "outbound"), Queue: pick(r, "billing", "orders", "returns"),
			WaitSeconds: ptr(float64(r.IntN(600))), HandleSeconds: ptr(float64(30 + r.IntN(900))),
			Outcome: pick(r, "resolved", "transferred", "callback"), AgentID: fmt.Sprintf("ag-%d", r.IntN(80)), Reason: pick(r, "refund", "delivery", "sizing"),
		}
		in.Properties = map[string]any{"callback_requested": r.IntN(4) == 0}
	default:
		t.Fatalf("generator: unknown channel %q", channel)
	}

	if in.Type == "purchase" || in.Type == "return" {
		qty, price := float64(1+r.IntN(3)), float64(500+r.IntN(9500))/100
		total := qty * price
		if in.Type == "return" {
			total = -total
		}
		in.Order = &orderBlock{OrderID: fmt.Sprintf("o-%d", r.IntN(1_000_000)), Total: &total, Currency: pick(r, "GBP", "gbp", "EUR"),
			Items: []orderItem{{SKU: fmt.Sprintf("SKU-%04d", r.IntN(5000)), Quantity: qty, Price: price}}}
	}
	if in.Type == "survey_response" {
		in.Survey = &surveyBlock{Kind: "csat", Score: ptr(float64(1 + r.IntN(5))), Comment: pick(r, "Quick and friendly", "Took too long", "")}
	}

	ids := make([]wireIdentifier, 0, len(want))
	for _, typ := range identifierPriority {
		if v, ok := want[typ]; ok {
			ids = append(ids, wireIdentifier{Type: typ, Value: v})
		}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("generator: marshal: %v", err)
	}
	return genEvent{
		In: in, Raw: raw, Channel: channel, ClientTime: ts, SentAt: sentAt,
		WantIdentifiers: ids, WantKey: ids[0].Type + ":" + ids[0].Value,
	}
}

// batch returns n events of channel.
func (g *generator) batch(t testing.TB, channel, idPrefix string, n int) []genEvent {
	t.Helper()
	out := make([]genEvent, n)
	for i := range out {
		out[i] = g.next(t, channel, idPrefix)
	}
	return out
}

func pick[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }

func raws(evs []genEvent) [][]byte {
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.Raw
	}
	return out
}

// checkEvent asserts that got is want after normalisation: identifiers,
// routing key, skew-corrected time, channel block, order and properties.
// received_at must fall between before and after (the request's span).
func checkEvent(t testing.TB, got decodedEvent, want genEvent, before, after time.Time) {
	t.Helper()
	in := want.In
	where := fmt.Sprintf("event %s (%s)", got.EventID, want.Channel)
	if got.Channel != want.Channel || got.Type != in.Type {
		t.Errorf("%s: channel/type %s/%s, want %s/%s", where, got.Channel, got.Type, want.Channel, in.Type)
	}
	if !slices.Equal(got.Identifiers, want.WantIdentifiers) {
		t.Errorf("%s: identifiers %s, want %s", where, fmtIDs(got.Identifiers), fmtIDs(want.WantIdentifiers))
	}
	if got.Key != want.WantKey {
		t.Errorf("%s: key %q, want %q", where, got.Key, want.WantKey)
	}
	if !got.ClientTime.Equal(want.ClientTime) {
		t.Errorf("%s: client_time %s, want %s", where, got.ClientTime, want.ClientTime)
	}
	rec := got.ReceivedAt
	if rec.Before(before.Truncate(time.Millisecond)) || rec.After(after) {
		t.Errorf("%s: received_at %s outside the request's span [%s, %s]", where, rec, before, after)
	}
	wantTime := want.ClientTime
	if want.SentAt.IsZero() {
		if got.SentAt != nil {
			t.Errorf("%s: sent_at %s, want none", where, got.SentAt)
		}
	} else {
		if got.SentAt == nil || !got.SentAt.Equal(want.SentAt) {
			t.Errorf("%s: sent_at %v, want %s", where, got.SentAt, want.SentAt)
		}
		wantTime = want.ClientTime.Add(rec.Sub(want.SentAt)) // timestamp + (received_at − sent_at)
	}
	if !got.EventTime.Equal(wantTime) {
		t.Errorf("%s: event_time %s, want %s (client %s, sent %s, received %s)", where, got.EventTime, wantTime, want.ClientTime, want.SentAt, rec)
	}

	blocks := map[string]bool{"web": got.Web != nil, "app": got.App != nil, "store": got.Store != nil, "call": got.Call != nil}
	wantBlock := map[string]string{"web": "web", "app": "app", "store": "store", "phone": "call"}[want.Channel]
	for b, present := range blocks {
		if present != (b == wantBlock) {
			t.Errorf("%s: block %s present=%v, want only %s", where, b, present, wantBlock)
		}
	}
	switch {
	case in.Web != nil && got.Web != nil:
		if str(got.Web.SessionID) != in.Web.SessionID || str(got.Web.URL) != in.Web.URL || str(got.Web.UserAgent) != in.Web.UserAgent {
			t.Errorf("%s: web block %+v, want %+v", where, got.Web, in.Web)
		}
		if in.Web.Referrer == "" && got.Web.Referrer != nil {
			t.Errorf("%s: empty referrer encoded as %q, want null", where, *got.Web.Referrer)
		}
	case in.App != nil && got.App != nil:
		if str(got.App.Platform) != in.App.Platform || str(got.App.Screen) != in.App.Screen || str(got.App.SessionID) != in.App.SessionID {
			t.Errorf("%s: app block %+v, want %+v", where, got.App, in.App)
		}
	case in.Store != nil && got.Store != nil:
		if str(got.Store.StoreID) != in.Store.StoreID || str(got.Store.RegisterID) != in.Store.RegisterID || str(got.Store.StaffID) != in.Store.StaffID {
			t.Errorf("%s: store block %+v, want %+v", where, got.Store, in.Store)
		}
	case in.Call != nil && got.Call != nil:
		c := got.Call
		if str(c.CallID) != in.Call.CallID || str(c.Queue) != in.Call.Queue || c.WaitSeconds == nil || *c.WaitSeconds != *in.Call.WaitSeconds || str(c.AgentID) != in.Call.AgentID {
			t.Errorf("%s: call block %+v, want %+v", where, c, in.Call)
		}
	}

	switch {
	case in.Order == nil && got.Order != nil:
		t.Errorf("%s: order %+v, want none", where, got.Order)
	case in.Order != nil:
		o := got.Order
		if o == nil || o.Total == nil || *o.Total != *in.Order.Total || str(o.OrderID) != in.Order.OrderID || len(o.Items) != 1 ||
			o.Items[0] != wireOrderItem(in.Order.Items[0]) {
			t.Errorf("%s: order %+v, want %+v", where, o, in.Order)
		} else if want := toUpperASCII(in.Order.Currency); str(o.Currency) != want {
			t.Errorf("%s: currency %q, want %q (upper-cased)", where, str(o.Currency), want)
		}
	}
	switch {
	case in.Survey == nil && got.Survey != nil:
		t.Errorf("%s: survey %+v, want none", where, got.Survey)
	case in.Survey != nil:
		if s := got.Survey; s == nil || s.Kind != in.Survey.Kind || s.Score != *in.Survey.Score {
			t.Errorf("%s: survey %+v, want %+v", where, got.Survey, in.Survey)
		}
	}
	if len(got.Properties) != len(in.Properties) {
		t.Errorf("%s: properties %v, want %v", where, got.Properties, in.Properties)
	}
	for k, v := range in.Properties {
		if got.Properties[k] != v {
			t.Errorf("%s: property %s = %#v, want %#v", where, k, got.Properties[k], v)
		}
	}
}

func toUpperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
