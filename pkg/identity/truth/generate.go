// Package truth generates retail event streams whose true owners are known, and
// scores an identity resolver against them.
//
// Generate simulates persons shopping across the store, web, app and phone
// channels, including the cases that trip identity graphs up: households that
// share an email or a family tablet, a shop's walk-in phone number typed at the
// till for many customers, email typos, events that arrive late, and placeholder
// values. Evaluate measures pairwise precision and recall of any resolver's
// answer against that ground truth. The package does not depend on the
// resolver, so the identity tests, the CLI generator and end-to-end tests can
// all use it.
package truth

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/normalize"
)

// Config shapes a generated dataset. Zero fields take the defaults; a negative
// rate switches its scenario off.
type Config struct {
	Seed    uint64
	Persons int       // default 1000
	Days    int       // default 30
	Start   time.Time // default 2026-11-01T00:00:00Z
	Stores  int       // physical stores, each with its own walk-in number; default 4

	// HouseholdRate is the share of persons living in a household of 2–4 that
	// shares an email, a family tablet or both; default 0.15.
	HouseholdRate float64
	// WalkInRate is the share of store visits where the till records the shop's
	// walk-in number instead of the customer's own; default 0.05.
	WalkInRate float64
	// TypoRate is the share of emails typed by a customer, a cashier or an agent
	// that come out misspelt; default 0.03.
	TypoRate float64
	// LateRate is the share of events that arrive 1–72 hours after they
	// happened (offline tills, app batches); the rest arrive within seconds.
	// Default 0.03.
	LateRate float64
	// BlockedRate is the chance that an e-receipt email typed at the till is
	// test@test.com, that an agent's loyalty lookup is "unknown", and that an
	// app event's device id is "unknown" (an SDK bug); default 0.05.
	BlockedRate float64
}

// Defaults of Config.
const (
	DefaultPersons       = 1000
	DefaultDays          = 30
	DefaultStores        = 4
	DefaultHouseholdRate = 0.15
	DefaultWalkInRate    = 0.05
	DefaultTypoRate      = 0.03
	DefaultLateRate      = 0.03
	DefaultBlockedRate   = 0.05
)

// DefaultStart is the first day of a dataset when Config.Start is zero.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Why an identifier is in Dataset.Shared.
const (
	SharedHouseholdEmail = "household_email"
	SharedFamilyTablet   = "family_tablet" // the tablet's device_id and its app's anonymous_id
	SharedWalkIn         = "walk_in_number"
	SharedBlocked        = "blocked"
	SharedCollision      = "collision" // generated for two persons by chance (never expected)
)

// Placeholder values ingest flags as blocked (normalize.DefaultBlocklistRules).
const (
	BlockedEmail   = "test@test.com"
	BlockedUnknown = "unknown"
)

// Dataset is a generated event stream and its ground truth. Identifier keys
// are "type:value" with the normalised value.
type Dataset struct {
	// Events in arrival order (ReceivedAt, then event id): a few arrive
	// hours or days after later events.
	Events []*event.Event
	// Owner maps each identifier owned by exactly one person to that person's
	// index (0 ≤ index < Persons), including that person's email typos.
	Owner map[string]int
	// Shared holds the identifiers several persons use, which belong to no
	// one: household emails and tablets, walk-in numbers, blocked values.
	Shared map[string]bool
	// SharedReason says why each Shared identifier is shared (Shared* constants).
	SharedReason map[string]string
	// Households lists the person indices of each household.
	Households [][]int
	// Typos maps each misspelt email's key to the key of the address meant;
	// the misspelling is still its person's identifier (in Owner).
	Typos map[string]string
	// Counts says how often each scenario occurs.
	Counts Counts
}

// Counts are the scenario tallies of a dataset.
type Counts struct {
	Persons              int
	Events               int
	Households           int
	HouseholdMembers     int
	HouseholdEmails      int // households sharing an email
	FamilyTablets        int // households sharing a tablet
	WalkInNumbers        int
	WalkInWithLoyalty    int // store events with a loyalty card and the walk-in number
	WalkInOnly           int // store events with the walk-in number and no loyalty card
	Typos                int // distinct misspelt emails
	TypoEvents           int // events carrying a misspelt email
	LateEvents           int // events arriving an hour or more after they happened
	BlockedEvents        int // events carrying a blocked placeholder
	OwnedIdentifiers     int
	SharedIdentifiers    int
	CollidingIdentifiers int // identifiers two persons got by chance (should be 0)
	EventsWithoutOwner   int // events carrying only shared or blocked identifiers
}

