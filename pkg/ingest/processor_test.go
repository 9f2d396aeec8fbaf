package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/schemas"
)

// codecs registers cx.Event and cx.DeadLetter for the default topics in the
// registry at regURL and returns the serde and both codecs.
func codecs(tb testing.TB, regURL string) (*avro.Serde, *avro.Codec, *avro.Codec) {
	tb.Helper()
	client, err := avro.NewRegistryClient(config.Registry{URL: regURL})
	if err != nil {
		tb.Fatal(err)
	}
	serde := avro.NewSerde(client)
	ctx := testContext(tb, 20*time.Second)
	eventCodec, err := serde.RegisterTopic(ctx, eventsTopic, schemas.Event)
	if err != nil {
		tb.Fatal(err)
	}
	dlqCodec, err := serde.RegisterTopic(ctx, dlqTopic, schemas.DeadLetter)
	if err != nil {
		tb.Fatal(err)
	}
	return serde, eventCodec, dlqCodec
}

// newProcessor wires a Processor as NewService does (default normaliser and
// blocklist, built-in channels) around the given codecs, producer and dedup.
func newProcessor(tb testing.TB, eventCodec, dlqCodec *avro.Codec, producer ingest.Producer, dedup *ingest.Dedup) *ingest.Processor {
	tb.Helper()
	blocklist, err := ingest.LoadBlocklist("")
	if err != nil {
		tb.Fatal(err)
	}
	normalizer := event.NewNormalizer(event.NormalizerConfig{DefaultRegion: config.DefaultRegion, Blocklist: blocklist})
	proc, err := ingest.NewProcessor(ingest.ProcessorConfig{EventsTopic: eventsTopic, DLQTopic: dlqTopic},
		ingest.BuiltinChannels(), normalizer, eventCodec, dlqCodec, producer, dedup, nil, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	return proc
}

// realProducer starts a broker with ingest's topics and a producer to it.
func realProducer(t testing.TB) ([]string, *kafka.Producer) {
	t.Helper()
	brokers := kafkatest.NewBroker(t)
	specs := []kafka.TopicSpec{{Name: eventsTopic, Partitions: 3, ReplicationFactor: 1}, {Name: dlqTopic, Partitions: 3, ReplicationFactor: 1}}
	if err := kafka.EnsureTopics(testContext(t, 10*time.Second), brokers, specs); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	p := kafka.NewProducer(brokers, kafka.WriterConfig{}, zap.NewNop())
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close producer: %v", err)
		}
	})
	return brokers, p
}

// failFirstProducer makes the first Produce call wait for release and then
// fail without writing anything, as a produce to an unreachable broker ends;
// later calls go to the real producer. It injects exactly one Kafka failure at
// a moment the test chooses.
type failFirstProducer struct {
	inner   ingest.Producer
	entered chan struct{} // closed when the first call arrived
	release chan struct{} // closed by the test to let the first call fail
	once    sync.Once
}

var _ ingest.Producer = (*failFirstProducer)(nil)

var errInjected = errors.New("injected: broker unreachable")

// Produce fails the first call once released and delegates the others.
func (p *failFirstProducer) Produce(ctx context.Context, msgs ...kafkago.Message) error {
	first := false
	p.once.Do(func() { first = true })
	if !first {
		return p.inner.Produce(ctx, msgs...)
	}
	close(p.entered)
	<-p.release
	return errInjected
}

type processResult struct {
	res ingest.Result
	err error
}

