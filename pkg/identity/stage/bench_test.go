package stage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
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
		passthrough(b, env, nil)
	}
	b.ReportMetric(float64(b.N*benchEvents)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPassthroughDecoded is the passthrough that also decodes every
// record into an event, as the stage does (the schema registry's serde and
// goavro, on every core): the work any identity stage built on kafka-go and
// goavro does before it resolves anything. It bounds what the stage can
// reach on this machine.
func BenchmarkPassthroughDecoded(b *testing.B) {
	env := newBenchEnv(b)
	cl, err := sr.NewClient(sr.URLs(env.registry))
	if err != nil {
		b.Fatal(err)
	}
	serde := avro.NewSerde(cl)
	decode := func(batch []kafkago.Message) {
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(batch); i += workers {
					native, _, err := serde.Decode(context.Background(), batch[i].Value)
					if err == nil {
						_, err = event.FromNative(native)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.ResetTimer()
	for range b.N {
		passthrough(b, env, decode)
	}
	b.ReportMetric(float64(b.N*benchEvents)/b.Elapsed().Seconds(), "events/s")
}

// passthrough consumes benchEvents records of cx.events with a reader per
// partition and produces them unchanged to bench.out in batches of the
// stage's size, calling work (if any) on each batch first.
func passthrough(b *testing.B, env benchEnv, work func([]kafkago.Message)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prod := kafka.NewProducer(env.brokers, kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	in := make(chan kafkago.Message, 4*config.DefaultIdentityBatch)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the wait: the readers stop on it
	for p := range 3 {
		wg.Go(func() {
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
		})
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
		if work != nil {
			work(batch)
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
}
