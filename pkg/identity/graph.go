package identity

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/cx360/cx360/pkg/event"
)

// Namespace is the UUIDv5 namespace of customer ids: a customer's id is
// uuid5(Namespace, "type:value") of the identifier that created it, so a replay
// produces the same ids.
var Namespace = uuid.MustParse("6f0c3f4e-1f7a-5a2e-9c1d-2c3a5e7b9d11")

// Kinds of identity changes on cx.identity.changes.
const (
	ChangeMerge = "merge"
	ChangeSplit = "split"
	ChangeLink  = "link"
	ChangeErase = "erase"
)

// ErrNotFound is returned for an unknown customer or identifier.
var ErrNotFound = errors.New("not found")

// Change is one entry of cx.identity.changes.
type Change struct {
	ID          string             `json:"change_id"`
	Kind        string             `json:"kind"`
	CustomerID  string             `json:"customer_id"`
	RelatedIDs  []string           `json:"related_ids"`
	Identifiers []event.Identifier `json:"identifiers"`
	EventID     string             `json:"event_id,omitempty"`
	Channel     string             `json:"channel,omitempty"`
	Reason      string             `json:"reason,omitempty"`
	At          time.Time          `json:"at"`
	Version     int64              `json:"version"`
}

// Result says what applying an event or a command changed.
type Result struct {
	CustomerID string   // the event's customer ("" for commands)
	Phase      string   // the event's journey phase
	Changes    []Change // merges, splits, links, erasures
	Updated    []string // live customers whose profile must be republished
	Removed    []string // customer ids to tombstone (merged away, split away, erased)
	// Singleton is the profile of an event that no linkable identifier ties to
	// anyone (every identifier blocked or a hub); it is not kept in the graph.
	Singleton *Profile
}

// evKey orders evidence: event time, then event id.
type evKey struct {
	At int64 // unix ms
	ID string
}

