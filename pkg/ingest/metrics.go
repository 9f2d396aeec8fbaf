package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are ingest's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	accepted     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	duplicates   *prometheus.CounterVec
	dlq          *prometheus.CounterVec
	produceFails prometheus.Counter
	produceTime  prometheus.Histogram
	batchSize    prometheus.Histogram
	requests     *prometheus.CounterVec
}

// NewMetrics registers ingest's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_ingest_events_accepted_total", Help: "Events accepted (produced or deduplicated), by channel.",
		}, []string{"channel"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_ingest_events_rejected_total", Help: "Items rejected, by channel and reason code.",
		}, []string{"channel", "code"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_ingest_events_duplicate_total", Help: "Accepted events not produced again because their event_id was seen within the dedup window.",
		}, []string{"channel"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_ingest_dlq_records_total", Help: "Dead letters produced, by channel.",
		}, []string{"channel"}),
		produceFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cx360_ingest_produce_failures_total", Help: "Batches whose produce failed after retries (answered 503).",
		}),
		produceTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cx360_ingest_produce_seconds", Help: "Time from produce to Kafka acknowledgement per batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cx360_ingest_batch_items", Help: "Items per request or import batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_ingest_http_requests_total", Help: "HTTP requests by answer status.",
		}, []string{"status"}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.duplicates, m.dlq, m.produceFails, m.produceTime, m.batchSize, m.requests)
	return m
}

func (m *Metrics) batchDone(channel string, r Result, produced int, took time.Duration) {
	if m == nil {
		return
	}
	m.accepted.WithLabelValues(channel).Add(float64(r.Accepted))
	if r.Duplicates > 0 {
		m.duplicates.WithLabelValues(channel).Add(float64(r.Duplicates))
	}
	for _, e := range r.Errors {
		m.rejected.WithLabelValues(channel, e.Code).Inc()
	}
	if r.Rejected > 0 {
		m.dlq.WithLabelValues(channel).Add(float64(r.Rejected))
	}
	m.batchSize.Observe(float64(r.Accepted + r.Rejected))
	m.produceTime.Observe(took.Seconds())
}

func (m *Metrics) bodyRejected(channel string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(channel, "unparseable_body").Inc()
	m.dlq.WithLabelValues(channel).Inc()
}

func (m *Metrics) produceFailed() {
	if m == nil {
		return
	}
	m.produceFails.Inc()
}

func (m *Metrics) request(status string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(status).Inc()
}
