package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/embedded"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

// newTopics starts a broker with the given topics (name -> partitions).
func newTopics(t testing.TB, topics map[string]int) []string {
	t.Helper()
	brokers := kafkatest.NewBroker(t)
	ensure(t, brokers, topics)
	return brokers
}

func ensure(t testing.TB, brokers []string, topics map[string]int) {
	t.Helper()
	specs := make([]kafka.TopicSpec, 0, len(topics))
	for name, partitions := range topics {
		specs = append(specs, kafka.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1})
	}
	if err := kafka.EnsureTopics(testContext(t, 10*time.Second), brokers, specs); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
}

func newProducer(t testing.TB, brokers []string, cfg kafka.WriterConfig, logger *zap.Logger) *kafka.Producer {
	t.Helper()
	p := kafka.NewProducer(brokers, cfg, logger)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close producer: %v", err)
		}
	})
	return p
}

func TestProducerWritesKeysValuesHeadersToEachTopic(t *testing.T) {
	brokers := newTopics(t, map[string]int{"cx.events": 3, "cx.events.dlq": 1})
	p := newProducer(t, brokers, kafka.WriterConfig{}, nil)

	msgs := []kafkago.Message{
		{Topic: "cx.events", Key: []byte("c-1"), Value: []byte("e1"), Headers: []kafkago.Header{{Key: "channel", Value: []byte("web")}}},
		{Topic: "cx.events.dlq", Key: []byte("store"), Value: []byte("bad")},
		{Topic: "cx.events", Key: []byte("c-2"), Value: []byte("e2")},
		{Topic: "cx.events", Value: []byte("no key")},
	}
	if err := p.Produce(testContext(t, 10*time.Second), msgs...); err != nil {
		t.Fatalf("Produce: %v", err)
	}

	events := kafkatest.ReadN(t, brokers, "cx.events", 3, 5*time.Second)
	byValue := map[string]kafkago.Message{}
	for _, m := range events {
		byValue[string(m.Value)] = m
	}
	for _, want := range []kafkago.Message{msgs[0], msgs[2], msgs[3]} {
		got, ok := byValue[string(want.Value)]
		if !ok {
			t.Errorf("cx.events: value %q missing; got %v", want.Value, values(events))
			continue
		}
		if !bytes.Equal(got.Key, want.Key) || got.Topic != "cx.events" {
			t.Errorf("cx.events %q: key %q topic %q, want key %q", want.Value, got.Key, got.Topic, want.Key)
		}
	}
	if h := byValue["e1"].Headers; len(h) != 1 || h[0].Key != "channel" || string(h[0].Value) != "web" {
		t.Errorf("e1 headers = %v, want channel=web", h)
	}

	dlq := kafkatest.ReadN(t, brokers, "cx.events.dlq", 1, 5*time.Second)
	if string(dlq[0].Key) != "store" || string(dlq[0].Value) != "bad" {
		t.Errorf("dlq = %q/%q, want store/bad", dlq[0].Key, dlq[0].Value)
	}
}