func (a evKey) compare(b evKey) int {
	if c := cmp.Compare(a.At, b.At); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// node is one identifier.
// Fields are ordered to pack: a graph holds one node per identifier.
type node struct {
	key      string // "type:value"
	cust     *profile
	agg      *aggregate // events anchored on this identifier
	partners []partner  // stronger identifiers seen with it, for hub detection
	// first is the key of its earliest recorded evidence (nil: none),
	// pointing into that evidence: 8 bytes where a copy takes 24. Evidence
	// keys do not change once applied (only their id moves to the arena,
	// the same string), so the pointer reads what a copy would hold.
	first *evKey
	prio  int32
	hub   bool // quarantined: never links again
	// noMerge: shared by several people (detected, or unlinked by an
	// operator): it stays with the profile it first joined but never links
	// anything again; events carrying it link their other identifiers.
	noMerge bool
	erased  bool
}

// firstKey is the key of n's earliest recorded evidence (zero: none).
func (n *node) firstKey() evKey {
	if n.first == nil {
		return evKey{}
	}
	return *n.first
}

func (n *node) typ() string { t, _, _ := strings.Cut(n.key, ":"); return t }

func (n *node) identifier() event.Identifier {
	t, v, _ := strings.Cut(n.key, ":")
	return event.Identifier{Type: t, Value: v, Blocked: n.hub}
}

type partner struct {
	n           *node
	first, last int64 // when they were first and last seen together
}

// evidence is an event that linked identifiers: the ledger entry that makes
// every link explainable and every merge reversible.
type evidence struct {
	// Fields are ordered to pack into 48 bytes: a graph holds about one
	// evidence per identifier.
	key evKey
	// list and n are its linkable identifiers, by priority: the first
	// element and length of a slice (see nodes), 10 bytes where a slice
	// header takes 24.
	list    **node
	hash    uint32 // of its identifier set, where the evidence index filed it
	channel uint32 // index into Graph.channels
	n       uint16
	merge   bool // it joined profiles when applied
	kept    bool // in the ledger, its event id in Graph.ids
}

// maxEvidenceNodes is how many identifiers evidence can hold (events carry at
// most 64).
const maxEvidenceNodes = math.MaxUint16

// newEvidence returns evidence of nodes (at most maxEvidenceNodes), which it
// keeps: the caller must not change them after.
func newEvidence(key evKey, channel uint32, nodes []*node) *evidence {
	ev := &evidence{key: key, channel: channel}
	ev.setNodes(nodes)
	return ev
}

// nodes returns ev's identifiers. The slice's capacity is its length, so an
// append copies them instead of writing past them.
func (ev *evidence) nodes() []*node {
	if ev.list == nil {
		return nil
	}
	return unsafe.Slice(ev.list, ev.n)
}

// setNodes makes nodes ev's identifiers.
func (ev *evidence) setNodes(nodes []*node) {
	if len(nodes) > maxEvidenceNodes {
		panic(fmt.Sprintf("identity: evidence of %d identifiers (at most %d)", len(nodes), maxEvidenceNodes))
	}
	ev.list, ev.n = nil, uint16(len(nodes))
	if len(nodes) > 0 {
		ev.list = &nodes[0]
	}
}

type profile struct {
	id       string
	created  evKey
	lastKey  evKey // latest evidence of it, or naming one of its identifiers
	version  int64
	nodes    []*node
	evidence []*evidence
	merged   []string
}

// Graph is the identity graph. It is not safe for concurrent use; the
// identity service applies events from one goroutine.
type Graph struct {
	rules      Rules
	nodes      nodeIndex
	profiles   map[string]*profile
	survivor   map[string]string // id no longer live → where its identifiers went
	bySig      evidenceIndex     // evidence by identifier set
	suppressed map[string]bool   // signatures (joined keys) of identifier sets removed by a split
	// mentions: for the few identifiers that have any, the evidence that
	// named them but could not link them (a limit). A map, not a node
	// field: a graph holds one node per identifier, and few are refused.
	mentions map[*node][]*evidence
	// channels names the channels evidence came from, once each.
	channels   []string
	channelIdx map[string]uint32
	// floor is the lowest version this epoch assigns (see SetEpoch).
	floor int64
	// Dense storage of what the graph keeps per identifier (see store.go).
	nodeSlab slab[node]
	aggSlab  slab[aggregate]
	ids      stringArena // event ids of the evidence kept
}

// NewGraph returns an empty graph.
func NewGraph(rules Rules) (*Graph, error) {
	if err := rules.compile(); err != nil {
		return nil, err
	}
	return &Graph{
		rules: rules, nodes: newNodeIndex(), profiles: map[string]*profile{},
		survivor: map[string]string{}, bySig: newEvidenceIndex(), suppressed: map[string]bool{},
		mentions: map[*node][]*evidence{}, channelIdx: map[string]uint32{},
	}, nil
}

// Stats counts what the graph holds.
type Stats struct {
	Identifiers, Profiles, Evidence, Hubs int
}

// Stats counts what the graph holds.
func (g *Graph) Stats() Stats {
	s := Stats{Identifiers: g.nodes.len(), Profiles: len(g.profiles), Evidence: g.bySig.len()}
	g.nodes.all(func(n *node) {
		if n.hub {
			s.Hubs++
		}
	})
	return s
}

// Apply resolves one event: it links its identifiers, merging profiles where
// the rules allow, and returns the event's customer and what changed.
func (g *Graph) Apply(e *event.Event) Result {
	res := Result{Phase: phaseOf(g.rules.Phases, e)}
	key := evKey{e.EventTime.UnixMilli(), e.EventID}
	nodes := g.linkable(e)
	// The event counts for the customer of its strongest identifier, whatever
	// that identifier later turns out to be (shared, a hub): a choice that does
	// not depend on the order events arrive in.
	var anchor *node
	if len(nodes) > 0 {
		anchor = nodes[0]
	}

	// Identifiers this event reveals as hubs or as shared change the past:
	// their components are replayed below, with this event in its place.
	var revealed []*profile
	for _, n := range nodes {
		switch g.observe(n, nodes, key.At) {
		case seenHub:
			n.hub, n.partners = true, nil
			// A hub is rare: find every profile whose evidence names it.
			for _, p := range g.profiles {
				if slices.ContainsFunc(p.evidence, func(ev *evidence) bool { return slices.Contains(ev.nodes(), n) }) {
					revealed = append(revealed, p)
				}
			}
		case seenShared:
			n.noMerge = true
		default:
			continue
		}
		if n.cust != nil {
			revealed = append(revealed, n.cust)
		}
		for _, m := range g.mentions[n] { // evidence that named it without linking it
			if owner := m.nodes()[0].cust; owner != nil {
				revealed = append(revealed, owner)
			}
		}
	}
	nodes = slices.DeleteFunc(slices.Clone(nodes), func(n *node) bool { return n.hub })
	if len(nodes) == 0 && len(revealed) > 0 {
		g.recompute(g.closure(revealed), nil, &res, "hub quarantined by "+e.EventID, e.ReceivedAt)
	}
	if anchor == nil {
		var agg aggregate
		agg.add(e)
		id := uuid.NewSHA1(Namespace, []byte("event:"+e.EventID)).String()
		p := agg.profile(id, g.nextVersion(0), blockedIdentifiers(e), nil, e.ReceivedAt)
		res.CustomerID, res.Singleton = id, &p
		g.bump(&res)
		return res
	}
	if len(nodes) == 0 { // only hubs: the event belongs to the hub's own profile
		g.account(anchor, e, key, &res)
		return res
	}

	ev := newEvidence(key, g.channelIndex(e.Channel), nodes)
	if g.isSuppressed(nodes) {
		// An operator split these identifiers apart: the event counts for its
		// strongest identifier's customer but links nothing.
		ev = newEvidence(key, ev.channel, nodes[:1])
	}
	// An event is late when its component already holds evidence after it,
	// the same identifier set was first seen later (the ledger keeps the
	// earliest evidence of each identifier set), or it predates an identifier's
	// sharing; it also replays what it revealed.
	late := len(revealed) > 0
	if old := g.bySig.get(ev.nodes()); old != nil && old.key.compare(key) > 0 {
		late = true
	}
	set := revealed
	for _, n := range ev.nodes() {
		if n.cust != nil {
			set = append(set, n.cust)
			if n.cust.lastKey.compare(key) > 0 || (n.noMerge && key.compare(n.firstKey()) < 0) {
				late = true
			}
		}
	}
	if late {
		// Evidence must be applied in (time, id) order for the graph not to
		// depend on arrival order: replay the touched components with it.
		g.recompute(g.closure(set), ev, &res, "replay at "+e.EventID, e.ReceivedAt)
	} else {
		g.link(ev, g.usable(ev), &res, e)
	}

	g.account(anchor, e, key, &res)
	return res
}

// account adds the event to its anchor identifier's aggregates and attributes
// it to the anchor's customer (a profile of its own if it has none).
func (g *Graph) account(anchor *node, e *event.Event, key evKey, res *Result) {
	if anchor.cust == nil {
		p := g.newProfile(anchor.key, key)
		anchor.cust = p
		p.nodes = append(p.nodes, anchor)
		p.lastKey = key
	}
	if anchor.agg == nil {
		anchor.agg = g.aggSlab.new()
	}
	anchor.agg.add(e)
	res.CustomerID = anchor.cust.id
	res.Updated = appendUnique(res.Updated, anchor.cust.id)
	g.bump(res)
}

// usable returns the identifiers of evidence that may link: a shared
// identifier counts only in the evidence it first appeared in (it stays with
// that profile) or when it is the evidence's only identifier. Once shared, it
// is treated as if it always had been, so the merges it bridged are undone
// and the result does not depend on when the sharing was noticed.
func (g *Graph) usable(ev *evidence) []*node {
	if len(ev.nodes()) < 2 || !slices.ContainsFunc(ev.nodes(), func(n *node) bool { return n.noMerge }) {
		return ev.nodes()
	}
	out := slices.DeleteFunc(slices.Clone(ev.nodes()), func(n *node) bool { return n.noMerge && n.firstKey() != ev.key })
	if len(out) == 0 {
		return ev.nodes()[:1]
	}
	return out
}

// linkable returns the event's identifiers that are not blocked, as nodes by
// priority (hubs included: they link nothing, but an event can belong to one).
func (g *Graph) linkable(e *event.Event) []*node {
	nodes := make([]*node, 0, len(e.Identifiers))
	for _, id := range e.Identifiers {
		if id.Blocked {
			continue
		}
		k := id.Type + ":" + id.Value
		n := g.nodes.get(k)
		if n == nil {
			if g.rules.blocklist.Blocked(id.Type, id.Value) {
				continue // never linked, so never stored
			}
			n = g.nodeSlab.new()
			n.key, n.prio = k, int32(g.rules.rule(id.Type).Priority)
			g.nodes.put(n)
		}
		if slices.Contains(nodes, n) {
			continue
		}
		nodes = append(nodes, n)
	}
	slices.SortStableFunc(nodes, func(a, b *node) int {
		if c := cmp.Compare(a.prio, b.prio); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return nodes
}

// What observe learns about an identifier.
const (
	seenNothing = iota
	seenShared  // used by more people than one profile holds: stops linking
	seenHub     // used by more than HubProfiles people: quarantined
)

// observe records the stronger identifiers n is seen with. Seen with more
// identifiers of one type than a profile may hold (two loyalty cards, two
// user ids), n is shared: a household's email, a family tablet. Seen with
// stronger identifiers implying more than HubProfiles distinct profiles within
// HubWindow (ceil(distinct of a type ÷ that type's per-profile limit)), it is a
// hub: a shop's walk-in number, a reception line.
func (g *Graph) observe(n *node, nodes []*node, at int64) int {
	added := false
	for _, m := range nodes {
		if m.prio >= n.prio {
			continue
		}
		i := slices.IndexFunc(n.partners, func(p partner) bool { return p.n == m })
		switch {
		case i < 0:
			n.partners = append(n.partners, partner{n: m, first: at, last: at})
			added = true
		case at > n.partners[i].last:
			n.partners[i].last = at
		case at < n.partners[i].first:
			n.partners[i].first = at
			added = true // sharing may now date from earlier
		}
	}
	if !added || n.hub {
		return seenNothing
	}
	window := g.rules.HubWindow.Milliseconds()
	inWindow := map[string]int{}
	firsts := map[string][]int64{}
	for _, p := range n.partners {
		if p.n.erased {
			continue
		}
		firsts[p.n.typ()] = append(firsts[p.n.typ()], p.first)
		if abs(p.last-at) <= window || abs(p.first-at) <= window {
			inWindow[p.n.typ()]++
		}
	}
	for t, count := range inWindow {
		limit := g.rules.rule(t).Max
		if (count+limit-1)/limit > g.rules.HubProfiles {
			return seenHub
		}
	}
	if !n.noMerge {
		for t, fs := range firsts {
			if len(fs) > g.rules.rule(t).Max {
				return seenShared
			}
		}
	}
	return seenNothing
}

// link applies one evidence greedily in priority order: identifiers without a
// profile join, other profiles merge in, until a per-profile limit would be
// broken; the rest of the (lower-priority) identifiers stay unlinked. It
// returns the profile the evidence's first identifier belongs to. With res nil
// (a replay) it records no changes.
func (g *Graph) link(ev *evidence, nodes []*node, res *Result, e *event.Event) *profile {
	var group []*profile
	var pending []*node
	// Per-type counts of the group, built only once a limit must be checked:
	// most events repeat identifiers of one profile and need none.
	var counts map[string]int
	ensure := func() {
		if counts != nil {
			return
		}
		counts = map[string]int{}
		for _, p := range group {
			for _, m := range p.nodes {
				counts[m.typ()]++
			}
		}
		for _, m := range pending {
			counts[m.typ()]++
		}
	}
	fits := func(add map[string]int) bool {
		ensure()
		for t, c := range add {
			if counts[t]+c > g.rules.rule(t).Max {
				return false
			}
		}
		return true
	}
	stop := len(nodes)
	for i, n := range nodes {
		stop = i
		switch {
		case n.cust == nil:
			if !fits(map[string]int{n.typ(): 1}) {
				goto done
			}
			pending = append(pending, n)
			counts[n.typ()]++
		case slices.Contains(group, n.cust):
		case len(group) == 0 && len(pending) == 0:
			group = append(group, n.cust) // the first profile: nothing to check yet
		default:
			add := map[string]int{}
			for _, m := range n.cust.nodes {
				add[m.typ()]++
			}
			if !fits(add) {
				goto done
			}
			group = append(group, n.cust)
			for t, c := range add {
				counts[t] += c
			}
		}
		stop = len(nodes)
	}
done:
	// Evidence enters the ledger when it names an identifier set the ledger
	// lacks; its event id then moves to the arena before a new profile's
	// creation key copies it.
	keep := (len(nodes) > 1 || len(group) == 0) && g.bySig.get(ev.nodes()) == nil
	if keep && !ev.kept {
		ev.kept, ev.key.ID = true, g.ids.intern(ev.key.ID)
	}
	var target *profile
	if len(group) == 0 {
		target = g.newProfile(pending[0].key, ev.key)
	} else {
		target = slices.MinFunc(group, func(a, b *profile) int { return a.created.compare(b.created) })
	}
	ev.merge = len(group) > 1
	for _, q := range group {
		if q != target {
			g.absorb(target, q, ev, res, e)
		}
	}
	for _, n := range pending {
		n.cust = target
		target.nodes = append(target.nodes, n)
	}
	if len(pending) > 0 && res != nil {
		ids := make([]event.Identifier, len(pending))
		for i, n := range pending {
			ids[i] = n.identifier()
		}
		res.Changes = append(res.Changes, Change{
			ID: changeID(ChangeLink, ev.key.ID, target.id), Kind: ChangeLink, CustomerID: target.id,
			RelatedIDs: []string{}, Identifiers: ids, EventID: ev.key.ID, Channel: g.channels[ev.channel], At: e.ReceivedAt,
		})
	}
	if keep {
		g.bySig.put(ev)
		target.evidence = insertSorted(target.evidence, ev)
		for _, n := range ev.nodes() {
			// An equal key is taken too: a replay may have set it from
			// this evidence before its id moved to the arena.
			if n.first == nil || ev.key.compare(*n.first) <= 0 {
				n.first = &ev.key
			}
		}
		target.lastKey = maxKey(target.lastKey, ev.key)
		// Identifiers the rules kept out remember this evidence: if their own
		// component changes, this one must be replayed with it.
		for _, n := range nodes[stop:] {
			g.mentions[n] = append(g.mentions[n], ev)
			if n.cust != nil {
				n.cust.lastKey = maxKey(n.cust.lastKey, ev.key)
			}
		}
	}
	return target
}

func (g *Graph) newProfile(firstKey string, created evKey) *profile {
	id := uuid.NewSHA1(Namespace, []byte(firstKey)).String()
	p := &profile{id: id, created: created}
	g.profiles[id] = p
	delete(g.survivor, id)
	return p
}

// absorb merges q into the survivor p.
func (g *Graph) absorb(p, q *profile, ev *evidence, res *Result, e *event.Event) {
	for _, n := range q.nodes {
		n.cust = p
	}
	p.nodes = append(p.nodes, q.nodes...)
	for _, x := range q.evidence {
		p.evidence = insertSorted(p.evidence, x)
	}
	p.merged = append(append(p.merged, q.id), q.merged...)
	p.version = max(p.version, q.version)
	p.lastKey = maxKey(p.lastKey, q.lastKey)
	if q.created.compare(p.created) < 0 {
		p.created = q.created
	}
	delete(g.profiles, q.id)
	g.survivor[q.id] = p.id
	if res == nil {
		return
	}
	ids := make([]event.Identifier, 0, len(ev.nodes()))
	for _, n := range ev.nodes() {
		ids = append(ids, n.identifier())
	}
	res.Changes = append(res.Changes, Change{
		ID: changeID(ChangeMerge, ev.key.ID, q.id), Kind: ChangeMerge, CustomerID: p.id, RelatedIDs: []string{q.id},
		Identifiers: ids, EventID: ev.key.ID, Channel: g.channels[ev.channel], Reason: "shared identifiers", At: e.ReceivedAt,
	})
	res.Removed = appendUnique(res.Removed, q.id)
	res.Updated = appendUnique(res.Updated, p.id)
}

// closure adds to set every profile its evidence mentions: replaying a
// component must see the same neighbours its original run saw.
func (g *Graph) closure(set []*profile) []*profile {
	out := slices.Clone(set)
	slices.SortFunc(out, func(a, b *profile) int { return strings.Compare(a.id, b.id) })
	out = slices.Compact(out)
	add := func(p *profile) {
		if p != nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, ev := range out[i].evidence {
			for _, n := range ev.nodes() {
				add(n.cust)
			}
		}
		for _, n := range out[i].nodes {
			for _, m := range g.mentions[n] {
				add(m.nodes()[0].cust) // the profile that evidence linked
			}
		}
	}
	return out
}

// recompute rebuilds the profiles of set from their evidence (plus extra),
// replayed in (time, id) order without hubs, unlinked bridges and suppressed
// evidence, and reports how the result differs: splits, merges, new versions.
func (g *Graph) recompute(set []*profile, extra *evidence, res *Result, reason string, at time.Time) {
	oldOf := map[*node]*profile{}
	var all []*evidence
	for _, p := range set {
		for _, n := range p.nodes {
			oldOf[n] = p
			n.cust = nil
		}
		all = append(all, p.evidence...)
		delete(g.profiles, p.id)
	}
	var fresh []*node // identifiers the extra evidence brings in
	if extra != nil {
		all = append(all, extra)
		for _, n := range extra.nodes() {
			if n.cust == nil && oldOf[n] == nil {
				fresh = append(fresh, n)
			}
		}
	}
	slices.SortFunc(all, func(a, b *evidence) int { return a.key.compare(b.key) })
	first := map[*node]*evKey{} // each identifier's earliest evidence
	for _, ev := range all {
		for _, n := range ev.nodes() {
			if _, ok := first[n]; !ok {
				first[n] = &ev.key
			}
		}
	}
	for n, k := range first {
		n.first = k
	}
	for _, ev := range all {
		g.bySig.remove(ev)
		for _, n := range ev.nodes() {
			g.dropMention(n, ev)
		}
	}
	for _, ev := range all {
		if slices.ContainsFunc(ev.nodes(), func(n *node) bool { return n.hub || n.erased }) {
			ev.setNodes(slices.DeleteFunc(ev.nodes(), func(n *node) bool { return n.hub || n.erased }))
		}
		if len(ev.nodes()) == 0 || g.isSuppressed(ev.nodes()) || (ev != extra && g.bySig.get(ev.nodes()) != nil) {
			continue // gone, split apart by an operator, or a later duplicate of an identifier set
		}
		ev.merge = false
		g.link(ev, g.usable(ev), nil, nil)
	}
	// Identifiers that were linked and are left without evidence keep a
	// profile of their own when events were resolved to them (or they are a
	// hub, whose profile holds the walk-ins and never links); others are
	// simply unlinked, as an in-order run would have left them.
	for n := range oldOf {
		if n.cust == nil && !n.erased && (n.agg != nil || n.hub) {
			created := evKey{At: n.agg.firstSeenMillis(), ID: n.key}
			if k, ok := first[n]; ok {
				created = *k
			}
			p := g.newProfile(n.key, created)
			n.cust = p
			p.nodes = append(p.nodes, n)
		}
	}
	g.diff(oldOf, res, reason, at)
	if res != nil && extra != nil {
		byProfile := map[*profile][]event.Identifier{}
		for _, n := range fresh {
			if n.cust != nil {
				byProfile[n.cust] = append(byProfile[n.cust], n.identifier())
			}
		}
		for p, ids := range byProfile {
			res.Changes = append(res.Changes, Change{
				ID: changeID(ChangeLink, extra.key.ID, p.id), Kind: ChangeLink, CustomerID: p.id,
				RelatedIDs: []string{}, Identifiers: ids, EventID: extra.key.ID, Channel: g.channels[extra.channel], At: at,
			})
		}
	}
}

// diff reports the outcome of a recompute against the profiles before it.
func (g *Graph) diff(oldOf map[*node]*profile, res *Result, reason string, at time.Time) {
	newIDs := map[*profile][]string{} // old profile → ids of the profiles its identifiers went to
	version := map[*profile]int64{}   // new profile → highest version it descends from
	for n, old := range oldOf {
		if n.cust == nil {
			continue
		}
		if !slices.Contains(newIDs[old], n.cust.id) {
			newIDs[old] = append(newIDs[old], n.cust.id)
		}
		version[n.cust] = max(version[n.cust], old.version)
	}
	for p, v := range version {
		p.version = max(p.version, v)
		res.Updated = appendUnique(res.Updated, p.id)
		for old, ids := range newIDs {
			if old.id != p.id && len(ids) == 1 && ids[0] == p.id {
				p.merged = appendUnique(p.merged, old.id)
			}
		}
		slices.Sort(p.merged)
	}
	olds := make([]*profile, 0, len(newIDs))
	for old := range newIDs {
		olds = append(olds, old)
	}
	slices.SortFunc(olds, func(a, b *profile) int { return strings.Compare(a.id, b.id) })
	for _, old := range olds {
		ids := newIDs[old]
		slices.Sort(ids)
		if _, live := g.profiles[old.id]; !live {
			res.Removed = appendUnique(res.Removed, old.id)
			// The old id now answers with the profile its creating identifier is in.
			if len(old.nodes) > 0 && old.nodes[0].cust != nil {
				g.survivor[old.id] = old.nodes[0].cust.id
			}
		}
		if len(ids) == 1 && ids[0] != old.id {
			// All of it went to one other profile (a late event made another
			// profile the oldest): for downstream that is a merge.
			res.Changes = append(res.Changes, Change{
				ID: changeID(ChangeMerge, reason, old.id), Kind: ChangeMerge, CustomerID: ids[0], RelatedIDs: []string{old.id},
				Identifiers: []event.Identifier{}, Reason: reason, At: at,
			})
			continue
		}
		if len(ids) > 1 {
			res.Changes = append(res.Changes, Change{
				ID: changeID(ChangeSplit, reason, old.id), Kind: ChangeSplit, CustomerID: old.id, RelatedIDs: ids,
				Identifiers: []event.Identifier{}, Reason: reason, At: at, Version: g.nextVersion(old.version),
			})
			res.Changes = append(res.Changes, g.repointMerged(old, reason, at)...)
		}
	}
}

// repointMerged points every id once merged into a profile that was split —
// directly, or through a chain of merges — at the profile its creating
// identifier is in now, and reports those ids as merges into it (their
// versions come from bump, like every merge's).
//
// Why: the split change names only the profiles the split made. An id A
// merged into B before B was merged into C still answered, downstream, with
// C (identity_map's row for A, or the sink's shortcut through B); after C is
// split and B revived, A belongs where its first identifier went.
func (g *Graph) repointMerged(old *profile, reason string, at time.Time) []Change {
	by := map[string][]string{}
	if _, live := g.profiles[old.id]; !live {
		// The split profile's own id, when no piece kept it: it answers with
		// the piece its creating identifier went to.
		if to, ok := g.survivor[old.id]; ok {
			by[to] = append(by[to], old.id)
		}
	}
	for _, n := range old.nodes {
		if n.cust == nil {
			continue
		}
		id := uuid.NewSHA1(Namespace, []byte(n.key)).String()
		if _, issued := g.survivor[id]; !issued || id == old.id {
			continue // never a customer, still one, or the split profile itself (handled above)
		}
		g.survivor[id] = n.cust.id
		by[n.cust.id] = append(by[n.cust.id], id)
	}
	return mergesInto(by, reason+"\x00repoint\x00"+old.id, ReasonReasserted+": merged before into "+old.id+", which was split ("+reason+")", at)
}

// mergesInto reports, as one merge change per customer (in id order, ids
// sorted, empty lists left out), that the ids grouped under it are merged
// into it. Versions are the caller's (or bump's) to set.
func mergesInto(by map[string][]string, cause, reason string, at time.Time) []Change {
	var changes []Change
	for _, to := range slices.Sorted(maps.Keys(by)) {
		if len(by[to]) == 0 {
			continue
		}
		slices.Sort(by[to])
		changes = append(changes, Change{
			ID: changeID(ChangeMerge, cause, to), Kind: ChangeMerge, CustomerID: to, RelatedIDs: by[to],
			Identifiers: []event.Identifier{}, Reason: reason, At: at,
		})
	}
	return changes
}

// ReasonReasserted begins the reason of every change Reassert makes: such a
// change restates where ids stand, so analyses that count merges and splits
// leave them out.
const ReasonReasserted = "reasserted"

// Reasons of the split changes an operator's action causes, each followed by
// its subject: the customer id asked to split, or the unlinked identifier
// ("type:value"). A successor re-applies the actions a predecessor took past
// its snapshot by reading them back (see the stage's reconcile).
const (
	ReasonSplit    = "split "
	ReasonUnlinked = "unlinked "
)

// EpochShift is the number of low bits of a version that count within an
// epoch; the epoch is the version's high bits.
const EpochShift = 32

// SetEpoch makes every version assigned from now on greater than any version
// assigned in an earlier epoch.
//
// Why: versions count per profile and are compared across profiles
// downstream (identity_map's argMax over the changes naming an id). Within
// one history that order is sound — a profile's version is at least that of
// every profile it descends from — but an instance that takes over from a
// snapshot replays the events its predecessor had already resolved, possibly
// in another interleaving, and its changes must outrank everything the
// predecessor published, however high that went. Each takeover therefore
// starts a new epoch (a number Kafka hands out: it only grows).
func (g *Graph) SetEpoch(epoch int64) { g.floor = epoch << EpochShift }

// nextVersion is the version that follows v in this epoch.
func (g *Graph) nextVersion(v int64) int64 { return max(v, g.floor) + 1 }

// bump gives every updated profile a new version: versions only grow, so a
// compacted topic or a ReplacingMergeTree keeps the newest state.
func (g *Graph) bump(res *Result) {
	for _, id := range res.Updated {
		if p := g.profiles[id]; p != nil {
			p.version = g.nextVersion(p.version)
		}
	}
	res.Updated = slices.DeleteFunc(res.Updated, func(id string) bool { return g.profiles[id] == nil })
	res.Removed = slices.DeleteFunc(res.Removed, func(id string) bool { return g.profiles[id] != nil })
	for i := range res.Changes {
		c := &res.Changes[i]
		if p := g.profiles[c.CustomerID]; p != nil && c.Kind != ChangeSplit {
			c.Version = p.version
		}
	}
}

// Reassert states, as changes, where each of ids stands now — merged into
// its live customer, or, an id that is itself live, split into itself alone
// — and where every id ever merged into those customers stands. Every
// customer concerned gets a new version, which its changes carry, so they
// outrank every earlier change that named the ids. Ids the graph does not
// know (erased) are left out.
//
// Why: downstream, identity_map keeps for each id the change naming it with
// the highest version, and the sink adds rows that shorten chains of merges
// (A→B and B→C give A→C). An instance that takes over replays its
// predecessor's last events, possibly in another interleaving of
// partitions, and may never again name an id the predecessor merged away:
// that stale change, and every shortcut derived from it, would stand
// forever. The successor reasserts every id its predecessor named, and the
// ids whose shortcuts may pass through them: those merged into the same
// customers.
func (g *Graph) Reassert(ids []string, why string, at time.Time) Result {
	reason := ReasonReasserted + ": " + why
	var res Result
	cause := fmt.Sprintf("reassert@%d", g.floor>>EpochShift)
	bySurvivor := map[string][]string{}
	seen := map[string]bool{}
	for _, id := range ids {
		if live, ok := g.Resolve(id); ok && !seen[id] {
			seen[id] = true
			bySurvivor[live] = append(bySurvivor[live], id)
		}
	}
	for id := range g.survivor {
		if live, ok := g.Resolve(id); ok && bySurvivor[live] != nil && !seen[id] {
			seen[id] = true
			bySurvivor[live] = append(bySurvivor[live], id)
		}
	}
	for _, live := range slices.Sorted(maps.Keys(bySurvivor)) {
		p := g.profiles[live]
		p.version = g.nextVersion(p.version)
		res.Updated = append(res.Updated, live)
		if slices.Contains(bySurvivor[live], live) {
			res.Changes = append(res.Changes, Change{
				ID: changeID(ChangeSplit, cause, live), Kind: ChangeSplit, CustomerID: live, RelatedIDs: []string{live},
				Identifiers: []event.Identifier{}, Reason: reason, At: at, Version: p.version,
			})
			bySurvivor[live] = slices.DeleteFunc(bySurvivor[live], func(id string) bool { return id == live })
		}
	}
	for _, c := range mergesInto(bySurvivor, cause, reason, at) {
		c.Version = g.profiles[c.CustomerID].version
		res.Changes = append(res.Changes, c)
	}
	return res
}

// Resolve returns the live customer id for any id ever issued (itself, or the
// survivor it was merged or split into), and whether it is known.
func (g *Graph) Resolve(id string) (string, bool) {
	for range 64 { // chains are short; the bound guards against a cycle bug
		if _, ok := g.profiles[id]; ok {
			return id, true
		}
		next, ok := g.survivor[id]
		if !ok {
			return "", false
		}
		id = next
	}
	return "", false
}

// Profile returns the live profile for any id ever issued.
func (g *Graph) Profile(id string) (Profile, bool) {
	live, ok := g.Resolve(id)
	if !ok {
		return Profile{}, false
	}
	return g.view(g.profiles[live]), true
}

// Lookup returns the profile holding an identifier (type and normalised value).
func (g *Graph) Lookup(typ, value string) (Profile, bool) {
	n := g.nodes.get(typ + ":" + value)
	if n == nil || n.cust == nil {
		return Profile{}, false
	}
	return g.view(n.cust), true
}

// Profiles returns the views of the given live customer ids (unknown ids are skipped).
func (g *Graph) Profiles(ids []string, at time.Time) []Profile {
	out := make([]Profile, 0, len(ids))
	for _, id := range ids {
		if p := g.profiles[id]; p != nil {
			v := g.view(p)
			v.UpdatedAt = at
			out = append(out, v)
		}
	}
	return out
}

func (g *Graph) view(p *profile) Profile {
	var agg aggregate
	ids := make([]event.Identifier, 0, len(p.nodes))
	for _, n := range p.nodes {
		agg.merge(n.agg)
		ids = append(ids, n.identifier())
	}
	event.SortIdentifiers(ids)
	return agg.profile(p.id, p.version, ids, p.merged, time.Time{})
}

// Unlink stops an identifier from bridging profiles and undoes the merges it
// bridged: its component is replayed with the identifier removed from every
// merging evidence. The identifier stays with the profile it first belonged to.
func (g *Graph) Unlink(typ, value string, at time.Time) (Result, error) {
	n := g.nodes.get(typ + ":" + value)
	if n == nil || n.erased {
		return Result{}, fmt.Errorf("identifier %s:%s: %w", typ, value, ErrNotFound)
	}
	var res Result
	n.noMerge = true
	if n.cust != nil {
		g.recompute(g.closure([]*profile{n.cust}), nil, &res, ReasonUnlinked+n.key, at)
	}
	g.bump(&res)
	return res, nil
}

// Split undoes every merge of a customer: the evidence that joined profiles is
// removed (and its identifier sets never merge again) and the component is
// replayed, restoring the profiles that existed before the merges.
func (g *Graph) Split(customerID string, at time.Time) (Result, error) {
	live, ok := g.Resolve(customerID)
	if !ok {
		return Result{}, fmt.Errorf("customer %s: %w", customerID, ErrNotFound)
	}
	p := g.profiles[live]
	var res Result
	for _, ev := range p.evidence {
		if ev.merge {
			g.suppressed[signature(ev.nodes())] = true
		}
	}
	g.recompute(g.closure([]*profile{p}), nil, &res, ReasonSplit+live, at)
	g.bump(&res)
	return res, nil
}

// Erase forgets a customer (right to be forgotten): the profile, its
// identifiers, their aggregates and evidence leave the graph, and the change
// names every customer id that ever pointed at it, so that downstream stores
// can delete their rows. The change carries no personal data.
func (g *Graph) Erase(customerID string, at time.Time) (Result, error) {
	live, ok := g.Resolve(customerID)
	if !ok {
		return Result{}, fmt.Errorf("customer %s: %w", customerID, ErrNotFound)
	}
	p := g.profiles[live]
	var erasedAggs []*aggregate
	erasedKeys := make(map[string]bool, len(p.nodes))
	for _, n := range p.nodes {
		erasedKeys[n.key] = true
		if n.agg != nil {
			erasedAggs = append(erasedAggs, n.agg)
		}
		n.erased, n.cust, n.agg, n.partners = true, nil, nil, nil
		g.nodes.remove(n.key)
	}
	for _, ev := range p.evidence {
		g.bySig.remove(ev)
		for _, n := range ev.nodes() {
			g.dropMention(n, ev)
		}
	}
	for _, n := range p.nodes {
		delete(g.mentions, n)
	}
	// Other profiles' evidence may name an erased identifier (a link the rules
	// refused), and other identifiers remember it as a partner: drop it there too.
	erased := func(n *node) bool { return n.erased }
	for _, q := range g.profiles {
		for _, ev := range q.evidence {
			if !slices.ContainsFunc(ev.nodes(), erased) {
				continue
			}
			// The index finds evidence by its identifier set: take it out
			// while the set changes.
			indexed := g.bySig.get(ev.nodes()) == ev
			if indexed {
				g.bySig.remove(ev)
			}
			ev.setNodes(slices.DeleteFunc(ev.nodes(), erased))
			if indexed && len(ev.nodes()) > 0 && g.bySig.get(ev.nodes()) == nil {
				g.bySig.put(ev)
			}
		}
	}
	g.nodes.all(func(n *node) {
		n.partners = slices.DeleteFunc(n.partners, func(p partner) bool { return p.n.erased })
	})
	related := []string{live}
	for old, to := range g.survivor {
		if r, _ := g.Resolve(to); r == live {
			related = append(related, old)
		}
	}
	for _, old := range related {
		delete(g.survivor, old)
	}
	delete(g.profiles, live)
	// The slabs keep an erased node's and aggregate's memory until their
	// whole chunk goes: clear what they held, so that nothing of the
	// customer stays reachable (the key string is then freed).
	for _, n := range p.nodes {
		n.key = ""
	}
	// Identifier sets an operator split apart are remembered by their keys:
	// those naming an erased identifier go too (should the identifier come
	// back, it is a new one).
	for sig := range g.suppressed {
		if slices.ContainsFunc(strings.Split(sig, "\x00"), func(k string) bool { return erasedKeys[k] }) {
			delete(g.suppressed, sig)
		}
	}
	for _, a := range erasedAggs {
		*a = aggregate{}
	}
	slices.Sort(related)
	res := Result{
		Removed: related,
		Changes: []Change{{
			ID: changeID(ChangeErase, "", live), Kind: ChangeErase, CustomerID: live, RelatedIDs: related,
			Identifiers: []event.Identifier{}, Reason: "erasure requested", At: at, Version: g.nextVersion(p.version),
		}},
	}
	return res, nil
}

func (a *aggregate) firstSeenMillis() int64 {
	if a == nil {
		return 0
	}
	return fromNanos(a.firstSeen).UnixMilli()
}

func maxKey(a, b evKey) evKey {
	if a.compare(b) >= 0 {
		return a
	}
	return b
}

// channelIndex returns the index of channel in g.channels, adding it.
func (g *Graph) channelIndex(channel string) uint32 {
	if i, ok := g.channelIdx[channel]; ok {
		return i
	}
	i := uint32(len(g.channels))
	g.channels = append(g.channels, channel)
	g.channelIdx[channel] = i
	return i
}

// dropMention forgets that ev named n without linking it.
func (g *Graph) dropMention(n *node, ev *evidence) {
	list, ok := g.mentions[n]
	if !ok {
		return
	}
	if list = slices.DeleteFunc(list, func(m *evidence) bool { return m == ev }); len(list) == 0 {
		delete(g.mentions, n)
	} else {
		g.mentions[n] = list
	}
}

// isSuppressed reports whether an operator split the identifier set nodes
// apart (no signature is built while nothing was ever split).
func (g *Graph) isSuppressed(nodes []*node) bool {
	return len(g.suppressed) > 0 && g.suppressed[signature(nodes)]
}

// signature is an identifier set's joined keys, in key order.
func signature(nodes []*node) string {
	keys := make([]string, len(nodes))
	for i, n := range nodes {
		keys[i] = n.key
	}
	slices.Sort(keys)
	return strings.Join(keys, "\x00")
}

func changeID(kind, cause, subject string) string {
	return uuid.NewSHA1(Namespace, []byte(kind+"\x00"+cause+"\x00"+subject)).String()
}

func insertSorted(list []*evidence, ev *evidence) []*evidence {
	i, _ := slices.BinarySearchFunc(list, ev, func(a, b *evidence) int { return a.key.compare(b.key) })
	return slices.Insert(list, i, ev)
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func blockedIdentifiers(e *event.Event) []event.Identifier {
	out := make([]event.Identifier, len(e.Identifiers))
	for i, id := range e.Identifiers {
		id.Blocked = true
		out[i] = id
	}
	return out
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