// A 202 means durable (DESIGN.md "Ingest HTTP API"). An event whose first
// copy is still being produced by another request must not be acknowledged as
// a duplicate before that produce succeeded: if it fails, nothing holds the
// event although the second request was told it is stored.
func TestDuplicateOfInFlightEventIsNotAcknowledgedBeforeItIsDurable(t *testing.T) {
	brokers, real := realProducer(t)
	_, eventCodec, dlqCodec := codecs(t, startRegistry(t))
	producer := &failFirstProducer{inner: real, entered: make(chan struct{}), release: make(chan struct{})}
	proc := newProcessor(t, eventCodec, dlqCodec, producer, ingest.NewDedup(config.DefaultDedupWindow, config.DefaultDedupMaxEntries))
	ev := newGenerator(12).next(t, "web", "inflight-")
	ctx := testContext(t, 20*time.Second)

	first := make(chan processResult, 1)
	go func() {
		res, err := proc.Process(ctx, "web", [][]byte{ev.Raw})
		first <- processResult{res, err}
	}()
	<-producer.entered // the first request's produce is under way

	second := make(chan processResult, 1)
	go func() {
		res, err := proc.Process(ctx, "web", [][]byte{ev.Raw})
		second <- processResult{res, err}
	}()
	// Give the second request time to answer, as it must not while the first
	// is undecided; a correct processor makes it wait for the first.
	var secondRes *processResult
	select {
	case r := <-second:
		secondRes = &r
	case <-time.After(time.Second):
	}
	close(producer.release)
	if r := <-first; r.err == nil {
		t.Fatalf("first request: %+v, want the injected produce failure", r.res)
	}
	if secondRes == nil {
		r := <-second
		secondRes = &r
	}
	if secondRes.err != nil {
		return // the client is told to retry: correct
	}
	n := topicRecordCount(t, brokers, eventsTopic)
	if n != 1 {
		t.Errorf("second request acknowledged (%+v) while the first copy's produce was pending; that produce failed and %s holds %d records: an acknowledged event was lost",
			secondRes.res, eventsTopic, n)
	}
}

// A record the codec cannot encode is dead-lettered with internal_error (the
// processor's own promise: "never lose the item silently"), whatever its
// position in the batch; the other items are produced.
func TestEncodeFailureIsDeadLetteredNotAPanic(t *testing.T) {
	brokers, producer := realProducer(t)
	regURL := startRegistry(t)
	serde, _, dlqCodec := codecs(t, regURL)

	// A cx.Event variant that cannot hold a survey: events without one encode,
	// an event with one fails, as any validation gap between the normaliser
	// and the schema would.
	var schema map[string]any
	if err := json.Unmarshal([]byte(schemas.MustAvro(schemas.Event)), &schema); err != nil {
		t.Fatal(err)
	}
	for _, f := range schema["fields"].([]any) {
		if fm := f.(map[string]any); fm["name"] == "survey" {
			fm["type"] = "null"
		}
	}
	variant, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	narrowCodec, err := serde.Register(testContext(t, 10*time.Second), "narrow-events-value", string(variant))
	if err != nil {
		t.Fatalf("register variant: %v", err)
	}
	proc := newProcessor(t, narrowCodec, dlqCodec, producer, ingest.NewDedup(0, 0))

	const ts = `"timestamp":"2026-01-15T10:15:00Z"`
	items := [][]byte{
		[]byte(`{"event_id":"enc-1","type":"call",` + ts + `,"identifiers":{"user_id":"u-1"}}`),
		[]byte(`{"event_id":"enc-2","type":"survey_response",` + ts + `,"identifiers":{"user_id":"u-1"},"survey":{"kind":"csat","score":4}}`),
		[]byte(`{"event_id":"enc-3","type":"call",` + ts + `,"identifiers":{"user_id":"u-2"}}`),
	}
	res, err := func() (res ingest.Result, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("Process panicked: %v", r)
			}
		}()
		return proc.Process(testContext(t, 10*time.Second), "phone", items)
	}()
	if err != nil {
		t.Fatalf("a record that fails to encode after another encoded: %v", err)
	}
	if res.Accepted != 2 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Index != 1 || res.Errors[0].Code != event.CodeInternal {
		t.Errorf("answer %+v, want 2 accepted and index 1 rejected with %s", res, event.CodeInternal)
	}
	kafkatest.ReadN(t, brokers, eventsTopic, 2, readTimeout)
	kafkatest.ReadN(t, brokers, dlqTopic, 1, readTimeout)
}
