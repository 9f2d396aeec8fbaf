package identity

import (
	"errors"
	"fmt"
	"hash/maphash"
	"testing"
)

// TestEvidenceIndexKeepsCollidingSetsApart: identifier sets under one hash
// are each found as themselves, replaced and removed independently, through
// growth and backward-shift deletions.
func TestEvidenceIndexKeepsCollidingSetsApart(t *testing.T) {
	x := newEvidenceIndex()
	x.hashSet = func(maphash.Seed, []*node) uint32 { return 7 } // every set collides
	var evs []*evidence
	for i := range 200 {
		a, b := &node{key: fmt.Sprintf("email:%d", i)}, &node{key: fmt.Sprintf("phone:%d", i)}
		ev := newEvidence(evKey{}, 0, []*node{a, b})
		x.put(ev)
		evs = append(evs, ev)
	}
	for i, ev := range evs {
		if got := x.get([]*node{ev.nodes()[1], ev.nodes()[0]}); got != ev {
			t.Fatalf("set %d: lookup in another order found %v", i, got)
		}
	}
	if x.get([]*node{evs[0].nodes()[0], evs[1].nodes()[1]}) != nil {
		t.Fatal("a set never put was found")
	}
	later := newEvidence(evKey{}, 0, []*node{evs[5].nodes()[1], evs[5].nodes()[0]})
	x.put(later)
	if x.get(evs[5].nodes()) != later || x.len() != len(evs) {
		t.Fatalf("putting a set again did not replace it (%d entries)", x.len())
	}
	evs[5] = later
	for i := 0; i < len(evs); i += 2 {
		x.remove(evs[i])
	}
	for i, ev := range evs {
		want := ev
		if i%2 == 0 {
			want = nil
		}
		if got := x.get(ev.nodes()); got != want {
			t.Fatalf("set %d after removing every other one: got %v, want %v", i, got, want)
		}
	}
	if x.len() != len(evs)/2 {
		t.Fatalf("%d entries left, want %d", x.len(), len(evs)/2)
	}
}

// TestEraseLeavesNoEvidenceBehind: erasing customers whose evidence named
// each other's identifiers leaves nothing in the evidence index (an entry
// filed under a set that later changed would never be found again).
func TestEraseLeavesNoEvidenceBehind(t *testing.T) {
	g := newTestGraph(t)
	a := g.Apply(ev("e1", 0, "user_id:u1", "email:a@example.com")).CustomerID
	b := g.Apply(ev("e2", 1, "user_id:u2")).CustomerID
	g.Apply(ev("e3", 2, "user_id:u1", "user_id:u2"))
	for _, id := range []string{b, a} { // b first: a's evidence naming b's identifier changes while indexed
		if _, err := g.Erase(id, t0); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	if st := g.Stats(); st.Evidence != 0 || st.Profiles != 0 || st.Identifiers != 0 {
		t.Fatalf("after erasing every customer: %+v", st)
	}
}
