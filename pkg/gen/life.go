package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/normalize"
)

// Placeholders that ingest's default blocklist flags (normalize.DefaultBlocklistRules):
// kept on the event, never linked.
const (
	placeholderEmail   = "test@test.com" // a cashier's habit when the customer declines an e-receipt
	placeholderLoyalty = "unknown"       // an agent's entry when the caller has no card to hand
)

// genEvent is one valid event as generated: what the truth needs, and its bytes.
type genEvent struct {
	id      string
	channel string
	typ     string
	at      int64 // event time, epoch ms, exactly as ingest will parse it
	arrival int64 // when the channel sends it, epoch ms (ordering only)
	person  int
	ids     []gid // normalised identifiers, in priority order
	body    []byte
	late    bool // uploaded hours after it happened (offline till)
}

// gid is a normalised identifier: "type:value", and whether ingest flags it
// blocked.
type gid struct {
	key     string
	blocked bool
}

// input is the ingest API's input event (DESIGN.md "Input event"). Blocks are
// pkg/event's types, which carry the contract's JSON names.
type input struct {
	EventID     string          `json:"event_id,omitempty"`
	Type        string          `json:"type"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Identifiers *identifiers    `json:"identifiers"`
	Properties  *properties     `json:"properties,omitempty"`
	Web         *event.Web      `json:"web,omitempty"`
	App         *event.App      `json:"app,omitempty"`
	Store       *event.Store    `json:"store,omitempty"`
	Order       *event.Order    `json:"order,omitempty"`
	Call        *event.Call     `json:"call,omitempty"`
	Survey      *event.Survey   `json:"survey,omitempty"`
}

// identifiers holds raw values as the channel sends them.
type identifiers struct {
	UserID       string `json:"user_id,omitempty"`
	LoyaltyID    string `json:"loyalty_id,omitempty"`
	Email        string `json:"email,omitempty"`
	Phone        string `json:"phone,omitempty"`
	PaymentToken string `json:"payment_token,omitempty"`
	DeviceID     string `json:"device_id,omitempty"`
	AnonymousID  string `json:"anonymous_id,omitempty"`
}

// properties are the free-form extras the channels send (strings, numbers, bools).
type properties struct {
	SKU       string  `json:"sku,omitempty"`
	Category  string  `json:"category,omitempty"`
	Price     float64 `json:"price,omitempty"`
	Quantity  float64 `json:"quantity,omitempty"`
	Query     string  `json:"query,omitempty"`
	Results   float64 `json:"results,omitempty"`
	Payment   string  `json:"payment,omitempty"`
	Guest     bool    `json:"guest,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Transfers float64 `json:"transfers,omitempty"`
	Leg       float64 `json:"leg,omitempty"`
	Campaign  string  `json:"campaign,omitempty"`
	Source    string  `json:"source,omitempty"`
}

// Timestamp styles: each channel's systems write times their own way, all of
// which ingest accepts.
const (
	tsISOMillis = iota // web SDK: 2026-10-05T14:03:11.123Z
	tsEpochMs          // app SDK: 1791209000123 (a JSON number)
	tsPOS              // tills: "2026-10-05 14:03:11" (UTC, whole seconds)
	tsOffset           // phone system: 2026-10-05T14:03:11+00:00 (whole seconds)
)

var channelTimestamps = map[string]int{
	event.ChannelWeb: tsISOMillis, event.ChannelApp: tsEpochMs, event.ChannelStore: tsPOS, event.ChannelPhone: tsOffset,
}

// order is a purchase the person may later call about or return.
type order struct {
	id       string
	event    *genEvent
	items    []event.OrderItem
	category int
	token    string // card paid with; "" for cash
	loyalty  bool   // loyalty card scanned
	online   bool
}

// life plays one person's weeks. It draws only from its own stream.
type life struct {
	w      *world
	p      *person
	rng    *rand.Rand
	events []*genEvent
	buf    []byte

	anonIDs     int  // anonymous ids the person has had (cleared cookies)
	appLoggedIn bool // the app on the person's phone remembers the login
	lateUntil   int64
}

// maxAnonIDs keeps every person well under the identity rules' limit of 100
// anonymous ids per profile (a limit would make linking order-dependent).
const maxAnonIDs = 40

// live plays every person's life and returns their valid events, in person
// order. Lives are independent (each person draws from a stream of their
// own and changes only their own state), so they are played in parallel
// chunks and the result does not depend on the scheduling.
func (w *world) live() []*genEvent {
	const chunk = 128
	chunks := make([][]*genEvent, (len(w.persons)+chunk-1)/chunk)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= len(chunks) {
					return
				}
				var evs []*genEvent
				for _, p := range w.persons[c*chunk : min((c+1)*chunk, len(w.persons))] {
					l := &life{w: w, p: p, rng: rand.New(rand.NewPCG(w.cfg.Seed, splitmix(uint64(p.idx)+1)))}
					l.play()
					evs = append(evs, l.events...)
				}
				chunks[c] = evs
			}
		}()
	}
	wg.Wait()
	return slices.Concat(chunks...)
}