func TestProducerConcurrentProduce(t *testing.T) {
	brokers := newTopics(t, map[string]int{"conc": 3})
	p := newProducer(t, brokers, kafka.WriterConfig{}, nil)
	ctx := testContext(t, 20*time.Second)

	const goroutines, perGoroutine = 8, 20
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				v := fmt.Sprintf("g%d-%d", g, i)
				if err := p.Produce(ctx, kafkago.Message{Topic: "conc", Key: []byte(v), Value: []byte(v)}); err != nil {
					errs <- fmt.Errorf("%s: %w", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Produce: %v", err)
	}

	got := values(kafkatest.ReadN(t, brokers, "conc", goroutines*perGoroutine, 10*time.Second))
	sort.Strings(got)
	var want []string
	for g := range goroutines {
		for i := range perGoroutine {
			want = append(want, fmt.Sprintf("g%d-%d", g, i))
		}
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back %d values, want each of the %d produced exactly once", len(got), len(want))
	}
}

func TestProducerPartitionsKeysLikeJavaClients(t *testing.T) {
	const topic, partitions = "keys", 6
	brokers := newTopics(t, map[string]int{topic: partitions})
	p := newProducer(t, brokers, kafka.WriterConfig{}, nil)
	ctx := testContext(t, 10*time.Second)

	const keys, rounds = 20, 2
	for r := range rounds { // separate calls: the mapping must not depend on the batch
		for k := range keys {
			key := fmt.Sprintf("customer-%d", k)
			if err := p.Produce(ctx, kafkago.Message{Topic: topic, Key: []byte(key), Value: []byte(fmt.Sprint(r))}); err != nil {
				t.Fatalf("Produce: %v", err)
			}
		}
	}

	// franz-go's default partitioner is Kafka's (murmur2, positive modulo).
	java := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	used := map[int]bool{}
	for _, m := range kafkatest.ReadN(t, brokers, topic, keys*rounds, 5*time.Second) {
		want := java.Partition(&kgo.Record{Key: m.Key}, partitions)
		if m.Partition != want {
			t.Errorf("key %q on partition %d, want %d (Java/franz-go murmur2)", m.Key, m.Partition, want)
		}
		used[m.Partition] = true
	}
	if len(used) < 2 {
		t.Errorf("all keys on partitions %v, want them spread", used)
	}
}

func TestProducerRetriesUntilBrokerReturns(t *testing.T) {
	dir := t.TempDir()
	first, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: dir}, nil)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(first.Close)
	addr := first.Addrs()[0]
	ensure(t, first.Addrs(), map[string]int{"restart": 2})

	core, logs := observer.New(zap.WarnLevel)
	p := newProducer(t, []string{addr}, kafka.WriterConfig{RetryBackoffMin: 20 * time.Millisecond, RetryBackoffMax: 200 * time.Millisecond}, zap.New(core))
	ctx := testContext(t, 20*time.Second)
	if err := p.Produce(ctx, kafkago.Message{Topic: "restart", Key: []byte("k"), Value: []byte("before")}); err != nil {
		t.Fatalf("Produce before restart: %v", err)
	}

	first.Close()
	done := make(chan error, 1)
	go func() {
		done <- p.Produce(ctx, kafkago.Message{Topic: "restart", Key: []byte("k"), Value: []byte("during")})
	}()
	waitFor(t, 10*time.Second, func() bool {
		return logs.FilterMessage("kafka produce failed, retrying").Len() > 0
	})

	second, err := embedded.Start(embedded.Config{Addr: addr, DataDir: dir}, nil)
	if err != nil {
		t.Fatalf("restart broker on %s: %v", addr, err)
	}
	t.Cleanup(second.Close)

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Produce across restart: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Produce did not return after the broker came back")
	}
	got := values(kafkatest.ReadN(t, second.Addrs(), "restart", 2, 5*time.Second))
	if fmt.Sprint(got) != "[before during]" {
		t.Errorf("read back %v, want [before during]", got)
	}
}

func TestProducerWaitsForBrokerNotYetStarted(t *testing.T) {
	addr, _, stopHangingUp := hangUpListener(t)
	core, logs := observer.New(zap.WarnLevel)
	p := newProducer(t, []string{addr}, kafka.WriterConfig{MetadataTTL: 200 * time.Millisecond, RetryBackoffMax: 100 * time.Millisecond}, zap.New(core))
	ctx := testContext(t, 20*time.Second)
	done := make(chan error, 1)
	go func() {
		done <- p.Produce(ctx, kafkago.Message{Topic: "early", Value: []byte("first")})
	}()
	waitFor(t, 10*time.Second, func() bool {
		return logs.FilterMessage("kafka produce failed, retrying").Len() > 0
	})

	stopHangingUp()
	b, err := embedded.Start(embedded.Config{Addr: addr}, nil)
	if err != nil {
		t.Fatalf("start broker on %s: %v", addr, err)
	}
	t.Cleanup(b.Close)
	ensure(t, b.Addrs(), map[string]int{"early": 1})

	if err := <-done; err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if got := values(kafkatest.ReadN(t, b.Addrs(), "early", 1, 5*time.Second)); got[0] != "first" {
		t.Errorf("read back %v, want [first]", got)
	}
}

