package identity

import (
	"slices"
	"strings"

	"github.com/cx360/cx360/pkg/event"
)

// Journey phases (DESIGN.md): before contact, during the visit, after it.
const (
	PhasePreVisit  = "pre_visit"
	PhaseVisit     = "visit"
	PhasePostVisit = "post_visit"
)

// PhaseRule maps events to a phase. Every non-empty condition must hold; an
// empty rule matches everything (a catch-all).
type PhaseRule struct {
	Types       []string `yaml:"types"`        // event types, exact
	TypePrefix  []string `yaml:"type_prefix"`  // or type prefixes
	Channels    []string `yaml:"channels"`     // event channels
	CallReasons []string `yaml:"call_reasons"` // call.reason values
	HasOrder    *bool    `yaml:"has_order"`
	Phase       string   `yaml:"phase"`
}

// DefaultPhaseRules is the seed table: browsing and research are pre_visit;
// a store visit, a purchase or a call about an order is the visit; returns,
// support calls, surveys and deliveries come after it.
func DefaultPhaseRules() []PhaseRule {
	yes := true
	return []PhaseRule{
		{Types: []string{"return", "refund", "exchange", "survey_response", "survey", "review", "delivery", "delivered", "complaint"}, Phase: PhasePostVisit},
		{TypePrefix: []string{"return", "delivery", "survey", "support"}, Phase: PhasePostVisit},
		{Channels: []string{event.ChannelPhone}, CallReasons: []string{"order", "order_status", "delivery_date", "payment", "availability", "purchase"}, Phase: PhaseVisit},
		{Channels: []string{event.ChannelPhone}, Phase: PhasePostVisit},
		{Types: []string{"store_visit", "purchase", "order", "checkout", "order_completed", "click_and_collect", "loyalty_scan", "pos_transaction"}, Phase: PhaseVisit},
		{HasOrder: &yes, Phase: PhaseVisit},
		{Channels: []string{event.ChannelStore}, Phase: PhaseVisit},
		{Phase: PhasePreVisit},
	}
}

// phaseOf returns the phase of e under rules.
func phaseOf(rules []PhaseRule, e *event.Event) string {
	for _, r := range rules {
		if r.matches(e) {
			return r.Phase
		}
	}
	return PhasePreVisit
}

func (r PhaseRule) matches(e *event.Event) bool {
	if len(r.Types) > 0 && !slices.Contains(r.Types, e.Type) {
		return false
	}
	if len(r.TypePrefix) > 0 && !slices.ContainsFunc(r.TypePrefix, func(p string) bool { return strings.HasPrefix(e.Type, p) }) {
		return false
	}
	if len(r.Channels) > 0 && !slices.Contains(r.Channels, e.Channel) {
		return false
	}
	if len(r.CallReasons) > 0 && (e.Call == nil || !slices.Contains(r.CallReasons, e.Call.Reason)) {
		return false
	}
	if r.HasOrder != nil && (e.Order != nil) != *r.HasOrder {
		return false
	}
	return true
}