// Kinds of journeys.
const (
	journeyResearchStore = iota // research online, then buy in a store
	journeyOnline               // research, then order online
	journeyBrowse               // look around, buy nothing
	journeyStore                // just walk into a store
	journeyCall                 // call the contact centre with a question
	journeyKinds
)

func (l *life) play() {
	weeks := float64(l.w.cfg.Days) / 7
	n := poisson(l.rng, l.p.activity*weeks)
	if n == 0 {
		n = 1 // everyone simulated does something
	}
	type journey struct {
		at   int64
		kind int
	}
	js := make([]journey, n)
	for i := range js {
		js[i] = journey{at: l.w.start + l.rng.Int64N(l.w.end-l.w.start), kind: l.journeyKind()}
	}
	slices.SortFunc(js, func(a, b journey) int { return cmpInt64(a.at, b.at) })
	for _, j := range js {
		day := dayOf(j.at)
		switch j.kind {
		case journeyResearchStore:
			cat := pick(l.rng, l.p.likes)
			var wanted []int
			for range 1 + l.rng.IntN(2) {
				before := int64(l.rng.IntN(5)) * dayMs
				if s := l.session(l.timeOfDay(day-before, hoursBrowse), cat, intentResearch); s != nil {
					wanted = append(wanted, s.viewed...)
				}
			}
			if o := l.storeVisit(l.timeOfDay(day, hoursStore), cat, wanted); o != nil {
				l.afterPurchase(o)
			}
		case journeyOnline:
			cat := pick(l.rng, l.p.likes)
			if l.rng.Float64() < 0.5 {
				l.session(l.timeOfDay(day-int64(1+l.rng.IntN(3))*dayMs, hoursBrowse), cat, intentResearch)
			}
			if s := l.session(l.timeOfDay(day, hoursBrowse), cat, intentBuy); s != nil && s.order != nil {
				l.afterPurchase(s.order)
			}
		case journeyBrowse:
			l.session(l.timeOfDay(day, hoursBrowse), pick(l.rng, l.p.likes), intentBrowse)
		case journeyStore:
			if o := l.storeVisit(l.timeOfDay(day, hoursStore), pick(l.rng, l.p.likes), nil); o != nil {
				l.afterPurchase(o)
			}
		case journeyCall:
			l.call(l.timeOfDay(day, hoursPhone), pick(l.rng, []string{"product", "complaint", "payment", "order_status"}), 0)
		}
	}
}

func (l *life) journeyKind() int {
	weights := [journeyKinds]float64{journeyResearchStore: 0.30, journeyOnline: 0.21, journeyBrowse: 0.29, journeyStore: 0.15, journeyCall: 0.05}
	if l.p.userID == "" && len(l.p.emails) == 0 {
		weights[journeyOnline] = 0 // no way to check out
	}
	if l.p.phone == nil {
		weights[journeyCall] = 0
	}
	return weighted(l.rng, weights[:])
}

// afterPurchase: what may follow a purchase — a survey, a call about the
// order, a return.
func (l *life) afterPurchase(o *order) {
	at := o.event.at
	if !o.online && l.rng.Float64() < 0.25 {
		l.visitSurvey(o)
	}
	if o.online && o.event.channel == event.ChannelApp && l.p.app != nil && l.rng.Float64() < 0.15 {
		l.appSurvey(o)
	}
	callRate := 0.08
	reasons := []string{"product", "refund", "payment"}
	if o.online {
		callRate, reasons = 0.25, []string{"delivery_date", "order_status", "order_status", "payment"}
	}
	if l.rng.Float64() < callRate {
		day := dayOf(at) + int64(1+l.rng.IntN(5))*dayMs
		l.call(l.timeOfDay(day, hoursPhone), pick(l.rng, reasons), 0)
	}
	if l.rng.Float64() < categories[o.category].returnRate*1.5 {
		day := dayOf(at) + int64(2+l.rng.IntN(13))*dayMs
		if l.rng.Float64() < 0.15 {
			l.call(l.timeOfDay(day-dayMs, hoursPhone), "return", 0)
		}
		l.storeReturn(l.timeOfDay(day, hoursStore), o)
	}
}

// Intents of a browsing session.
const (
	intentBrowse = iota
	intentResearch
	intentBuy
)

// sessionResult is what a session leaves behind.
type sessionResult struct {
	viewed []int // catalogue indices
	order  *order
}

// session is a web or app session, on the person's own devices or the
// household's tablet.
func (l *life) session(at int64, cat, intent int) *sessionResult {
	if at < l.w.start || at >= l.w.end {
		return nil
	}
	if h := l.p.household; h != nil && l.rng.Float64() < 0.35 {
		return l.tabletSession(at, cat, intent)
	}
	if l.p.app != nil && l.rng.Float64() < 0.45 {
		return l.appSession(at, cat, intent)
	}
	return l.webSession(at, cat, intent)
}

