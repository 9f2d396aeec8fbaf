package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/kafka"
)

// BenchmarkProducerSync measures one synchronous single-message Produce at a
// time: the latency an ingest request pays for acks=all.
func BenchmarkProducerSync(b *testing.B) {
	brokers := newTopics(b, map[string]int{"bench": 3})
	p := newProducer(b, brokers, kafka.WriterConfig{}, nil)
	ctx := context.Background()
	value := make([]byte, 300)
	warmUp(b, p)

	b.ReportAllocs()
	start := time.Now()
	i := 0
	for b.Loop() {
		key := fmt.Appendf(nil, "customer-%d", i)
		i++
		if err := p.Produce(ctx, kafkago.Message{Topic: "bench", Key: key, Value: value}); err != nil {
			b.Fatalf("Produce: %v", err)
		}
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkProducerBatch measures Produce of 1000 messages of 300 bytes per
// call: the throughput of a pipeline stage forwarding a fetched batch.
func BenchmarkProducerBatch(b *testing.B) {
	const batch = 1000
	brokers := newTopics(b, map[string]int{"bench": 3})
	p := newProducer(b, brokers, kafka.WriterConfig{}, nil)
	ctx := context.Background()
	msgs := make([]kafkago.Message, batch)
	for i := range msgs {
		msgs[i] = kafkago.Message{Topic: "bench", Key: fmt.Appendf(nil, "customer-%d", i), Value: make([]byte, 300)}
	}
	warmUp(b, p)

	b.SetBytes(batch * 300)
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := p.Produce(ctx, msgs...); err != nil {
			b.Fatalf("Produce: %v", err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// warmUp connects and loads metadata outside the timed loop.
func warmUp(b *testing.B, p *kafka.Producer) {
	b.Helper()
	if err := p.Produce(context.Background(), kafkago.Message{Topic: "bench", Value: []byte("warm-up")}); err != nil {
		b.Fatalf("warm-up Produce: %v", err)
	}
}
