// Package report builds cx360's customer-experience report: one
// self-contained HTML page with charts (journey phases, satisfaction by
// channel and phase, contact-centre KPIs, the customers with the most
// friction, one customer's cross-channel journey, identity merges) and a short
// text summary of the same numbers.
//
// The numbers come from the documented analyst queries in
// schemas/clickhouse/queries (run by name through schemas.Queries, so the
// page and the queries an analyst runs never disagree); the only SQL of its
// own is the headline counts, the choice of the customer whose journey is
// drawn, and the identity-change counts and recent merges. The page needs no
// network: its CSS is inline and its charts are inline SVG drawn here, in Go.
package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/schemas"
)

// Querier runs a query on ClickHouse; *clickhouse.Client is one.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

var _ Querier = (*clickhouse.Client)(nil)

// Defaults of Options.
const (
	DefaultTopFriction  = 10
	DefaultRecentMerges = 10
)

// Options tune Build; the zero value is the default report.
type Options struct {
	// CustomerID is the customer whose journey is drawn (any id the customer
	// ever had); empty picks the customer with the most channels, then the
	// most events (then the smallest id), so the timeline shows as much of a
	// cross-channel journey as the data has.
	CustomerID string
	// TopFriction is how many of the customers with the most friction are
	// shown (at most 20, what the shipped query returns); 0 is DefaultTopFriction.
	TopFriction int
	// RecentMerges is how many of the latest merges are listed; 0 is
	// DefaultRecentMerges.
	RecentMerges int
	// Now stamps the report; nil is time.Now.
	Now func() time.Time
}

// Report is everything the page shows.
type Report struct {
	GeneratedAt   time.Time
	ServerVersion string        // "18.16.1"; empty when the querier does not say
	QueryTime     time.Duration // spent running the queries

	Headline     Headline
	Phases       []PhaseChannel
	Satisfaction Satisfaction
	Calls        CallKPIs
	Friction     []FrictionCustomer
	Journey      Journey
	Identity     Identity
}

// Headline is the size of the data: the unified journey (merges followed,
// duplicates once, erased customers left out).
type Headline struct {
	Events, Customers     int64
	Channels              []string // by events, most first
	FirstEvent, LastEvent time.Time
}

// PhaseChannel is one row of the journey_phases query.
type PhaseChannel struct {
	Phase, Channel    string
	Events, Customers int64
	ShareOfPhasePct   float64
}

// Scores are survey answers rolled up: the answers of each kind and their
// score (nil without answers of that kind).
type Scores struct {
	CSATResponses, NPSResponses, CESResponses int64
	CSATPct, NPS, CESAvg                      *float64
}

// ScoreCell is the Scores of one channel and phase of the rated experience.
type ScoreCell struct {
	Channel, Phase string
	Scores
}

// Satisfaction is the cx_scores query rolled up over days and stores.
type Satisfaction struct {
	Overall Scores
	Cells   []ScoreCell // channel order, then journey-phase order
}

// CallKPIs is the contact_centre_kpis query rolled up.
type CallKPIs struct {
	Total  QueueKPIs
	Queues []QueueKPIs // by offered calls, most first
	Days   []CallDay   // oldest first
}

// QueueKPIs are the contact-centre KPIs of one queue (Queue is empty for
// the total).
type QueueKPIs struct {
	Queue                             string
	Offered, Answered, Abandoned, FCR int64
	AbandonmentPct                    *float64
	ASASeconds, AHTSeconds, FCRPct    *float64
}

// CallDay is one day's inbound calls.
type CallDay struct {
	Day                          time.Time
	Offered, Answered, Abandoned int64
}

// FrictionCustomer is one row of the friction_top_customers query.
type FrictionCustomer struct {
	CustomerID                                    string
	Score                                         float64
	LowScores, AbandonedCalls, LongWaits, Returns int64
	FirstMoment, LastMoment                       time.Time
}

// Journey is one customer's unified journey (the customer_journey query).
type Journey struct {
	CustomerID string
	// Picked says why this customer: "most channels and events", or "asked for".
	Picked string
	Events []JourneyEvent
}

