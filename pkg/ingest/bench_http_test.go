package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka"
)

// Whole-stage ingest benchmarks, run together by scripts/bench.sh so that the
// figure and its raw baseline come from the same machine state:
//
//	BenchmarkIngestHTTP      NDJSON batches of 500 realistic events, channels in
//	                         turn, posted by benchClients concurrent clients
//	                         through the real HTTP API to the real (embedded) broker;
//	BenchmarkRawKafkaProduce the same events, pre-encoded, written by kafka-go
//	                         directly with the same writer settings and concurrency.
const (
	benchBatch   = 500
	benchClients = 4
	idSlot       = "bXXXXXXXX" // overwritten per request so every event id is new
)

// benchBodies builds one NDJSON body per built-in channel, with id slots.
func benchBodies(b *testing.B) map[string][]byte {
	g := newGenerator(7)
	bodies := map[string][]byte{}
	for _, ch := range channels {
		var buf bytes.Buffer
		for _, ev := range g.batch(b, ch, idSlot+"-", benchBatch) {
			buf.Write(ev.Raw)
			buf.WriteByte('\n')
		}
		bodies[ch] = buf.Bytes()
	}
	return bodies
}

func BenchmarkIngestHTTP(b *testing.B) {
	h := newHarness(b, func(c *config.Ingest) { c.Log.Level = "error" })
	bodies := benchBodies(b)
	transport := &http.Transport{MaxIdleConnsPerHost: benchClients}
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	defer transport.CloseIdleConnections()
	url := h.url("/v1/%s/events")
	var counter atomic.Uint64

	post := func(ch string) error {
		n := counter.Add(1)
		body := bytes.ReplaceAll(bodies[ch], []byte(idSlot), fmt.Appendf(nil, "b%08x", n))
		resp, err := client.Post(fmt.Sprintf(url, ch), "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted || !bytes.Contains(out, []byte(fmt.Sprintf(`"accepted":%d,"rejected":0,"duplicates":0`, benchBatch))) {
			return fmt.Errorf("status %d: %s", resp.StatusCode, out)
		}
		return nil
	}
	if err := post(channels[0]); err != nil { // warm up: connections, metadata
		b.Fatal(err)
	}

	b.ResetTimer()
	runConcurrently(b, func(i int) error { return post(channels[i%len(channels)]) })
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRawKafkaProduce is the baseline: the bytes ingest would produce for
// the same events, written straight to the same kind of broker with kafka-go.
func BenchmarkRawKafkaProduce(b *testing.B) {
	brokers, _ := realProducer(b)
	_, eventCodec, dlqCodec := codecs(b, startRegistry(b))
	capture := &capturingProducer{}
	proc := newProcessor(b, eventCodec, dlqCodec, capture, ingest.NewDedup(0, 0))
	ctx := testContext(b, 10*time.Minute)
	var batches [][]kafkago.Message
	for _, ch := range channels {
		capture.msgs = nil
		if _, err := proc.Process(ctx, ch, bytes.Split(bytes.TrimSpace(benchBodies(b)[ch]), []byte("\n"))); err != nil {
			b.Fatal(err)
		}
		batches = append(batches, capture.msgs)
	}
	// The writer ingest uses, minus ingest: same settings (acks=all, 2 ms batches).
	w := kafka.NewProducer(brokers, kafka.WriterConfig{BatchTimeout: config.DefaultBatchTimeout}, zap.NewNop())
	defer w.Close()
	if err := w.Produce(ctx, batches[0]...); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	runConcurrently(b, func(i int) error { return w.Produce(ctx, batches[i%len(batches)]...) })
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// runConcurrently runs b.N calls of op over benchClients goroutines.
func runConcurrently(b *testing.B, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchClients)
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// capturingProducer records what the processor would produce (used to build
// the raw baseline's records; never in a measured loop).
type capturingProducer struct{ msgs []kafkago.Message }

var _ ingest.Producer = (*capturingProducer)(nil)

func (c *capturingProducer) Produce(_ context.Context, msgs ...kafkago.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}
