package ingest

import (
	"sync"
	"time"
)

// Dedup remembers the event ids produced within a time window, so that a client
// retrying a request (or sending the same event twice) is acknowledged without
// producing the event again. Ids are reserved before producing and committed
// only after Kafka acknowledged, so a failed produce never hides a later retry.
//
// It is a best-effort, per-process filter: downstream stages are idempotent on
// event_id anyway, so a restart that forgets the window costs duplicates on the
// topic, never wrong results.
type Dedup struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	seen  map[string]dedupEntry
	order []dedupKey // committed ids in commit order, for expiry; head at start
	head  int
}

type dedupEntry struct {
	inFlight bool
	at       time.Time
}

type dedupKey struct {
	id string
	at time.Time
}

// NewDedup returns a filter remembering ids for window, at most max of them
// (the oldest are forgotten first). window <= 0 disables it.
func NewDedup(window time.Duration, max int) *Dedup {
	return &Dedup{window: window, max: max, seen: make(map[string]dedupEntry)}
}

// Reserve marks ids as in flight and reports, for each, whether the caller
// should produce it: false when it was already produced within the window or
// is repeated earlier in ids. An id still in flight in another request is
// produced again: acknowledging it before that produce succeeded could lose
// it, while a second copy only costs a duplicate that downstream dedups.
func (d *Dedup) Reserve(ids []string, now time.Time) []bool {
	fresh := make([]bool, len(ids))
	if d.window <= 0 {
		for i := range fresh {
			fresh[i] = true
		}
		return fresh
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	inBatch := make(map[string]struct{}, len(ids))
	for i, id := range ids {
		if _, dup := inBatch[id]; dup {
			continue
		}
		inBatch[id] = struct{}{}
		e, ok := d.seen[id]
		switch {
		case ok && e.inFlight:
			fresh[i] = true // another request's copy is undecided
		case ok && now.Sub(e.at) < d.window:
			// produced within the window
		default:
			d.seen[id] = dedupEntry{inFlight: true}
			fresh[i] = true
		}
	}
	return fresh
}

// Commit records reserved ids as produced at now.
func (d *Dedup) Commit(ids []string, now time.Time) {
	if d.window <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		d.seen[id] = dedupEntry{at: now}
		d.order = append(d.order, dedupKey{id: id, at: now})
	}
	d.expire(now)
}

// Release forgets reserved ids whose produce failed, so a retry produces them.
func (d *Dedup) Release(ids []string) {
	if d.window <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if e, ok := d.seen[id]; ok && e.inFlight {
			delete(d.seen, id)
		}
	}
}

// Len is the number of remembered ids (committed and in flight).
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

func (d *Dedup) expire(now time.Time) {
	for d.head < len(d.order) {
		k := d.order[d.head]
		committed := len(d.order) - d.head
		if now.Sub(k.at) < d.window && (d.max <= 0 || committed <= d.max) {
			break
		}
		if e, ok := d.seen[k.id]; ok && !e.inFlight && e.at.Equal(k.at) {
			delete(d.seen, k.id)
		}
		d.order[d.head] = dedupKey{}
		d.head++
	}
	// Compact the queue once its consumed head dominates, keeping appends amortised O(1).
	if d.head > 1024 && d.head*2 > len(d.order) {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}
