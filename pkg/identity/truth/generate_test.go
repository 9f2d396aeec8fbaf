package truth

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/normalize"
)

// testConfig is big enough for every scenario to occur many times.
var testConfig = Config{Seed: 7, Persons: 1000, Days: 30}

// testDataset is generated once for the tests that only read it.
var testDataset = sync.OnceValue(func() Dataset { return Generate(testConfig) })

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := testDataset(), Generate(testConfig)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same config gave two different datasets")
	}
	other := testConfig
	other.Seed++
	c := Generate(other)
	if reflect.DeepEqual(a.Owner, c.Owner) {
		t.Fatal("another seed gave the same identifiers")
	}
}

func TestGenerateDefaults(t *testing.T) {
	ds := Generate(Config{Seed: 1})
	if ds.Counts.Persons != DefaultPersons {
		t.Fatalf("persons %d, want the default %d", ds.Counts.Persons, DefaultPersons)
	}
	first, last := ds.Events[0].EventTime, ds.Events[0].EventTime
	for _, e := range ds.Events {
		first, last = minTime(first, e.EventTime), maxTime(last, e.EventTime)
	}
	if first.Before(DefaultStart) || first.After(DefaultStart.Add(24*time.Hour)) ||
		last.Before(DefaultStart.Add((DefaultDays-1)*24*time.Hour)) {
		t.Fatalf("events span %v – %v, want %d days from %v", first, last, DefaultDays, DefaultStart)
	}
}

// TestGenerateEventsAreWellFormed checks what ingest would guarantee and what
// the scoring relies on.
func TestGenerateEventsAreWellFormed(t *testing.T) {
	ds := testDataset()
	bl, err := normalize.NewBlocklist(normalize.DefaultBlocklistRules())
	if err != nil {
		t.Fatal(err)
	}
	end := testConfig.withDefaults().Start.Add(time.Duration(testConfig.Days+3) * 24 * time.Hour)
	seen := map[string]bool{}
	inEvents := map[string]bool{}
	for i, e := range ds.Events {
		if e.EventID == "" || seen[e.EventID] {
			t.Fatalf("event %d: id %q empty or repeated", i, e.EventID)
		}
		seen[e.EventID] = true
		if i > 0 && e.ReceivedAt.Before(ds.Events[i-1].ReceivedAt) {
			t.Fatalf("event %s arrives before the event listed ahead of it", e.EventID)
		}
		if e.ReceivedAt.Before(e.EventTime) || e.EventTime.Before(testConfig.withDefaults().Start) || e.EventTime.After(end) {
			t.Fatalf("event %s: time %v received %v", e.EventID, e.EventTime, e.ReceivedAt)
		}
		if !slices.Contains([]string{event.ChannelStore, event.ChannelWeb, event.ChannelApp, event.ChannelPhone}, e.Channel) || e.Type == "" {
			t.Fatalf("event %s: channel %q type %q", e.EventID, e.Channel, e.Type)
		}
		if blockOK := (e.Web != nil) == (e.Channel == event.ChannelWeb && e.Survey == nil) &&
			(e.Store != nil) == (e.Channel == event.ChannelStore) && (e.Call != nil) == (e.Channel == event.ChannelPhone); !blockOK {
			t.Fatalf("event %s (%s %s) carries the wrong channel blocks", e.EventID, e.Channel, e.Type)
		}
		if len(e.Identifiers) == 0 {
			t.Fatalf("event %s has no identifier", e.EventID)
		}
		sorted := slices.Clone(e.Identifiers)
		event.SortIdentifiers(sorted)
		if !slices.Equal(sorted, e.Identifiers) || len(slices.Compact(sorted)) != len(e.Identifiers) {
			t.Fatalf("event %s: identifiers %v not sorted or repeated", e.EventID, e.Identifiers)
		}
		owners := map[int]bool{}
		for _, id := range e.Identifiers {
			key := id.Type + ":" + id.Value
			inEvents[key] = true
			if v, err := normalize.Identifier(id.Type, id.Value, "GB"); err != nil || v != id.Value {
				t.Fatalf("event %s: %s is not normalised (%q, %v)", e.EventID, key, v, err)
			}
			if id.Blocked != bl.Blocked(id.Type, id.Value) {
				t.Fatalf("event %s: %s blocked=%v, ingest's blocklist says %v", e.EventID, key, id.Blocked, !id.Blocked)
			}
			if p, ok := ds.Owner[key]; ok {
				owners[p] = true
			}
		}
		// The scoring assumes only shared identifiers ever connect persons.
		if len(owners) > 1 {
			t.Fatalf("event %s carries identifiers of persons %v", e.EventID, slices.Sorted(maps.Keys(owners)))
		}
	}
	for key := range inEvents {
		_, owned := ds.Owner[key]
		if owned == ds.Shared[key] {
			t.Fatalf("%s: owned=%v shared=%v, want exactly one", key, owned, ds.Shared[key])
		}
		if ds.Shared[key] && ds.SharedReason[key] == "" {
			t.Fatalf("%s is shared for no reason", key)
		}
	}
	for key, p := range ds.Owner {
		if !inEvents[key] || p < 0 || p >= testConfig.Persons {
			t.Fatalf("owner of %s is %d, in events: %v", key, p, inEvents[key])
		}
	}
	if len(inEvents) != len(ds.Owner)+len(ds.Shared) {
		t.Fatalf("%d identifiers in events, %d owned + %d shared", len(inEvents), len(ds.Owner), len(ds.Shared))
	}
	c := ds.Counts
	if c.Events != len(ds.Events) || c.OwnedIdentifiers != len(ds.Owner) || c.SharedIdentifiers != len(ds.Shared) ||
		c.Persons != testConfig.Persons || c.CollidingIdentifiers != 0 {
		t.Fatalf("counts %+v disagree with the dataset", c)
	}
}

