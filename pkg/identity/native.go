package identity

import (
	"github.com/linkedin/goavro/v2"

	"github.com/cx360/cx360/pkg/event"
)

// JourneyNative is the goavro native form of a cx.JourneyEvent.
func JourneyNative(customerID, phase string, e *event.Event) map[string]any {
	return map[string]any{"customer_id": customerID, "phase": phase, "event": e.Native()}
}

func identifiersNative(ids []event.Identifier) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"type": id.Type, "value": id.Value, "blocked": id.Blocked}
	}
	return out
}

func optDouble(f *float64) any {
	if f == nil {
		return nil
	}
	return goavro.Union("double", *f)
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return goavro.Union("string", s)
}

func stringsNative(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Native is the goavro native form of a cx.CustomerProfile.
func (p Profile) Native() map[string]any {
	counts := make(map[string]any, len(p.EventCounts))
	for k, v := range p.EventCounts {
		counts[k] = v
	}
	return map[string]any{
		"customer_id":  p.CustomerID,
		"version":      p.Version,
		"identifiers":  identifiersNative(p.Identifiers),
		"first_seen":   p.FirstSeen.UnixMilli(),
		"last_seen":    p.LastSeen.UnixMilli(),
		"channels":     stringsNative(p.Channels),
		"event_counts": counts,
		"orders":       p.Orders,
		"total_spend":  p.TotalSpend,
		"last_csat":    optDouble(p.LastCSAT),
		"last_nps":     optDouble(p.LastNPS),
		"last_ces":     optDouble(p.LastCES),
		"friction": map[string]any{
			"low_scores": p.Friction.LowScores, "abandoned_calls": p.Friction.AbandonedCalls,
			"long_waits": p.Friction.LongWaits, "returns": p.Friction.Returns, "score": p.Friction.Score,
		},
		"merged_ids": stringsNative(p.MergedIDs),
		"updated_at": p.UpdatedAt.UnixMilli(),
	}
}

// Native is the goavro native form of a cx.IdentityChange.
func (c Change) Native() map[string]any {
	return map[string]any{
		"change_id":   c.ID,
		"kind":        c.Kind,
		"customer_id": c.CustomerID,
		"related_ids": stringsNative(c.RelatedIDs),
		"identifiers": identifiersNative(c.Identifiers),
		"event_id":    optString(c.EventID),
		"channel":     optString(c.Channel),
		"reason":      optString(c.Reason),
		"at":          c.At.UnixMilli(),
		"version":     c.Version,
	}
}