// Generate builds a dataset. The same Config gives the same dataset.
func Generate(cfg Config) Dataset {
	cfg = cfg.withDefaults()
	g := &generator{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		taken:  map[string]bool{},
		users:  map[string][]int{},
		reason: map[string]string{},
	}
	g.makeStores()
	g.makePersons()
	g.makeHouseholds()
	for _, p := range g.persons {
		g.live(p)
	}
	return g.finish()
}

func (c Config) withDefaults() Config {
	if c.Persons <= 0 {
		c.Persons = DefaultPersons
	}
	if c.Days <= 0 {
		c.Days = DefaultDays
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Stores <= 0 {
		c.Stores = DefaultStores
	}
	rate := func(r *float64, def float64) {
		switch {
		case *r == 0:
			*r = def
		case *r < 0:
			*r = 0
		}
	}
	rate(&c.HouseholdRate, DefaultHouseholdRate)
	rate(&c.WalkInRate, DefaultWalkInRate)
	rate(&c.TypoRate, DefaultTypoRate)
	rate(&c.LateRate, DefaultLateRate)
	rate(&c.BlockedRate, DefaultBlockedRate)
	return c
}

// Behaviour of the simulated persons.
const (
	accountRate      = 0.55 // persons with a web account (user_id)
	appRate          = 0.60 // account holders with the app on their phone
	loyaltyRate      = 0.50 // persons with a loyalty card
	emailRate        = 0.90 // persons without an account who still have an email
	secondEmailRate  = 0.20
	phoneRate        = 0.90
	secondBrowser    = 0.30
	newCookieRate    = 0.50 // web sessions that start with a fresh anonymous id
	reinstallRate    = 0.03 // app sessions after a reinstall (fresh anonymous id)
	maxAnonymousIDs  = 60   // well under the per-profile limit of anonymous ids
	maxTypos         = 2    // distinct misspellings per person
	sessionsPer8Days = 1.5  // mean sessions per person per 8 days, beyond the first
	lateMin, lateMax = time.Hour, 72 * time.Hour
)

type generator struct {
	cfg        Config
	rng        *rand.Rand
	taken      map[string]bool  // identifier keys handed out, to keep values unique
	users      map[string][]int // identifier key → persons whose events carry it
	reason     map[string]string
	persons    []*person
	households []*household
	stores     []store
	events     []*event.Event
	counts     Counts
}

type person struct {
	idx       int
	userID    string
	loyaltyID string
	emails    []string // own addresses, primary first
	typos     []string // misspellings of own addresses, in the order made
	meant     []string // the address each typo misspells
	phone     string
	tokens    []string
	app       *install // the app on the person's own phone
	browsers  []*browser
	anonIDs   int
	household *household
	signedUp  bool // loyalty card registered at a till
}

// install is an app installation: the device and the app's anonymous id.
type install struct{ device, anon string }

// browser is a web browser whose cookie holds the anonymous id.
type browser struct{ anon string }

type household struct {
	members []*person
	email   string   // shared email, "" when none
	tablet  *install // family tablet, nil when none
}

type store struct{ id, walkIn string }

func (g *generator) makeStores() {
	for i := range g.cfg.Stores {
		// 020 7946 0xxx: valid London numbers, in E.164 as ingest writes them.
		s := store{id: fmt.Sprintf("S-%02d", i+1), walkIn: fmt.Sprintf("+442079460%03d", i%1000)}
		g.taken["phone:"+s.walkIn] = true
		g.reason["phone:"+s.walkIn] = SharedWalkIn
		g.stores = append(g.stores, s)
	}
	g.counts.WalkInNumbers = len(g.stores)
}

func (g *generator) makePersons() {
	for i := range g.cfg.Persons {
		p := &person{idx: i}
		if g.chance(accountRate) {
			p.userID = g.unique("user_id", func() string { return fmt.Sprintf("u-%07d", g.rng.IntN(10_000_000)) })
			if g.chance(appRate) {
				p.app = g.newInstall()
			}
		}
		if g.chance(loyaltyRate) {
			p.loyaltyID = g.unique("loyalty_id", func() string { return fmt.Sprintf("L-%08d", g.rng.IntN(100_000_000)) })
		}
		if p.userID != "" || g.chance(emailRate) {
			p.emails = append(p.emails, g.newEmail())
			if g.chance(secondEmailRate) {
				p.emails = append(p.emails, g.newEmail())
			}
		}
		if g.chance(phoneRate) {
			// 07911 1xxxxx: valid UK mobiles (the 07700 900xxx drama range is not).
			p.phone = g.unique("phone", func() string { return fmt.Sprintf("+4479111%05d", g.rng.IntN(100_000)) })
		}
		for range 1 + g.rng.IntN(3) {
			p.tokens = append(p.tokens, g.unique("payment_token", func() string { return fmt.Sprintf("tok_%012x", g.rng.Uint64()>>16) }))
		}
		p.browsers = append(p.browsers, &browser{})
		if g.chance(secondBrowser) {
			p.browsers = append(p.browsers, &browser{})
		}
		g.persons = append(g.persons, p)
	}
}

// makeHouseholds groups HouseholdRate of the persons into households of 2–4.
// A household shares an email, a tablet or both. Every member of a household
// sharing an email has a loyalty card registered with it: that is how families
// share an address with a retailer, and it keeps the members distinguishable
// (each card is personal). The first member's web account, if any, uses the
// household email as its login.
func (g *generator) makeHouseholds() {
	order := g.rng.Perm(len(g.persons))
	want := int(g.cfg.HouseholdRate * float64(len(g.persons)))
	for i := 0; i+1 < len(order) && i < want; {
		size := min(2+g.rng.IntN(3), len(order)-i)
		h := &household{}
		for _, idx := range order[i : i+size] {
			p := g.persons[idx]
			p.household = h
			h.members = append(h.members, p)
		}
		i += size
		shareEmail, shareTablet := g.chance(0.6), g.chance(0.6)
		if !shareEmail && !shareTablet {
			shareEmail = g.chance(0.5)
			shareTablet = !shareEmail
		}
		if shareEmail {
			h.email = g.newEmail()
			g.reason["email:"+h.email] = SharedHouseholdEmail
			for _, m := range h.members {
				if m.loyaltyID == "" {
					m.loyaltyID = g.unique("loyalty_id", func() string { return fmt.Sprintf("L-%08d", g.rng.IntN(100_000_000)) })
				}
			}
			g.counts.HouseholdEmails++
		}
		if shareTablet {
			h.tablet = g.newInstall()
			g.reason["device_id:"+h.tablet.device] = SharedFamilyTablet
			g.reason["anonymous_id:"+h.tablet.anon] = SharedFamilyTablet
			g.counts.FamilyTablets++
		}
		g.households = append(g.households, h)
		g.counts.Households++
		g.counts.HouseholdMembers += size
	}
}

// Kinds of sessions.
const (
	sessWeb = iota
	sessApp
	sessTablet
	sessStore
	sessCall
)

// live plans a person's sessions over the period and plays them in time order.
func (g *generator) live(p *person) {
	n := 1 + int(g.rng.ExpFloat64()*sessionsPer8Days*float64(g.cfg.Days)/8)
	kinds := make([]int, 0, n+2)
	for range n {
		kinds = append(kinds, g.sessionKind(p))
	}
	// Each household member uses what the household shares at least once.
	if h := p.household; h != nil {
		if h.email != "" && !slices.Contains(kinds, sessStore) {
			kinds = append(kinds, sessStore)
		}
		if h.tablet != nil && !slices.Contains(kinds, sessTablet) {
			kinds = append(kinds, sessTablet)
		}
	}
	type session struct {
		at   time.Time
		kind int
	}
	sessions := make([]session, len(kinds))
	for i, k := range kinds {
		sessions[i] = session{at: g.sessionStart(k), kind: k}
	}
	slices.SortStableFunc(sessions, func(a, b session) int { return a.at.Compare(b.at) })
	for _, s := range sessions {
		switch s.kind {
		case sessWeb:
			g.webSession(p, s.at)
		case sessApp:
			g.appSession(p, s.at)
		case sessTablet:
			g.tabletSession(p, s.at)
		case sessStore:
			g.storeVisit(p, s.at)
		case sessCall:
			g.call(p, s.at)
		}
	}
}

func (g *generator) sessionKind(p *person) int {
	weights := [...]float64{sessWeb: 0.40, sessApp: 0, sessTablet: 0, sessStore: 0.27, sessCall: 0}
	if p.app != nil {
		weights[sessApp] = 0.25
	}
	if p.household != nil && p.household.tablet != nil {
		weights[sessTablet] = 0.15
	}
	if p.phone != "" {
		weights[sessCall] = 0.08
	}
	var total float64
	for _, w := range weights {
		total += w
	}
	x := g.rng.Float64() * total
	for k, w := range weights {
		if x < w {
			return k
		}
		x -= w
	}
	return sessWeb
}

// sessionStart picks a moment in the period when such a session happens:
// stores and the contact centre keep opening hours.
func (g *generator) sessionStart(kind int) time.Time {
	from, to := 7, 23
	switch kind {
	case sessStore:
		from, to = 9, 19
	case sessCall:
		from, to = 8, 20
	}
	day := g.rng.IntN(g.cfg.Days)
	offset := time.Duration(from)*time.Hour + time.Duration(g.rng.Int64N(int64(time.Duration(to-from)*time.Hour)))
	return g.cfg.Start.Add(time.Duration(day)*24*time.Hour + offset).Truncate(time.Millisecond)
}

// webSession: anonymous browsing; account holders may log in and buy, others
// may check out as guests or sign up for the newsletter.
func (g *generator) webSession(p *person, at time.Time) {
	b := p.browsers[g.rng.IntN(len(p.browsers))]
	if b.anon == "" || (g.chance(newCookieRate) && p.anonIDs < maxAnonymousIDs) {
		b.anon = g.newAnon()
		p.anonIDs++
	}
	sid := g.hex(8)
	web := func(page string) func(*event.Event) {
		return func(e *event.Event) {
			e.Web = &event.Web{URL: "https://shop.example/" + page, SessionID: sid, UserAgent: "Mozilla/5.0"}
		}
	}
	anon := ident("anonymous_id", b.anon)
	for range 1 + g.rng.IntN(4) {
		at = g.next(at)
		g.emit(p, at, event.ChannelWeb, "page_view", ids(anon), web(g.page()))
	}
	switch {
	case p.userID != "" && g.chance(0.45):
		user := ident("user_id", p.userID)
		at = g.next(at)
		g.emit(p, at, event.ChannelWeb, "login", ids(user, ident("email", g.accountEmail(p)), anon), web("account/login"))
		for range g.rng.IntN(3) {
			at = g.next(at)
			g.emit(p, at, event.ChannelWeb, "product_viewed", ids(user, anon), web(g.page()))
		}
		if g.chance(0.3) {
			at = g.next(at)
			g.emit(p, at, event.ChannelWeb, "order_completed", ids(user, anon, g.token(p)), g.order(web("checkout/done")))
		}
	case p.userID == "" && len(p.emails) > 0 && g.chance(0.12):
		at = g.next(at)
		g.emit(p, at, event.ChannelWeb, "checkout", ids(g.typed(p, p.emails[0]), anon, g.token(p)), g.order(web("checkout/guest")))
	case len(p.emails) > 0 && g.chance(0.06):
		at = g.next(at)
		g.emit(p, at, event.ChannelWeb, "newsletter_signup", ids(g.typed(p, g.pick(p.emails)), anon), web("newsletter"))
	}
}

// appSession: the app on the person's own phone, mostly logged in.
func (g *generator) appSession(p *person, at time.Time) {
	if g.chance(reinstallRate) && p.anonIDs < maxAnonymousIDs {
		p.app.anon = g.newAnon()
		p.anonIDs++
	}
	sid := g.hex(8)
	app := func(screen string) func(*event.Event) {
		return func(e *event.Event) {
			e.App = &event.App{Platform: "ios", AppVersion: "5.2.0", Screen: screen, SessionID: sid}
		}
	}
	device := ident("device_id", p.app.device)
	if g.chance(g.cfg.BlockedRate) {
		device = blocked("device_id", BlockedUnknown) // an SDK bug reports no device
	}
	anon := ident("anonymous_id", p.app.anon)
	at = g.next(at)
	g.emit(p, at, event.ChannelApp, "app_open", ids(device, anon), app("home"))
	if !g.chance(0.85) {
		return
	}
	user := ident("user_id", p.userID)
	for range 1 + g.rng.IntN(3) {
		at = g.next(at)
		g.emit(p, at, event.ChannelApp, "screen_view", ids(user, device, anon), app(g.page()))
	}
	if p.loyaltyID != "" && g.chance(0.25) {
		at = g.next(at)
		g.emit(p, at, event.ChannelApp, "loyalty_card_viewed", ids(user, ident("loyalty_id", p.loyaltyID), device), app("wallet"))
	}
	if g.chance(0.2) {
		at = g.next(at)
		g.emit(p, at, event.ChannelApp, "order_completed", ids(user, device, g.token(p)), g.order(app("checkout")))
	}
}

// tabletSession: the family tablet's app, whose device and anonymous id the
// household shares. Account holders may log in; the others only browse (a
// purchase there without an account would carry nothing that tells the
// members apart, which no resolver could get right).
func (g *generator) tabletSession(p *person, at time.Time) {
	t := p.household.tablet
	sid := g.hex(8)
	app := func(screen string) func(*event.Event) {
		return func(e *event.Event) {
			e.App = &event.App{Platform: "ipados", AppVersion: "5.2.0", Screen: screen, SessionID: sid}
		}
	}
	device, anon := ident("device_id", t.device), ident("anonymous_id", t.anon)
	at = g.next(at)
	g.emit(p, at, event.ChannelApp, "app_open", ids(device, anon), app("home"))
	for range 1 + g.rng.IntN(3) {
		at = g.next(at)
		g.emit(p, at, event.ChannelApp, "product_viewed", ids(device, anon), app(g.page()))
	}
	if p.userID == "" || !g.chance(0.6) {
		return
	}
	user := ident("user_id", p.userID)
	at = g.next(at)
	g.emit(p, at, event.ChannelApp, "login", ids(user, ident("email", g.accountEmail(p)), device, anon), app("login"))
	at = g.next(at)
	g.emit(p, at, event.ChannelApp, "screen_view", ids(user, device, anon), app(g.page()))
	if g.chance(0.25) {
		at = g.next(at)
		g.emit(p, at, event.ChannelApp, "order_completed", ids(user, device, anon, g.token(p)), g.order(app("checkout")))
	}
}

// storeVisit: a purchase at a till, paid by card, often with the loyalty card;
// sometimes the till records a phone number or an e-receipt email. At the
// first visit a loyalty member registers the card with an email (the
// household's when it shares one).
func (g *generator) storeVisit(p *person, at time.Time) {
	s := g.stores[g.rng.IntN(len(g.stores))]
	till := event.Store{StoreID: s.id, RegisterID: fmt.Sprintf("R-%d", 1+g.rng.IntN(6)), StaffID: fmt.Sprintf("st-%d", 1+g.rng.IntN(40))}
	pos := func(e *event.Event) {
		e.Store = &till
	}
	loyalty := ident("loyalty_id", p.loyaltyID)
	if p.loyaltyID != "" && !p.signedUp {
		p.signedUp = true
		reg := ids(loyalty)
		switch {
		case p.household != nil && p.household.email != "":
			reg = append(reg, ident("email", p.household.email))
		case len(p.emails) > 0:
			reg = append(reg, g.typed(p, p.emails[0]))
		}
		if p.phone != "" && g.chance(0.5) {
			reg = append(reg, ident("phone", p.phone))
		}
		at = g.next(at)
		g.emit(p, at, event.ChannelStore, "loyalty_signup", reg, pos)
	}
	if g.chance(g.cfg.WalkInRate) {
		walkIn := ident("phone", s.walkIn)
		at = g.next(at)
		if p.loyaltyID != "" {
			g.counts.WalkInWithLoyalty++
			g.emit(p, at, event.ChannelStore, "purchase", ids(loyalty, walkIn, g.token(p)), g.order(pos))
			return
		}
		g.counts.WalkInOnly++
		walkInOnly := ids(walkIn)
		if g.chance(0.5) { // the others pay cash
			walkInOnly = append(walkInOnly, g.token(p))
		}
		g.emit(p, at, event.ChannelStore, "purchase", walkInOnly, g.order(pos))
		return
	}
	visit := ids(g.token(p))
	if p.loyaltyID != "" && g.chance(0.85) {
		visit = append(visit, loyalty)
	}
	if p.phone != "" && g.chance(0.15) {
		visit = append(visit, ident("phone", p.phone))
	}
	if g.chance(0.3) { // e-receipt
		switch {
		case g.chance(g.cfg.BlockedRate): // the cashier's habit when the customer declines
			visit = append(visit, blocked("email", BlockedEmail))
		case p.household != nil && p.household.email != "" && g.chance(0.7):
			visit = append(visit, ident("email", p.household.email))
		case len(p.emails) > 0:
			visit = append(visit, g.typed(p, g.pick(p.emails)))
		}
	}
	typ := "purchase"
	fill := g.order(pos)
	if g.chance(0.05) {
		typ, fill = "return", g.refund(pos)
	}
	at = g.next(at)
	e := g.emit(p, at, event.ChannelStore, typ, visit, fill)
	if g.chance(0.2) {
		g.survey(p, e)
	}
}

// call: an inbound call from the person's phone; the agent often identifies
// the caller by email, loyalty card or account.
func (g *generator) call(p *person, at time.Time) {
	call := ids(ident("phone", p.phone))
	switch x := g.rng.Float64(); {
	case x < g.cfg.BlockedRate:
		call = append(call, blocked("loyalty_id", BlockedUnknown)) // the agent's placeholder
	case x < 0.25 && len(p.emails) > 0:
		call = append(call, g.typed(p, g.pick(p.emails)))
	case x < 0.4 && p.loyaltyID != "":
		call = append(call, ident("loyalty_id", p.loyaltyID))
	case x < 0.55 && p.userID != "":
		call = append(call, ident("user_id", p.userID))
	}
	reasons := []string{"order_status", "delivery_date", "refund", "complaint", "product", "payment"}
	outcomes := []string{"resolved", "resolved", "resolved", "transferred", "callback", "abandoned"}
	wait, handle := float64(5+g.rng.IntN(400)), float64(60+g.rng.IntN(900))
	outcome := g.pick(outcomes)
	if outcome == "abandoned" {
		handle = 0
	}
	e := g.emit(p, g.next(at), event.ChannelPhone, "call", call, func(e *event.Event) {
		e.Call = &event.Call{
			CallID: "c-" + g.hex(8), Direction: "inbound", Queue: g.pick([]string{"orders", "billing", "returns", "general"}),
			WaitSeconds: &wait, HandleSeconds: &handle, Outcome: outcome, AgentID: fmt.Sprintf("ag-%d", 1+g.rng.IntN(30)),
			Reason: g.pick(reasons),
		}
	})
	if outcome != "abandoned" && g.chance(0.2) {
		g.survey(p, e)
	}
}

// survey: a satisfaction survey a day or so after a visit or call, answered
// from the link in an email (the address the receipt went to, if any) or in
// the app.
func (g *generator) survey(p *person, about *event.Event) {
	var who []event.Identifier
	for _, id := range about.Identifiers {
		if id.Type == "email" && !id.Blocked && !slices.Contains(p.typos, id.Value) {
			who = ids(id) // a misspelt address never gets the survey
		}
	}
	channel := event.ChannelWeb
	switch {
	case who != nil:
	case len(p.emails) > 0:
		who = ids(ident("email", p.emails[0]))
	case p.app != nil:
		channel = event.ChannelApp
		who = ids(ident("user_id", p.userID), ident("device_id", p.app.device))
	default:
		return
	}
	kind := g.pick([]string{"csat", "nps", "ces"})
	scale := map[string]float64{"csat": 5, "nps": 10, "ces": 7}[kind]
	score := float64(g.rng.IntN(int(scale)) + 1)
	if kind == "nps" {
		score = float64(g.rng.IntN(11))
	}
	at := about.EventTime.Add(24*time.Hour + time.Duration(g.rng.Int64N(int64(48*time.Hour)))).Truncate(time.Millisecond)
	g.emit(p, at, channel, "survey_response", who, func(e *event.Event) {
		e.Survey = &event.Survey{Kind: kind, Score: &score, ScaleMax: &scale, AboutEventID: about.EventID}
	})
}

// emit records an event of p: its identifiers sorted as ingest sorts them,
// and who used each of them.
func (g *generator) emit(p *person, at time.Time, channel, typ string, list []event.Identifier, fill func(*event.Event)) *event.Event {
	event.SortIdentifiers(list)
	list = slices.Compact(list)
	e := &event.Event{
		EventID: fmt.Sprintf("ev-%07d", len(g.events)+1), Channel: channel, Type: typ,
		EventTime: at, ClientTime: at, Identifiers: list,
	}
	if fill != nil {
		fill(e)
	}
	owned, isBlocked := false, false
	for _, id := range list {
		key := id.Type + ":" + id.Value
		if id.Blocked {
			isBlocked = true
			g.reason[key] = SharedBlocked
			continue
		}
		if !slices.Contains(g.users[key], p.idx) {
			g.users[key] = append(g.users[key], p.idx)
		}
		if g.reason[key] == "" {
			owned = true
		}
		if id.Type == "email" && slices.Contains(p.typos, id.Value) {
			g.counts.TypoEvents++
		}
	}
	if isBlocked {
		g.counts.BlockedEvents++
	}
	if !owned {
		g.counts.EventsWithoutOwner++
	}
	g.events = append(g.events, e)
	return e
}

// finish gives every event its arrival time, sorts by it and derives the truth.
func (g *generator) finish() Dataset {
	for _, e := range g.events {
		delay := time.Duration(50+g.rng.IntN(3000)) * time.Millisecond
		if g.chance(g.cfg.LateRate) {
			delay = lateMin + time.Duration(g.rng.Int64N(int64(lateMax-lateMin)))
			g.counts.LateEvents++
		}
		e.ReceivedAt = e.EventTime.Add(delay).Truncate(time.Millisecond)
	}
	slices.SortFunc(g.events, func(a, b *event.Event) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.EventID, b.EventID)
	})
	ds := Dataset{Events: g.events, Owner: map[string]int{}, Shared: map[string]bool{}, SharedReason: map[string]string{}}
	for key, users := range g.users {
		why := g.reason[key]
		if why == "" && len(users) > 1 {
			why = SharedCollision
			g.counts.CollidingIdentifiers++
		}
		if why != "" {
			ds.Shared[key], ds.SharedReason[key] = true, why
			continue
		}
		ds.Owner[key] = users[0]
	}
	ds.Typos = map[string]string{}
	for _, p := range g.persons {
		for i, t := range p.typos {
			ds.Typos["email:"+t] = "email:" + p.meant[i]
		}
	}
	g.counts.Typos = len(ds.Typos)
	for key, why := range g.reason {
		if why == SharedBlocked {
			ds.Shared[key], ds.SharedReason[key] = true, why
		}
	}
	for _, h := range g.households {
		members := make([]int, len(h.members))
		for i, m := range h.members {
			members[i] = m.idx
		}
		ds.Households = append(ds.Households, members)
	}
	g.counts.Persons = len(g.persons)
	g.counts.Events = len(g.events)
	g.counts.OwnedIdentifiers = len(ds.Owner)
	g.counts.SharedIdentifiers = len(ds.Shared)
	ds.Counts = g.counts
	return ds
}

