package gen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/identity/truth"
)

// TruthVersion is the version of the truth's JSON form.
const TruthVersion = 1

// Truth is what a dataset should become. Identifiers are "type:value" with
// the value normalised as ingest publishes it.
//
// Customers, merges and hubs are what identity's default rules produce when
// the valid events are applied in (event time, event id) order — the order
// identity's replays converge to, whatever order events arrive in. The
// scenarios keep the answer unambiguous:
//
//   - A person's own identifiers never come near a per-profile limit (at most
//     one user id and one loyalty card, two emails, one phone, three cards,
//     two devices, 45 anonymous ids), so linking never stops at a limit.
//   - The walk-in number of a store is recorded only with a loyalty card (a
//     stronger, personal identifier), so it is never the identifier an event
//     belongs to. Used with two or more cards it is shared: it stays with the
//     customer of its first use and links nothing else. Used with more than
//     five cards — all within 30 days, which the generator guarantees — it is
//     a hub: quarantined, it becomes a customer of its own with no events,
//     and the profile it had joined is split once (Counts.Splits).
//   - A family tablet is used by both members of a household, but only its
//     owner ever logs in on it. To the rules the tablet is then simply one of
//     the owner's devices: the other member's anonymous tablet browsing
//     belongs to the owner's customer. With no account in the household, the
//     tablet is a customer of its own. The truth says so (Customer.Persons
//     lists both members).
//   - Placeholders (test@test.com, loyalty "unknown") are flagged blocked by
//     ingest and never link; every event has a real identifier besides them.
//   - Events carry no sent_at, so skew correction leaves their times exactly
//     as generated.
//
// The final state — live customers, their identifiers and events, every
// merged id's survivor — does not depend on arrival order. The merges listed
// are those of an in-order run; an out-of-order arrival adds replays that may
// emit further merge and split changes on cx.identity.changes, ending in the
// same state.
type Truth struct {
	Version int         `json:"version"`
	Config  TruthConfig `json:"config"`
	Counts  Counts      `json:"counts"`
	// Events are the valid events (duplicates once), sorted by id: exactly
	// what cx.events and journey_events hold.
	Events    []Event    `json:"events"`
	Bad       []Bad      `json:"bad"`
	Persons   []Person   `json:"persons"`
	Customers []Customer `json:"customers"`
	Merges    []Merge    `json:"merges"`
	Shared    []Shared   `json:"shared"`
}

