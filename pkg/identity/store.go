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

// ptrTable is an open-addressing table of pointers with linear probing: 8
// bytes a slot, where a Go map entry of a string or uint64 key and a pointer
// costs 38–56 bytes at a million entries. Where an entry is filed comes from
// the entry itself (hash), so the table stores nothing else; nil is an empty
// slot, and the length is a power of two.
type ptrTable[T any] struct {
	slots []*T
	n     int
	hash  func(*T) uint64
}

func newPtrTable[T any](hash func(*T) uint64) ptrTable[T] {
	return ptrTable[T]{slots: make([]*T, 64), hash: hash}
}

func (t *ptrTable[T]) mask() int { return len(t.slots) - 1 }

// find returns the first entry of h's probe run that match accepts, or nil.
func (t *ptrTable[T]) find(h uint64, match func(*T) bool) *T {
	for i := int(h) & t.mask(); ; i = (i + 1) & t.mask() {
		if v := t.slots[i]; v == nil || match(v) {
			return v
		}
	}
}

// add files v, growing the table past three quarters full (where probe runs
// grow long).
func (t *ptrTable[T]) add(v *T) {
	if (t.n+1)*4 > len(t.slots)*3 {
		old := t.slots
		t.slots = make([]*T, 2*len(old))
		for _, o := range old {
			if o != nil {
				t.insert(o)
			}
		}
	}
	t.insert(v)
	t.n++
}

func (t *ptrTable[T]) insert(v *T) {
	i := int(t.hash(v)) & t.mask()
	for t.slots[i] != nil {
		i = (i + 1) & t.mask()
	}
	t.slots[i] = v
}

// slotOf returns the slot holding v itself, or -1.
func (t *ptrTable[T]) slotOf(v *T) int {
	for i := int(t.hash(v)) & t.mask(); t.slots[i] != nil; i = (i + 1) & t.mask() {
		if t.slots[i] == v {
			return i
		}
	}
	return -1
}

// replace puts v in old's slot; v must be filed where old is.
func (t *ptrTable[T]) replace(old, v *T) {
	t.slots[t.slotOf(old)] = v
}

// remove drops v itself, if filed. The entries after it in its probe run
// move back (backward-shift deletion), so no tombstones build up.
func (t *ptrTable[T]) remove(v *T) {
	i := t.slotOf(v)
	if i < 0 {
		return
	}
	t.n--
	for j := (i + 1) & t.mask(); t.slots[j] != nil; j = (j + 1) & t.mask() {
		// The entry at j may fill the hole at i unless its home slot lies
		// cyclically in (i, j]: then it would no longer be found.
		home := int(t.hash(t.slots[j])) & t.mask()
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
}

func (t *ptrTable[T]) len() int { return t.n }

// all calls fn for every entry.
func (t *ptrTable[T]) all(fn func(*T)) {
	for _, v := range t.slots {
		if v != nil {
			fn(v)
		}
	}
}

// nodeIndex finds a node by its key ("type:value"), read from the node itself.
type nodeIndex struct {
	seed maphash.Seed
	ptrTable[node]
}

func newNodeIndex() nodeIndex {
	seed := maphash.MakeSeed()
	return nodeIndex{seed: seed, ptrTable: newPtrTable(func(n *node) uint64 { return maphash.String(seed, n.key) })}
}

// get returns the node with key, or nil.
func (x *nodeIndex) get(key string) *node {
	return x.find(maphash.String(x.seed, key), func(n *node) bool { return n.key == key })
}

// put adds n, whose key must not be indexed yet.
func (x *nodeIndex) put(n *node) { x.add(n) }

// remove drops the node with key, if indexed.
func (x *nodeIndex) remove(key string) {
	if n := x.get(key); n != nil {
		x.ptrTable.remove(n)
	}
}
