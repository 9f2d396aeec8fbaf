package identity

// Benchmarks of the identity graph's throughput and memory, on a synthetic but
// realistic stream: persons with 3–8 identifiers, most events repeating an
// identifier set already seen, a fifth introducing an identifier, a few per cent
// merging two profiles of one person and a few per cent arriving late.
//
//	go test -run='^$' -bench=Apply -benchtime=300000x ./pkg/identity/
//	go test -run='^$' -bench=MemoryPerIdentifier -benchtime=1x ./pkg/identity/
//
// The graphs are built once per size and reused across the framework's runs
// (under a minute for 1M identifiers). BenchmarkMemoryPerIdentifier builds its own
// graph of 1M identifiers once (b.N is ignored) and prints which structures
// hold the memory.

import (
	"cmp"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/cx360/cx360/pkg/event"
)

// Shares of the stream's event kinds; the rest repeat a known identifier set.
const (
	benchMergeShare = 0.03 // carries identifiers of two profiles of one person
	benchLateShare  = 0.02 // a known identifier set, timed within the person's past
	benchNewShare   = 0.20 // introduces an identifier
	// Of the events introducing an identifier, the share that are a new person's first.
	benchNewPersonShare = 0.25
	// Of the identifiers a known person adds, the share seen apart from the
	// person's others (a store purchase before the first web login): they start
	// a second profile, which a merge event joins later.
	benchApartShare = 0.25
)

// benchKind is what an event of the stream does to the graph.
type benchKind uint8

const (
	benchRepeat benchKind = iota
	benchNew
	benchMerge
	benchLate
	benchKinds
)

var benchKindNames = [benchKinds]string{"repeat", "new", "merge", "late"}

var (
	benchFirstNames = []string{"olivia", "amelia", "isla", "ava", "mia", "ivy", "lily", "isabella", "rosie", "sophia",
		"noah", "oliver", "george", "arthur", "muhammad", "leo", "harry", "oscar", "archie", "henry"}
	benchLastNames = []string{"smith", "jones", "williams", "taylor", "davies", "brown", "wilson", "evans", "thomas",
		"johnson", "roberts", "walker", "wright", "robinson", "thompson", "white", "hughes", "edwards", "green", "hall"}
)

// benchPerson is one simulated customer.
type benchPerson struct {
	ids []event.Identifier // every identifier the person will use, in order of first use
	// cluster labels each identifier seen so far (ids[:len(cluster)]) with the
	// profile it is in: identifiers first seen apart form separate profiles until
	// an event carries them together.
	cluster  []int
	clusters int                  // distinct labels in cluster
	sets     [][]event.Identifier // identifier sets the person's events carried
	firstAt  int64                // unix ms of the person's first event
	open     int                  // index in benchStream.open, -1 when every identifier is seen
	multi    int                  // index in benchStream.multi, -1 when in one profile
}

// benchStream generates the event stream, deterministically from its seed.
type benchStream struct {
	r       *rand.Rand
	clock   int64 // unix ms of the latest event
	persons []*benchPerson
	open    []*benchPerson // persons with identifiers not seen yet
	multi   []*benchPerson // persons split over two or more profiles
	// sessions is the share of repeats that continue one of the persons of the
	// last benchRecent events instead of any known person.
	sessions float64
	recent   [benchRecent]*benchPerson
	nRecent  int
}

// benchRecent is how many recently active persons sessions draw from, and
// benchSessionShare the share of repeats that do in the sessions benchmark.
const (
	benchRecent       = 1024
	benchSessionShare = 0.5
)

func newBenchStream(seed uint64) *benchStream {
	return &benchStream{
		r:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
	}
}

// next returns the stream's next event and its kind.
func (s *benchStream) next() (*event.Event, benchKind) {
	s.clock += 1 + s.r.Int64N(1000)
	x := s.r.Float64()
	switch {
	case x < benchMergeShare && len(s.multi) > 0:
		return s.merge(), benchMerge
	case x < benchMergeShare+benchLateShare && len(s.persons) > 0:
		return s.late(), benchLate
	case x < benchMergeShare+benchLateShare+benchNewShare || len(s.persons) == 0:
		return s.introduce(), benchNew
	default:
		return s.repeat(), benchRepeat
	}
}

