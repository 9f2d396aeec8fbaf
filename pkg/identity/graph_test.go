package identity

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/linkedin/goavro/v2"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/schemas"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// ev builds an event at t0+minutes with identifiers given as "type:value".
func ev(id string, minutes int, ids ...string) *event.Event {
	e := &event.Event{EventID: id, Channel: event.ChannelWeb, Type: "page_view", EventTime: t0.Add(time.Duration(minutes) * time.Minute), ReceivedAt: t0}
	for _, s := range ids {
		t, v, _ := strings.Cut(s, ":")
		e.Identifiers = append(e.Identifiers, event.Identifier{Type: t, Value: v})
	}
	event.SortIdentifiers(e.Identifiers)
	return e
}

func newTestGraph(t testing.TB) *Graph {
	t.Helper()
	g, err := NewGraph(DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func idFor(key string) string { return uuid.NewSHA1(Namespace, []byte(key)).String() }

// partition renders the graph's profiles as sorted "id=[identifiers]" lines.
func partition(g *Graph) string {
	var lines []string
	for id, p := range g.profiles {
		keys := make([]string, len(p.nodes))
		for i, n := range p.nodes {
			keys[i] = n.key
		}
		sort.Strings(keys)
		lines = append(lines, id[:8]+"="+strings.Join(keys, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func kinds(res Result) []string {
	var out []string
	for _, c := range res.Changes {
		out = append(out, c.Kind)
	}
	return out
}

func TestNewCustomerIDIsDeterministic(t *testing.T) {
	g := newTestGraph(t)
	res := g.Apply(ev("e1", 0, "email:ann@example.com", "anonymous_id:a1"))
	if res.CustomerID != idFor("email:ann@example.com") {
		t.Fatalf("customer %s, want uuid5 of the first identifier", res.CustomerID)
	}
	if !slices.Equal(kinds(res), []string{ChangeLink}) || res.Phase != PhasePreVisit {
		t.Fatalf("changes %v phase %s", kinds(res), res.Phase)
	}
	res2 := g.Apply(ev("e2", 1, "anonymous_id:a1", "device_id:d1"))
	if res2.CustomerID != res.CustomerID {
		t.Fatal("an identifier of a profile did not resolve to it")
	}
	p, _ := g.Profile(res.CustomerID)
	if len(p.Identifiers) != 3 || p.Version != 2 || p.EventCounts["web"] != 2 {
		t.Fatalf("profile %+v", p)
	}
}

func TestMergeOldestSurvivesAndIsReversibleByUnlink(t *testing.T) {
	g := newTestGraph(t)
	a := g.Apply(ev("e1", 0, "email:ann@example.com", "phone:+442079460958")).CustomerID
	b := g.Apply(ev("e2", 5, "user_id:u-9", "device_id:d1")).CustomerID
	before := partition(g)

	res := g.Apply(ev("e3", 10, "user_id:u-9", "phone:+442079460958"))
	if res.CustomerID != a {
		t.Fatalf("survivor %s, want the oldest profile %s", res.CustomerID, a)
	}
	if !slices.Contains(kinds(res), ChangeMerge) || !slices.Equal(res.Removed, []string{b}) {
		t.Fatalf("changes %v removed %v", kinds(res), res.Removed)
	}
	if live, _ := g.Resolve(b); live != a {
		t.Fatalf("merged-away id resolves to %s", live)
	}
	p, _ := g.Profile(b)
	if p.CustomerID != a || !slices.Equal(p.MergedIDs, []string{b}) {
		t.Fatalf("GET merged id: %+v", p)
	}

	un, err := g.Unlink("phone", "+442079460958", t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := partition(g); got != before {
		t.Fatalf("unlink did not restore the profiles before the merge:\n%s\nwant\n%s", got, before)
	}
	if !slices.Contains(kinds(un), ChangeSplit) || !slices.Contains(un.Updated, b) {
		t.Fatalf("unlink result %+v", un)
	}
	if live, _ := g.Resolve(b); live != b {
		t.Fatal("split-off profile is not live again under its own id")
	}
	// The unlinked phone never bridges again.
	if r := g.Apply(ev("e4", 20, "user_id:u-9", "phone:+442079460958")); r.CustomerID != b || partition(g) != before {
		t.Fatalf("unlinked identifier merged again:\n%s", partition(g))
	}
}

func TestSplitRestoresProfilesBeforeMerges(t *testing.T) {
	g := newTestGraph(t)
	g.Apply(ev("e1", 0, "loyalty_id:L-1", "email:a@x.com"))
	g.Apply(ev("e2", 1, "device_id:d1"))
	g.Apply(ev("e3", 2, "anonymous_id:w1"))
	before := partition(g)
	g.Apply(ev("m1", 3, "email:a@x.com", "device_id:d1"))
	g.Apply(ev("m2", 4, "device_id:d1", "anonymous_id:w1"))
	if strings.Count(partition(g), "\n") != 0 {
		t.Fatalf("expected one merged profile:\n%s", partition(g))
	}
	res, err := g.Split(idFor("loyalty_id:L-1"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := partition(g); got != before {
		t.Fatalf("split:\n%s\nwant\n%s", got, before)
	}
	if !slices.Contains(kinds(res), ChangeSplit) || len(res.Updated) != 3 {
		t.Fatalf("split result: %v updated %v", kinds(res), res.Updated)
	}
	// The same identifier sets do not merge again.
	g.Apply(ev("m3", 5, "email:a@x.com", "device_id:d1"))
	if got := partition(g); got != before {
		t.Fatalf("suppressed evidence merged again:\n%s", got)
	}
}

func TestLimitsPreventMerges(t *testing.T) {
	g := newTestGraph(t)
	a := g.Apply(ev("e1", 0, "user_id:u1", "email:ann@x.com")).CustomerID
	b := g.Apply(ev("e2", 1, "user_id:u2", "phone:+442079460958", "device_id:d2")).CustomerID
	// The email and the phone sit in profiles with different user ids: no merge,
	// and the event's lower-priority identifiers are not linked across.
	res := g.Apply(ev("e3", 2, "email:ann@x.com", "phone:+442079460958", "anonymous_id:w3"))
	if res.CustomerID != a || slices.Contains(kinds(res), ChangeMerge) {
		t.Fatalf("two user_ids merged: %v", kinds(res))
	}
	if p, _ := g.Lookup("phone", "+442079460958"); p.CustomerID != b {
		t.Fatal("phone moved across a limit")
	}
	if _, ok := g.Lookup("anonymous_id", "w3"); ok {
		t.Fatal("an identifier after the conflict was linked")
	}
}

func TestSharedIdentifierStopsLinkingButOthersLink(t *testing.T) {
	g := newTestGraph(t)
	u1 := g.Apply(ev("e1", 0, "user_id:u1", "email:home@x.com")).CustomerID
	// The household email is now seen with two user ids: it is shared. It stays
	// with its first profile and links nothing; the event's other identifiers link.
	res := g.Apply(ev("e2", 1, "user_id:u2", "email:home@x.com", "device_id:tablet"))
	if res.CustomerID == u1 || slices.Contains(kinds(res), ChangeMerge) {
		t.Fatalf("a household email merged two people: %v", kinds(res))
	}
	if p, _ := g.Lookup("device_id", "tablet"); p.CustomerID != res.CustomerID {
		t.Fatal("the event's other identifiers were not linked")
	}
	if p, _ := g.Lookup("email", "home@x.com"); p.CustomerID != u1 {
		t.Fatal("shared email moved away from its first profile")
	}
	// A third person with only the email and a loyalty card is not merged into u1.
	c := g.Apply(ev("e3", 2, "loyalty_id:L3", "email:home@x.com")).CustomerID
	if c == u1 || c == res.CustomerID {
		t.Fatalf("loyalty card joined a household member: %s", c)
	}
}

func TestHubIsQuarantinedAndItsMergesUndone(t *testing.T) {
	g := newTestGraph(t)
	walkIn := "phone:+442079460000"
	// Customers identified by email use the shop's walk-in number: it merges
	// them until it is seen with more loyalty cards than any person has.
	for i := range 3 {
		g.Apply(ev(fmt.Sprintf("c%d", i), i, fmt.Sprintf("email:c%d@x.com", i)))
	}
	g.Apply(ev("w0", 10, "email:c0@x.com", walkIn))
	g.Apply(ev("w1", 11, "email:c1@x.com", walkIn))
	if n := strings.Count(partition(g), "\n") + 1; n != 2 {
		t.Fatalf("setup: want c0+c1 merged through the walk-in number, got %d profiles\n%s", n, partition(g))
	}
	var last Result
	for i := range DefaultHubProfiles + 1 {
		last = g.Apply(ev(fmt.Sprintf("l%d", i), 20+i, fmt.Sprintf("loyalty_id:L%d", i), walkIn))
	}
	if !g.nodes.get(walkIn).hub {
		t.Fatal("walk-in number not quarantined")
	}
	if !slices.Contains(kinds(last), ChangeSplit) {
		t.Fatalf("quarantine emitted %v, want a split", kinds(last))
	}
	// c0 and c1 are apart again, and no loyalty card shares a profile.
	for i := range 3 {
		if _, ok := g.Profile(idFor(fmt.Sprintf("email:c%d@x.com", i))); !ok {
			t.Fatalf("c%d not restored:\n%s", i, partition(g))
		}
	}
	for _, p := range g.profiles {
		loyalty := 0
		for _, n := range p.nodes {
			if n.typ() == "loyalty_id" {
				loyalty++
			}
			if n.key == walkIn && len(p.nodes) > 1 {
				t.Fatal("hub still linked in a profile with others")
			}
		}
		if loyalty > 1 {
			t.Fatal("two loyalty cards in one profile")
		}
	}
	// It never links again.
	r := g.Apply(ev("x", 40, "email:c2@x.com", walkIn))
	hub := g.nodes.get(walkIn).cust
	if r.CustomerID != idFor("email:c2@x.com") || hub == nil || len(hub.nodes) != 1 {
		t.Fatalf("hub linked again:\n%s", partition(g))
	}
}

func TestBlockedIdentifiersAreSingletons(t *testing.T) {
	g := newTestGraph(t)
	e := ev("b1", 0, "email:test@test.com")
	res := g.Apply(e)
	if res.Singleton == nil || res.CustomerID == idFor("email:test@test.com") || len(g.profiles) != 0 {
		t.Fatalf("blocked identifier linked: %+v", res)
	}
	e2 := ev("b2", 0, "anonymous_id:a1")
	e2.Identifiers = append(e2.Identifiers, event.Identifier{Type: "phone", Value: "+440000", Blocked: true})
	if r := g.Apply(e2); r.CustomerID != idFor("anonymous_id:a1") {
		t.Fatal("ingest-blocked identifier affected linking")
	}
	if _, ok := g.Lookup("phone", "+440000"); ok {
		t.Fatal("ingest-blocked identifier was linked")
	}
}

func TestEraseForgetsEverything(t *testing.T) {
	g := newTestGraph(t)
	a := g.Apply(ev("e1", 0, "email:ann@x.com", "phone:+442079460958")).CustomerID
	b := g.Apply(ev("e2", 1, "user_id:u1")).CustomerID
	g.Apply(ev("e3", 2, "user_id:u1", "email:ann@x.com"))
	res, err := g.Erase(b, t0) // b was merged into a: erasing by the old id works
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, sortedStrings(a, b)) || res.Changes[0].Kind != ChangeErase || len(res.Changes[0].Identifiers) != 0 {
		t.Fatalf("erase result %+v", res)
	}
	if _, ok := g.Lookup("email", "ann@x.com"); ok {
		t.Fatal("erased identifier still resolves")
	}
	if _, ok := g.Profile(a); ok || g.nodes.len() != 0 || g.bySig.len() != 0 {
		t.Fatalf("erased data left: %d nodes, %d evidence", g.nodes.len(), g.bySig.len())
	}
	if _, err := g.Erase(a, t0); err == nil {
		t.Fatal("second erase found the customer")
	}
}

func TestAggregatesFollowMergesAndSplits(t *testing.T) {
	g := newTestGraph(t)
	total, wait := 40.0, 300.0
	score := 2.0
	buy := ev("p1", 0, "loyalty_id:L1")
	buy.Channel, buy.Type, buy.Order = event.ChannelStore, "purchase", &event.Order{Total: &total}
	call := ev("c1", 10, "phone:+442079460958")
	call.Channel, call.Type = event.ChannelPhone, "call"
	call.Call = &event.Call{Outcome: "abandoned", WaitSeconds: &wait}
	survey := ev("s1", 20, "phone:+442079460958")
	survey.Channel, survey.Type, survey.Survey = event.ChannelPhone, "survey_response", &event.Survey{Kind: "csat", Score: &score}
	for _, e := range []*event.Event{buy, call, survey} {
		g.Apply(e)
	}
	link := g.Apply(ev("x", 30, "loyalty_id:L1", "phone:+442079460958"))
	p, _ := g.Profile(link.CustomerID)
	if p.Orders != 1 || p.TotalSpend != 40 || *p.LastCSAT != 2 || p.Friction.AbandonedCalls != 1 ||
		p.Friction.LongWaits != 1 || p.Friction.LowScores != 1 || p.EventCounts["phone"] != 2 || !slices.Equal(p.Channels, []string{"phone", "store", "web"}) {
		t.Fatalf("merged profile %+v", p)
	}
	if _, err := g.Split(link.CustomerID, t0); err != nil {
		t.Fatal(err)
	}
	l, _ := g.Lookup("loyalty_id", "L1")
	ph, _ := g.Lookup("phone", "+442079460958")
	if l.Orders != 1 || l.LastCSAT != nil || ph.Friction.AbandonedCalls != 1 || ph.Orders != 0 {
		t.Fatalf("aggregates after split: %+v / %+v", l, ph)
	}
}

// TestOrderIndependence applies the same events in many orders (late and
// out-of-order arrivals, replays after a crash) and requires the same graph.
func TestOrderIndependence(t *testing.T) {
	events := randomEvents(rand.New(rand.NewPCG(1, 2)), 300)
	// The reference is the canonical order: event time, then event id.
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b *event.Event) int {
		return evKey{a.EventTime.UnixMilli(), a.EventID}.compare(evKey{b.EventTime.UnixMilli(), b.EventID})
	})
	g := newTestGraph(t)
	for _, e := range sorted {
		g.Apply(e)
	}
	want := partition(g)
	for seed := range uint64(50) {
		shuffled := slices.Clone(events)
		r := rand.New(rand.NewPCG(seed, 99))
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		g2 := newTestGraph(t)
		for _, e := range shuffled {
			g2.Apply(e)
		}
		if got := partition(g2); got != want {
			t.Fatalf("order %d gives a different graph:\n%s\nwant\n%s", seed, diffLines(got, want), "")
		}
	}
}

func randomEvents(r *rand.Rand, n int) []*event.Event {
	var out []*event.Event
	for i := range n {
		person := r.IntN(40)
		ids := []string{fmt.Sprintf("anonymous_id:a%d-%d", person, r.IntN(3))}
		if r.IntN(2) == 0 {
			ids = append(ids, fmt.Sprintf("email:p%d@x.com", person))
		}
		if r.IntN(3) == 0 {
			ids = append(ids, fmt.Sprintf("user_id:u%d", person))
		}
		if r.IntN(4) == 0 {
			ids = append(ids, fmt.Sprintf("device_id:d%d", person/2)) // shared by two people
		}
		if r.IntN(10) == 0 {
			ids = append(ids, "phone:+442079460000") // the shop's number
		}
		out = append(out, ev(fmt.Sprintf("e%03d", i), r.IntN(10000), ids...))
	}
	return out
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

func sortedStrings(s ...string) []string { slices.Sort(s); return s }

func TestPhases(t *testing.T) {
	rules := DefaultPhaseRules()
	cases := []struct {
		channel, typ, reason string
		order                bool
		want                 string
	}{
		{"web", "page_view", "", false, PhasePreVisit},
		{"app", "search", "", false, PhasePreVisit},
		{"store", "store_visit", "", false, PhaseVisit},
		{"web", "checkout", "", true, PhaseVisit},
		{"store", "return", "", true, PhasePostVisit},
		{"phone", "call", "delivery_date", false, PhaseVisit},
		{"phone", "call", "refund", false, PhasePostVisit},
		{"web", "survey_response", "", false, PhasePostVisit},
	}
	for _, c := range cases {
		e := &event.Event{Channel: c.channel, Type: c.typ}
		if c.reason != "" {
			e.Call = &event.Call{Reason: c.reason}
		}
		if c.order {
			e.Order = &event.Order{}
		}
		if got := phaseOf(rules, e); got != c.want {
			t.Errorf("%s/%s/%s: %s, want %s", c.channel, c.typ, c.reason, got, c.want)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	g := newTestGraph(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, e := range randomEvents(r, 200) {
		withContent(r, e)
		g.Apply(e)
	}
	g.Split(idFor("email:p1@x.com"), t0)
	var buf strings.Builder
	if err := g.Save(&buf); err != nil {
		t.Fatal(err)
	}
	g2, err := Load(strings.NewReader(buf.String()), DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	if partition(g2) != partition(g) || g2.Stats() != g.Stats() {
		t.Fatalf("loaded graph differs: %+v vs %+v", g2.Stats(), g.Stats())
	}
	// Both continue identically.
	more := randomEvents(rand.New(rand.NewPCG(5, 6)), 100)
	for _, e := range more {
		e.EventID = "more-" + e.EventID
		a, b := g.Apply(e), g2.Apply(e)
		if a.CustomerID != b.CustomerID {
			t.Fatalf("event %s: %s vs %s after reload", e.EventID, a.CustomerID, b.CustomerID)
		}
	}
	if partition(g2) != partition(g) {
		t.Fatal("graphs diverged after reload")
	}
	var ids []string
	for id := range g.profiles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var scored, custom int
	for _, a := range g.Profiles(ids, t0) {
		b, ok := g2.Profile(a.CustomerID)
		b.UpdatedAt = a.UpdatedAt
		if !ok || !reflect.DeepEqual(a, b) {
			t.Fatalf("profile differs after reload:\n%+v\n%+v", a, b)
		}
		if a.LastCSAT != nil || a.LastNPS != nil || a.LastCES != nil {
			scored++
		}
		if a.EventCounts["kiosk"] > 0 {
			custom++
		}
	}
	if scored == 0 || custom == 0 {
		t.Fatalf("%d profiles with scores, %d with a custom channel: the test no longer covers them", scored, custom)
	}
}

// withContent gives e what profiles aggregate: a survey score, an order, a
// call, or a custom channel.
func withContent(r *rand.Rand, e *event.Event) {
	score := float64(r.IntN(11))
	switch r.IntN(6) {
	case 0:
		e.Type, e.Survey = "survey_response", &event.Survey{Kind: []string{"csat", "nps", "ces"}[r.IntN(3)], Score: &score}
	case 1:
		total := float64(r.IntN(100)) - 10
		e.Channel, e.Type, e.Order = event.ChannelStore, "purchase", &event.Order{Total: &total, Currency: "GBP"}
	case 2:
		wait := float64(r.IntN(400))
		e.Channel, e.Type, e.Call = event.ChannelPhone, "call", &event.Call{WaitSeconds: &wait, Outcome: []string{"answered", "abandoned"}[r.IntN(2)]}
	case 3:
		e.Channel = "kiosk"
	}
}

func TestNativeFormsEncode(t *testing.T) {
	g := newTestGraph(t)
	g.Apply(ev("e1", 0, "email:a@x.com"))
	res := g.Apply(ev("e2", 1, "user_id:u1", "email:a@x.com", "phone:+442079460958"))
	for _, c := range []struct {
		schema string
		native any
	}{
		{schemas.JourneyEvent, JourneyNative(res.CustomerID, res.Phase, ev("e2", 1, "user_id:u1"))},
		{schemas.CustomerProfile, g.Profiles(res.Updated, t0)[0].Native()},
		{schemas.IdentityChange, res.Changes[0].Native()},
	} {
		codec, err := goavro.NewCodec(schemas.MustAvro(c.schema))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := codec.BinaryFromNative(nil, c.native); err != nil {
			t.Fatalf("%s: %v", c.schema, err)
		}
	}
}

// TestEpochsOutrankEarlierVersions: after SetEpoch, every version the graph
// assigns — profiles, merges, splits, erasures — is above every version of
// earlier epochs, and keeps growing per profile.
func TestEpochsOutrankEarlierVersions(t *testing.T) {
	g := newTestGraph(t)
	a := g.Apply(ev("e1", 0, "email:ann@example.com", "phone:+442079460958")).CustomerID
	for i := range 5 {
		g.Apply(ev(fmt.Sprintf("e1-%d", i), i, "email:ann@example.com"))
	}
	b := g.Apply(ev("e2", 5, "user_id:u-9")).CustomerID
	g.SetEpoch(3)
	floor := int64(3) << EpochShift
	res := g.Apply(ev("e3", 10, "user_id:u-9", "phone:+442079460958"))
	for _, c := range res.Changes {
		if c.Version <= floor {
			t.Fatalf("%s change of epoch 3 has version %d", c.Kind, c.Version)
		}
	}
	p, _ := g.Profile(a)
	if p.Version != floor+1 {
		t.Fatalf("merged profile version %d, want %d", p.Version, floor+1)
	}
	un, err := g.Unlink("phone", "+442079460958", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range un.Changes {
		if c.Version <= floor+1 {
			t.Fatalf("%s change after the merge has version %d, not above the merge's", c.Kind, c.Version)
		}
	}
	if pb, _ := g.Profile(b); pb.Version <= floor+1 {
		t.Fatalf("split-off profile version %d", pb.Version)
	}
}

// TestReassertNamesEveryIDOfTheCustomersConcerned: Reassert states where the
// given ids stand and where every id merged into the same customers stands,
// with a new version of each customer; unknown ids are left out.
func TestReassertNamesEveryIDOfTheCustomersConcerned(t *testing.T) {
	g := newTestGraph(t)
	a := g.Apply(ev("e1", 0, "email:ann@example.com")).CustomerID
	b := g.Apply(ev("e2", 1, "user_id:u-9")).CustomerID
	c := g.Apply(ev("e3", 2, "loyalty_id:L-1")).CustomerID
	other := g.Apply(ev("e4", 3, "device_id:d-7")).CustomerID
	g.Apply(ev("e5", 4, "user_id:u-9", "loyalty_id:L-1"))        // c into b
	g.Apply(ev("e6", 5, "email:ann@example.com", "user_id:u-9")) // b into a
	before, _ := g.Profile(a)
	g.SetEpoch(2)

	res := g.Reassert([]string{b, other, "unknown-id"}, "test", t0)
	if !slices.Equal(res.Updated, sortedIDs(a, other)) {
		t.Fatalf("updated %v, want %v", res.Updated, sortedIDs(a, other))
	}
	after, _ := g.Profile(a)
	if after.Version != 2<<EpochShift+1 || after.Version <= before.Version {
		t.Fatalf("version %d after reassert (was %d)", after.Version, before.Version)
	}
	got := map[string]string{}
	for _, ch := range res.Changes {
		if ch.Version != 2<<EpochShift+1 {
			t.Fatalf("change %+v: version %d", ch, ch.Version)
		}
		for _, id := range ch.RelatedIDs {
			switch ch.Kind {
			case ChangeMerge:
				got[id] = ch.CustomerID
			case ChangeSplit:
				got[id] = id
			}
		}
	}
	want := map[string]string{b: a, c: a, other: other}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reasserted %v, want %v", got, want)
	}
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestSplitRepointsIDsMergedInAChain: A merged into B, then B into C; when C
// is split and B revived, A answers with B again, and the split's result
// says so with a merge change (downstream identity_map otherwise keeps A → C).
func TestSplitRepointsIDsMergedInAChain(t *testing.T) {
	g := newTestGraph(t)
	c := g.Apply(ev("e1", 0, "email:c@example.com", "phone:+442079460958")).CustomerID
	b := g.Apply(ev("e2", 1, "user_id:u-b")).CustomerID
	a := g.Apply(ev("e3", 2, "loyalty_id:L-a")).CustomerID
	g.Apply(ev("e4", 3, "loyalty_id:L-a", "user_id:u-b"))      // a into b
	g.Apply(ev("e5", 4, "user_id:u-b", "phone:+442079460958")) // b into c
	if live, _ := g.Resolve(a); live != c {
		t.Fatalf("before the split, %s resolves to %s, want %s", a, live, c)
	}
	res, err := g.Unlink("phone", "+442079460958", t0)
	if err != nil {
		t.Fatal(err)
	}
	if live, _ := g.Resolve(a); live != b {
		t.Fatalf("after the split, %s resolves to %s, want the revived %s", a, live, b)
	}
	var split, repoint *Change
	for i, ch := range res.Changes {
		switch {
		case ch.Kind == ChangeSplit:
			split = &res.Changes[i]
		case ch.Kind == ChangeMerge && slices.Contains(ch.RelatedIDs, a):
			repoint = &res.Changes[i]
		}
	}
	if split == nil || repoint == nil || repoint.CustomerID != b || !strings.HasPrefix(repoint.Reason, ReasonReasserted) {
		t.Fatalf("changes %+v: want a split of %s and a merge of %s into %s", res.Changes, c, a, b)
	}
	if repoint.Version < split.Version {
		t.Fatalf("the repointing merge (v%d) must not rank below the split (v%d)", repoint.Version, split.Version)
	}
}

// TestEraseForgetsSplitSignatures: a split remembers the identifier sets it
// took apart by their keys; erasing a customer whose identifier is in such a
// set leaves no trace of it in the graph or its snapshot.
func TestEraseForgetsSplitSignatures(t *testing.T) {
	g := newTestGraph(t)
	g.Apply(ev("e1", 0, "loyalty_id:L-1"))
	g.Apply(ev("e2", 1, "email:gone@x.com"))
	merged := g.Apply(ev("m1", 2, "loyalty_id:L-1", "email:gone@x.com")).CustomerID
	if _, err := g.Split(merged, t0); err != nil {
		t.Fatal(err)
	}
	p, ok := g.Lookup("email", "gone@x.com")
	if !ok {
		t.Fatal("the split lost the email's customer")
	}
	if _, err := g.Erase(p.CustomerID, t0); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("gone@x.com")) {
		t.Fatal("the snapshot still names the erased email")
	}
	for sig := range g.suppressed {
		if strings.Contains(sig, "gone@x.com") {
			t.Fatalf("a split signature still names the erased email: %q", sig)
		}
	}
	if _, ok := g.Lookup("loyalty_id", "L-1"); !ok {
		t.Fatal("the other customer went too")
	}
}