// accountEmail is the email of p's account: the household's when p heads a
// household that shares one, else p's primary address.
func (g *generator) accountEmail(p *person) string {
	if h := p.household; h != nil && h.email != "" && h.members[0] == p {
		return h.email
	}
	return p.emails[0]
}

// typed returns email as someone typed it: now and then misspelt. A person
// keeps making the same few mistakes.
func (g *generator) typed(p *person, email string) event.Identifier {
	if !g.chance(g.cfg.TypoRate) {
		return ident("email", email)
	}
	if len(p.typos) >= maxTypos || (len(p.typos) > 0 && g.chance(0.5)) {
		return ident("email", g.pick(p.typos))
	}
	for range 10 {
		t := g.misspell(email)
		if t == email || g.taken["email:"+t] {
			continue
		}
		if _, err := normalize.Email(t); err != nil {
			continue
		}
		g.taken["email:"+t] = true
		p.typos, p.meant = append(p.typos, t), append(p.meant, email)
		return ident("email", t)
	}
	return ident("email", email)
}

// misspell makes one of the common typing mistakes: two letters swapped or
// one dropped in the local part, or a misspelt provider.
func (g *generator) misspell(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	domainTypos := map[string]string{
		"gmail.com": "gmial.com", "outlook.com": "outlok.com", "hotmail.co.uk": "hotmial.co.uk",
		"yahoo.co.uk": "yaho.co.uk", "icloud.com": "iclod.com", "btinternet.com": "btinternet.co",
	}
	switch x := g.rng.IntN(3); {
	case x == 0 && len(local) >= 2:
		i := g.rng.IntN(len(local) - 1)
		b := []byte(local)
		b[i], b[i+1] = b[i+1], b[i]
		local = string(b)
	case x == 1 && len(local) >= 3:
		i := g.rng.IntN(len(local))
		local = local[:i] + local[i+1:]
	default:
		if d, ok := domainTypos[domain]; ok {
			domain = d
		} else {
			local += local[len(local)-1:]
		}
	}
	return local + "@" + domain
}

