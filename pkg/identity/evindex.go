package identity

import (
	"hash/maphash"
	"slices"
)

// evidenceIndex finds the evidence of an identifier set: the ledger keeps
// the earliest event of each set.
//
// It is an open-addressing table of evidence pointers with linear probing,
// keyed by a 64-bit hash of the set that each evidence keeps (its struct has
// room for it within its size class): 8 bytes a slot, where a
// map[uint64]*evidence cost about 38 bytes an entry at a million
// identifiers, and the joined keys of each set about 130 before that. A
// lookup compares the sets themselves, so sets whose hashes collide simply
// sit in the same probe run, each found as itself.
type evidenceIndex struct {
	seed  maphash.Seed
	slots []*evidence // a power of two in length; nil is empty
	n     int
	// hashSet is the set hash; tests replace it to make sets collide.
	hashSet func(seed maphash.Seed, nodes []*node) uint64
}

func newEvidenceIndex() evidenceIndex {
	return evidenceIndex{seed: maphash.MakeSeed(), slots: make([]*evidence, 64), hashSet: setHash}
}

// setHash is the same for every order of the same nodes.
func setHash(seed maphash.Seed, nodes []*node) uint64 {
	var h uint64
	for _, n := range nodes {
		h += maphash.String(seed, n.key)
	}
	return h
}

// get returns the evidence of exactly the identifier set nodes, or nil.
func (x *evidenceIndex) get(nodes []*node) *evidence {
	h := x.hashSet(x.seed, nodes)
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		ev := x.slots[i]
		if ev == nil || (ev.hash == h && sameSet(ev.nodes, nodes)) {
			return ev
		}
	}
}

// put makes ev the evidence of its identifier set, replacing any other.
func (x *evidenceIndex) put(ev *evidence) {
	ev.hash = x.hashSet(x.seed, ev.nodes)
	mask := len(x.slots) - 1
	for i := int(ev.hash) & mask; x.slots[i] != nil; i = (i + 1) & mask {
		if old := x.slots[i]; old.hash == ev.hash && sameSet(old.nodes, ev.nodes) {
			x.slots[i] = ev
			return
		}
	}
	if (x.n+1)*4 > len(x.slots)*3 { // past three quarters full, probes grow long
		old := x.slots
		x.slots = make([]*evidence, 2*len(old))
		for _, o := range old {
			if o != nil {
				x.insert(o)
			}
		}
	}
	x.insert(ev)
	x.n++
}

func (x *evidenceIndex) insert(ev *evidence) {
	mask := len(x.slots) - 1
	i := int(ev.hash) & mask
	for x.slots[i] != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = ev
}

// remove drops ev, if it is the evidence of its identifier set. Call it
// before ev.nodes changes: ev is looked for where its set was filed. The
// entries after it in its probe run move back (backward-shift deletion), so
// no tombstones build up.
func (x *evidenceIndex) remove(ev *evidence) {
	mask := len(x.slots) - 1
	i := int(ev.hash) & mask
	for x.slots[i] != ev {
		if x.slots[i] == nil {
			return
		}
		i = (i + 1) & mask
	}
	x.n--
	for j := (i + 1) & mask; x.slots[j] != nil; j = (j + 1) & mask {
		// The entry at j may fill the hole at i unless its home slot lies
		// cyclically in (i, j]: then it would no longer be found.
		home := int(x.slots[j].hash) & mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = nil
}

func (x *evidenceIndex) len() int { return x.n }

// all calls fn for every indexed evidence.
func (x *evidenceIndex) all(fn func(*evidence)) {
	for _, ev := range x.slots {
		if ev != nil {
			fn(ev)
		}
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
