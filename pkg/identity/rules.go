// Package identity resolves events to customers: an identity graph of
// identifiers linked by the events that carry them together, with per-type
// priorities and limits, automatic hub quarantine, an evidence ledger that makes
// every merge reversible, and per-customer profile aggregates.
//
// The graph is kept as a deterministic function of its evidence: evidence is
// replayed in (event time, event id) order, customer ids are UUIDv5s of the
// identifier that created them, and the oldest profile survives a merge. That is
// what makes replays after a crash, late events and undo (unlink, split)
// produce exactly the graph an uninterrupted, in-order run would have.
package identity

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/normalize"
)

// TypeRule is one identifier type's priority (1 = strongest) and the most
// identifiers of that type one profile may hold.
type TypeRule struct {
	Priority int `yaml:"priority"`
	Max      int `yaml:"max"`
}

// Rules configure resolution.
type Rules struct {
	Types map[string]TypeRule `yaml:"types"`
	// Custom applies to identifier types not in Types.
	Custom TypeRule `yaml:"custom"`
	// An identifier seen with stronger identifiers implying more than
	// HubProfiles distinct profiles within HubWindow is quarantined as a hub.
	HubProfiles int           `yaml:"hub_profiles"`
	HubWindow   time.Duration `yaml:"hub_window"`
	// Blocklist holds identifiers never used for linking (ingest flags its own
	// blocklist on the event; this one is identity's, for rules added later).
	Blocklist []normalize.BlocklistRule `yaml:"blocklist"`
	// Phases map events to journey phases; first match wins.
	Phases []PhaseRule `yaml:"phases"`

	blocklist *normalize.Blocklist
}

// Defaults from DESIGN.md, ordered for retail: a loyalty card is personal, a
// phone number is often shared.
const (
	DefaultHubProfiles = 5
	DefaultHubWindow   = 30 * 24 * time.Hour
)

// DefaultRules returns the rules of DESIGN.md.
func DefaultRules() Rules {
	return Rules{
		Types: map[string]TypeRule{
			"user_id":       {Priority: 1, Max: 1},
			"loyalty_id":    {Priority: 2, Max: 1},
			"email":         {Priority: 3, Max: 5},
			"phone":         {Priority: 4, Max: 5},
			"payment_token": {Priority: 5, Max: 10},
			"device_id":     {Priority: 6, Max: 20},
			"anonymous_id":  {Priority: 7, Max: 100},
		},
		Custom:      TypeRule{Priority: 50, Max: 10},
		HubProfiles: DefaultHubProfiles,
		HubWindow:   DefaultHubWindow,
		Blocklist:   normalize.DefaultBlocklistRules(),
		Phases:      DefaultPhaseRules(),
	}
}

// LoadRules reads a YAML file over the defaults: types listed there replace or
// add to the default types; other keys replace the defaults when present.
func LoadRules(file string) (Rules, error) {
	r := DefaultRules()
	if file == "" {
		return r, r.compile()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return r, fmt.Errorf("identity rules: %w", err)
	}
	var over Rules
	if err := yaml.Unmarshal(b, &over); err != nil {
		return r, fmt.Errorf("identity rules %s: %w", file, err)
	}
	for t, tr := range over.Types {
		r.Types[t] = tr
	}
	if over.Custom.Priority != 0 {
		r.Custom = over.Custom
	}
	if over.HubProfiles != 0 {
		r.HubProfiles = over.HubProfiles
	}
	if over.HubWindow != 0 {
		r.HubWindow = over.HubWindow
	}
	if over.Blocklist != nil {
		r.Blocklist = over.Blocklist
	}
	if over.Phases != nil {
		r.Phases = over.Phases
	}
	if err := r.compile(); err != nil {
		return r, fmt.Errorf("identity rules %s: %w", file, err)
	}
	return r, nil
}

// compile validates the rules and prepares the blocklist.
func (r *Rules) compile() error {
	for t, tr := range r.Types {
		if tr.Priority < 1 || tr.Max < 1 {
			return fmt.Errorf("type %s: priority and max must be at least 1", t)
		}
	}
	if r.Custom.Priority < 1 || r.Custom.Max < 1 {
		return fmt.Errorf("custom: priority and max must be at least 1")
	}
	if r.HubProfiles < 1 || r.HubWindow <= 0 {
		return fmt.Errorf("hub_profiles and hub_window must be positive")
	}
	bl, err := normalize.NewBlocklist(r.Blocklist)
	if err != nil {
		return err
	}
	r.blocklist = bl
	for i, p := range r.Phases {
		switch p.Phase {
		case PhasePreVisit, PhaseVisit, PhasePostVisit:
		default:
			return fmt.Errorf("phases[%d]: phase %q is not pre_visit, visit or post_visit", i, p.Phase)
		}
	}
	return nil
}

func (r *Rules) rule(typ string) TypeRule {
	if tr, ok := r.Types[typ]; ok {
		return tr
	}
	return r.Custom
}
