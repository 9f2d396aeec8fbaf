package sink

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// erasedIDs is what the sink knows of erasures: every customer id an erasure
// named (the erased customer and each id that pointed at it), with when the
// latest erasure of it was requested, in unix ms.
//
// Why the sink needs it: an erasure deletes the rows that are in ClickHouse
// when it is applied. A journey, profile or change of the customer that was
// published before the erasure but reaches the sink after it — from a
// partition lagging behind cx.identity.changes, or through another sink
// instance — would bring the personal data back. Such rows are dropped
// before they are inserted. Rows stamped after the erasure are kept: an
// identifier that comes back after its erasure is a new customer, who gets
// the same deterministic id.
type erasedIDs struct {
	audits uint64 // rows of cx360.erasures when at was loaded
	at     map[string]int64
}

// before reports whether id was erased after the time t (unix ms).
func (e *erasedIDs) before(id string, t int64) bool {
	at, ok := e.at[id]
	return ok && t <= at
}

// refreshErasures reloads what ClickHouse holds of erasures when the number
// of audit rows differs from the one loaded: this sink or another applied one
// since. A count of the small erasures table per batch; the reload, rare,
// reads the erase changes (their times have milliseconds).
func (s *Sink) refreshErasures(ctx context.Context) error {
	return s.retry(ctx, "load_erasures", func() error {
		var n uint64
		if err := s.store.QueryRow(ctx, "SELECT count() FROM cx360.erasures").Scan(&n); err != nil {
			return fmt.Errorf("counting erasures: %w", err)
		}
		if s.erased != nil && n == s.erased.audits {
			return nil
		}
		var customers []string
		var related [][]string
		var ats []int64
		if err := s.store.QueryRow(ctx, "SELECT groupArray(customer_id), groupArray(related_ids), groupArray(at_ms) FROM cx360.identity_changes WHERE kind = 'erase'").
			Scan(&customers, &related, &ats); err != nil {
			return fmt.Errorf("loading erasures: %w", err)
		}
		e := &erasedIDs{audits: n, at: make(map[string]int64, len(customers))}
		for i, c := range customers {
			for _, id := range append([]string{c}, related[i]...) {
				e.at[id] = max(e.at[id], ats[i])
			}
		}
		s.erased = e
		return nil
	})
}

// erasedJourney reports whether a journey row is of a customer erased after
// the event was received.
func (s *Sink) erasedJourney(row []any) bool {
	return s.erased.before(row[1].(string), row[7].(int64))
}

// erasedProfile reports whether a customers row was published before its
// customer's erasure (updated_at has whole seconds: a profile of the same
// second counts as before).
func (s *Sink) erasedProfile(row []any) bool {
	return s.erased.before(row[0].(string), row[len(row)-1].(time.Time).UnixMilli())
}

// erasedChange reports whether a change (link, merge, split) named an erased
// customer before its erasure. Erase changes themselves are kept: they are
// the audit, without personal data.
func (s *Sink) erasedChange(row []any) bool {
	if row[1] == "erase" {
		return false
	}
	at := row[10].(int64)
	return s.erased.before(row[2].(string), at) ||
		slices.ContainsFunc(row[3].([]string), func(id string) bool { return s.erased.before(id, at) })
}