func (s *benchStream) uuid() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], s.r.Uint64())
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return uuid.UUID(b).String()
}

// newPerson makes a person of 3–8 identifiers with realistic values.
func (s *benchStream) newPerson() *benchPerson {
	n := len(s.persons)
	first := benchFirstNames[s.r.IntN(len(benchFirstNames))]
	last := benchLastNames[s.r.IntN(len(benchLastNames))]
	p := &benchPerson{firstAt: s.clock, open: -1, multi: -1}
	add := func(typ, value string) { p.ids = append(p.ids, event.Identifier{Type: typ, Value: value}) }
	add("email", fmt.Sprintf("%s.%s%d@example.com", first, last, n))
	if s.r.IntN(5) == 0 {
		add("email", fmt.Sprintf("%s%d@mail.example.org", first, n))
	}
	for i := 0; i < 3 && (i == 0 || s.r.IntN(2) == 0); i++ {
		add("anonymous_id", s.uuid())
	}
	for i := 0; i < 2 && (i == 0 || s.r.IntN(3) == 0); i++ {
		add("device_id", s.uuid())
	}
	if s.r.IntN(2) == 0 {
		add("phone", fmt.Sprintf("+4477%08d", n))
	}
	if s.r.IntN(3) == 0 {
		add("loyalty_id", fmt.Sprintf("LC%010d", n))
	}
	if s.r.IntN(2) == 0 {
		add("user_id", fmt.Sprintf("u-%08d", n))
	}
	s.r.Shuffle(len(p.ids), func(i, j int) { p.ids[i], p.ids[j] = p.ids[j], p.ids[i] })
	p.ids = p.ids[:min(len(p.ids), 8)]
	s.persons = append(s.persons, p)
	return p
}

// introduce emits an event with an identifier not seen before: a new person's
// first, or a known person's next identifier, with one of the person's known
// identifiers or (benchApartShare) alone.
func (s *benchStream) introduce() *event.Event {
	if len(s.open) == 0 || s.r.Float64() < benchNewPersonShare {
		p := s.newPerson()
		k := 1 + s.r.IntN(2)
		p.cluster = make([]int, k)
		p.clusters = 1
		if k < len(p.ids) {
			p.open = len(s.open)
			s.open = append(s.open, p)
		}
		return s.emit(p, []int{0, 1}[:k], s.clock, true)
	}
	p := s.open[s.r.IntN(len(s.open))]
	i := len(p.cluster)
	set := []int{i}
	if s.r.Float64() < benchApartShare {
		p.cluster = append(p.cluster, i) // a label of its own
		p.clusters++
		if p.clusters == 2 {
			p.multi = len(s.multi)
			s.multi = append(s.multi, p)
		}
	} else {
		j := s.r.IntN(i)
		p.cluster = append(p.cluster, p.cluster[j])
		set = append(set, j)
	}
	if len(p.cluster) == len(p.ids) {
		s.open = benchRemove(s.open, p.open, func(q *benchPerson, at int) { q.open = at })
		p.open = -1
	}
	return s.emit(p, set, s.clock, true)
}

// merge emits an event carrying identifiers of two of a person's profiles.
func (s *benchStream) merge() *event.Event {
	p := s.multi[s.r.IntN(len(s.multi))]
	i := s.r.IntN(len(p.cluster))
	var others []int
	for j, c := range p.cluster {
		if c != p.cluster[i] {
			others = append(others, j)
		}
	}
	j := others[s.r.IntN(len(others))]
	from, to := p.cluster[j], p.cluster[i]
	for k, c := range p.cluster {
		if c == from {
			p.cluster[k] = to
		}
	}
	p.clusters--
	if p.clusters == 1 {
		s.multi = benchRemove(s.multi, p.multi, func(q *benchPerson, at int) { q.multi = at })
		p.multi = -1
	}
	return s.emit(p, []int{i, j}, s.clock, true)
}

