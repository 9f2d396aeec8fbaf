// Package gen simulates a retailer's customers living across the store, web,
// app and phone channels, and writes what those channels would send to
// cx360's ingest API — with the ground truth of who did what.
//
// A dataset is a pure function of its Config: the same seed gives the same
// bytes. Each person's life draws from a random stream of its own (PCG seeded
// by the dataset seed and the person's index), so adding a scenario to one
// person's life never reshuffles everyone else's.
//
// The truth (Truth) says what cx360's identity rules (DESIGN.md "Identity
// resolution", pkg/identity.DefaultRules) produce from the valid events, not
// what an ideal resolver would: the customers, their ids, the merges in event
// time order, and the hubs. The scenarios are built so that the answer does not
// depend on the order events arrive in; see Truth.
package gen

import (
	"errors"
	"fmt"
	"time"
)

// Config shapes a dataset. Zero fields take the defaults; a negative rate
// switches its scenario off (and stays negative, so that a Config returned
// in a Dataset generates the same dataset again).
type Config struct {
	Seed      uint64
	Customers int       // simulated persons; default 1000
	Days      int       // length of the period; default 28
	Start     time.Time // first instant of the period (UTC); default DefaultStart
	Stores    int       // physical stores, 1..len(storeSites); default 10

	// BadRate is the share of bad records (each rejected by ingest with a
	// known code) relative to valid events; default 0.01.
	BadRate float64
	// DuplicateRate is the share of valid events a client sends twice (a till
	// retrying after a timeout); ingest acknowledges the copy without
	// producing it. Default 0.003.
	DuplicateRate float64
	// HouseholdRate is the share of persons living in two-person households
	// that share a family tablet; default 0.12.
	HouseholdRate float64
	// WalkInRate is the share of loyalty-card store purchases where the till
	// records the shop's own phone number instead of the customer's; default 0.25.
	WalkInRate float64
	// LateRate is the share of store visits whose events a till uploads hours
	// late (offline till); default 0.02.
	LateRate float64
}

// Defaults of Config.
const (
	DefaultCustomers     = 1000
	DefaultDays          = 28
	DefaultStores        = 10
	DefaultBadRate       = 0.01
	DefaultDuplicateRate = 0.003
	DefaultHouseholdRate = 0.12
	DefaultWalkInRate    = 0.25
	DefaultLateRate      = 0.02
)

// DefaultStart is the first day of the period when Config.Start is zero: a
// fixed date, so that the default dataset is the same on every run, and in
// the past, because ingest rejects events more than a day in the future.
var DefaultStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// MaxDays bounds Config.Days.
const MaxDays = 366

// withDefaults fills zero fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Customers == 0 {
		c.Customers = DefaultCustomers
	}
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	if c.Stores == 0 {
		c.Stores = DefaultStores
	}
	var errs []error
	if c.Customers < 1 {
		errs = append(errs, fmt.Errorf("customers must be at least 1, got %d", c.Customers))
	}
	if c.Days < 1 || c.Days > MaxDays {
		errs = append(errs, fmt.Errorf("days must be 1..%d, got %d", MaxDays, c.Days))
	}
	if c.Stores < 1 || c.Stores > len(storeSites) {
		errs = append(errs, fmt.Errorf("stores must be 1..%d, got %d", len(storeSites), c.Stores))
	}
	if y := c.Start.Year(); y < 1975 || y > 2190 {
		errs = append(errs, fmt.Errorf("start %s is outside the years ingest accepts", c.Start.Format(time.RFC3339)))
	}
	rate := func(name string, r *float64, def float64) {
		switch {
		case *r == 0:
			*r = def
		case *r > 1:
			errs = append(errs, fmt.Errorf("%s must be at most 1, got %v", name, *r))
		}
	}
	rate("bad rate", &c.BadRate, DefaultBadRate)
	rate("duplicate rate", &c.DuplicateRate, DefaultDuplicateRate)
	rate("household rate", &c.HouseholdRate, DefaultHouseholdRate)
	rate("walk-in rate", &c.WalkInRate, DefaultWalkInRate)
	rate("late rate", &c.LateRate, DefaultLateRate)
	return c, errors.Join(errs...)
}

// End is the first instant after the period.
func (c Config) End() time.Time {
	cc, _ := c.withDefaults()
	return cc.Start.Add(time.Duration(cc.Days) * 24 * time.Hour)
}

// Record is one item a channel sends: an NDJSON line of the ingest API.
type Record struct {
	Channel string
	// Body is the item's JSON, on one line.
	Body []byte
	// EventID is the id ingest gives the event: its event_id, or for an event
	// sent without one the hash ingest computes (normalize.EventID). Empty for
	// a bad record.
	EventID string
	// Reject is the rejection code ingest answers for a bad record; empty for a
	// valid event.
	Reject string
	// Duplicate marks a second copy of the record before it (same bytes):
	// acknowledged as a duplicate, not produced again.
	Duplicate bool
}

// Dataset is a generated stream and its ground truth.
type Dataset struct {
	Config Config
	// Records in the order the channels send them (arrival order): mostly
	// event time, with late uploads, duplicates right after their original and
	// bad records mixed in.
	Records []Record
	Truth   *Truth

	events []*genEvent // valid events, for the truth and Scoring
}

// Generate builds a dataset. The same Config gives the same dataset.
func Generate(cfg Config) (*Dataset, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	w, err := newWorld(cfg)
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	events := w.live()
	records := w.records(events)
	truth, err := buildTruth(cfg, w, events, records)
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	return &Dataset{Config: cfg, Records: records, Truth: truth, events: events}, nil
}