// webSession: anonymous until the person logs in; account holders may log
// in, anyone with an email may check out as a guest.
func (l *life) webSession(at int64, cat, intent int) *sessionResult {
	p, rng := l.p, l.rng
	b := pick(rng, p.browsers)
	if b.anon == "" || (rng.Float64() < 0.15 && l.anonIDs < maxAnonIDs) {
		b.anon = uuidString(rng) // a cleared cookie or a new browser profile
		l.anonIDs++
	}
	sid := "ws-" + randHex(rng, 12)
	ids := idList{{typ: "anonymous_id", raw: b.anon}}
	web := func(path, title, referrer string) func(*input) {
		return func(in *input) {
			in.Web = &event.Web{URL: siteURL + path, Title: title, Referrer: referrer, SessionID: sid, UserAgent: b.ua}
		}
	}
	res := &sessionResult{}
	c := categories[cat]
	ref := pick(rng, referrers)
	var landing fill
	if ref == "https://mail.example.com/" {
		landing = withProps(&properties{Campaign: "autumn-" + c.name, Source: "email"})
	}
	at = l.emit(event.ChannelWeb, "page_view", at, ids, web("/"+c.name, capitalise(c.name), ref), landing)
	loggedIn := false
	login := func() {
		if loggedIn || p.userID == "" {
			return
		}
		loggedIn = true
		at = l.emit(event.ChannelWeb, "login", l.next(at), idList{{typ: "user_id", raw: p.userID}, l.emailID(p.emails[0]), ids[0]},
			web("/account/login", "Sign in", ""))
		ids = idList{{typ: "user_id", raw: p.userID}, ids[0]}
	}
	if p.userID != "" && rng.Float64() < 0.3 {
		login()
	}
	for range 1 + geometric(rng, 0.35) {
		switch x := rng.Float64(); {
		case x < 0.2:
			q := pick(rng, c.queries)
			at = l.emit(event.ChannelWeb, "search", l.next(at), ids, web("/search?q="+urlQuery(q), "Search", ""),
				withProps(&properties{Query: q, Results: float64(len(l.w.byCategory[cat]))}))
		case x < 0.8:
			pi := pick(rng, l.w.byCategory[cat])
			pr := l.w.catalogue[pi]
			res.viewed = append(res.viewed, pi)
			at = l.emit(event.ChannelWeb, "product_view", l.next(at), ids, web("/p/"+pr.sku, pr.name, ""),
				withProps(&properties{SKU: pr.sku, Category: pr.category, Price: pr.price}))
		default:
			at = l.emit(event.ChannelWeb, "page_view", l.next(at), ids, web("/"+c.name+"?page=2", capitalise(c.name), ""), nil)
		}
	}
	if len(res.viewed) > 0 && (intent == intentBuy || rng.Float64() < 0.25) {
		pr := l.w.catalogue[res.viewed[len(res.viewed)-1]]
		at = l.emit(event.ChannelWeb, "add_to_cart", l.next(at), ids, web("/basket", "Basket", ""),
			withProps(&properties{SKU: pr.sku, Price: pr.price, Quantity: 1}))
	}
	if intent == intentBuy && len(res.viewed) > 0 {
		login()
		o := l.newOrder(cat, res.viewed, "web-")
		o.online, o.token = true, pick(rng, p.tokens)
		var buyer idList
		guest := false
		switch {
		case loggedIn:
			buyer = idList{{typ: "user_id", raw: p.userID}, ids[len(ids)-1], {typ: "payment_token", raw: o.token}}
		case len(p.emails) > 0:
			guest = true
			buyer = idList{l.emailID(p.emails[0]), ids[0], {typ: "payment_token", raw: o.token}}
		}
		if buyer != nil {
			o.event = l.emitEvent(event.ChannelWeb, "order_completed", l.next(at), buyer, web("/checkout/done", "Thank you", ""),
				withOrder(o), withProps(&properties{Payment: "card", Guest: guest}))
			if o.event != nil {
				res.order = o
			}
		}
	} else if !loggedIn && len(p.emails) > 0 && rng.Float64() < 0.04 {
		l.emit(event.ChannelWeb, "newsletter_signup", l.next(at), idList{l.emailID(p.emails[0]), ids[0]}, web("/newsletter", "Newsletter", ""), nil)
	}
	return res
}

