package identity

import (
	"errors"
	"testing"
)

// TestEvidenceIndexKeepsCollidingSetsApart: two identifier sets under one
// hash are both found, each as itself, and removed independently.
func TestEvidenceIndexKeepsCollidingSetsApart(t *testing.T) {
	a, b, c, d := &node{key: "email:a"}, &node{key: "phone:b"}, &node{key: "email:c"}, &node{key: "phone:d"}
	x := newEvidenceIndex()
	ab := &evidence{nodes: []*node{a, b}}
	cd := &evidence{nodes: []*node{c, d}}
	x.put(ab)
	x.byHash[x.hash(cd.nodes)] = ab // as if the two sets' hashes collided
	x.put(cd)
	if len(x.collided) != 1 {
		t.Fatalf("the colliding set was not kept apart: %d collided", len(x.collided))
	}
	if x.get([]*node{d, c}) != cd || x.get([]*node{b, a}) != ab || x.get([]*node{a, d}) != nil {
		t.Fatal("lookups do not compare the sets")
	}
	x.remove(cd)
	if x.get(cd.nodes) != nil || x.get(ab.nodes) != ab {
		t.Fatal("removing one set touched the other")
	}
	x.remove(ab)
	if x.get(ab.nodes) != nil {
		t.Fatal("a removed set is still found")
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