func TestGenerateHouseholds(t *testing.T) {
	ds := testDataset()
	c := ds.Counts
	want := int(DefaultHouseholdRate * float64(testConfig.Persons))
	if c.Households != len(ds.Households) || c.HouseholdMembers < want || c.HouseholdMembers > want+3 {
		t.Fatalf("%d households with %d members, want about %d members", c.Households, c.HouseholdMembers, want)
	}
	household := map[int]int{}
	for h, members := range ds.Households {
		if len(members) < 2 || len(members) > 4 {
			t.Fatalf("household %d has %d members", h, len(members))
		}
		for _, p := range members {
			if _, dup := household[p]; dup {
				t.Fatalf("person %d is in two households", p)
			}
			household[p] = h
		}
	}
	users := usersOfShared(ds)
	var emails, tablets, tabletsOfSeveral int
	for key, why := range ds.SharedReason {
		switch why {
		case SharedHouseholdEmail, SharedFamilyTablet:
		default:
			continue
		}
		persons := slices.Sorted(maps.Keys(users[key]))
		for _, p := range persons {
			if h, ok := household[p]; !ok || h != household[persons[0]] {
				t.Fatalf("%s (%s) is used by persons %v of different households", key, why, persons)
			}
		}
		switch why {
		case SharedHouseholdEmail:
			emails++
			// Every member registers a loyalty card with the household's email.
			if len(persons) != len(ds.Households[household[persons[0]]]) {
				t.Fatalf("household email %s used by %v, household %v", key, persons, ds.Households[household[persons[0]]])
			}
		case SharedFamilyTablet:
			tablets++
			if len(persons) > 1 {
				tabletsOfSeveral++
			}
		}
	}
	if emails != c.HouseholdEmails || tablets != 2*c.FamilyTablets || emails == 0 || tabletsOfSeveral == 0 {
		t.Fatalf("%d household emails, %d tablet identifiers (%d used by several members); counts %+v",
			emails, tablets, tabletsOfSeveral, c)
	}
}

func TestGenerateWalkIns(t *testing.T) {
	ds := testDataset()
	var walkIns []string
	for key, why := range ds.SharedReason {
		if why == SharedWalkIn {
			walkIns = append(walkIns, key)
		}
	}
	if len(walkIns) != DefaultStores || ds.Counts.WalkInNumbers != DefaultStores {
		t.Fatalf("walk-in numbers %v, want one per store (%d)", walkIns, DefaultStores)
	}
	withLoyalty, only := 0, 0
	cards := map[string][]time.Time{} // walk-in number → when it was typed with a loyalty card
	for _, e := range ds.Events {
		for _, id := range e.Identifiers {
			if ds.SharedReason[id.Type+":"+id.Value] != SharedWalkIn {
				continue
			}
			if e.Channel != event.ChannelStore {
				t.Fatalf("walk-in number on a %s event", e.Channel)
			}
			if hasType(e, "loyalty_id") {
				withLoyalty++
				cards[id.Value] = append(cards[id.Value], e.EventTime)
			} else {
				only++
			}
		}
	}
	if withLoyalty != ds.Counts.WalkInWithLoyalty || only != ds.Counts.WalkInOnly || only == 0 {
		t.Fatalf("%d walk-in events with a loyalty card, %d without; counts %+v", withLoyalty, only, ds.Counts)
	}
	// DESIGN.md quarantines an identifier seen with more than 5 profiles in 30
	// days; every walk-in number must be such a hub for the scenario to test it.
	for number, times := range cards {
		slices.SortFunc(times, time.Time.Compare)
		most := 0
		for i := range times {
			j, _ := slices.BinarySearchFunc(times, times[i].Add(30*24*time.Hour), time.Time.Compare)
			most = max(most, j-i)
		}
		if most <= 5 {
			t.Fatalf("walk-in number %s typed with at most %d loyalty cards in 30 days", number, most)
		}
	}
}