// appSession: the app on the person's phone. It stays logged in once the
// person logs in; before that its events carry only the device and the app's
// anonymous id.
func (l *life) appSession(at int64, cat, intent int) *sessionResult {
	p, rng, in := l.p, l.rng, l.p.app
	sid := "as-" + randHex(rng, 12)
	app := func(screen string) func(*input) {
		return func(i *input) {
			i.App = &event.App{Platform: in.platform, AppVersion: in.version, Screen: screen, SessionID: sid}
		}
	}
	device := idItem{typ: "device_id", raw: in.device}
	anon := idItem{typ: "anonymous_id", raw: in.anon}
	ids := idList{device, anon}
	if l.appLoggedIn {
		ids = idList{{typ: "user_id", raw: p.userID}, device, anon}
	}
	at = l.emit(event.ChannelApp, "app_open", at, ids, app("home"), nil)
	if !l.appLoggedIn && (intent == intentBuy || rng.Float64() < 0.5) {
		l.appLoggedIn = true
		ids = idList{{typ: "user_id", raw: p.userID}, device, anon}
		at = l.emit(event.ChannelApp, "login", l.next(at), idList{ids[0], l.emailID(p.emails[0]), device, anon}, app("login"), nil)
	}
	res := &sessionResult{}
	for range 1 + geometric(rng, 0.4) {
		if rng.Float64() < 0.2 {
			q := pick(rng, categories[cat].queries)
			at = l.emit(event.ChannelApp, "search", l.next(at), ids, app("search"), withProps(&properties{Query: q}))
			continue
		}
		pi := pick(rng, l.w.byCategory[cat])
		pr := l.w.catalogue[pi]
		res.viewed = append(res.viewed, pi)
		at = l.emit(event.ChannelApp, "product_view", l.next(at), ids, app("product"),
			withProps(&properties{SKU: pr.sku, Category: pr.category, Price: pr.price}))
	}
	if p.loyaltyID != "" && l.appLoggedIn && rng.Float64() < 0.15 {
		at = l.emit(event.ChannelApp, "loyalty_card_viewed", l.next(at), idList{ids[0], {typ: "loyalty_id", raw: p.loyaltyID}, device}, app("wallet"), nil)
	}
	if intent == intentBuy && l.appLoggedIn && len(res.viewed) > 0 {
		pr := l.w.catalogue[res.viewed[len(res.viewed)-1]]
		at = l.emit(event.ChannelApp, "add_to_cart", l.next(at), ids, app("basket"), withProps(&properties{SKU: pr.sku, Price: pr.price, Quantity: 1}))
		o := l.newOrder(cat, res.viewed, "app-")
		o.online, o.token = true, pick(rng, p.tokens)
		o.event = l.emitEvent(event.ChannelApp, "order_completed", l.next(at), idList{ids[0], device, {typ: "payment_token", raw: o.token}},
			app("checkout"), withOrder(o), withProps(&properties{Payment: "card"}))
		if o.event != nil {
			res.order = o
		}
	}
	return res
}

// tabletSession: the household's family tablet. Both members browse on it;
// only the household's owner ever logs in, and logs out at the end.
func (l *life) tabletSession(at int64, cat, intent int) *sessionResult {
	p, rng, h := l.p, l.rng, l.p.household
	t := h.tablet
	sid := "as-" + randHex(rng, 12)
	app := func(screen string) func(*input) {
		return func(i *input) {
			i.App = &event.App{Platform: t.platform, AppVersion: t.version, Screen: screen, SessionID: sid}
		}
	}
	ids := idList{{typ: "device_id", raw: t.device}, {typ: "anonymous_id", raw: t.anon}}
	at = l.emit(event.ChannelApp, "app_open", at, ids, app("home"), nil)
	if h.owner == p && (intent == intentBuy || rng.Float64() < 0.4) {
		ids = idList{{typ: "user_id", raw: p.userID}, ids[0], ids[1]}
		at = l.emit(event.ChannelApp, "login", l.next(at), ids, app("login"), nil)
	}
	res := &sessionResult{}
	for range 1 + geometric(rng, 0.4) {
		pi := pick(rng, l.w.byCategory[cat])
		pr := l.w.catalogue[pi]
		res.viewed = append(res.viewed, pi)
		at = l.emit(event.ChannelApp, "product_view", l.next(at), ids, app("product"),
			withProps(&properties{SKU: pr.sku, Category: pr.category, Price: pr.price}))
	}
	if intent == intentBuy && len(ids) == 3 && len(res.viewed) > 0 {
		o := l.newOrder(cat, res.viewed, "app-")
		o.online, o.token = true, pick(rng, p.tokens)
		o.event = l.emitEvent(event.ChannelApp, "order_completed", l.next(at), append(slices.Clone(ids), idItem{typ: "payment_token", raw: o.token}),
			app("checkout"), withOrder(o), withProps(&properties{Payment: "card"}))
		if o.event != nil {
			res.order = o
		}
	}
	return res
}