// late emits a known identifier set of a person, timed within the person's
// past: an offline till uploading its day, a mobile app flushing its queue.
func (s *benchStream) late() *event.Event {
	p := s.persons[s.r.IntN(len(s.persons))]
	at := p.firstAt + s.r.Int64N(s.clock-p.firstAt+1)
	return s.event(p.sets[s.r.IntN(len(p.sets))], at)
}

// repeat emits a known identifier set of a person: most traffic.
func (s *benchStream) repeat() *event.Event {
	p := s.persons[s.r.IntN(len(s.persons))]
	if s.nRecent > 0 && s.r.Float64() < s.sessions {
		p = s.recent[s.r.IntN(min(s.nRecent, benchRecent))]
	}
	s.recent[s.nRecent%benchRecent] = p
	s.nRecent++
	return s.event(p.sets[s.r.IntN(len(p.sets))], s.clock)
}

// emit makes an event of the person's identifiers idx, remembering the set for
// later repeats.
func (s *benchStream) emit(p *benchPerson, idx []int, at int64, remember bool) *event.Event {
	ids := make([]event.Identifier, len(idx))
	for i, k := range idx {
		ids[i] = p.ids[k]
	}
	event.SortIdentifiers(ids)
	if remember {
		p.sets = append(p.sets, ids)
		s.recent[s.nRecent%benchRecent] = p
		s.nRecent++
	}
	return s.event(ids, at)
}

// event makes an event of a channel that fits its strongest identifier. Repeats
// share the identifier slice of their set: the graph only reads it.
func (s *benchStream) event(ids []event.Identifier, at int64) *event.Event {
	t := time.UnixMilli(at).UTC()
	e := &event.Event{EventID: s.uuid(), EventTime: t, ClientTime: t, ReceivedAt: time.UnixMilli(s.clock).UTC(), Identifiers: ids}
	switch ids[0].Type {
	case "user_id":
		e.Channel, e.Type = event.ChannelApp, "screen_view"
	case "loyalty_id":
		total := float64(5 + s.r.IntN(200))
		e.Channel, e.Type, e.Order = event.ChannelStore, "purchase", &event.Order{Total: &total, Currency: "GBP"}
	case "phone":
		wait := float64(s.r.IntN(400))
		outcome := "answered"
		if s.r.IntN(10) == 0 {
			outcome = "abandoned"
		}
		e.Channel, e.Type = event.ChannelPhone, "call"
		e.Call = &event.Call{WaitSeconds: &wait, Outcome: outcome, Reason: "order_status"}
	default:
		e.Channel, e.Type = event.ChannelWeb, "page_view"
		if s.r.IntN(20) == 0 {
			score := float64(1 + s.r.IntN(5))
			e.Type, e.Survey = "survey_response", &event.Survey{Kind: "csat", Score: &score}
		}
	}
	return e
}

// benchRemove swap-removes list[i], telling the moved element its new index.
func benchRemove(list []*benchPerson, i int, moved func(*benchPerson, int)) []*benchPerson {
	last := len(list) - 1
	list[i] = list[last]
	moved(list[i], i)
	list[last] = nil
	return list[:last]
}

// benchGraph applies the stream until the graph holds identifiers identifiers.
// Repeats are generated (the stream stays the same) but not applied: they only
// bump counters of structures the other events created, and skipping them
// makes a 1M-identifier graph four times faster to build.
func benchGraph(tb testing.TB, s *benchStream, identifiers int) (*Graph, [benchKinds]int) {
	tb.Helper()
	g, err := NewGraph(DefaultRules())
	if err != nil {
		tb.Fatal(err)
	}
	var kinds [benchKinds]int
	for g.nodes.len() < identifiers {
		e, k := s.next()
		kinds[k]++
		if k != benchRepeat {
			g.Apply(e)
		}
	}
	return g, kinds
}

// benchWarm is a graph brought to a size once and reused by every run of a
// benchmark (the framework calls a benchmark several times to find b.N);
// each run continues the same stream, so the graph keeps its steady state.
type benchWarm struct {
	g *Graph
	s *benchStream
}

var benchWarmed = map[int]benchWarm{}

