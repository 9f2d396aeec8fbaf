package ingest_test

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/ingest"
)

// discardProducer is a stand-in for Kafka in BenchmarkProcess, which measures
// the CPU cost of parse → validate → normalise → encode alone; the real
// producer's cost and latency are measured in pkg/kafka's benchmarks.
type discardProducer struct{}

var _ ingest.Producer = discardProducer{}

// Produce drops msgs.
func (discardProducer) Produce(context.Context, ...kafkago.Message) error { return nil }

// BenchmarkProcess processes a batch of 500 realistic events, 125 per
// built-in channel, with the real normaliser and Avro codecs registered in a
// real (embedded) registry. Dedup is off: the same batch is processed on every
// iteration, and the filter would otherwise turn every event after the first
// iteration into a duplicate.
func BenchmarkProcess(b *testing.B) {
	_, eventCodec, dlqCodec := codecs(b, startRegistry(b))
	proc := newProcessor(b, eventCodec, dlqCodec, discardProducer{}, ingest.NewDedup(0, 0))
	ctx := testContext(b, time.Minute)

	const perChannel = 125
	g := newGenerator(42)
	items := make(map[string][][]byte, len(channels))
	for _, ch := range channels {
		items[ch] = raws(g.batch(b, ch, "bench-"+ch+"-", perChannel))
	}
	// Check once that the batch is all valid, so the benchmark measures the accept path.
	for _, ch := range channels {
		res, err := proc.Process(ctx, ch, items[ch])
		if err != nil || res.Accepted != perChannel {
			b.Fatalf("%s: %+v, %v; want %d accepted", ch, res, err, perChannel)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, ch := range channels {
			if _, err := proc.Process(ctx, ch, items[ch]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*perChannel*len(channels))/b.Elapsed().Seconds(), "events/s")
}
