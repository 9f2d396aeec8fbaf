package identity

import (
	"hash/maphash"
	"slices"
)

// evidenceIndex finds the evidence of an identifier set: the ledger keeps
// the earliest event of each set.
//
// It is a ptrTable keyed by a 32-bit hash of the set that each evidence
// keeps (its struct has room for it within its size class), where a
// map[uint64]*evidence cost about 38 bytes an entry at a million
// identifiers, and the joined keys of each set about 130 before that. A
// lookup compares the sets themselves, so sets whose hashes collide simply
// sit in the same probe run, each found as itself.
type evidenceIndex struct {
	seed maphash.Seed
	ptrTable[evidence]
	// hashSet is the set hash; tests replace it to make sets collide.
	hashSet func(seed maphash.Seed, nodes []*node) uint32
}

func newEvidenceIndex() evidenceIndex {
	return evidenceIndex{seed: maphash.MakeSeed(), ptrTable: newPtrTable(func(ev *evidence) uint64 { return uint64(ev.hash) }), hashSet: setHash}
}

// setHash is the same for every order of the same nodes. 32 bits address
// tables of up to four billion slots, and keep evidence within 48 bytes.
func setHash(seed maphash.Seed, nodes []*node) uint32 {
	var h uint64
	for _, n := range nodes {
		h += maphash.String(seed, n.key)
	}
	return uint32(h)
}

// get returns the evidence of exactly the identifier set nodes, or nil.
func (x *evidenceIndex) get(nodes []*node) *evidence {
	h := x.hashSet(x.seed, nodes)
	return x.find(uint64(h), func(ev *evidence) bool { return ev.hash == h && sameSet(ev.nodes(), nodes) })
}

// put makes ev the evidence of its identifier set, replacing any other.
func (x *evidenceIndex) put(ev *evidence) {
	ev.hash = x.hashSet(x.seed, ev.nodes())
	if old := x.get(ev.nodes()); old != nil {
		x.replace(old, ev)
		return
	}
	x.add(ev)
}

// remove drops ev, if it is the evidence of its identifier set. Call it
// before ev.nodes() changes: ev is looked for where its set was filed.
func (x *evidenceIndex) remove(ev *evidence) { x.ptrTable.remove(ev) }

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