func warmGraph(b *testing.B, identifiers int) benchWarm {
	b.Helper()
	if w, ok := benchWarmed[identifiers]; ok {
		return w
	}
	s := newBenchStream(1)
	g, kinds := benchGraph(b, s, identifiers)
	st := g.Stats()
	b.Logf("warm graph: %d events %v, %d persons, %d identifiers, %d profiles, %d evidence, %d hubs",
		benchSum(kinds[:]), kinds, len(s.persons), st.Identifiers, st.Profiles, st.Evidence, st.Hubs)
	w := benchWarm{g: g, s: s}
	benchWarmed[identifiers] = w
	return w
}

func benchSum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// benchChunk is how many events are generated at a time, timer stopped: enough
// to make the stop negligible, few enough that the events waiting to be
// applied do not crowd the graph out of the CPU caches or inflate the GC's work.
const benchChunk = 8192

// benchApply applies b.N events of w's stream, generated in chunks with the
// timer stopped, and calls each (if not nil) with an event's kind and how long
// it took.
func benchApply(b *testing.B, w benchWarm, each func(benchKind, time.Duration)) map[string]int {
	b.Helper()
	changes := map[string]int{}
	events := make([]*event.Event, benchChunk)
	kinds := make([]benchKind, benchChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(benchChunk, b.N-done)
		for i := range n {
			events[i], kinds[i] = w.s.next()
		}
		b.StartTimer()
		for i, e := range events[:n] {
			start := time.Time{}
			if each != nil {
				start = time.Now()
			}
			res := w.g.Apply(e)
			if each != nil {
				each(kinds[i], time.Since(start))
			}
			if res.CustomerID == "" {
				b.Fatalf("event %s resolved to no customer", e.EventID)
			}
			for _, c := range res.Changes {
				changes[c.Kind]++
			}
		}
		done += n
	}
	b.StopTimer()
	return changes
}

var benchSizes = []struct {
	name        string
	identifiers int
	sessions    float64 // share of repeats that continue a recently active person
}{{"ids=100k", 100_000, 0}, {"ids=1M", 1_000_000, 0}, {"ids=1M,sessions", 1_000_000, benchSessionShare}}

// BenchmarkApply measures Graph.Apply alone on the stream, against a graph
// already holding 100k or 1M identifiers. Repeats pick a known person at
// random, the worst case for the CPU caches; in the sessions case half of them
// continue one of the last benchRecent persons seen, as visits do.
func BenchmarkApply(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			w := warmGraph(b, size.identifiers)
			w.s.sessions = size.sessions
			changes := benchApply(b, w, nil)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if b.N >= 100_000 {
				b.Logf("N=%d changes %v, graph %+v", b.N, changes, w.g.Stats())
			}
		})
	}
}

// BenchmarkApplyByKind times every Apply on the 1M-identifier graph and reports
// the mean cost of each kind of event and its share of the total: where
// throughput goes.
func BenchmarkApplyByKind(b *testing.B) {
	w := warmGraph(b, 1_000_000)
	w.s.sessions = 0
	var spent [benchKinds]time.Duration
	var count [benchKinds]int
	benchApply(b, w, func(k benchKind, d time.Duration) {
		spent[k] += d
		count[k]++
	})
	var total time.Duration
	for _, d := range spent {
		total += d
	}
	for k := range benchKinds {
		if count[k] == 0 {
			continue
		}
		b.ReportMetric(float64(spent[k].Nanoseconds())/float64(count[k]), "ns/"+benchKindNames[k])
		b.ReportMetric(100*float64(spent[k])/float64(total), "%time-"+benchKindNames[k])
	}
}