// JourneyEvent is one event of a Journey.
type JourneyEvent struct {
	At                                        time.Time
	Channel, Phase, Type, EventID, ResolvedID string
	StoreID, CallOutcome, SurveyKind          string
	OrderTotal, WaitSeconds, SurveyScore      *float64
}

// Identity is the identity-resolution activity in identity_changes.
type Identity struct {
	Changes []KindCount // merge, split, link, erase, then any other kind
	// Recent are the latest merges, newest first; merges of customers that
	// were erased since are counted in Changes but not listed.
	Recent []Merge
}

// KindCount is how many identity changes of a kind there were.
type KindCount struct {
	Kind  string
	Count int64
}

// Merge is one merge: the survivor absorbed the merged ids.
type Merge struct {
	At          time.Time
	SurvivorID  string   // the survivor the change names
	SurvivorNow string   // the live customer it belongs to now (later merges followed)
	MergedIDs   []string // the profiles absorbed
	Channel     string   // channel of the event that caused it
	Reason      string
}

// Count returns the number of changes of kind.
func (id Identity) Count(kind string) int64 {
	for _, k := range id.Changes {
		if k.Kind == kind {
			return k.Count
		}
	}
	return 0
}

// Build runs the report's queries on ClickHouse (database cx360, migrated).
// An empty database builds a report whose sections say there is nothing yet.
func Build(ctx context.Context, q Querier, opts Options) (*Report, error) {
	if opts.TopFriction <= 0 {
		opts.TopFriction = DefaultTopFriction
	}
	if opts.RecentMerges <= 0 {
		opts.RecentMerges = DefaultRecentMerges
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	shipped, err := shippedQueries()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r := &Report{GeneratedAt: now().UTC()}
	if c, ok := q.(*clickhouse.Client); ok {
		v := c.ServerVersion().Version
		r.ServerVersion = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	b := builder{ctx: ctx, q: q, shipped: shipped}
	steps := []func(*Report) error{
		b.headline, b.phases, b.satisfaction, b.calls,
		func(r *Report) error { return b.friction(r, opts.TopFriction) },
		func(r *Report) error { return b.journey(r, opts.CustomerID) },
		func(r *Report) error { return b.identity(r, opts.RecentMerges) },
	}
	for _, step := range steps {
		if err := step(r); err != nil {
			return nil, err
		}
	}
	r.QueryTime = time.Since(start)
	return r, nil
}

// shippedQueries are the documented analyst queries the report runs, by name.
func shippedQueries() (map[string]schemas.Query, error) {
	all, err := schemas.Queries()
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	byName := make(map[string]schemas.Query, len(all))
	for _, q := range all {
		byName[q.Name] = q
	}
	for _, name := range []string{qPhases, qScores, qCalls, qFriction, qJourney} {
		if _, ok := byName[name]; !ok {
			return nil, fmt.Errorf("report: the shipped query %s is missing", name)
		}
	}
	return byName, nil
}

// The shipped queries the report runs.
const (
	qPhases   = "journey_phases"
	qScores   = "cx_scores"
	qCalls    = "contact_centre_kpis"
	qFriction = "friction_top_customers"
	qJourney  = "customer_journey"
)

type builder struct {
	ctx     context.Context
	q       Querier
	shipped map[string]schemas.Query
}

// run runs a statement and reads all its rows; what names it in errors.
func (b builder) run(what, sql string) ([]record, error) {
	rows, err := b.q.Query(b.ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", what, err)
	}
	out, err := readAll(rows)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", what, err)
	}
	return out, nil
}

// runShipped runs a shipped query with its parameters bound as literals
// (ClickHouse 18.16 has no query parameters).
func (b builder) runShipped(name string, params map[string]string) ([]record, error) {
	sql, err := b.shipped[name].Bind(params)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return b.run(name, sql)
}

// runOwn runs one of the report's own statements, binding its parameters the
// way the shipped queries are bound.
func (b builder) runOwn(what, sql string, params map[string]string) ([]record, error) {
	bound, err := schemas.Query{Name: what, SQL: sql}.Bind(params)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return b.run(what, bound)
}

// headlineSQL counts the unified journey; channels by events, most first.
const headlineSQL = `SELECT
    count() AS events,
    uniqExact(customer_id) AS customers,
    min(event_time) AS first_event,
    max(event_time) AS last_event
FROM cx360.journey`

const channelsSQL = `SELECT channel, count() AS events
FROM cx360.journey
GROUP BY channel
ORDER BY events DESC, channel`

func (b builder) headline(r *Report) error {
	rows, err := b.run("headline", headlineSQL)
	if err != nil {
		return err
	}
	if len(rows) == 1 {
		h := rows[0]
		r.Headline = Headline{Events: h.count("events"), Customers: h.count("customers")}
		if r.Headline.Events > 0 {
			r.Headline.FirstEvent, r.Headline.LastEvent = h.time("first_event"), h.time("last_event")
		}
	}
	channels, err := b.run("channels", channelsSQL)
	if err != nil {
		return err
	}
	for _, c := range channels {
		r.Headline.Channels = append(r.Headline.Channels, c.str("channel"))
	}
	return nil
}

func (b builder) phases(r *Report) error {
	rows, err := b.runShipped(qPhases, nil)
	if err != nil {
		return err
	}
	for _, p := range rows {
		r.Phases = append(r.Phases, PhaseChannel{
			Phase: p.str("phase"), Channel: p.str("channel"),
			Events: p.count("events"), Customers: p.count("customers"),
			ShareOfPhasePct: p.num("share_of_phase_events_pct"),
		})
	}
	return nil
}

// scoreSums accumulates cx_scores rows. As the query's notes say, roll-ups
// sum the answers and weight each score by its answers, never average the
// scores: CSAT % and NPS are rounded to 2 decimals per row, so the weighted
// mean is within 0.005 of the exact figure.
type scoreSums struct {
	csatN, npsN, cesN       int64
	csatSum, npsSum, cesSum float64
}

func (s *scoreSums) add(r record) {
	if n := r.count("csat_responses"); n > 0 {
		s.csatN += n
		s.csatSum += r.num("csat_pct") * float64(n)
	}
	if n := r.count("nps_responses"); n > 0 {
		s.npsN += n
		s.npsSum += r.num("nps") * float64(n)
	}
	if n := r.count("ces_responses"); n > 0 {
		s.cesN += n
		s.cesSum += r.num("ces_avg") * float64(n)
	}
}

func (s scoreSums) scores() Scores {
	return Scores{
		CSATResponses: s.csatN, NPSResponses: s.npsN, CESResponses: s.cesN,
		CSATPct: ratio(s.csatSum, s.csatN), NPS: ratio(s.npsSum, s.npsN), CESAvg: ratio(s.cesSum, s.cesN),
	}
}

func ratio(sum float64, n int64) *float64 {
	if n == 0 {
		return nil
	}
	v := round2(sum / float64(n))
	return &v
}

func (b builder) satisfaction(r *Report) error {
	rows, err := b.runShipped(qScores, nil)
	if err != nil {
		return err
	}
	var overall scoreSums
	cells := map[[2]string]*scoreSums{}
	for _, row := range rows {
		overall.add(row)
		k := [2]string{row.str("channel"), row.str("phase")}
		if cells[k] == nil {
			cells[k] = &scoreSums{}
		}
		cells[k].add(row)
	}
	r.Satisfaction.Overall = overall.scores()
	for k, s := range cells {
		r.Satisfaction.Cells = append(r.Satisfaction.Cells, ScoreCell{Channel: k[0], Phase: k[1], Scores: s.scores()})
	}
	sort.Slice(r.Satisfaction.Cells, func(i, j int) bool {
		a, c := r.Satisfaction.Cells[i], r.Satisfaction.Cells[j]
		if a.Channel != c.Channel {
			return channelLess(a.Channel, c.Channel)
		}
		return phaseLess(a.Phase, c.Phase)
	})
	return nil
}

// callSums accumulates contact_centre_kpis rows. Counts add up exactly; ASA
// and AHT are weighted by answered calls (exact when every answered call
// reports its wait and handle time, as calls from cx360's channels do).
type callSums struct {
	offered, answered, abandoned, fcr int64
	asaSum, ahtSum                    float64
	asaN, ahtN                        int64
}

func (s *callSums) add(r record) {
	s.offered += r.count("offered")
	s.answered += r.count("answered_calls")
	s.abandoned += r.count("abandoned_calls")
	s.fcr += r.count("fcr_calls")
	n := r.count("answered_calls")
	if v := r.opt("asa_seconds"); v != nil {
		s.asaSum += *v * float64(n)
		s.asaN += n
	}
	if v := r.opt("aht_seconds"); v != nil {
		s.ahtSum += *v * float64(n)
		s.ahtN += n
	}
}

func (s callSums) kpis(queue string) QueueKPIs {
	k := QueueKPIs{Queue: queue, Offered: s.offered, Answered: s.answered, Abandoned: s.abandoned, FCR: s.fcr,
		ASASeconds: ratio(s.asaSum, s.asaN), AHTSeconds: ratio(s.ahtSum, s.ahtN)}
	k.AbandonmentPct = ratio(100*float64(s.abandoned), s.offered)
	k.FCRPct = ratio(100*float64(s.fcr), s.answered)
	return k
}

func (b builder) calls(r *Report) error {
	rows, err := b.runShipped(qCalls, nil)
	if err != nil {
		return err
	}
	var total callSums
	queues := map[string]*callSums{}
	for _, row := range rows {
		total.add(row)
		q := row.str("queue")
		if queues[q] == nil {
			queues[q] = &callSums{}
		}
		queues[q].add(row)
		day := row.time("day")
		if n := len(r.Calls.Days); n == 0 || !r.Calls.Days[n-1].Day.Equal(day) {
			r.Calls.Days = append(r.Calls.Days, CallDay{Day: day})
		}
		d := &r.Calls.Days[len(r.Calls.Days)-1] // rows come ordered by day
		d.Offered += row.count("offered")
		d.Answered += row.count("answered_calls")
		d.Abandoned += row.count("abandoned_calls")
	}
	r.Calls.Total = total.kpis("")
	for q, s := range queues {
		r.Calls.Queues = append(r.Calls.Queues, s.kpis(q))
	}
	sort.Slice(r.Calls.Queues, func(i, j int) bool {
		a, c := r.Calls.Queues[i], r.Calls.Queues[j]
		if a.Offered != c.Offered {
			return a.Offered > c.Offered
		}
		return a.Queue < c.Queue
	})
	return nil
}

func (b builder) friction(r *Report, top int) error {
	rows, err := b.runShipped(qFriction, nil)
	if err != nil {
		return err
	}
	for i, f := range rows {
		if i == top {
			break
		}
		r.Friction = append(r.Friction, FrictionCustomer{
			CustomerID: f.str("customer_id"), Score: f.num("friction_score"),
			LowScores: f.count("low_scores"), AbandonedCalls: f.count("abandoned_calls"),
			LongWaits: f.count("long_waits"), Returns: f.count("returns"),
			FirstMoment: f.time("first_moment"), LastMoment: f.time("last_moment"),
		})
	}
	return nil
}

// journeyPickSQL picks the customer whose journey is drawn: the most
// channels, then the most events, then the smallest id (deterministic).
const journeyPickSQL = `SELECT customer_id, uniqExact(channel) AS channels, count() AS events
FROM cx360.journey
GROUP BY customer_id
ORDER BY channels DESC, events DESC, customer_id
LIMIT 1`

func (b builder) journey(r *Report, customer string) error {
	r.Journey.Picked = "asked for"
	if customer == "" {
		rows, err := b.run("picking a customer", journeyPickSQL)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		customer = rows[0].str("customer_id")
		r.Journey.Picked = "most channels, then most events"
	}
	rows, err := b.runShipped(qJourney, map[string]string{"customer_id": customer})
	if err != nil {
		return err
	}
	r.Journey.CustomerID = customer
	for _, e := range rows {
		r.Journey.Events = append(r.Journey.Events, JourneyEvent{
			At: e.time("event_time"), Channel: e.str("channel"), Phase: e.str("phase"), Type: e.str("type"),
			EventID: e.str("event_id"), ResolvedID: e.str("resolved_customer_id"), StoreID: e.str("store_id"),
			CallOutcome: e.str("call_outcome"), SurveyKind: e.str("survey_kind"),
			OrderTotal: e.opt("order_total"), WaitSeconds: e.opt("wait_seconds"), SurveyScore: e.opt("survey_score"),
		})
	}
	if len(r.Journey.Events) == 0 {
		return nil
	}
	// The query follows merges, so an id asked for may have been merged into
	// another customer since: name the live one.
	live, err := b.runOwn("following merges", liveCustomerSQL, map[string]string{"customer_id": customer})
	if err != nil {
		return err
	}
	if len(live) == 1 && live[0].str("survivor_id") != "" {
		r.Journey.CustomerID = live[0].str("survivor_id")
	}
	return nil
}

// liveCustomerSQL follows an id to the live customer it belongs to now.
const liveCustomerSQL = `SELECT any(survivor_id) AS survivor_id
FROM cx360.customer_survivor
WHERE customer_id = {customer_id:String}`

// identityChangesSQL counts identity changes by kind. identity_changes is a
// ReplacingMergeTree, so a redelivered change may be stored twice until a
// merge runs: LIMIT 1 BY change_id counts it once, on every version. Changes
// an identity instance reasserted after a takeover (reason "reasserted …")
// restate earlier ones and are not counted.
const identityChangesSQL = `SELECT kind, count() AS changes
FROM
(
    SELECT change_id, kind
    FROM cx360.identity_changes
    WHERE reason NOT LIKE 'reasserted%'
    ORDER BY change_id, version DESC
    LIMIT 1 BY change_id
) AS changes
GROUP BY kind
ORDER BY kind`

// recentMergesSQL lists the latest merges with the survivor they name and
// the live customer that survivor belongs to now. Merges of erased customers
// are left out: an erasure covers the live customer and every id merged into
// it, so checking the survivor, then and now, is enough. (named_id, not
// survivor_id, inside: an alias that shadows a column of the same name
// makes ClickHouse 18.16 read the alias.)
const recentMergesSQL = `SELECT at, named_id AS survivor_id, if(now_id = '', named_id, now_id) AS survivor_now,
    related_ids, channel, reason
FROM
(
    SELECT change_id, at, at_ms, customer_id AS named_id, related_ids, channel, reason
    FROM cx360.identity_changes
    WHERE kind = 'merge' AND reason NOT LIKE 'reasserted%'
    ORDER BY change_id, version DESC
    LIMIT 1 BY change_id
) AS merges
ANY LEFT JOIN
(
    SELECT customer_id AS named_id, survivor_id AS now_id FROM cx360.customer_survivor
) AS survivors USING named_id
WHERE named_id NOT IN (SELECT customer_id FROM cx360.erased_customers)
  AND survivor_now NOT IN (SELECT customer_id FROM cx360.erased_customers)
ORDER BY at_ms DESC, change_id
LIMIT {limit:UInt32}`

// changeKinds are the kinds cx.identity.changes carries, in the order shown.
var changeKinds = []string{"merge", "split", "link", "erase"}

func (b builder) identity(r *Report, recent int) error {
	rows, err := b.run("identity changes", identityChangesSQL)
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	kinds := append([]string{}, changeKinds...)
	for _, k := range rows {
		counts[k.str("kind")] = k.count("changes")
		if !contains(kinds, k.str("kind")) {
			kinds = append(kinds, k.str("kind"))
		}
	}
	for _, k := range kinds {
		r.Identity.Changes = append(r.Identity.Changes, KindCount{Kind: k, Count: counts[k]})
	}
	merges, err := b.runOwn("recent merges", recentMergesSQL, map[string]string{"limit": fmt.Sprint(recent)})
	if err != nil {
		return err
	}
	for _, m := range merges {
		r.Identity.Recent = append(r.Identity.Recent, Merge{
			At: m.time("at"), SurvivorID: m.str("survivor_id"), SurvivorNow: m.str("survivor_now"),
			MergedIDs: m.strs("related_ids"), Channel: m.str("channel"), Reason: m.str("reason"),
		})
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
