package stage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity/stage"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/schemas"
)

// Whole-stage identity benchmarks, run together by scripts/bench.sh:
//
//	BenchmarkIdentityStage  consume cx.events → decode → resolve → encode →
//	                        produce journeys, profiles and changes (acks=all)
//	BenchmarkPassthrough    the same records consumed and produced unchanged,
//	                        with the same readers, batch size and producer
//
// Each iteration is one run over benchEvents records pre-produced to a fresh broker.
const benchEvents = 100_000

type benchEnv struct {
	brokers  []string
	registry string
}

func newBenchEnv(b *testing.B) benchEnv {
	brokers := kafkatest.NewBroker(b)
	env := benchEnv{brokers: brokers, registry: registrytest.Start(b).URL()}
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Name: "cx.events", Partitions: 3, ReplicationFactor: 1}, {Name: "bench.out", Partitions: 3, ReplicationFactor: 1}}); err != nil {
		b.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(env.registry))
	codec, err := avro.NewSerde(cl).RegisterTopic(ctx, "cx.events", schemas.Event)
	if err != nil {
		b.Fatal(err)
	}
	p := kafka.NewProducer(brokers, kafka.WriterConfig{}, zap.NewNop())
	defer p.Close()
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]kafkago.Message, 0, 5000)
	for i := range benchEvents {
		person := r.IntN(benchEvents / 10)
		ids := []event.Identifier{{Type: "anonymous_id", Value: fmt.Sprintf("anon-%08d-%d", person, r.IntN(3))}}
		if r.IntN(3) == 0 {
			ids = append(ids, event.Identifier{Type: "email", Value: fmt.Sprintf("customer%08d@example.com", person)})
		}
		if r.IntN(8) == 0 {
			ids = append(ids, event.Identifier{Type: "loyalty_id", Value: fmt.Sprintf("L%08d", person)})
		}
		event.SortIdentifiers(ids)
		e := &event.Event{EventID: fmt.Sprintf("bench-%08d", i), Channel: event.ChannelWeb, Type: "page_view",
			EventTime: base.Add(time.Duration(i) * time.Second), Identifiers: ids, Web: &event.Web{URL: "https://shop.example/p/" + fmt.Sprint(r.IntN(500))}}
		e.ClientTime, e.ReceivedAt = e.EventTime, e.EventTime
		v, err := codec.Append(nil, e.Native())
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, kafkago.Message{Topic: "cx.events", Key: []byte(e.RoutingKey()), Value: v})
		if len(msgs) == cap(msgs) || i == benchEvents-1 {
			if err := p.Produce(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	return env
}

func BenchmarkIdentityStage(b *testing.B) {
	env := newBenchEnv(b)
	b.ResetTimer()
	for i := range b.N {
		var cfg config.Identity
		cfg = cfg.WithDefaults()
		cfg.Kafka = config.Kafka{Brokers: env.brokers, TopicPrefix: "cx.", Partitions: 3, ReplicationFactor: 1, BatchTimeout: config.DefaultBatchTimeout}
		cfg.Registry = config.Registry{URL: env.registry}
		cfg.Addr, cfg.DataDir = "127.0.0.1:0", b.TempDir()
		cfg.GroupID = fmt.Sprintf("bench-%d", i)
		cfg.SnapshotInterval = time.Hour // measure resolving, not snapshot I/O
		b.StopTimer()
		svc, err := stage.NewService(context.Background(), cfg, nil, zap.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		if err := svc.Start(); err != nil {
			b.Fatal(err)
		}
		for !svc.Stage().Active() {
			time.Sleep(10 * time.Millisecond)
		}
		b.StartTimer()
		for svc.Stage().Processed() < benchEvents {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		_ = svc.Shutdown(context.Background())
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*benchEvents)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPassthrough consumes the same records with the same readers and
// produces them unchanged with the same producer: the raw baseline.
func BenchmarkPassthrough(b *testing.B) {
	env := newBenchEnv(b)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		prod := kafka.NewProducer(env.brokers, kafka.WriterConfig{}, zap.NewNop())
		in := make(chan kafkago.Message, 4*config.DefaultIdentityBatch)
		var wg sync.WaitGroup
		for p := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: env.brokers, Topic: "cx.events", Partition: p, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
				defer r.Close()
				for {
					m, err := r.FetchMessage(ctx)
					if err != nil {
						return
					}
					select {
					case in <- m:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		var done atomic.Int64
		batch := make([]kafkago.Message, 0, config.DefaultIdentityBatch)
		for done.Load() < benchEvents {
			batch = append(batch[:0], <-in)
		fill:
			for len(batch) < cap(batch) {
				select {
				case m := <-in:
					batch = append(batch, m)
				default:
					break fill
				}
			}
			out := make([]kafkago.Message, len(batch))
			for i, m := range batch {
				out[i] = kafkago.Message{Topic: "bench.out", Key: m.Key, Value: m.Value}
			}
			if err := prod.Produce(ctx, out...); err != nil {
				b.Fatal(err)
			}
			done.Add(int64(len(batch)))
		}
		cancel()
		wg.Wait()
		prod.Close()
	}
	b.ReportMetric(float64(b.N*benchEvents)/b.Elapsed().Seconds(), "events/s")
}
