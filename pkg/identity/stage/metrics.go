package stage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cx360/cx360/pkg/identity"
)

// Metrics are the identity stage's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	events    prometheus.Counter
	dead      prometheus.Counter
	changes   *prometheus.CounterVec
	batchTime prometheus.Histogram
	batchSize prometheus.Histogram
	snapshots prometheus.Counter
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "cx360_identity_events_total", Help: "Events resolved."}),
		dead:   prometheus.NewCounter(prometheus.CounterOpts{Name: "cx360_identity_dlq_records_total", Help: "Undecodable events dead-lettered."}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_identity_changes_total", Help: "Identity changes by kind (merge, split, link, erase).",
		}, []string{"kind"}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cx360_identity_batch_seconds", Help: "Resolve and produce time per batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cx360_identity_batch_events", Help: "Events per batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{Name: "cx360_identity_snapshots_total", Help: "Graph snapshots written."}),
	}
	reg.MustRegister(m.events, m.dead, m.changes, m.batchTime, m.batchSize, m.snapshots)
	return m
}

type batchStats struct {
	events  int
	start   time.Time
	dead    int
	changes map[string]int
}

func (b *batchStats) add(res identity.Result) {
	for _, c := range res.Changes {
		if b.changes == nil {
			b.changes = map[string]int{}
		}
		b.changes[c.Kind]++
	}
}

func (m *Metrics) batchDone(events int, st batchStats, took time.Duration) {
	if m == nil {
		return
	}
	m.events.Add(float64(events - st.dead))
	m.dead.Add(float64(st.dead))
	for k, n := range st.changes {
		m.changes.WithLabelValues(k).Add(float64(n))
	}
	if events > 0 {
		m.batchSize.Observe(float64(events))
		m.batchTime.Observe(took.Seconds())
	}
}

func (m *Metrics) snapshotTaken() {
	if m == nil {
		return
	}
	m.snapshots.Inc()
}