var (
	firstNames = []string{"ann", "ben", "chloe", "dev", "emma", "finn", "grace", "harry", "isla", "jack", "kate", "leo",
		"mia", "noah", "olivia", "priya", "quinn", "ruby", "sam", "tara", "umar", "vera", "will", "xena", "yusuf", "zoe",
		"amir", "beth", "carl", "dina", "eli", "fatima", "george", "hana", "ivan", "jade", "kofi", "lucy", "max", "nina"}
	lastNames = []string{"smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel", "wright",
		"robinson", "thompson", "evans", "walker", "white", "roberts", "green", "hall", "wood", "jackson", "clarke",
		"khan", "lewis", "hughes", "edwards", "turner", "hill", "moore", "cooper", "ward", "morris", "king", "baker"}
	domains = []string{"gmail.com", "gmail.com", "gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk",
		"icloud.com", "btinternet.com"}
)

// newEmail returns a fresh normalised address, typed with the capitals people
// use ("Ann.Smith@Gmail.com") and normalised as ingest does.
func (g *generator) newEmail() string {
	return g.unique("email", func() string {
		first, last := g.pick(firstNames), g.pick(lastNames)
		var local string
		switch g.rng.IntN(4) {
		case 0:
			local = capitalise(first) + "." + capitalise(last)
		case 1:
			local = first + last + fmt.Sprint(g.rng.IntN(100))
		case 2:
			local = first[:1] + "." + last + fmt.Sprint(1950+g.rng.IntN(56))
		default:
			local = first + "_" + last + fmt.Sprint(g.rng.IntN(1000))
		}
		raw := local + "@" + capitalise(g.pick(domains))
		v, err := normalize.Email(raw)
		if err != nil {
			return "" // unique draws again
		}
		return v
	})
}

