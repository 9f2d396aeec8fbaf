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
type aggregate struct {
	FirstSeen, LastSeen time.Time
	// Events per channel: fixed counters for the built-in channels (a map per
	// anchor identifier cost 150 bytes each), a short list for custom ones.
	Builtin        [4]int64
	Custom         []ChannelCount
	Orders         int64
	Spend          float64
	CSAT, NPS, CES scoreAt
	LowScores      int64
	Abandoned      int64
	LongWaits      int64
	Returns        int64
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
			a.Builtin[i] += n
			return
		}
	}
	for i := range a.Custom {
		if a.Custom[i].Channel == channel {
			a.Custom[i].N += n
			return
		}
	}
	a.Custom = append(a.Custom, ChannelCount{channel, n})
}

func (a *aggregate) counts() map[string]int64 {
	out := make(map[string]int64, 4+len(a.Custom))
	for i, c := range builtinChannels {
		if a.Builtin[i] > 0 {
			out[c] = a.Builtin[i]
		}
	}
	for _, c := range a.Custom {
		out[c.Channel] += c.N
	}
	return out
}

// scoreAt is a survey score and when it was given; the latest wins.
type scoreAt struct {
	At    time.Time
	Score float64
	Set   bool
}

func (s scoreAt) value() *float64 {
	if !s.Set {
		return nil
	}
	v := s.Score
	return &v
}

func (s *scoreAt) keepLatest(o scoreAt) {
	if o.Set && (!s.Set || o.At.After(s.At)) {
		*s = o
	}
}

// add records one event.
func (a *aggregate) add(e *event.Event) {
	t := e.EventTime
	if a.FirstSeen.IsZero() || t.Before(a.FirstSeen) {
		a.FirstSeen = t
	}
	if t.After(a.LastSeen) {
		a.LastSeen = t
	}
	a.count(e.Channel, 1)
	isReturn := e.Type == "return" || e.Type == "refund"
	if o := e.Order; o != nil && o.Total != nil {
		if *o.Total < 0 {
			isReturn = true
		}
		if !isReturn {
			a.Orders++
		}
		a.Spend += *o.Total
	}
	if isReturn {
		a.Returns++
	}
	if c := e.Call; c != nil {
		if c.Outcome == "abandoned" || c.Outcome == "hang" || c.Outcome == "hangup" {
			a.Abandoned++
		}
		if c.WaitSeconds != nil && *c.WaitSeconds >= LongWaitSeconds {
			a.LongWaits++
		}
	}
	if s := e.Survey; s != nil && s.Score != nil {
		sc := scoreAt{At: t, Score: *s.Score, Set: true}
		scale := map[string]float64{"csat": 5, "nps": 10, "ces": 7}[s.Kind]
		if s.ScaleMax != nil {
			scale = *s.ScaleMax
		}
		low := *s.Score <= lowScoreShare*scale
		switch s.Kind {
		case "csat":
			a.CSAT.keepLatest(sc)
		case "nps":
			a.NPS.keepLatest(sc)
			low = *s.Score <= 6 && scale == 10 || low
		case "ces":
			a.CES.keepLatest(sc)
			low = *s.Score >= (1-lowScoreShare)*scale // high effort is bad
		}
		if low {
			a.LowScores++
		}
	}
}

// merge adds o into a.
func (a *aggregate) merge(o *aggregate) {
	if o == nil {
		return
	}
	if !o.FirstSeen.IsZero() && (a.FirstSeen.IsZero() || o.FirstSeen.Before(a.FirstSeen)) {
		a.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(a.LastSeen) {
		a.LastSeen = o.LastSeen
	}
	for i := range a.Builtin {
		a.Builtin[i] += o.Builtin[i]
	}
	for _, c := range o.Custom {
		a.count(c.Channel, c.N)
	}
	a.Orders += o.Orders
	a.Spend += o.Spend
	a.CSAT.keepLatest(o.CSAT)
	a.NPS.keepLatest(o.NPS)
	a.CES.keepLatest(o.CES)
	a.LowScores += o.LowScores
	a.Abandoned += o.Abandoned
	a.LongWaits += o.LongWaits
	a.Returns += o.Returns
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
		CustomerID: id, Version: version, Identifiers: ids, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen,
		EventCounts: a.counts(), Orders: a.Orders, TotalSpend: a.Spend,
		MergedIDs: slices.Clone(merged), UpdatedAt: at,
		Friction: Friction{LowScores: a.LowScores, AbandonedCalls: a.Abandoned, LongWaits: a.LongWaits, Returns: a.Returns},
	}
	p.Channels = slices.Sorted(maps.Keys(p.EventCounts))
	if p.Identifiers == nil {
		p.Identifiers = []event.Identifier{}
	}
	if p.MergedIDs == nil {
		p.MergedIDs = []string{}
	}
	p.Friction.Score = frictionWeight.lowScore*float64(a.LowScores) + frictionWeight.abandoned*float64(a.Abandoned) +
		frictionWeight.longWait*float64(a.LongWaits) + frictionWeight.ret*float64(a.Returns)
	p.LastCSAT, p.LastNPS, p.LastCES = a.CSAT.value(), a.NPS.value(), a.CES.value()
	return p
}