// storeVisit: a loyalty scan and a purchase at a till. The till records a
// card token, the loyalty card, sometimes an e-receipt email or a phone
// number — and, for some loyalty purchases, the shop's own number.
func (l *life) storeVisit(at int64, cat int, wanted []int) *order {
	p, rng := l.p, l.rng
	if at < l.w.start || at >= l.w.end {
		return nil
	}
	s := l.w.stores[p.homeStore]
	if rng.Float64() < 0.2 {
		s = pick(rng, l.w.stores)
	}
	till := &event.Store{StoreID: s.id, RegisterID: "R-" + strconv.Itoa(1+rng.IntN(s.registers)),
		StaffID: fmt.Sprintf("st-%s-%02d", s.id[2:], 1+rng.IntN(s.staff))}
	pos := func(i *input) { i.Store = till }
	if rng.Float64() < l.w.cfg.LateRate {
		l.lateUntil = at + int64(2+rng.IntN(10))*hourMs // the till was offline until evening
	}
	defer func() { l.lateUntil = 0 }()

	scan := p.loyaltyID != "" && rng.Float64() < 0.9
	loyalty := idItem{typ: "loyalty_id", raw: p.loyaltyID}
	if scan {
		at = l.emit(event.ChannelStore, "loyalty_scan", at, idList{loyalty}, pos, nil)
	}
	o := l.newOrder(cat, wanted, "o-"+s.id+"-")
	o.loyalty = scan
	var ids idList
	pay := "cash"
	if rng.Float64() < 0.85 {
		o.token, pay = pick(rng, p.tokens), "card"
		ids = append(ids, idItem{typ: "payment_token", raw: o.token})
	}
	if scan {
		ids = append(ids, loyalty)
	}
	if rng.Float64() < 0.35 { // e-receipt
		switch {
		case rng.Float64() < 0.06:
			ids = append(ids, idItem{typ: "email", raw: placeholderEmail, norm: placeholderEmail, blocked: true})
		case len(p.emails) > 0:
			e := pick(rng, p.emails)
			ids = append(ids, idItem{typ: "email", raw: " " + e.raw + " ", norm: e.norm}) // typed at the till
		}
	}
	walkIn := scan && at >= l.w.walkInFrom && rng.Float64() < l.w.cfg.WalkInRate
	switch {
	case walkIn:
		ids = append(ids, idItem{typ: "phone", raw: s.walkIn, key: s.walkInKey})
	case p.phone != nil && rng.Float64() < 0.1:
		ids = append(ids, l.phoneID(0))
	}
	if !ids.linkable() {
		return nil // an anonymous cash sale: the till sends nothing
	}
	o.event = l.emitEvent(event.ChannelStore, "purchase", l.next(at), ids, pos, withOrder(o), withProps(&properties{Payment: pay}))
	if o.event == nil {
		return nil
	}
	return o
}

// storeReturn: part of an order comes back to a store, refunded to the card
// (or in cash against the loyalty card).
func (l *life) storeReturn(at int64, o *order) {
	p, rng := l.p, l.rng
	s := l.w.stores[p.homeStore]
	var ids idList
	if o.token != "" {
		ids = append(ids, idItem{typ: "payment_token", raw: o.token})
	}
	if p.loyaltyID != "" && (o.loyalty || rng.Float64() < 0.5) {
		ids = append(ids, idItem{typ: "loyalty_id", raw: p.loyaltyID})
	}
	if !ids.linkable() {
		return // a cash refund against the receipt: nothing identifies the customer
	}
	it := pick(rng, o.items)
	refund := -math.Round(it.Price*it.Quantity*100) / 100
	till := &event.Store{StoreID: s.id, RegisterID: "R-" + strconv.Itoa(1+rng.IntN(s.registers)),
		StaffID: fmt.Sprintf("st-%s-%02d", s.id[2:], 1+rng.IntN(s.staff))}
	reasons := []string{"wrong size", "changed mind", "faulty", "not as described", "gift"}
	l.emit(event.ChannelStore, "return", at, ids, func(i *input) {
		i.Store = till
		i.Order = &event.Order{OrderID: o.id, Total: &refund, Currency: currency, Items: []event.OrderItem{it}}
	}, withProps(&properties{Reason: pick(rng, reasons)}))
}

