package identity

import (
	"hash/maphash"
	"slices"
)

// evidenceIndex finds the evidence of an identifier set: the ledger keeps
// the earliest event of each set.
//
// It is keyed by a 64-bit hash of the set, not by the set's joined keys,
// which cost about 130 bytes per evidence at a million identifiers. A lookup
// compares the sets themselves, so two sets whose hashes collide stay apart:
// the second one goes to a small map keyed by the joined keys.
type evidenceIndex struct {
	seed     maphash.Seed
	byHash   map[uint64]*evidence
	collided map[string]*evidence
}

func newEvidenceIndex() evidenceIndex {
	return evidenceIndex{seed: maphash.MakeSeed(), byHash: map[uint64]*evidence{}, collided: map[string]*evidence{}}
}

// hash is the same for every order of the same nodes.
func (x *evidenceIndex) hash(nodes []*node) uint64 {
	var h uint64
	for _, n := range nodes {
		h += maphash.String(x.seed, n.key)
	}
	return h
}

// get returns the evidence of exactly the identifier set nodes, or nil.
func (x *evidenceIndex) get(nodes []*node) *evidence {
	if ev := x.byHash[x.hash(nodes)]; ev != nil && sameSet(ev.nodes, nodes) {
		return ev
	}
	if len(x.collided) == 0 {
		return nil
	}
	return x.collided[signature(nodes)]
}

// put makes ev the evidence of its identifier set, replacing any other.
func (x *evidenceIndex) put(ev *evidence) {
	h := x.hash(ev.nodes)
	if old := x.byHash[h]; old == nil || sameSet(old.nodes, ev.nodes) {
		x.byHash[h] = ev
		return
	}
	x.collided[signature(ev.nodes)] = ev
}

// remove drops ev, if it is the evidence of its identifier set. Call it
// before ev.nodes changes.
func (x *evidenceIndex) remove(ev *evidence) {
	h := x.hash(ev.nodes)
	if x.byHash[h] == ev {
		delete(x.byHash, h)
		return
	}
	if len(x.collided) > 0 {
		if sig := signature(ev.nodes); x.collided[sig] == ev {
			delete(x.collided, sig)
		}
	}
}

func (x *evidenceIndex) len() int { return len(x.byHash) + len(x.collided) }

// all calls fn for every indexed evidence.
func (x *evidenceIndex) all(fn func(*evidence)) {
	for _, ev := range x.byHash {
		fn(ev)
	}
	for _, ev := range x.collided {
		fn(ev)
	}
}

// sameSet reports whether a and b hold the same nodes (sets of a few).
func sameSet(a, b []*node) bool {
	if len(a) != len(b) {
		return false
	}
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}
