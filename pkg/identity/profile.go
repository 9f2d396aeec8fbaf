package identity

import (
	"maps"
	"slices"
	"time"

	"github.com/cx360/cx360/pkg/event"
)

// Friction thresholds: what counts as an unsatisfactory moment.
const (
	LongWaitSeconds = 180 // a call answered after 3 minutes
	// A survey score at or below this share of its scale is a low score
	// (CSAT 1–2 of 5, NPS 0–6 of 10 are "detractors"; CES is inverted below).
	lowScoreShare = 0.4
)

// Friction weights: how much each moment adds to the score.
var frictionWeight = struct{ lowScore, abandoned, longWait, ret float64 }{3, 2, 1, 2}

// aggregate is what a set of events contributes to a profile. Every field is
// order-independent (sums, minima, maxima, latest-by-time), so aggregates can
// be kept per anchor identifier and summed into whatever profile the
// identifier belongs to after merges and splits.
//
// It is kept for most identifiers of the graph, so it is compact: 64 bytes.
// Times are unix nanoseconds (zero: no event yet), counters are 32 bits (no
// single identifier sees four billion events), and what only some
// identifiers' events carry (survey scores, custom channels) hangs off rare,
// allocated on the first such event. The snapshot stores the wider
// snapAggregate.
type aggregate struct {
	firstSeen, lastSeen int64 // unix ns
	spend               float64
	rare                *rareAggregate
	// Events per channel: fixed counters for the built-in channels (a map per
	// anchor identifier cost 150 bytes each); custom ones are rare.
	builtin                               [4]uint32
	orders, abandoned, longWaits, returns uint32
}

// rareAggregate is the part of an aggregate that few identifiers need: the
// latest survey scores (a survey answers a small share of events) and the
// counters of custom channels.
type rareAggregate struct {
	custom         []ChannelCount
	csat, nps, ces scoreAt
	lowScores      uint32
}

// rareOf returns a's rare part, allocating it on first use.
func (a *aggregate) rareOf() *rareAggregate {
	if a.rare == nil {
		a.rare = &rareAggregate{}
	}
	return a.rare
}

// scores returns a copy of a's rare part (empty when it has none).
func (a *aggregate) scores() rareAggregate {
	if a.rare == nil {
		return rareAggregate{}
	}
	return *a.rare
}

// ChannelCount counts the events of a custom channel.
type ChannelCount struct {
	Channel string
	N       int64
}

var builtinChannels = [4]string{event.ChannelStore, event.ChannelWeb, event.ChannelApp, event.ChannelPhone}

func (a *aggregate) count(channel string, n int64) {
	for i, c := range builtinChannels {
		if c == channel {
			a.builtin[i] += uint32(n)
			return
		}
	}
	r := a.rareOf()
	for i := range r.custom {
		if r.custom[i].Channel == channel {
			r.custom[i].N += n
			return
		}
	}
	r.custom = append(r.custom, ChannelCount{channel, n})
}

// customCounts returns the custom channels' counters (nil when none).
func (a *aggregate) customCounts() []ChannelCount { return a.scores().custom }

func (a *aggregate) counts() map[string]int64 {
	out := make(map[string]int64, 4+len(a.customCounts()))
	for i, c := range builtinChannels {
		if a.builtin[i] > 0 {
			out[c] = int64(a.builtin[i])
		}
	}
	for _, c := range a.customCounts() {
		out[c.Channel] += c.N
	}
	return out
}

// scoreAt is a survey score and when it was given (unix ns; zero: none);
// the latest wins.
type scoreAt struct {
	at    int64
	score float64
}

func (s scoreAt) value() *float64 {
	if s.at == 0 {
		return nil
	}
	v := s.score
	return &v
}

func (s *scoreAt) keepLatest(o scoreAt) {
	if o.at != 0 && (s.at == 0 || o.at > s.at) {
		*s = o
	}
}

