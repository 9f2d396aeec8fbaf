package report

import (
	"fmt"
	"strings"
	"time"
)

// Summary is the report's key numbers, for a terminal.
type Summary struct {
	Events, Customers     int64
	Channels              []string
	FirstEvent, LastEvent time.Time

	Merges, Splits, Links, Erasures int64

	Scores Scores

	Calls                              int64 // inbound calls offered
	ASASeconds, AbandonmentPct, FCRPct *float64

	TopFriction *FrictionCustomer // nil without friction

	JourneyCustomer string
	JourneyEvents   int
	JourneyChannels int
}

// Summary returns the report's key numbers.
func (r *Report) Summary() Summary {
	s := Summary{
		Events: r.Headline.Events, Customers: r.Headline.Customers, Channels: r.Headline.Channels,
		FirstEvent: r.Headline.FirstEvent, LastEvent: r.Headline.LastEvent,
		Merges: r.Identity.Count("merge"), Splits: r.Identity.Count("split"),
		Links: r.Identity.Count("link"), Erasures: r.Identity.Count("erase"),
		Scores:          r.Satisfaction.Overall,
		Calls:           r.Calls.Total.Offered,
		ASASeconds:      r.Calls.Total.ASASeconds,
		AbandonmentPct:  r.Calls.Total.AbandonmentPct,
		FCRPct:          r.Calls.Total.FCRPct,
		JourneyCustomer: r.Journey.CustomerID, JourneyEvents: len(r.Journey.Events),
	}
	if len(r.Friction) > 0 {
		top := r.Friction[0]
		s.TopFriction = &top
	}
	var channels []string
	for _, e := range r.Journey.Events {
		if !contains(channels, e.Channel) {
			channels = append(channels, e.Channel)
		}
	}
	s.JourneyChannels = len(channels)
	return s
}

// Lines writes the summary as a few "label: numbers" lines.
func (s Summary) Lines() []string {
	var lines []string
	add := func(label, format string, args ...any) {
		lines = append(lines, fmt.Sprintf("%-15s %s", label+":", fmt.Sprintf(format, args...)))
	}
	if s.Events == 0 {
		add("events", "none yet (send some with `cx360 gen` or the ingest API; the sink writes them to ClickHouse)")
	} else {
		add("events", "%s from %s on %s (%s), %s to %s", thousands(s.Events), plural(s.Customers, "customer", "customers"),
			plural(int64(len(s.Channels)), "channel", "channels"), strings.Join(s.Channels, ", "), day(s.FirstEvent), day(s.LastEvent))
	}
	add("identity", "%s, %s, %s, %s", plural(s.Merges, "merge", "merges"), plural(s.Splits, "split", "splits"),
		plural(s.Links, "link", "links"), plural(s.Erasures, "erasure", "erasures"))
	sc := s.Scores
	if sc.CSATResponses+sc.NPSResponses+sc.CESResponses == 0 {
		add("satisfaction", "no surveys yet")
	} else {
		add("satisfaction", "CSAT %s (%s), NPS %s (%s), CES %s of 7 (%s)",
			optNum(sc.CSATPct, "%"), plural(sc.CSATResponses, "answer", "answers"),
			optNum(sc.NPS, ""), plural(sc.NPSResponses, "answer", "answers"),
			optNum(sc.CESAvg, ""), plural(sc.CESResponses, "answer", "answers"))
	}
	if s.Calls == 0 {
		add("contact centre", "no inbound calls yet")
	} else {
		add("contact centre", "%s, ASA %s, abandonment %s, FCR %s", plural(s.Calls, "inbound call", "inbound calls"),
			optNum(s.ASASeconds, " s"), optNum(s.AbandonmentPct, "%"), optNum(s.FCRPct, "%"))
	}
	if f := s.TopFriction; f == nil {
		add("top friction", "no friction yet")
	} else {
		add("top friction", "%s, score %s (%s)", f.CustomerID, num(f.Score), momentList(*f))
	}
	if s.JourneyCustomer != "" {
		add("journey shown", "%s, %s on %s", s.JourneyCustomer, plural(int64(s.JourneyEvents), "event", "events"),
			plural(int64(s.JourneyChannels), "channel", "channels"))
	}
	return lines
}

// momentList lists a customer's friction moments: "2 low survey scores, 1 return".
func momentList(f FrictionCustomer) string {
	var parts []string
	for _, p := range frictionParts {
		if n := p.count(f); n > 0 {
			parts = append(parts, plural(n, p.Label, p.Plural))
		}
	}
	return strings.Join(parts, ", ")
}