func TestGenerateTypos(t *testing.T) {
	ds := testDataset()
	if len(ds.Typos) != ds.Counts.Typos || len(ds.Typos) < 10 {
		t.Fatalf("%d typos, counts %+v", len(ds.Typos), ds.Counts)
	}
	events := 0
	for _, e := range ds.Events {
		for _, id := range e.Identifiers {
			if _, ok := ds.Typos[id.Type+":"+id.Value]; ok {
				events++
			}
		}
	}
	if events != ds.Counts.TypoEvents {
		t.Fatalf("%d events with a typo, counts say %d", events, ds.Counts.TypoEvents)
	}
	for typo, meant := range ds.Typos {
		owner, ok := ds.Owner[typo]
		if !ok {
			t.Fatalf("typo %s has no owner", typo)
		}
		if p, ok := ds.Owner[meant]; ok && p != owner {
			t.Fatalf("typo %s is person %d's, the address meant (%s) person %d's", typo, owner, meant, p)
		}
		if d := editDistance(strings.TrimPrefix(typo, "email:"), strings.TrimPrefix(meant, "email:")); d != 1 {
			t.Fatalf("typo %s is %d edits from %s", typo, d, meant)
		}
	}
}

func TestGenerateLateEvents(t *testing.T) {
	ds := testDataset()
	late, overtaken := 0, 0
	var latest time.Time
	for _, e := range ds.Events {
		if e.ReceivedAt.Sub(e.EventTime) >= time.Hour {
			late++
		}
		if e.EventTime.Before(latest.Add(-time.Hour)) {
			overtaken++ // an event an hour older than one already arrived
		}
		latest = maxTime(latest, e.EventTime)
	}
	want := DefaultLateRate * float64(len(ds.Events))
	if late != ds.Counts.LateEvents || math.Abs(float64(late)-want) > want/4 {
		t.Fatalf("%d late events of %d, want about %.0f; counts %+v", late, len(ds.Events), want, ds.Counts)
	}
	if overtaken < late*9/10 {
		t.Fatalf("only %d of %d late events arrive after later ones", overtaken, late)
	}
}

func TestGenerateBlockedValues(t *testing.T) {
	ds := testDataset()
	blockedEvents := 0
	values := map[string]bool{}
	for _, e := range ds.Events {
		if slices.ContainsFunc(e.Identifiers, func(id event.Identifier) bool { return id.Blocked }) {
			blockedEvents++
		}
		for _, id := range e.Identifiers {
			if id.Blocked {
				values[id.Type+":"+id.Value] = true
			}
		}
	}
	if blockedEvents != ds.Counts.BlockedEvents || blockedEvents < 20 {
		t.Fatalf("%d events with a blocked value, counts %+v", blockedEvents, ds.Counts)
	}
	want := []string{"device_id:" + BlockedUnknown, "email:" + BlockedEmail, "loyalty_id:" + BlockedUnknown}
	if got := slices.Sorted(maps.Keys(values)); !slices.Equal(got, want) {
		t.Fatalf("blocked values %v, want %v", got, want)
	}
	for key := range values {
		if ds.SharedReason[key] != SharedBlocked {
			t.Fatalf("%s is not shared as blocked", key)
		}
	}
}

func TestGenerateScenariosCanBeSwitchedOff(t *testing.T) {
	cfg := testConfig
	cfg.HouseholdRate, cfg.WalkInRate, cfg.TypoRate, cfg.LateRate, cfg.BlockedRate = -1, -1, -1, -1, -1
	ds := Generate(cfg)
	c := ds.Counts
	if c.Households+c.WalkInWithLoyalty+c.WalkInOnly+c.Typos+c.LateEvents+c.BlockedEvents != 0 || len(ds.Typos) != 0 {
		t.Fatalf("scenarios left with every rate off: %+v", c)
	}
	if len(ds.Shared) != 0 || len(ds.SharedReason) != 0 {
		t.Fatalf("shared identifiers with every scenario off: %v", ds.SharedReason)
	}
}

// usersOfShared returns, for each shared identifier, the persons owning the
// other identifiers of the events that carry it.
func usersOfShared(ds Dataset) map[string]map[int]bool {
	users := map[string]map[int]bool{}
	for _, e := range ds.Events {
		owner := -1
		for _, id := range e.Identifiers {
			if p, ok := ds.Owner[id.Type+":"+id.Value]; ok {
				owner = p
			}
		}
		for _, id := range e.Identifiers {
			key := id.Type + ":" + id.Value
			if ds.Shared[key] && owner >= 0 {
				if users[key] == nil {
					users[key] = map[int]bool{}
				}
				users[key][owner] = true
			}
		}
	}
	return users
}

func hasType(e *event.Event, typ string) bool {
	return slices.ContainsFunc(e.Identifiers, func(id event.Identifier) bool { return id.Type == typ })
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func BenchmarkGenerate(b *testing.B) {
	cfg := Config{Seed: 1, Persons: 2000, Days: 60}
	var events int
	for b.Loop() {
		events = len(Generate(cfg).Events)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}