// call: an inbound call to the contact centre: a wait in a queue, maybe a
// transfer, maybe an abandon and a call back, maybe an IVR survey after.
func (l *life) call(at int64, reason string, attempt int) {
	p, rng := l.p, l.rng
	if at < l.w.start || at >= l.w.end {
		return
	}
	callerID := p.phone != nil && rng.Float64() < 0.9 // else the number is withheld
	callID := "c-" + randHex(rng, 10)
	queue := queuesByReason[reason]
	wait := waitSeconds(rng, at)
	abandoned := rng.Float64() < math.Min(0.7, wait/900)
	if abandoned {
		if !callerID {
			return // nothing identifies an abandoned withheld call
		}
		hs := 0.0
		l.emit(event.ChannelPhone, "call", at, idList{l.phoneID(1)}, withCall(&event.Call{
			CallID: callID, Direction: "inbound", Queue: queue, WaitSeconds: &wait, HandleSeconds: &hs,
			Outcome: "abandoned", Reason: reason,
		}), withID("cc-"+callID+"-1"))
		if attempt < 2 && rng.Float64() < 0.6 { // they try again later
			l.call(at+int64(wait*1000)+int64(5+rng.IntN(120))*minuteMs, reason, attempt+1)
		}
		return
	}
	// The agent identifies the caller.
	var ids idList
	if callerID {
		ids = append(ids, l.phoneID(1))
	}
	switch x := rng.Float64(); {
	case x < 0.03:
		ids = append(ids, idItem{typ: "loyalty_id", raw: placeholderLoyalty, norm: placeholderLoyalty, blocked: true})
	case x < 0.25 && p.loyaltyID != "":
		ids = append(ids, idItem{typ: "loyalty_id", raw: p.loyaltyID})
	case x < 0.45 && len(p.emails) > 0:
		ids = append(ids, l.emailID(pick(rng, p.emails)))
	case x < 0.6 && p.userID != "":
		ids = append(ids, idItem{typ: "user_id", raw: p.userID})
	}
	if !ids.linkable() {
		switch {
		case p.loyaltyID != "":
			ids = append(ids, idItem{typ: "loyalty_id", raw: p.loyaltyID})
		case len(p.emails) > 0:
			ids = append(ids, l.emailID(p.emails[0]))
		default:
			return // an unidentified caller: the system logs nothing useful
		}
	}
	agent := func() string { return fmt.Sprintf("ag-%03d", 1+rng.IntN(agents)) }
	transfers := 0.0
	leg := 1.0
	if rng.Float64() < 0.15 { // the first agent passes the call on
		hs := float64(30 + rng.IntN(120))
		at = l.emit(event.ChannelPhone, "call", at, ids, withCall(&event.Call{
			CallID: callID, Direction: "inbound", Queue: "general", WaitSeconds: &wait, HandleSeconds: &hs,
			Outcome: "transferred", AgentID: agent(), Reason: reason,
		}), withID("cc-"+callID+"-1"), withProps(&properties{Leg: 1}))
		at += int64((wait + hs) * 1000)
		wait = waitSeconds(rng, at) / 2
		transfers, leg = 1, 2
	}
	handle := math.Round(math.Min(3600, 60+math.Exp(5.3+rng.NormFloat64()*0.6)))
	outcome := "resolved"
	if rng.Float64() < 0.15 {
		outcome = "unresolved"
	}
	e := l.emitEvent(event.ChannelPhone, "call", at, ids, withCall(&event.Call{
		CallID: callID, Direction: "inbound", Queue: queue, WaitSeconds: &wait, HandleSeconds: &handle,
		Outcome: outcome, AgentID: agent(), Reason: reason,
	}), withID("cc-"+callID+"-"+strconv.Itoa(int(leg))), withProps(&properties{Leg: leg, Transfers: transfers}))
	if e == nil || !callerID || rng.Float64() >= 0.35 {
		return
	}
	// The IVR survey right after the call, keyed by the caller's number. The
	// IVR sends no event id: ingest derives one from the body.
	sat := 0.8 + rng.NormFloat64()*0.15
	if wait > 300 {
		sat -= 0.25
	}
	if transfers > 0 {
		sat -= 0.15
	}
	if outcome != "resolved" {
		sat -= 0.3
	}
	if attempt > 0 {
		sat -= 0.1
	}
	kind := "csat"
	if rng.Float64() < 0.4 {
		kind = "ces"
	}
	when := e.at + int64(handle*1000) + 20_000
	l.emit(event.ChannelPhone, "survey_response", when, idList{l.phoneID(1)}, withSurvey(l.survey(kind, sat, e.id)), nil)
}

// visitSurvey: the survey emailed after a store visit, answered on the web.
func (l *life) visitSurvey(o *order) {
	var to *email
	for _, id := range o.event.ids {
		for i := range l.p.emails {
			if id.key == "email:"+l.p.emails[i].norm {
				to = &l.p.emails[i]
			}
		}
	}
	if to == nil && o.loyalty && len(l.p.emails) > 0 {
		to = &l.p.emails[0] // the loyalty programme knows the address
	}
	if to == nil {
		return
	}
	sat := 0.78 + l.rng.NormFloat64()*0.18
	kind := "csat"
	if l.rng.Float64() < 0.4 {
		kind = "nps"
	}
	at := o.event.at + int64(2+l.rng.IntN(28))*hourMs
	ref := "r-" + randHex(l.rng, 10)
	// The survey tool stores the address it mailed, already lower-case.
	l.emit(event.ChannelWeb, "survey_response", at, idList{{typ: "email", raw: to.norm}},
		func(i *input) { i.Web = &event.Web{URL: "https://survey.shop.example/" + ref, Title: "How did we do?"} },
		withSurvey(l.survey(kind, sat, o.event.id)))
}

// appSurvey: the in-app NPS prompt after an order in the app on the
// person's own phone (the family tablet does not prompt).
func (l *life) appSurvey(o *order) {
	if !slices.ContainsFunc(o.event.ids, func(id gid) bool { return id.key == "device_id:"+l.p.app.device }) {
		return
	}
	ids := idList{{typ: "user_id", raw: l.p.userID}, {typ: "device_id", raw: l.p.app.device}}
	sat := 0.8 + l.rng.NormFloat64()*0.15
	at := o.event.at + int64(1+l.rng.IntN(72))*hourMs
	l.emit(event.ChannelApp, "survey_response", at, ids, func(i *input) {
		i.App = &event.App{Platform: l.p.app.platform, AppVersion: l.p.app.version, Screen: "feedback"}
	}, withSurvey(l.survey("nps", sat, o.event.id)))
}

