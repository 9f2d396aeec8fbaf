package identity

import (
	"encoding/gob"
	"fmt"
	"io"
	"slices"
	"time"
)

// The snapshot is the graph flattened into index-linked slices, gob-encoded.
// The identity service writes it atomically with the input offsets it covers.
type snapNode struct {
	Key      string
	Cust     int32 // profile index, -1 for none
	Agg      *snapAggregate
	Partners []snapPartner
	Mentions []int32 // evidence indexes
	Hub      bool
	NoMerge  bool
	First    evKey
}

// snapAggregate is an aggregate as snapshots have always stored it.
type snapAggregate struct {
	FirstSeen, LastSeen time.Time
	Builtin             [4]int64
	Custom              []ChannelCount
	Orders              int64
	Spend               float64
	CSAT, NPS, CES      snapScore
	LowScores           int64
	Abandoned           int64
	LongWaits           int64
	Returns             int64
}

type snapScore struct {
	At    time.Time
	Score float64
	Set   bool
}

func (s snapScore) score() scoreAt {
	if !s.Set {
		return scoreAt{}
	}
	return scoreAt{at: nanos(s.At), score: s.Score}
}

func snapScoreOf(s scoreAt) snapScore {
	return snapScore{At: fromNanos(s.at), Score: s.score, Set: s.at != 0}
}

func snapAggregateOf(a *aggregate) *snapAggregate {
	if a == nil {
		return nil
	}
	r := a.scores()
	return &snapAggregate{
		FirstSeen: fromNanos(a.firstSeen), LastSeen: fromNanos(a.lastSeen), Builtin: widen(a.builtin), Custom: r.custom,
		Orders: int64(a.orders), Spend: a.spend, CSAT: snapScoreOf(r.csat), NPS: snapScoreOf(r.nps), CES: snapScoreOf(r.ces),
		LowScores: int64(r.lowScores), Abandoned: int64(a.abandoned), LongWaits: int64(a.longWaits), Returns: int64(a.returns),
	}
}

func widen(c [4]uint32) (w [4]int64) {
	for i, v := range c {
		w[i] = int64(v)
	}
	return w
}

func narrow(w [4]int64) (c [4]uint32) {
	for i, v := range w {
		c[i] = uint32(v)
	}
	return c
}

// aggregate returns the aggregate s describes, allocated from slab.
func (s *snapAggregate) aggregate(slab *slab[aggregate]) *aggregate {
	if s == nil {
		return nil
	}
	a := slab.new()
	*a = aggregate{
		builtin: narrow(s.Builtin), orders: uint32(s.Orders), spend: s.Spend, abandoned: uint32(s.Abandoned), longWaits: uint32(s.LongWaits), returns: uint32(s.Returns),
	}
	if !s.FirstSeen.IsZero() {
		a.firstSeen = nanos(s.FirstSeen)
	}
	if !s.LastSeen.IsZero() {
		a.lastSeen = nanos(s.LastSeen)
	}
	if len(s.Custom) > 0 || s.CSAT.Set || s.NPS.Set || s.CES.Set || s.LowScores != 0 {
		a.rare = &rareAggregate{custom: slices.Clone(s.Custom), csat: s.CSAT.score(), nps: s.NPS.score(), ces: s.CES.score(), lowScores: uint32(s.LowScores)}
	}
	return a
}

type snapPartner struct {
	N           int32
	First, Last int64
}

type snapEvidence struct {
	Key     evKey
	Channel string
	Nodes   []int32
	Merge   bool
}

type snapProfile struct {
	ID       string
	Created  evKey
	LastKey  evKey
	Version  int64
	Nodes    []int32
	Evidence []int32
	Merged   []string
}

type snapGraph struct {
	Nodes      []snapNode
	Evidence   []snapEvidence
	Profiles   []snapProfile
	Survivor   map[string]string
	Suppressed []string
}

