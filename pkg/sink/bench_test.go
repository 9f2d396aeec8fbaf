package sink_test

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/pkg/sink"
	"github.com/cx360/cx360/schemas"
)

// Sink benchmarks, run together by scripts/bench.sh:
//
//	BenchmarkSink          cx.journeys on Kafka → decode → rows → ClickHouse, with commits
//	BenchmarkRawInsert     the same rows inserted straight with clickhouse-go batches
//	BenchmarkFreshness     record acknowledged on Kafka → queryable in ClickHouse, p50/p99 at 10k/s
//
// Each iteration writes sinkBenchRows rows into a fresh table set.
const sinkBenchRows = 200_000

// rig is what a sink runs against, without the other stages: a real
// ClickHouse with the migrations applied, a broker with cx.journeys and
// cx.events.dlq, and a registry holding both topics' schemas.
type rig struct {
	brokers  []string
	registry string
	serde    *avro.Serde // on registry, with the schemas registered
	journey  *avro.Codec
	dlq      *avro.Codec
	ch       *clickhouse.Client
}

func newRig(tb testing.TB, journeyPartitions int) *rig {
	tb.Helper()
	ctx := context.Background()
	srv := chtest.NewServer(tb)
	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ch.Close() })
	if err := sink.Migrate(ctx, ch); err != nil {
		tb.Fatal(err)
	}
	r := &rig{brokers: kafkatest.NewBroker(tb), registry: registrytest.Start(tb).URL(), ch: ch}
	cl, _ := sr.NewClient(sr.URLs(r.registry))
	r.serde = avro.NewSerde(cl)
	if err := kafka.EnsureTopics(ctx, r.brokers, []kafka.TopicSpec{{Name: "cx.journeys", Partitions: journeyPartitions, ReplicationFactor: 1}, {Name: "cx.events.dlq", Partitions: 1, ReplicationFactor: 1}}); err != nil {
		tb.Fatal(err)
	}
	if r.journey, err = r.serde.RegisterTopic(ctx, "cx.journeys", schemas.JourneyEvent); err != nil {
		tb.Fatal(err)
	}
	if r.dlq, err = r.serde.RegisterTopic(ctx, "cx.events.dlq", schemas.DeadLetter); err != nil {
		tb.Fatal(err)
	}
	return r
}

type sinkBench struct {
	brokers []string
	serde   *avro.Serde
	dlq     *avro.Codec
	ch      *clickhouse.Client
	rows    [][]any
}