// BenchmarkMemoryPerIdentifier builds a graph of 1M identifiers (≈220k persons)
// from the stream and reports the steady-state heap it holds per identifier,
// then prints an estimate of which structures hold it. It runs once whatever
// b.N (use -benchtime=1x); the stream's own state is dropped before the heap
// is read.
func BenchmarkMemoryPerIdentifier(b *testing.B) {
	const identifiers = 1_000_000
	before, beforeObjects := benchHeap()
	start := time.Now()
	s := newBenchStream(2)
	g, kinds := benchGraph(b, s, identifiers)
	elapsed := time.Since(start)
	persons := len(s.persons)
	s = nil // the stream's persons and identifier sets are not the graph's
	after, afterObjects := benchHeap()
	runtime.KeepAlive(s)
	// What one collection costs with this graph live: every cycle marks it all,
	// and a cycle comes every GOGC% of the live heap allocated, so the GC's
	// share of Apply is about (this CPU ÷ live heap) × bytes allocated per event.
	gcCPU := benchGCCPU()
	gcStart := time.Now()
	runtime.GC()
	gcWall := time.Since(gcStart)
	gcCPU = benchGCCPU() - gcCPU
	st := g.Stats()
	heap := float64(after - before)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(heap/float64(st.Identifiers), "B/identifier")
	b.ReportMetric(heap/float64(st.Profiles), "B/profile")
	b.ReportMetric(float64(st.Evidence)/float64(st.Identifiers), "evidence/identifier")
	b.ReportMetric(float64(afterObjects-beforeObjects)/float64(st.Identifiers), "objects/identifier")
	b.ReportMetric(float64(gcWall.Milliseconds()), "full-gc-ms")
	b.ReportMetric(gcCPU*1e3, "full-gc-cpu-ms")
	b.ReportMetric(float64(benchSum(kinds[:])-kinds[benchRepeat])/elapsed.Seconds(), "build-events/s")
	b.Logf("%d events %v (repeats not applied), %d persons: %d identifiers, %d profiles, %d evidence, %d hubs, %d survivors; heap %.1f MB",
		benchSum(kinds[:]), kinds, persons, st.Identifiers, st.Profiles, st.Evidence, st.Hubs, len(g.survivor), heap/1e6)
	parts := benchFootprint(g)
	var est uint64
	for _, p := range parts {
		est += p.bytes
	}
	slices.SortFunc(parts, func(a, b benchPart) int { return cmp.Compare(b.bytes, a.bytes) })
	// The table goes to stdout: the testing package keeps only ten lines of a
	// benchmark's log.
	fmt.Printf("estimated footprint by structure (size-class rounded; maps measured by rebuilding them): %.1f MB of %.1f MB measured\n",
		float64(est)/1e6, heap/1e6)
	for _, p := range parts {
		fmt.Printf("  %-36s %9d objects %7.1f MB %6.1f B/identifier %5.1f%%\n",
			p.name, p.objects, float64(p.bytes)/1e6, float64(p.bytes)/float64(st.Identifiers), 100*float64(p.bytes)/float64(est))
	}
	if f := flag.Lookup("test.memprofile"); f != nil && f.Value.String() != "" {
		benchProfiled = g // the profile is written when every benchmark is done
	}
	runtime.KeepAlive(g)
}

// benchProfiled keeps the graph of BenchmarkMemoryPerIdentifier alive for
// -memprofile, which is written after the benchmarks: the in-use profile then
// shows where the graph's memory was allocated.
var benchProfiled *Graph

// benchHeap is the live heap, in bytes and objects, after two collections
// (the second frees what finalizers of the first released).
func benchHeap() (bytes, objects uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.HeapObjects
}

// benchGCCPU is the CPU the GC has used so far, in seconds, as of the last
// completed cycle (the runtime updates it when a cycle ends).
func benchGCCPU() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

type benchPart struct {
	name    string
	objects int
	bytes   uint64
}

