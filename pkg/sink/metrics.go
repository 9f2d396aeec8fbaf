package sink

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sink's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	records   *prometheus.CounterVec
	rows      *prometheus.CounterVec
	dlq       *prometheus.CounterVec
	retries   *prometheus.CounterVec
	batchSize prometheus.Histogram
	flushTime prometheus.Histogram
	lag       prometheus.Gauge
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_sink_records_total", Help: "Records consumed and committed, by topic.",
		}, []string{"topic"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_sink_rows_total", Help: "Rows ClickHouse acknowledged, by table.",
		}, []string{"table"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_sink_dlq_records_total", Help: "Records dead-lettered, by reason code.",
		}, []string{"code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cx360_sink_retries_total", Help: "Operations retried while consumption waited (ClickHouse inserts and queries, commits, dead letters, schema fetches), by operation.",
		}, []string{"operation"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cx360_sink_batch_records", Help: "Records per written batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		flushTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cx360_sink_flush_seconds", Help: "Decode, insert and commit time per batch.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cx360_sink_consumer_lag", Help: "Records behind the end of the topics, as kafka-go's reader last saw it.",
		}),
	}
	reg.MustRegister(m.records, m.rows, m.dlq, m.retries, m.batchSize, m.flushTime, m.lag)
	return m
}

func (m *Metrics) batchWritten(byTopic map[string]int, took time.Duration, lag int64) {
	if m == nil {
		return
	}
	n := 0
	for topic, c := range byTopic {
		m.records.WithLabelValues(topic).Add(float64(c))
		n += c
	}
	m.batchSize.Observe(float64(n))
	m.flushTime.Observe(took.Seconds())
	if lag >= 0 {
		m.lag.Set(float64(lag))
	}
}

func (m *Metrics) rowsWritten(table string, n int) {
	if m != nil {
		m.rows.WithLabelValues(table).Add(float64(n))
	}
}

func (m *Metrics) deadLettered(code string) {
	if m != nil {
		m.dlq.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) retried(operation string) {
	if m != nil {
		m.retries.WithLabelValues(operation).Inc()
	}
}