// Save writes the whole graph to w.
func (g *Graph) Save(w io.Writer) error {
	nodeIdx := make(map[*node]int32, g.nodes.len())
	var s snapGraph
	g.nodes.all(func(n *node) {
		nodeIdx[n] = int32(len(s.Nodes))
		s.Nodes = append(s.Nodes, snapNode{Key: n.key, Agg: snapAggregateOf(n.agg), Hub: n.hub, NoMerge: n.noMerge, First: n.firstKey()})
	})
	profIdx := make(map[*profile]int32, len(g.profiles))
	evIdx := map[*evidence]int32{}
	addEvidence := func(ev *evidence) int32 {
		if i, ok := evIdx[ev]; ok {
			return i
		}
		i := int32(len(s.Evidence))
		evIdx[ev] = i
		se := snapEvidence{Key: ev.key, Channel: g.channels[ev.channel], Merge: ev.merge}
		for _, n := range ev.nodes() {
			se.Nodes = append(se.Nodes, nodeIdx[n])
		}
		s.Evidence = append(s.Evidence, se)
		return i
	}
	for _, p := range g.profiles {
		profIdx[p] = int32(len(s.Profiles))
		sp := snapProfile{ID: p.id, Created: p.created, LastKey: p.lastKey, Version: p.version, Merged: p.merged}
		for _, n := range p.nodes {
			sp.Nodes = append(sp.Nodes, nodeIdx[n])
		}
		for _, ev := range p.evidence {
			sp.Evidence = append(sp.Evidence, addEvidence(ev))
		}
		s.Profiles = append(s.Profiles, sp)
	}
	for n, i := range nodeIdx {
		sn := &s.Nodes[i]
		sn.Cust = -1
		if n.cust != nil {
			sn.Cust = profIdx[n.cust]
		}
		for _, p := range n.partners {
			if j, ok := nodeIdx[p.n]; ok {
				sn.Partners = append(sn.Partners, snapPartner{N: j, First: p.first, Last: p.last})
			}
		}
		for _, m := range g.mentions[n] {
			if j, ok := evIdx[m]; ok {
				sn.Mentions = append(sn.Mentions, j)
			}
		}
	}
	s.Survivor = g.survivor
	for sig := range g.suppressed {
		s.Suppressed = append(s.Suppressed, sig)
	}
	if err := gob.NewEncoder(w).Encode(&s); err != nil {
		return fmt.Errorf("identity: saving graph: %w", err)
	}
	return nil
}

// Load reads a graph written by Save.
func Load(r io.Reader, rules Rules) (*Graph, error) {
	g, err := NewGraph(rules)
	if err != nil {
		return nil, err
	}
	var s snapGraph
	if err := gob.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("identity: loading graph: %w", err)
	}
	// Event ids move to the arena; the nodes' and profiles' keys that name
	// the same events share the arena copy, as they did in the saved graph.
	ids := make(map[string]string, len(s.Evidence))
	for i := range s.Evidence {
		id := &s.Evidence[i].Key.ID
		*id = g.ids.intern(*id)
		ids[*id] = *id
	}
	shared := func(k evKey) evKey {
		if id, ok := ids[k.ID]; ok {
			k.ID = id
		}
		return k
	}
	nodes := make([]*node, len(s.Nodes))
	for i, sn := range s.Nodes {
		n := g.nodeSlab.new()
		*n = node{key: sn.Key, prio: int32(g.rules.rule((&node{key: sn.Key}).typ()).Priority), agg: sn.Agg.aggregate(&g.aggSlab), hub: sn.Hub, noMerge: sn.NoMerge}
		nodes[i] = n
		g.nodes.put(n)
	}
	evs := make([]*evidence, len(s.Evidence))
	for i, se := range s.Evidence {
		if len(se.Nodes) > maxEvidenceNodes {
			return nil, fmt.Errorf("identity: snapshot is corrupt: evidence of %d identifiers", len(se.Nodes))
		}
		evNodes := make([]*node, len(se.Nodes))
		for k, j := range se.Nodes {
			if int(j) >= len(nodes) {
				return nil, fmt.Errorf("identity: snapshot is corrupt: evidence names node %d of %d", j, len(nodes))
			}
			evNodes[k] = nodes[j]
		}
		ev := newEvidence(se.Key, g.channelIndex(se.Channel), evNodes)
		ev.merge, ev.kept = se.Merge, true
		evs[i] = ev
		g.bySig.put(ev)
	}
	// A node's first evidence is one of the ledger's (it points into it, as
	// in the saved graph), or one a split or erasure dropped from it.
	keys := make(map[evKey]*evKey, len(evs))
	for _, ev := range evs {
		keys[ev.key] = &ev.key
	}
	for i, sn := range s.Nodes {
		if sn.First == (evKey{}) {
			continue
		}
		if k, ok := keys[sn.First]; ok {
			nodes[i].first = k
		} else {
			k := shared(sn.First)
			nodes[i].first = &k
		}
	}
	profs := make([]*profile, len(s.Profiles))
	for i, sp := range s.Profiles {
		p := &profile{id: sp.ID, created: shared(sp.Created), lastKey: shared(sp.LastKey), version: sp.Version, merged: sp.Merged}
		for _, j := range sp.Nodes {
			p.nodes = append(p.nodes, nodes[j])
		}
		for _, j := range sp.Evidence {
			p.evidence = append(p.evidence, evs[j])
		}
		profs[i] = p
		g.profiles[p.id] = p
	}
	for i, sn := range s.Nodes {
		n := nodes[i]
		if sn.Cust >= 0 {
			n.cust = profs[sn.Cust]
		}
		for _, p := range sn.Partners {
			n.partners = append(n.partners, partner{n: nodes[p.N], first: p.First, last: p.Last})
		}
		for _, j := range sn.Mentions {
			g.mentions[n] = append(g.mentions[n], evs[j])
		}
	}
	if s.Survivor != nil {
		g.survivor = s.Survivor
	}
	for _, sig := range s.Suppressed {
		g.suppressed[sig] = true
	}
	return g, nil
}
