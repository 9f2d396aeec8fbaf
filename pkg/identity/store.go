package identity

import (
	"hash/maphash"
	"unsafe"
)

// The graph holds one node per identifier, about one evidence per identifier
// and an aggregate for most: millions of small, long-lived objects. Allocated
// one by one, each is rounded up to its size class, and each is an object the
// collector visits on every cycle. The types below hold them densely instead:
// slabs hand out values from shared chunks, the node index is an
// open-addressing table of pointers, and the event ids evidence keeps are
// copied into a byte arena.

// slabChunk is how many values a slab allocates at once: large enough that
// chunks are few, small enough that a half-used one wastes little.
const slabChunk = 512

// slab hands out zeroed values of T from chunks of slabChunk. A value's
// memory lives as long as its chunk does (any value of it referenced), so
// slabs suit what the graph keeps: nodes, evidence and aggregates are rarely
// dropped (only by an erasure or a split), and what a dropped value pointed
// to must be cleared by its owner, not left to the collector.
type slab[T any] struct {
	free []T
}

func (s *slab[T]) new() *T {
	if len(s.free) == 0 {
		s.free = make([]T, slabChunk)
	}
	v := &s.free[0]
	s.free = s.free[1:]
	return v
}

// arenaChunk is the size of the byte arena's chunks.
const arenaChunk = 64 << 10

// stringArena copies strings into shared chunks: a 36-byte event id costs 36
// bytes there instead of a 48-byte allocation. Strings in it are never
// changed and never freed one by one; it holds the ids of evidence, which
// are not personal data and stay as long as the ledger does.
type stringArena struct {
	buf []byte
}

func (a *stringArena) intern(s string) string {
	if len(s) == 0 || len(s) > arenaChunk/16 {
		return s // the empty string needs no memory; a long one keeps its own
	}
	if cap(a.buf)-len(a.buf) < len(s) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	// The bytes from start on are never written again: appends only write
	// past len, and a full chunk is replaced, not grown.
	return unsafe.String(&a.buf[start], len(s))
}

// nodeIndex finds a node by its key ("type:value"). It is an open-addressing
// table of node pointers with linear probing: 8 bytes a slot, where a
// map[string]*node costs about 56 bytes an entry at a million identifiers.
// The key is read from the node itself.
type nodeIndex struct {
	seed  maphash.Seed
	slots []*node // a power of two in length; nil is empty
	n     int
}

func newNodeIndex() nodeIndex {
	return nodeIndex{seed: maphash.MakeSeed(), slots: make([]*node, 64)}
}

func (x *nodeIndex) slot(key string) int {
	return int(maphash.String(x.seed, key) & uint64(len(x.slots)-1))
}

// get returns the node with key, or nil.
func (x *nodeIndex) get(key string) *node {
	mask := len(x.slots) - 1
	for i := x.slot(key); ; i = (i + 1) & mask {
		n := x.slots[i]
		if n == nil || n.key == key {
			return n
		}
	}
}

// put adds n, whose key must not be indexed yet.
func (x *nodeIndex) put(n *node) {
	if (x.n+1)*4 > len(x.slots)*3 { // past three quarters full, probes grow long
		old := x.slots
		x.slots = make([]*node, 2*len(old))
		for _, m := range old {
			if m != nil {
				x.insert(m)
			}
		}
	}
	x.insert(n)
	x.n++
}

func (x *nodeIndex) insert(n *node) {
	mask := len(x.slots) - 1
	i := x.slot(n.key)
	for x.slots[i] != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = n
}

// remove drops the node with key, if indexed. The nodes after it in its
// probe run move back (backward-shift deletion), so no tombstones build up.
func (x *nodeIndex) remove(key string) {
	mask := len(x.slots) - 1
	i := x.slot(key)
	for {
		n := x.slots[i]
		if n == nil {
			return
		}
		if n.key == key {
			break
		}
		i = (i + 1) & mask
	}
	x.n--
	for j := (i + 1) & mask; x.slots[j] != nil; j = (j + 1) & mask {
		// The node at j may fill the hole at i unless its home slot lies
		// cyclically in (i, j]: then it would no longer be found.
		home := x.slot(x.slots[j].key)
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = nil
}

func (x *nodeIndex) len() int { return x.n }

// all calls fn for every indexed node.
func (x *nodeIndex) all(fn func(*node)) {
	for _, n := range x.slots {
		if n != nil {
			fn(n)
		}
	}
}