var lowScoreComments = []string{"waited too long", "had to repeat myself", "still no delivery date", "staff were great but the queue was long", "item out of stock"}

// survey turns a satisfaction in [0,1] into an answer of the given kind.
func (l *life) survey(kind string, sat float64, about string) *event.Survey {
	sat = math.Max(0, math.Min(1, sat))
	var score, scale float64
	switch kind {
	case "csat":
		score, scale = 1+math.Round(sat*4), 5
	case "nps":
		score, scale = math.Round(sat*10), 10
	default: // ces: 1 = very easy, 7 = very hard
		score, scale = 1+math.Round((1-sat)*6), 7
	}
	s := &event.Survey{Kind: kind, Score: &score, ScaleMax: &scale, AboutEventID: about}
	if sat < 0.5 && l.rng.Float64() < 0.5 {
		s.Comment = pick(l.rng, lowScoreComments)
	}
	return s
}

// newOrder fills a basket: what the person looked at online, maybe more.
func (l *life) newOrder(cat int, wanted []int, prefix string) *order {
	rng := l.rng
	var picks []int
	for _, pi := range wanted {
		if rng.Float64() < 0.7 && !slices.Contains(picks, pi) {
			picks = append(picks, pi)
		}
	}
	for len(picks) == 0 || (len(picks) < 4 && rng.Float64() < 0.3) {
		c := cat
		if rng.Float64() < 0.3 {
			c = rng.IntN(len(categories))
		}
		if pi := pick(rng, l.w.byCategory[c]); !slices.Contains(picks, pi) {
			picks = append(picks, pi)
		}
	}
	o := &order{id: prefix + randHex(rng, 10), category: cat}
	for _, pi := range picks {
		pr := l.w.catalogue[pi]
		q := 1.0
		if rng.Float64() < 0.1 {
			q = 2
		}
		o.items = append(o.items, event.OrderItem{SKU: pr.sku, Quantity: q, Price: pr.price})
	}
	return o
}

// idItem is an identifier as the channel sends it. norm and key are filled
// from the person's precomputed forms where the raw form is not already
// normalised.
type idItem struct {
	typ, raw string
	norm     string // normalised value when it differs from raw
	key      string // "type:norm" when known
	blocked  bool
}

type idList []idItem

// linkable reports whether the list holds an identifier that is not blocked
// (an event with only placeholders would be a customer of its own).
func (l idList) linkable() bool {
	return slices.ContainsFunc(l, func(i idItem) bool { return !i.blocked })
}

func (l *life) emailID(e email) idItem {
	return idItem{typ: "email", raw: e.raw, norm: e.norm}
}

// phoneID is the person's number in form i (0 tills, 1 phone system, 2 web forms).
func (l *life) phoneID(form int) idItem {
	return idItem{typ: "phone", raw: l.p.phone.raws[form], norm: l.p.phone.norm}
}

type fill func(*input)

func withProps(p *properties) fill { return func(i *input) { i.Properties = p } }
func withCall(c *event.Call) fill  { return func(i *input) { i.Call = c } }
func withSurvey(s *event.Survey) fill {
	return func(i *input) { i.Survey = s }
}
func withID(id string) fill { return func(i *input) { i.EventID = id } }

func withOrder(o *order) fill {
	return func(i *input) {
		var total float64
		for _, it := range o.items {
			total += it.Price * it.Quantity
		}
		total = math.Round(total*100) / 100
		i.Order = &event.Order{OrderID: o.id, Total: &total, Currency: currency, Items: o.items}
	}
}

// emit records an event and returns its time (at, or at unchanged when the
// event falls outside the period and is dropped).
func (l *life) emit(channel, typ string, at int64, ids idList, fills ...fill) int64 {
	l.emitEvent(channel, typ, at, ids, fills...)
	return at
}