// nanos is t in unix nanoseconds, never zero (zero means "none").
func nanos(t time.Time) int64 {
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// add records one event.
func (a *aggregate) add(e *event.Event) {
	t := nanos(e.EventTime)
	if a.firstSeen == 0 || t < a.firstSeen {
		a.firstSeen = t
	}
	if t > a.lastSeen {
		a.lastSeen = t
	}
	a.count(e.Channel, 1)
	isReturn := e.Type == "return" || e.Type == "refund"
	if o := e.Order; o != nil && o.Total != nil {
		if *o.Total < 0 {
			isReturn = true
		}
		if !isReturn {
			a.orders++
		}
		a.spend += *o.Total
	}
	if isReturn {
		a.returns++
	}
	if c := e.Call; c != nil {
		if c.Outcome == "abandoned" || c.Outcome == "hang" || c.Outcome == "hangup" {
			a.abandoned++
		}
		if c.WaitSeconds != nil && *c.WaitSeconds >= LongWaitSeconds {
			a.longWaits++
		}
	}
	if s := e.Survey; s != nil && s.Score != nil {
		sc := scoreAt{at: t, score: *s.Score}
		scale := map[string]float64{"csat": 5, "nps": 10, "ces": 7}[s.Kind]
		if s.ScaleMax != nil {
			scale = *s.ScaleMax
		}
		low := *s.Score <= lowScoreShare*scale
		r := a.rareOf()
		switch s.Kind {
		case "csat":
			r.csat.keepLatest(sc)
		case "nps":
			r.nps.keepLatest(sc)
			low = *s.Score <= 6 && scale == 10 || low
		case "ces":
			r.ces.keepLatest(sc)
			low = *s.Score >= (1-lowScoreShare)*scale // high effort is bad
		}
		if low {
			r.lowScores++
		}
	}
}

// merge adds o into a.
func (a *aggregate) merge(o *aggregate) {
	if o == nil {
		return
	}
	if o.firstSeen != 0 && (a.firstSeen == 0 || o.firstSeen < a.firstSeen) {
		a.firstSeen = o.firstSeen
	}
	if o.lastSeen > a.lastSeen {
		a.lastSeen = o.lastSeen
	}
	for i := range a.builtin {
		a.builtin[i] += o.builtin[i]
	}
	for _, c := range o.customCounts() {
		a.count(c.Channel, c.N)
	}
	a.orders += o.orders
	a.spend += o.spend
	if or := o.rare; or != nil {
		r := a.rareOf()
		r.csat.keepLatest(or.csat)
		r.nps.keepLatest(or.nps)
		r.ces.keepLatest(or.ces)
		r.lowScores += or.lowScores
	}
	a.abandoned += o.abandoned
	a.longWaits += o.longWaits
	a.returns += o.returns
}

// Friction is a customer's accumulated unsatisfactory moments.
type Friction struct {
	LowScores      int64   `json:"low_scores"`
	AbandonedCalls int64   `json:"abandoned_calls"`
	LongWaits      int64   `json:"long_waits"`
	Returns        int64   `json:"returns"`
	Score          float64 `json:"score"`
}

// Profile is the unified customer, as published on cx.customers and the API.
type Profile struct {
	CustomerID  string             `json:"customer_id"`
	Version     int64              `json:"version"`
	Identifiers []event.Identifier `json:"identifiers"`
	FirstSeen   time.Time          `json:"first_seen"`
	LastSeen    time.Time          `json:"last_seen"`
	Channels    []string           `json:"channels"`
	EventCounts map[string]int64   `json:"event_counts"`
	Orders      int64              `json:"orders"`
	TotalSpend  float64            `json:"total_spend"`
	LastCSAT    *float64           `json:"last_csat"`
	LastNPS     *float64           `json:"last_nps"`
	LastCES     *float64           `json:"last_ces"`
	Friction    Friction           `json:"friction"`
	MergedIDs   []string           `json:"merged_ids"`
	UpdatedAt   time.Time          `json:"updated_at,omitzero"`
}

func (a *aggregate) profile(id string, version int64, ids []event.Identifier, merged []string, at time.Time) Profile {
	p := Profile{
		CustomerID: id, Version: version, Identifiers: ids, FirstSeen: fromNanos(a.firstSeen), LastSeen: fromNanos(a.lastSeen),
		EventCounts: a.counts(), Orders: int64(a.orders), TotalSpend: a.spend,
		MergedIDs: slices.Clone(merged), UpdatedAt: at,
		Friction: Friction{LowScores: int64(a.scores().lowScores), AbandonedCalls: int64(a.abandoned), LongWaits: int64(a.longWaits), Returns: int64(a.returns)},
	}
	p.Channels = slices.Sorted(maps.Keys(p.EventCounts))
	if p.Identifiers == nil {
		p.Identifiers = []event.Identifier{}
	}
	if p.MergedIDs == nil {
		p.MergedIDs = []string{}
	}
	r := a.scores()
	p.Friction.Score = frictionWeight.lowScore*float64(r.lowScores) + frictionWeight.abandoned*float64(a.abandoned) +
		frictionWeight.longWait*float64(a.longWaits) + frictionWeight.ret*float64(a.returns)
	p.LastCSAT, p.LastNPS, p.LastCES = r.csat.value(), r.nps.value(), r.ces.value()
	return p
}
