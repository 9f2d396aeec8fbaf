package identity

import "testing"

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