// benchFootprint estimates what each structure of the graph holds: objects
// rounded up to the allocator's size classes, and maps measured by building a
// copy the same way the graph grew them (one insertion at a time).
func benchFootprint(g *Graph) []benchPart {
	var parts []benchPart
	add := func(name string, objects int, bytes uint64) {
		parts = append(parts, benchPart{name, objects, bytes})
	}
	const ptr = unsafe.Sizeof(uintptr(0))
	var (
		keys, partners, mentions, aggs, rares uint64
		nPartners, nMentions, nAggs, nRares   int
	)
	g.nodes.all(func(n *node) {
		keys += benchClass(uintptr(len(n.key)))
		if cap(n.partners) > 0 {
			nPartners++
			partners += benchClass(uintptr(cap(n.partners)) * unsafe.Sizeof(partner{}))
		}
		if m := g.mentions[n]; cap(m) > 0 {
			nMentions++
			mentions += benchClass(uintptr(cap(m)) * ptr)
		}
		if n.agg != nil {
			nAggs++
			aggs += uint64(unsafe.Sizeof(aggregate{}))
			if r := n.agg.rare; r != nil {
				nRares++
				rares += benchClass(unsafe.Sizeof(rareAggregate{}))
				if cap(r.custom) > 0 {
					rares += benchClass(uintptr(cap(r.custom)) * unsafe.Sizeof(ChannelCount{}))
				}
			}
		}
	})
	nNodes := g.nodes.len()
	add("node structs (slab)", nNodes, uint64(nNodes)*uint64(unsafe.Sizeof(node{})))
	add("node keys (\"type:value\")", nNodes, keys)
	add("node partners slices", nPartners, partners)
	add("node mentions slices", nMentions, mentions)
	add("aggregate structs (slab)", nAggs, aggs)
	add("aggregate rare parts (scores, custom channels)", nRares, rares)
	add("g.nodes index", nNodes, uint64(len(g.nodes.slots))*uint64(ptr))
	var evNodes, evIDs uint64
	var nEvNodes int
	g.bySig.all(func(ev *evidence) {
		if cap(ev.nodes()) > 0 {
			nEvNodes++
			evNodes += benchClass(uintptr(cap(ev.nodes())) * ptr)
		}
		evIDs += uint64(len(ev.key.ID)) // in the arena
	})
	nEv := g.bySig.len()
	add("evidence structs", nEv, uint64(nEv)*benchClass(unsafe.Sizeof(evidence{})))
	add("evidence nodes slices", nEvNodes, evNodes)
	add("evidence event ids", nEv, evIDs)
	add("g.bySig index", nEv, uint64(len(g.bySig.slots))*uint64(ptr))
	var pIDs, pNodes, pEvidence, merged uint64
	var nPNodes, nPEvidence, nMerged int
	for _, p := range g.profiles {
		pIDs += benchClass(uintptr(len(p.id)))
		if cap(p.nodes) > 0 {
			nPNodes++
			pNodes += benchClass(uintptr(cap(p.nodes)) * ptr)
		}
		if cap(p.evidence) > 0 {
			nPEvidence++
			pEvidence += benchClass(uintptr(cap(p.evidence)) * ptr)
		}
		if cap(p.merged) > 0 {
			nMerged++
			merged += benchClass(uintptr(cap(p.merged)) * unsafe.Sizeof(""))
		}
	}
	add("profile structs", len(g.profiles), uint64(len(g.profiles))*benchClass(unsafe.Sizeof(profile{})))
	add("profile ids", len(g.profiles), pIDs)
	add("profile nodes slices", nPNodes, pNodes)
	add("profile evidence slices", nPEvidence, pEvidence)
	add("profile merged slices", nMerged, merged)
	add("g.profiles map[string]*profile", len(g.profiles), benchMeasure(func() any {
		m := map[string]*profile{}
		for k, p := range g.profiles {
			m[k] = p
		}
		return m
	}))
	var survivorIDs uint64
	for old := range g.survivor {
		survivorIDs += benchClass(uintptr(len(old)))
	}
	add("merged-away ids (survivor keys)", len(g.survivor), survivorIDs)
	add("g.survivor map[string]string", len(g.survivor), benchMeasure(func() any {
		m := map[string]string{}
		for k, v := range g.survivor {
			m[k] = v
		}
		return m
	}))
	return parts
}

// benchMeasure returns the live heap that build's result holds.
func benchMeasure(build func() any) uint64 {
	before, _ := benchHeap()
	x := build()
	after, _ := benchHeap()
	runtime.KeepAlive(x)
	if after < before {
		return 0
	}
	return after - before
}

// benchSizeClasses are the runtime's small-object size classes
// (internal/runtime/gc/sizeclasses.go).
var benchSizeClasses = []uint64{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304,
	2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568,
	14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// benchClass is the heap an allocation of size bytes takes.
func benchClass(size uintptr) uint64 {
	s := uint64(size)
	if s == 0 {
		return 0
	}
	if i, _ := slices.BinarySearch(benchSizeClasses, s); i < len(benchSizeClasses) {
		return benchSizeClasses[i]
	}
	return (s + 8191) &^ 8191
}