// emitEvent encodes an event and records it, or returns nil when its time
// falls outside the period.
func (l *life) emitEvent(channel, typ string, at int64, ids idList, fills ...fill) *genEvent {
	if at < l.w.start || at >= l.w.end {
		return nil
	}
	style := channelTimestamps[channel]
	if style == tsPOS || style == tsOffset {
		at -= at % 1000 // whole seconds: the time ingest will parse
	}
	in := input{Type: typ, Timestamp: timestamp(style, at), Identifiers: &identifiers{}}
	for _, f := range fills {
		if f != nil {
			f(&in)
		}
	}
	if in.EventID == "" && !(channel == event.ChannelPhone && typ == "survey_response") {
		switch channel {
		case event.ChannelStore:
			in.EventID = "pos-" + randHex(l.rng, 20)
		default:
			in.EventID = uuidString(l.rng)
		}
	}
	e := &genEvent{channel: channel, typ: typ, at: at, person: l.p.idx, ids: make([]gid, 0, len(ids))}
	for _, id := range ids {
		setIdentifier(in.Identifiers, id.typ, id.raw)
		key := id.key
		if key == "" {
			norm := id.norm
			if norm == "" {
				norm = id.raw
			}
			key = id.typ + ":" + norm
		}
		e.ids = append(e.ids, gid{key: key, blocked: id.blocked})
	}
	slices.SortFunc(e.ids, func(a, b gid) int { return compareKeys(a.key, b.key) })
	l.buf = l.buf[:0]
	var err error
	l.buf, err = json.Append(l.buf, &in, 0)
	if err != nil {
		// Only our own plain structs are encoded: a failure is a bug here.
		panic(fmt.Sprintf("gen: encoding an event: %v", err))
	}
	e.body = slices.Clone(l.buf)
	e.id = in.EventID
	if e.id == "" {
		e.id = normalize.EventID(channel, e.body)
	}
	e.arrival = at + int64(50+l.rng.IntN(3000))
	if channel == event.ChannelPhone && in.Call != nil && in.Call.HandleSeconds != nil {
		e.arrival += int64(*in.Call.HandleSeconds * 1000) // written when the call ends
	}
	if l.lateUntil > at && channel == event.ChannelStore {
		e.arrival, e.late = l.lateUntil, true
	}
	l.events = append(l.events, e)
	return e
}

func setIdentifier(ids *identifiers, typ, raw string) {
	switch typ {
	case "user_id":
		ids.UserID = raw
	case "loyalty_id":
		ids.LoyaltyID = raw
	case "email":
		ids.Email = raw
	case "phone":
		ids.Phone = raw
	case "payment_token":
		ids.PaymentToken = raw
	case "device_id":
		ids.DeviceID = raw
	case "anonymous_id":
		ids.AnonymousID = raw
	default:
		panic("gen: unknown identifier type " + typ)
	}
}

func timestamp(style int, ms int64) json.RawMessage {
	t := time.UnixMilli(ms).UTC()
	switch style {
	case tsEpochMs:
		return strconv.AppendInt(nil, ms, 10)
	case tsPOS:
		return strconv.AppendQuote(nil, t.Format("2006-01-02 15:04:05"))
	case tsOffset:
		return strconv.AppendQuote(nil, t.Format("2006-01-02T15:04:05")+"+00:00")
	default:
		return strconv.AppendQuote(nil, t.Format("2006-01-02T15:04:05.000Z"))
	}
}

// Time helpers.
const (
	minuteMs = int64(time.Minute / time.Millisecond)
	hourMs   = int64(time.Hour / time.Millisecond)
	dayMs    = 24 * hourMs
)

// Opening hours (UTC hours, from and to) of the channels.
var (
	hoursBrowse = [2]int{7, 23}
	hoursStore  = [2]int{9, 19}
	hoursPhone  = [2]int{8, 20}
)

func dayOf(ms int64) int64 { return ms - ((ms%dayMs)+dayMs)%dayMs }

// timeOfDay picks a moment within the opening hours of the day starting at
// day. Stores open late and close early on Sundays.
func (l *life) timeOfDay(day int64, hours [2]int) int64 {
	from, to := hours[0], hours[1]
	if hours == hoursStore && time.UnixMilli(day).UTC().Weekday() == time.Sunday {
		from, to = 10, 16
	}
	if hours == hoursBrowse && l.rng.Float64() < 0.5 { // evenings are busiest online
		from = 18
	}
	return day + int64(from)*hourMs + l.rng.Int64N(int64(to-from)*hourMs)
}

// next is the time of a session's next event: 10 seconds to 3 minutes later.
func (l *life) next(at int64) int64 { return at + 10_000 + l.rng.Int64N(170_000) }

// waitSeconds is a queue wait: log-normal around a minute, twice as long at
// lunchtime and after work.
func waitSeconds(rng *rand.Rand, at int64) float64 {
	w := math.Exp(4.1 + rng.NormFloat64()*0.9)
	if h := time.UnixMilli(at).UTC().Hour(); h == 12 || h == 13 || h == 17 || h == 18 {
		w *= 2
	}
	return math.Round(math.Min(w, 1800))
}

// Random helpers.

func poisson(rng *rand.Rand, lambda float64) int {
	// Knuth's method; lambda is small (journeys in a period).
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	limit, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// geometric is the number of failures before the first success of chance p.
func geometric(rng *rand.Rand, p float64) int {
	n := 0
	for rng.Float64() >= p && n < 20 {
		n++
	}
	return n
}

func weighted(rng *rand.Rand, weights []float64) int {
	var total float64
	for _, w := range weights {
		total += w
	}
	x := rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// splitmix is SplitMix64's finaliser: distinct inputs give unrelated seeds.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func urlQuery(q string) string {
	b := []byte(q)
	for i, c := range b {
		if c == ' ' {
			b[i] = '+'
		}
	}
	return string(b)
}