// TruthConfig records what generated the dataset.
type TruthConfig struct {
	Seed          uint64    `json:"seed"`
	Customers     int       `json:"customers"`
	Days          int       `json:"days"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	Stores        int       `json:"stores"`
	BadRate       float64   `json:"bad_rate"`
	DuplicateRate float64   `json:"duplicate_rate"`
	HouseholdRate float64   `json:"household_rate"`
	WalkInRate    float64   `json:"walk_in_rate"`
	LateRate      float64   `json:"late_rate"` // a negative rate: the scenario is off
}

// Counts are the dataset's exact numbers.
type Counts struct {
	Records    int `json:"records"`    // items sent: events, duplicates and bad records
	Events     int `json:"events"`     // valid distinct events (cx.events records)
	Duplicates int `json:"duplicates"` // second copies: accepted, counted as duplicates, not produced
	Bad        int `json:"bad"`        // rejected items (cx.events.dlq records)
	Persons    int `json:"persons"`    // simulated persons with at least one valid event
	Customers  int `json:"customers"`  // live customers after identity resolution
	Merges     int `json:"merges"`     // merge changes of an in-order run
	Splits     int `json:"splits"`     // split changes of an in-order run (one per hub)
	Hubs       int `json:"hubs"`       // identifiers quarantined as hubs
	Households int `json:"households"` // households sharing a tablet

	ByChannel map[string]ChannelCounts  `json:"by_channel"`
	ByType    map[string]map[string]int `json:"by_type"` // channel → event type → valid events
	BadByCode map[string]int            `json:"bad_by_code"`
	Scenarios map[string]int            `json:"scenarios"` // how often each scenario occurs
}

// ChannelCounts are one channel's numbers.
type ChannelCounts struct {
	Records    int `json:"records"`
	Events     int `json:"events"`
	Duplicates int `json:"duplicates"`
	Bad        int `json:"bad"`
}

// Event is one valid event.
type Event struct {
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Type     string `json:"type"`
	TimeMs   int64  `json:"time_ms"`
	Person   int    `json:"person"`   // the person who did it
	Customer string `json:"customer"` // the live customer it belongs to under the rules
}

// Bad is one bad record.
type Bad struct {
	Channel string `json:"channel"`
	Code    string `json:"code"`
}

// Person is one simulated person.
type Person struct {
	Index int `json:"index"`
	// Identifiers are the person's own identifiers that appear in events
	// (shared and blocked ones are in Truth.Shared).
	Identifiers []string `json:"identifiers"`
	// Customers are the live customers the person's events belong to: more
	// than one when nothing ever linked two of their identifiers (a cleared
	// cookie, a card never used online), the tablet owner's for a member who
	// browses on the family tablet.
	Customers []string `json:"customers"`
	Events    int      `json:"events"`
	Household int      `json:"household,omitempty"` // 1-based household number
}

// Customer is one live customer (profile) after identity resolution.
type Customer struct {
	ID string `json:"id"`
	// Identifiers the profile holds, in identity's order (priority, type, value).
	Identifiers []string `json:"identifiers"`
	Persons     []int    `json:"persons"` // persons whose events belong to it
	Events      int      `json:"events"`
	Created     string   `json:"created_by"` // the event whose evidence created it
	Hub         bool     `json:"hub,omitempty"`
}

// Merge is one merge change of an in-order run: Merged's identifiers and
// events now belong to Survivor (the older profile).
type Merge struct {
	Survivor string `json:"survivor"`
	Merged   string `json:"merged"`
	// EventID is the event that causes the merge. On cx.identity.changes a
	// merge found while replaying (the event also revealed a shared walk-in
	// number) carries it in its reason, "replay at <event id>".
	EventID string `json:"event_id"`
	// Live is the live customer Merged ends in (Survivor may merge later in
	// turn). Any id identity issued resolves to its live customer; with events
	// arriving out of order some of these ids are never issued.
	Live string `json:"live"`
}

// Why an identifier is shared.
const (
	SharedWalkIn  = "walk_in_number"
	SharedTablet  = "family_tablet"
	SharedBlocked = "blocked"
)

// Shared is an identifier several persons use, or a placeholder.
type Shared struct {
	Identifier string `json:"identifier"`
	Reason     string `json:"reason"`
	Persons    []int  `json:"persons"`
	// Customer holds the identifier ("" for blocked ones, which no profile holds).
	Customer string `json:"customer,omitempty"`
	// Linking says what the rules do with it: "normal" (one user: an
	// ordinary identifier), "first_use_only" (shared: stays with the customer
	// of its first use), "hub" (quarantined) or "never" (blocked).
	Linking string `json:"linking"`
	// QuarantinedBy is the event that makes it a hub in an in-order run.
	QuarantinedBy string `json:"quarantined_by,omitempty"`
}

// WriteJSON writes the truth as indented JSON.
func (t *Truth) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(t)
}

// ReadTruth reads a truth written by WriteJSON.
func ReadTruth(r io.Reader) (*Truth, error) {
	var t Truth
	if err := json.NewDecoder(r).Decode(&t); err != nil {
		return nil, fmt.Errorf("gen: reading truth: %w", err)
	}
	if t.Version != TruthVersion {
		return nil, fmt.Errorf("gen: truth version %d, want %d", t.Version, TruthVersion)
	}
	return &t, nil
}

// EventIDs returns the ids of the valid events, sorted.
func (t *Truth) EventIDs() []string {
	ids := make([]string, len(t.Events))
	for i, e := range t.Events {
		ids[i] = e.ID
	}
	return ids
}

// CustomerIDs returns the ids of the live customers, sorted.
func (t *Truth) CustomerIDs() []string {
	ids := make([]string, len(t.Customers))
	for i, c := range t.Customers {
		ids[i] = c.ID
	}
	return ids
}

// CustomerID is the id identity gives the profile an identifier key creates.
func CustomerID(key string) string {
	return uuid.NewSHA1(identity.Namespace, []byte(key)).String()
}

// ruleOf is the identity rule of an identifier type (DESIGN.md defaults).
var defaultRules = identity.DefaultRules()

func ruleOf(typ string) identity.TypeRule {
	if r, ok := defaultRules.Types[typ]; ok {
		return r
	}
	return defaultRules.Custom
}

// component is a profile during the replay.
type component struct {
	id      string
	created evKey
	nodes   []int32
	hub     bool
}

type evKey struct {
	at int64
	id string
}

func (a evKey) compare(b evKey) int {
	if c := cmp.Compare(a.at, b.at); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// buildTruth replays the valid events under the identity rules.
func buildTruth(cfg Config, w *world, events []*genEvent, records []Record) (*Truth, error) {
	t := &Truth{
		Version: TruthVersion,
		Config: TruthConfig{
			Seed: cfg.Seed, Customers: cfg.Customers, Days: cfg.Days, Start: cfg.Start, End: time.UnixMilli(w.end).UTC(),
			Stores: cfg.Stores, BadRate: cfg.BadRate, DuplicateRate: cfg.DuplicateRate, HouseholdRate: cfg.HouseholdRate,
			WalkInRate: cfg.WalkInRate, LateRate: cfg.LateRate,
		},
		Counts: Counts{
			ByChannel: map[string]ChannelCounts{}, ByType: map[string]map[string]int{},
			BadByCode: map[string]int{}, Scenarios: map[string]int{}, Households: len(w.households),
		},
	}
	for _, r := range records {
		cc := t.Counts.ByChannel[r.Channel]
		cc.Records++
		t.Counts.Records++
		switch {
		case r.Reject != "":
			cc.Bad++
			t.Counts.Bad++
			t.Counts.BadByCode[r.Reject]++
			t.Bad = append(t.Bad, Bad{Channel: r.Channel, Code: r.Reject})
		case r.Duplicate:
			cc.Duplicates++
			t.Counts.Duplicates++
		default:
			cc.Events++
		}
		t.Counts.ByChannel[r.Channel] = cc
	}

	ordered := slices.Clone(events)
	slices.SortFunc(ordered, func(a, b *genEvent) int { return evKey{a.at, a.id}.compare(evKey{b.at, b.id}) })
	seen := make(map[string]bool, len(events))
	for _, e := range ordered {
		if seen[e.id] {
			return nil, fmt.Errorf("event id %s generated twice", e.id)
		}
		seen[e.id] = true
		if t.Counts.ByType[e.channel] == nil {
			t.Counts.ByType[e.channel] = map[string]int{}
		}
		t.Counts.ByType[e.channel][e.typ]++
	}
	t.Counts.Events = len(events)

	r := newReplay(w, ordered)
	if err := r.classify(); err != nil {
		return nil, err
	}
	if err := r.run(t); err != nil {
		return nil, err
	}
	r.describe(t)
	return t, nil
}

// replay computes what the identity rules make of the events. Identifiers
// are interned: node i is keys[i].
type replay struct {
	w       *world
	ordered []*genEvent // valid events in (time, id) order
	keys    []string
	index   map[string]int32
	nodes   [][]int32 // per ordered event: its linkable identifiers, in identity's order

	walkIn, tablet []bool
	household      []int   // tablet node → household number
	firstUser      []int32 // the first person seen using each node
	sharedByUsers  []bool  // used by more than one person
	firstUseOnly   []bool  // shared: links only in its first use
	hub            []bool  // quarantined
	comp           []*component
	quarantinedBy  map[int32]string
}

func newReplay(w *world, ordered []*genEvent) *replay {
	r := &replay{w: w, ordered: ordered, index: map[string]int32{}, nodes: make([][]int32, len(ordered)), quarantinedBy: map[int32]string{}}
	for i, e := range ordered {
		ns := make([]int32, 0, len(e.ids))
		for _, id := range e.ids {
			if id.blocked {
				continue
			}
			n, ok := r.index[id.key]
			if !ok {
				n = int32(len(r.keys))
				r.index[id.key] = n
				r.keys = append(r.keys, id.key)
				r.firstUser = append(r.firstUser, int32(e.person))
				r.sharedByUsers = append(r.sharedByUsers, false)
			} else if r.firstUser[n] != int32(e.person) {
				r.sharedByUsers[n] = true
			}
			ns = append(ns, n)
		}
		r.nodes[i] = ns
	}
	n := len(r.keys)
	r.walkIn, r.tablet, r.household = make([]bool, n), make([]bool, n), make([]int, n)
	r.firstUseOnly, r.hub, r.comp = make([]bool, n), make([]bool, n), make([]*component, n)
	for _, s := range w.stores {
		if i, ok := r.index[s.walkInKey]; ok {
			r.walkIn[i] = true
		}
	}
	for hi, h := range w.households {
		for _, k := range []string{"device_id:" + h.tablet.device, "anonymous_id:" + h.tablet.anon} {
			if i, ok := r.index[k]; ok {
				r.tablet[i], r.household[i] = true, hi+1
			}
		}
	}
	return r
}

// classify decides, from whom each identifier is seen with, what the rules
// make of it: an identifier seen with more stronger identifiers of one type
// than a profile may hold is shared (links only in its first use); past
// HubProfiles profiles' worth it is a hub. Only walk-in numbers may be
// either; anything else shared is a bug of the scenarios.
func (r *replay) classify() error {
	types := len(event.IdentifierTypes)
	counts := make([]int32, len(r.keys)*types) // node × partner type → distinct stronger partners
	pairs := map[uint64]struct{}{}
	for _, ns := range r.nodes {
		for i, n := range ns {
			for _, m := range ns[:i] {
				mt := typeRank(keyType(r.keys[m]))
				if ruleOf(keyType(r.keys[m])).Priority >= ruleOf(keyType(r.keys[n])).Priority || mt >= types {
					continue
				}
				pair := uint64(n)<<32 | uint64(uint32(m))
				if _, ok := pairs[pair]; ok {
					continue
				}
				pairs[pair] = struct{}{}
				counts[int(n)*types+mt]++
			}
		}
	}
	for n := range r.keys {
		shared, hub := false, false
		for mt := range types {
			c := int(counts[n*types+mt])
			limit := ruleOf(event.IdentifierTypes[mt]).Max
			if c > limit {
				shared = true
			}
			if (c+limit-1)/limit > defaultRules.HubProfiles {
				hub = true
			}
		}
		switch {
		case !shared:
		case !r.walkIn[n]:
			return fmt.Errorf("identifier %s is seen with too many stronger identifiers: the scenarios must not share it", r.keys[n])
		case hub:
			r.hub[n] = true
		default:
			r.firstUseOnly[n] = true
		}
		if r.sharedByUsers[n] && !r.walkIn[n] && !r.tablet[n] {
			return fmt.Errorf("identifier %s is used by several persons by accident", r.keys[n])
		}
	}
	return nil
}

// run replays the events in (time, id) order: new identifiers join, profiles
// merge into the oldest. Hubs take no part (their quarantine undoes their
// links); a first-use-only identifier links only in its first use. It fills
// the merges, the customers and each event's customer.
func (r *replay) run(t *Truth) error {
	firstUse := map[int32]string{}
	cards := map[int32]map[int32]bool{} // hub → distinct loyalty cards seen with it
	loyalty := typeRank("loyalty_id")
	for i, e := range r.ordered {
		key := evKey{e.at, e.id}
		nodes := make([]int32, 0, len(r.nodes[i]))
		for _, n := range r.nodes[i] {
			switch {
			case r.hub[n]:
				if cards[n] == nil {
					cards[n] = map[int32]bool{}
				}
				for _, m := range r.nodes[i] {
					if typeRank(keyType(r.keys[m])) == loyalty {
						cards[n][m] = true
					}
				}
				// The event bringing its sixth card reveals the hub.
				if r.quarantinedBy[n] == "" && len(cards[n]) > defaultRules.HubProfiles {
					r.quarantinedBy[n] = e.id
				}
				continue
			case r.firstUseOnly[n] && firstUse[n] != "" && firstUse[n] != e.id:
				continue
			case r.firstUseOnly[n]:
				firstUse[n] = e.id
			}
			nodes = append(nodes, n)
		}
		if len(nodes) == 0 {
			return fmt.Errorf("event %s has no identifier that links", e.id)
		}
		var group []*component
		var fresh []int32
		for _, n := range nodes {
			switch c := r.comp[n]; {
			case c == nil:
				fresh = append(fresh, n)
			case !slices.Contains(group, c):
				group = append(group, c)
			}
		}
		var target *component
		if len(group) == 0 {
			target = &component{id: CustomerID(r.keys[nodes[0]]), created: key}
		} else {
			target = slices.MinFunc(group, func(a, b *component) int { return a.created.compare(b.created) })
		}
		for _, q := range group {
			if q == target {
				continue
			}
			for _, n := range q.nodes {
				r.comp[n] = target
			}
			target.nodes = append(target.nodes, q.nodes...)
			t.Merges = append(t.Merges, Merge{Survivor: target.id, Merged: q.id, EventID: e.id})
		}
		for _, n := range fresh {
			r.comp[n] = target
			target.nodes = append(target.nodes, n)
		}
	}
	t.Counts.Merges = len(t.Merges)
	survivor := make(map[string]string, len(t.Merges))
	for _, m := range t.Merges {
		survivor[m.Merged] = m.Survivor
	}
	for i := range t.Merges {
		live := t.Merges[i].Survivor
		for survivor[live] != "" {
			live = survivor[live]
		}
		t.Merges[i].Live = live
	}

	// A quarantined identifier keeps a profile of its own (holding the
	// events that only it identifies: none here).
	for n := range r.keys {
		if r.hub[n] {
			r.comp[n] = &component{id: CustomerID(r.keys[n]), nodes: []int32{int32(n)}, hub: true}
			t.Counts.Hubs++
		}
	}
	t.Counts.Splits = t.Counts.Hubs // each hub leaves the profile of its first use

	// Each event belongs to its strongest identifier's customer.
	byComp := map[*component]*Customer{}
	customer := func(c *component) *Customer {
		cu := byComp[c]
		if cu == nil {
			ids := make([]string, len(c.nodes))
			for i, n := range c.nodes {
				ids[i] = r.keys[n]
			}
			cu = &Customer{ID: c.id, Identifiers: sortKeys(ids), Persons: []int{}, Hub: c.hub}
			if !c.hub {
				cu.Created = c.created.id
			}
			byComp[c] = cu
		}
		return cu
	}
	t.Events = make([]Event, 0, len(r.ordered))
	for i, e := range r.ordered {
		anchor := r.nodes[i][0]
		if r.hub[anchor] {
			return fmt.Errorf("event %s belongs to hub %s", e.id, r.keys[anchor])
		}
		c := r.comp[anchor]
		cu := customer(c)
		cu.Events++
		if !slices.Contains(cu.Persons, e.person) {
			cu.Persons = append(cu.Persons, e.person)
		}
		t.Events = append(t.Events, Event{ID: e.id, Channel: e.channel, Type: e.typ, TimeMs: e.at, Person: e.person, Customer: c.id})
	}
	for n := range r.keys {
		if r.hub[n] {
			customer(r.comp[n])
		}
	}
	for _, cu := range byComp {
		slices.Sort(cu.Persons)
		t.Customers = append(t.Customers, *cu)
	}
	slices.SortFunc(t.Customers, func(a, b Customer) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(t.Events, func(a, b Event) int { return strings.Compare(a.ID, b.ID) })
	t.Counts.Customers = len(t.Customers)
	return nil
}

// describe fills the persons, the shared identifiers and the scenario tallies.
func (r *replay) describe(t *Truth) {
	w := r.w
	persons := make([]Person, len(w.persons))
	for i, p := range w.persons {
		persons[i] = Person{Index: i, Identifiers: []string{}, Customers: []string{}}
		if p.household != nil {
			persons[i].Household = slices.Index(w.households, p.household) + 1
		}
	}
	for _, e := range t.Events {
		p := &persons[e.Person]
		p.Events++
		if !slices.Contains(p.Customers, e.Customer) {
			p.Customers = append(p.Customers, e.Customer)
		}
	}
	sc := t.Counts.Scenarios
	sharedKeys := map[string]*Shared{}
	for _, e := range r.ordered {
		if e.late {
			sc["late_uploads"]++
		}
		for _, id := range e.ids {
			n, linkable := r.index[id.key]
			reason := ""
			switch {
			case id.blocked:
				reason = SharedBlocked
				sc["events_with_placeholder"]++
			case r.walkIn[n]:
				reason = SharedWalkIn
				sc["walk_in_purchases"]++
			case r.tablet[n]:
				reason = SharedTablet
				if keyType(id.key) == "device_id" {
					sc["tablet_events"]++
					if h := w.households[r.household[n]-1]; h.owner != nil && h.owner.idx != e.person {
						sc["tablet_events_of_other_member"]++ // the member who never logs in on it
					}
				}
			}
			if reason == "" {
				p := &persons[e.person]
				if !slices.Contains(p.Identifiers, id.key) {
					p.Identifiers = append(p.Identifiers, id.key)
				}
				continue
			}
			s := sharedKeys[id.key]
			if s == nil {
				s = &Shared{Identifier: id.key, Reason: reason, Persons: []int{}}
				switch {
				case id.blocked:
					s.Linking = "never"
				case r.hub[n]:
					s.Linking, s.QuarantinedBy = "hub", r.quarantinedBy[n]
				case r.firstUseOnly[n]:
					s.Linking = "first_use_only"
				default:
					s.Linking = "normal"
				}
				if linkable && !id.blocked {
					s.Customer = r.comp[n].id
				}
				sharedKeys[id.key] = s
			}
			if !slices.Contains(s.Persons, e.person) {
				s.Persons = append(s.Persons, e.person)
			}
		}
	}
	for i := range persons {
		p := &persons[i]
		p.Identifiers = sortKeys(p.Identifiers)
		slices.Sort(p.Customers)
		if p.Events > 0 {
			t.Counts.Persons++
		}
		if len(p.Customers) > 1 {
			sc["persons_with_several_customers"]++
		}
	}
	t.Persons = persons
	for _, k := range slices.Sorted(maps.Keys(sharedKeys)) {
		s := sharedKeys[k]
		slices.Sort(s.Persons)
		t.Shared = append(t.Shared, *s)
		switch {
		case s.Reason == SharedWalkIn:
			sc["walk_in_numbers_used"]++
		case s.Reason == SharedTablet && keyType(s.Identifier) == "device_id":
			sc["family_tablets_used"]++
		}
	}
	for _, c := range t.Customers {
		if len(c.Persons) > 1 {
			sc["customers_of_several_persons"]++
		}
	}
}

// linkable returns an event's identifiers that may link (not blocked), in
// identity's order.
func linkable(e *genEvent) []string {
	out := make([]string, 0, len(e.ids))
	for _, id := range e.ids {
		if !id.blocked {
			out = append(out, id.key)
		}
	}
	return out
}

// compareKeys orders identifier keys as identity does: by type priority,
// then type, then value (event.SortIdentifiers).
func compareKeys(a, b string) int {
	at, av := splitKey(a)
	bt, bv := splitKey(b)
	if c := cmp.Compare(typeRank(at), typeRank(bt)); c != 0 {
		return c
	}
	if c := strings.Compare(at, bt); c != 0 {
		return c
	}
	return strings.Compare(av, bv)
}

func sortKeys(keys []string) []string {
	slices.SortFunc(keys, compareKeys)
	return keys
}

func typeRank(t string) int {
	if i := slices.Index(event.IdentifierTypes, t); i >= 0 {
		return i
	}
	return len(event.IdentifierTypes)
}

func splitKey(k string) (typ, value string) {
	typ, value, _ = strings.Cut(k, ":")
	return typ, value
}

func keyType(k string) string {
	t, _ := splitKey(k)
	return t
}

// Scoring returns the dataset in the form pkg/identity/truth scores a
// resolver against (truth.Evaluate): events in arrival order with their
// normalised identifiers, and which person owns each identifier. Shared and
// blocked identifiers belong to no one.
func (d *Dataset) Scoring() truth.Dataset {
	ds := truth.Dataset{Owner: map[string]int{}, Shared: map[string]bool{}, SharedReason: map[string]string{}}
	for _, s := range d.Truth.Shared {
		ds.Shared[s.Identifier], ds.SharedReason[s.Identifier] = true, s.Reason
	}
	for _, p := range d.Truth.Persons {
		for _, k := range p.Identifiers {
			ds.Owner[k] = p.Index
		}
	}
	byID := make(map[string]*genEvent, len(d.events))
	for _, e := range d.events {
		byID[e.id] = e
	}
	for _, r := range d.Records {
		if r.Reject != "" || r.Duplicate {
			continue
		}
		e := byID[r.EventID]
		ev := &event.Event{EventID: e.id, Channel: e.channel, Type: e.typ, EventTime: time.UnixMilli(e.at).UTC(), ClientTime: time.UnixMilli(e.at).UTC()}
		ev.ReceivedAt = ev.EventTime
		for _, id := range e.ids {
			typ, val := splitKey(id.key)
			ev.Identifiers = append(ev.Identifiers, event.Identifier{Type: typ, Value: val, Blocked: id.blocked})
		}
		ds.Events = append(ds.Events, ev)
	}
	ds.Counts.Persons = d.Truth.Counts.Persons
	ds.Counts.Events = len(ds.Events)
	return ds
}