func (g *generator) newInstall() *install {
	return &install{
		device: g.unique("device_id", func() string { return "d-" + g.hex(16) }),
		anon:   g.newAnon(),
	}
}

func (g *generator) newAnon() string {
	return g.unique("anonymous_id", func() string { return "a-" + g.hex(16) })
}

// unique draws values until one is new for its type.
func (g *generator) unique(typ string, draw func() string) string {
	for {
		v := draw()
		if v != "" && !g.taken[typ+":"+v] {
			g.taken[typ+":"+v] = true
			return v
		}
	}
}

// token picks one of p's payment cards.
func (g *generator) token(p *person) event.Identifier {
	return ident("payment_token", g.pick(p.tokens))
}

func (g *generator) order(fill func(*event.Event)) func(*event.Event) {
	items := make([]event.OrderItem, 1+g.rng.IntN(3))
	var total float64
	for i := range items {
		price := float64(100+g.rng.IntN(9900)) / 100
		qty := float64(1 + g.rng.IntN(2))
		items[i] = event.OrderItem{SKU: fmt.Sprintf("SKU-%04d", g.rng.IntN(5000)), Quantity: qty, Price: price}
		total += price * qty
	}
	id := "o-" + g.hex(10)
	return func(e *event.Event) {
		fill(e)
		e.Order = &event.Order{OrderID: id, Total: &total, Currency: "GBP", Items: items}
	}
}

func (g *generator) refund(fill func(*event.Event)) func(*event.Event) {
	total := -float64(100+g.rng.IntN(9900)) / 100
	id := "o-" + g.hex(10)
	return func(e *event.Event) {
		fill(e)
		e.Order = &event.Order{OrderID: id, Total: &total, Currency: "GBP"}
	}
}

func (g *generator) page() string {
	return g.pick([]string{"home", "search", "category/shoes", "category/coats", "product/" + g.hex(4), "basket", "offers"})
}

// next is the time of a session's next event: 20 seconds to 4 minutes later.
func (g *generator) next(at time.Time) time.Time {
	return at.Add(time.Duration(20_000+g.rng.IntN(220_000)) * time.Millisecond)
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func ident(typ, value string) event.Identifier { return event.Identifier{Type: typ, Value: value} }

func blocked(typ, value string) event.Identifier {
	return event.Identifier{Type: typ, Value: value, Blocked: true}
}

func ids(list ...event.Identifier) []event.Identifier { return list }

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
