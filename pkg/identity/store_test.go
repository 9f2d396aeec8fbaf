package identity

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestNodeIndexAgreesWithAMap runs random puts and removes against the index
// and a map side by side: every key present in one is found in the other,
// through growth and through backward-shift deletions in wrapped probe runs.
func TestNodeIndexAgreesWithAMap(t *testing.T) {
	x := newNodeIndex()
	want := map[string]*node{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200_000 {
		key := fmt.Sprintf("email:%d", rng.IntN(5000))
		if n, ok := want[key]; ok && rng.IntN(3) > 0 {
			x.remove(key)
			delete(want, key)
			if x.get(key) != nil {
				t.Fatalf("op %d: %s found after removal", i, key)
			}
			_ = n
		} else if !ok {
			n := &node{key: key}
			x.put(n)
			want[key] = n
		}
		if i%10_000 == 0 || i == 199_999 {
			if x.len() != len(want) {
				t.Fatalf("op %d: index holds %d, map %d", i, x.len(), len(want))
			}
			for k, n := range want {
				if got := x.get(k); got != n {
					t.Fatalf("op %d: %s: got %v, want %v", i, k, got, n)
				}
			}
			seen := 0
			x.all(func(n *node) {
				if want[n.key] != n {
					t.Fatalf("op %d: all yields %s, not in the map", i, n.key)
				}
				seen++
			})
			if seen != len(want) {
				t.Fatalf("op %d: all yields %d nodes, want %d", i, seen, len(want))
			}
		}
	}
	if x.get("email:none") != nil {
		t.Fatal("an absent key was found")
	}
}

// TestStringArenaKeepsEveryString checks that strings copied into the arena
// keep their contents across chunk boundaries, and that long strings are
// left as they were.
func TestStringArenaKeepsEveryString(t *testing.T) {
	var a stringArena
	var in, out []string
	for i := range 10_000 {
		s := fmt.Sprintf("%08x-6f0c-4e1f-9c1d-%012d", i, i*7)
		in, out = append(in, s), append(out, a.intern(s))
	}
	long := string(make([]byte, arenaChunk))
	if got := a.intern(long); got != long {
		t.Fatal("a long string changed")
	}
	for i := range in {
		if in[i] != out[i] {
			t.Fatalf("string %d: %q became %q", i, in[i], out[i])
		}
	}
}