func TestProducerReturnsPermanentErrorsAtOnce(t *testing.T) {
	brokers := newTopics(t, map[string]int{"big": 1})
	ctx := testContext(t, 10*time.Second)

	tests := []struct {
		name string
		cfg  kafka.WriterConfig
		msg  kafkago.Message
		want error
	}{
		{
			name: "larger than the writer's BatchBytes",
			msg:  kafkago.Message{Topic: "big", Value: make([]byte, 2<<20)},
			want: kafkago.MessageSizeTooLarge,
		},
		{
			name: "larger than the broker's message.max.bytes",
			cfg:  kafka.WriterConfig{BatchBytes: 8 << 20},
			msg:  kafkago.Message{Topic: "big", Value: make([]byte, 2<<20)},
			want: kafkago.MessageSizeTooLarge,
		},
		{
			name: "invalid topic name",
			msg:  kafkago.Message{Topic: "no spaces allowed", Value: []byte("v")},
			want: kafkago.InvalidTopic,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProducer(t, brokers, tt.cfg, nil)
			start := time.Now()
			err := p.Produce(ctx, tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %v, want an immediate failure", elapsed)
			}
		})
	}
}

// A message of MaxMessageBytes (key plus value) is written by the default
// producer and accepted by a broker with Kafka's default message.max.bytes:
// callers that check their records against it never meet the permanent
// MessageSizeTooLarge.
func TestProducerWritesAMessageOfMaxMessageBytes(t *testing.T) {
	brokers := newTopics(t, map[string]int{"limit": 1})
	p := newProducer(t, brokers, kafka.WriterConfig{}, nil)
	limit := p.MaxMessageBytes()
	if limit <= 0 || limit >= kafka.DefaultBatchBytes {
		t.Fatalf("MaxMessageBytes %d, want within (0, %d)", limit, kafka.DefaultBatchBytes)
	}
	key := []byte("k")
	value := bytes.Repeat([]byte("v"), limit-len(key))
	if err := p.Produce(testContext(t, 10*time.Second), kafkago.Message{Topic: "limit", Key: key, Value: value}); err != nil {
		t.Fatalf("Produce of a %d-byte message: %v", limit, err)
	}
	got := kafkatest.ReadN(t, brokers, "limit", 1, 5*time.Second)
	if !bytes.Equal(got[0].Value, value) {
		t.Errorf("read back %d bytes, want the %d written", len(got[0].Value), len(value))
	}
}

func TestProducerMissingTopicWaitsForContext(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	p := newProducer(t, brokers, kafka.WriterConfig{RetryBackoffMin: 10 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	err := p.Produce(ctx, kafkago.Message{Topic: "missing", Value: []byte("v")})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Errorf("err = %v, want UnknownTopicOrPartition and DeadlineExceeded", err)
	}
}

func TestProducerClose(t *testing.T) {
	brokers := newTopics(t, map[string]int{"c": 1})
	p := kafka.NewProducer(brokers, kafka.WriterConfig{}, nil)
	ctx := testContext(t, 10*time.Second)
	if err := p.Produce(ctx, kafkago.Message{Topic: "c", Value: []byte("v")}); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Produce(ctx, kafkago.Message{Topic: "c", Value: []byte("late")}); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Produce after Close: err = %v, want ErrClosed", err)
	}
	if got := values(kafkatest.ReadN(t, brokers, "c", 1, 5*time.Second)); got[0] != "v" {
		t.Errorf("read back %v, want [v]", got)
	}
}

func values(msgs []kafkago.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Value)
	}
	return out
}

func TestValidateTopicName(t *testing.T) {
	for name, valid := range map[string]bool{
		"cx.events":              true,
		"cx.identity.changes":    true,
		"A-z_0.9":                true,
		"":                       false,
		".":                      false,
		"..":                     false,
		"has space":              false,
		"slash/topic":            false,
		"ünicode":                false,
		strings.Repeat("a", 249): true,
		strings.Repeat("a", 250): false,
	} {
		err := kafka.ValidateTopicName(name)
		if (err == nil) != valid {
			t.Errorf("ValidateTopicName(%.20q) = %v, want valid=%v", name, err, valid)
		}
		if err != nil && !errors.Is(err, kafkago.InvalidTopic) {
			t.Errorf("ValidateTopicName(%.20q) = %v, want it to wrap InvalidTopic", name, err)
		}
	}
}
