package truth

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Lookup is a resolver's answer: the customer an identifier (type and
// normalised value) belongs to, and whether the resolver knows it.
type Lookup func(typ, value string) (customerID string, ok bool)

// Report scores a resolver against a dataset. Pairs are pairs of identifiers
// owned by exactly one person (Dataset.Owner); shared and blocked identifiers
// belong to no one and are left out.
type Report struct {
	Persons     int
	Identifiers int // owned identifiers scored
	Shared      int // shared and blocked identifiers, not scored
	Events      int
	Customers   int // distinct customers the owned identifiers resolve to
	Unresolved  int // owned identifiers the resolver puts in no customer (each counts as its own)

	PredictedPairs int64 // pairs put in one customer
	TruePositives  int64 // of those, pairs one person owns
	LinkablePairs  int64 // pairs the person's own identifiers connect through their events
	LinkedPairs    int64 // of those, pairs put in one customer

	Precision float64 // TruePositives / PredictedPairs (1 when nothing is paired)
	Recall    float64 // LinkedPairs / LinkablePairs (1 when nothing is linkable)

	// Mixed lists the customers holding identifiers of several persons; with
	// only shared identifiers able to connect persons, each one is a merge
	// through a household, walk-in or blocked identifier.
	Mixed []Mixed
	// Fragments lists the persons' linkable groups of identifiers that the
	// resolver spread over several customers.
	Fragments []Fragment
}

// Mixed is one customer holding identifiers of several persons.
type Mixed struct {
	CustomerID string
	Owners     map[int][]string // person index → identifier keys, sorted
}

// Fragment is a group of one person's identifiers, connected through that
// person's events, that the resolver did not keep together.
type Fragment struct {
	Person    int
	Customers map[string][]string // customer id → identifier keys, sorted
}

// Evaluate scores lookup's answers against the truth of ds. It counts pairs per
// (person, customer) and (linkable group, customer) cell, so it runs in time
// linear in the identifiers.
func Evaluate(lookup Lookup, ds Dataset) Report {
	keys := slices.Sorted(maps.Keys(ds.Owner))
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}

	// Linkable groups: union-find over the owned identifiers each event carries.
	uf := newUnionFind(len(keys))
	for _, e := range ds.Events {
		first := -1
		for _, id := range e.Identifiers {
			i, ok := index[id.Type+":"+id.Value]
			if !ok || id.Blocked {
				continue
			}
			if first < 0 {
				first = i
			} else {
				uf.union(first, i)
			}
		}
	}

	r := Report{Persons: ds.Counts.Persons, Identifiers: len(keys), Shared: len(ds.Shared), Events: len(ds.Events)}
	if r.Persons == 0 {
		r.Persons = countPersons(ds.Owner)
	}
	type cell struct {
		owner int
		cust  string
	}
	customer := make([]string, len(keys))
	custSize := map[string]int64{}
	personCells := map[cell]int64{}
	groupCells := map[cell]int64{}
	groupSize := map[int]int64{}
	for i, k := range keys {
		typ, value, _ := strings.Cut(k, ":")
		c, ok := lookup(typ, value)
		if !ok || c == "" {
			c = "unresolved " + k
			r.Unresolved++
		}
		customer[i] = c
		custSize[c]++
		personCells[cell{ds.Owner[k], c}]++
		groupCells[cell{uf.find(i), c}]++
		groupSize[uf.find(i)]++
	}
	r.Customers = len(custSize)
	for _, n := range custSize {
		r.PredictedPairs += pairs(n)
	}
	for _, n := range personCells {
		r.TruePositives += pairs(n)
	}
	for _, n := range groupSize {
		r.LinkablePairs += pairs(n)
	}
	for _, n := range groupCells {
		r.LinkedPairs += pairs(n)
	}
	r.Precision, r.Recall = ratio(r.TruePositives, r.PredictedPairs), ratio(r.LinkedPairs, r.LinkablePairs)

	// Details of the errors, for whoever has to fix them.
	owners := map[string]map[int][]string{}
	for i, k := range keys {
		c := customer[i]
		if owners[c] == nil {
			owners[c] = map[int][]string{}
		}
		owners[c][ds.Owner[k]] = append(owners[c][ds.Owner[k]], k)
	}
	for _, c := range slices.Sorted(maps.Keys(owners)) {
		if len(owners[c]) > 1 {
			r.Mixed = append(r.Mixed, Mixed{CustomerID: c, Owners: owners[c]})
		}
	}
	spread := map[int]map[string][]string{}
	var groups []int
	for i, k := range keys {
		root := uf.find(i)
		if spread[root] == nil {
			spread[root] = map[string][]string{}
			groups = append(groups, root)
		}
		spread[root][customer[i]] = append(spread[root][customer[i]], k)
	}
	for _, root := range groups {
		if len(spread[root]) > 1 {
			r.Fragments = append(r.Fragments, Fragment{Person: ds.Owner[keys[root]], Customers: spread[root]})
		}
	}
	return r
}

// String renders the figures on one line, in a form the README can quote.
func (r Report) String() string {
	return fmt.Sprintf("persons=%d events=%d identifiers=%d shared=%d customers=%d unresolved=%d "+
		"precision=%.5f (%d/%d pairs) recall=%.5f (%d/%d linkable pairs) customers_mixing_persons=%d fragmented_groups=%d",
		r.Persons, r.Events, r.Identifiers, r.Shared, r.Customers, r.Unresolved,
		r.Precision, r.TruePositives, r.PredictedPairs, r.Recall, r.LinkedPairs, r.LinkablePairs,
		len(r.Mixed), len(r.Fragments))
}

func pairs(n int64) int64 { return n * (n - 1) / 2 }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func countPersons(owner map[string]int) int {
	seen := map[int]bool{}
	for _, p := range owner {
		seen[p] = true
	}
	return len(seen)
}

// unionFind groups identifiers by index, with path halving and union by size.
type unionFind struct{ parent, size []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), size: make([]int, n)}
	for i := range u.parent {
		u.parent[i], u.size[i] = i, 1
	}
	return u
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}