func newSinkBench(b *testing.B) *sinkBench {
	r := newRig(b, 3)
	ctx := context.Background()
	brokers, serde, journey, dlq, ch := r.brokers, r.serde, r.journey, r.dlq, r.ch
	p := kafka.NewProducer(brokers, kafka.WriterConfig{}, zap.NewNop())
	defer p.Close()
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]kafkago.Message, 0, 5000)
	for i := range sinkBenchRows {
		total := float64(i % 200)
		e := &event.Event{EventID: fmt.Sprintf("bench-%08d", i), Channel: event.ChannelStore, Type: "purchase",
			EventTime: base.Add(time.Duration(i) * time.Second), Identifiers: []event.Identifier{{Type: "loyalty_id", Value: fmt.Sprintf("L-%06d", i%50000)}},
			Store: &event.Store{StoreID: "S-12"}, Order: &event.Order{OrderID: fmt.Sprintf("o-%d", i), Total: &total, Currency: "GBP",
				Items: []event.OrderItem{{SKU: "A1", Quantity: 1, Price: total}}}}
		e.ClientTime, e.ReceivedAt = e.EventTime, e.EventTime
		v, err := journey.Append(nil, identity.JourneyNative(fmt.Sprintf("cust-%06d", i%50000), identity.PhaseVisit, e))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, kafkago.Message{Topic: "cx.journeys", Key: []byte(e.EventID), Value: v})
		if len(msgs) == cap(msgs) || i == sinkBenchRows-1 {
			if err := p.Produce(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	return &sinkBench{brokers: brokers, serde: serde, dlq: dlq, ch: ch}
}

func (s *sinkBench) freshTables(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	_ = s.ch.Exec(ctx, "DROP TABLE IF EXISTS cx360.journey_events")
	if err := sink.Migrate(ctx, s.ch); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSink(b *testing.B) {
	s := newSinkBench(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		s.freshTables(b)
		prod := kafka.NewProducer(s.brokers, kafka.WriterConfig{}, zap.NewNop())
		sk := sink.New(sink.Config{Brokers: s.brokers, GroupID: fmt.Sprintf("bench-%d", i), JourneysTopic: "cx.journeys",
			CustomersTopic: "cx.customers", ChangesTopic: "cx.identity.changes", DLQTopic: "cx.events.dlq",
			IsRetryable: clickhouse.IsRetryable}, s.ch, s.serde, s.dlq, prod, zap.NewNop())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		b.StartTimer()
		go func() { defer close(done); _ = sk.Run(ctx) }()
		for sk.Written()[sink.TableJourneys] < sinkBenchRows {
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		<-done
		prod.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*sinkBenchRows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRawInsert inserts the same rows with clickhouse-go batches of the
// sink's size, without Kafka, Avro or commits: the raw baseline.
func BenchmarkRawInsert(b *testing.B) {
	s := newSinkBench(b)
	msgs, err := kafka.Snapshot(context.Background(), s.brokers, "cx.journeys", 0)
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, 0, len(msgs))
	for _, m := range msgs {
		native, _, err := s.serde.Decode(context.Background(), m.Value)
		if err != nil {
			b.Fatal(err)
		}
		row, err := sink.JourneyRow(native, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, row)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s.freshTables(b)
		b.StartTimer()
		for i := 0; i < len(rows); i += sink.DefaultBatchRows {
			if err := s.ch.InsertBatch(context.Background(), sink.TableJourneys, sink.Columns(sink.TableJourneys), rows[i:min(i+sink.DefaultBatchRows, len(rows))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkFreshness produces journeys at a steady 10k/s for 8 seconds while
// the sink runs
// with its default batching, and reports how long each record took from its
// produce acknowledgement to being queryable in ClickHouse: p50 and p99.
// The poller asks ClickHouse every 10 ms for ids past the oldest unseen one,
// so figures carry up to 10 ms of polling error.
func BenchmarkFreshness(b *testing.B) {
	const seconds = 8
	rate := 10_000
	s := newSinkBench(b)
	ctx := context.Background()
	journey, err := s.serde.RegisterTopic(ctx, "cx.journeys", schemas.JourneyEvent)
	if err != nil {
		b.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, s.brokers, []kafka.TopicSpec{{Name: "cx.fresh", Partitions: 3, ReplicationFactor: 1}}); err != nil {
		b.Fatal(err)
	}
	var p50, p99 float64
	for i := range b.N {
		s.freshTables(b)
		prod := kafka.NewProducer(s.brokers, kafka.WriterConfig{}, zap.NewNop())
		sk := sink.New(sink.Config{Brokers: s.brokers, GroupID: fmt.Sprintf("fresh-%d", i), JourneysTopic: "cx.fresh",
			CustomersTopic: "cx.customers", ChangesTopic: "cx.identity.changes", DLQTopic: "cx.events.dlq",
			IsRetryable: clickhouse.IsRetryable}, s.ch, s.serde, s.dlq, prod, zap.NewNop())
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = sk.Run(rctx) }()

		total := rate * seconds
		acked := make([]time.Time, total)
		var ackedN atomic.Int64
		produced := make(chan struct{})
		go func() {
			defer close(produced)
			// Every 10 ms, a burst of rate/100 records, each acknowledged by
			// the broker before its time is taken.
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			for n := 0; n < total; {
				<-tick.C
				var msgs []kafkago.Message
				for range rate / 100 {
					e := &event.Event{EventID: fmt.Sprintf("f-%08d", n+len(msgs)), Channel: event.ChannelWeb, Type: "page_view",
						EventTime: base, ClientTime: base, ReceivedAt: base, Identifiers: []event.Identifier{{Type: "anonymous_id", Value: "a"}}}
					v, err := journey.Append(nil, identity.JourneyNative("c", identity.PhasePreVisit, e))
					if err != nil {
						panic(err)
					}
					msgs = append(msgs, kafkago.Message{Topic: "cx.fresh", Key: []byte(e.EventID), Value: v})
				}
				if err := prod.Produce(ctx, msgs...); err != nil {
					panic(err)
				}
				now := time.Now()
				for range msgs {
					acked[n] = now
					n++
				}
				ackedN.Store(int64(n))
			}
		}()

		var lat []float64
		seen := make([]bool, total)
		low := 0 // every id below low has been seen
		for low < total {
			time.Sleep(10 * time.Millisecond)
			rows, err := s.ch.Query(ctx, "SELECT event_id FROM cx360.journey_events WHERE event_id >= ?", fmt.Sprintf("f-%08d", low))
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			for rows.Next() {
				var id string
				var n int
				if err := rows.Scan(&id); err != nil {
					b.Fatal(err)
				}
				if _, err := fmt.Sscanf(id, "f-%d", &n); err != nil || n >= total || seen[n] || int64(n) >= ackedN.Load() {
					continue // a record seen before its acknowledgement is counted on a later poll
				}
				seen[n] = true
				lat = append(lat, now.Sub(acked[n]).Seconds()*1000)
			}
			rows.Close()
			for low < total && seen[low] {
				low++
			}
		}
		<-produced
		cancel()
		<-done
		prod.Close()
		sort.Float64s(lat)
		p50, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.ReportMetric(float64(rate), "events/s")
}
