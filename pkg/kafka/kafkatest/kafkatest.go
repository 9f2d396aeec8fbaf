// Package kafkatest is the Kafka test fixture shared by cx360's tests: a real
// Kafka-protocol broker (the embedded kfake) on a free 127.0.0.1 port, and a
// reader that fetches what a test produced.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/kafka/embedded"
)

// NewBroker starts an embedded broker on 127.0.0.1:0 with its data under
// t.TempDir(), stops it when the test ends, and returns its addresses.
// Topics are auto-created (3 partitions) only for clients that ask for it;
// create them explicitly (kafka.EnsureTopics) for producers.
func NewBroker(t testing.TB) []string {
	t.Helper()
	b, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()}, zap.NewNop())
	if err != nil {
		t.Fatalf("kafkatest: start broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

// ReadN fetches every partition of topic from its first offset until it has
// exactly n messages, failing the test if more are there or if timeout passes
// first. Messages come ordered by partition, then offset, with Topic,
// Partition, Offset, Key, Value, Headers and Time set. It consumes no group
// and commits nothing, so it can be called repeatedly.
func ReadN(t testing.TB, brokers []string, topic string, n int, timeout time.Duration) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// Short metadata TTL: the topic may appear after the first lookup.
	transport := &kafkago.Transport{ClientID: "cx360-kafkatest", MetadataTTL: 50 * time.Millisecond}
	defer transport.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: transport}

	next := map[int]int64{} // partition -> next offset to fetch
	byPartition := map[int][]kafkago.Message{}
	total := 0
	var lastErr error
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		got, err := fetchNew(ctx, client, topic, next)
		if err != nil {
			lastErr = err
		}
		for _, m := range got {
			byPartition[m.Partition] = append(byPartition[m.Partition], m)
		}
		total += len(got)
		if total > n {
			t.Fatalf("kafkatest: read %d messages from %q, want exactly %d", total, topic, n)
		}
		if total == n {
			return flatten(byPartition)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kafkatest: read %d of %d messages from %q within %v (last error: %v)", total, n, topic, timeout, lastErr)
		case <-poll.C:
		}
	}
}

// fetchNew returns the messages past next on every partition of topic,
// advancing next.
func fetchNew(ctx context.Context, client *kafkago.Client, topic string, next map[int]int64) ([]kafkago.Message, error) {
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(md.Topics) != 1 {
		return nil, fmt.Errorf("metadata: %d topics answered for %q", len(md.Topics), topic)
	}
	if err := md.Topics[0].Error; err != nil {
		return nil, fmt.Errorf("metadata %q: %w", topic, err)
	}

	var out []kafkago.Message
	for _, p := range md.Topics[0].Partitions {
		for {
			msgs, hwm, err := fetchPartition(ctx, client, topic, p.ID, next[p.ID])
			if err != nil {
				return out, err
			}
			if len(msgs) > 0 {
				next[p.ID] = msgs[len(msgs)-1].Offset + 1
			}
			out = append(out, msgs...)
			if len(msgs) == 0 || next[p.ID] >= hwm {
				break
			}
		}
	}
	return out, nil
}

// fetchPartition fetches from offset without waiting for new data and returns
// the records at or after offset plus the partition's high watermark.
func fetchPartition(ctx context.Context, client *kafkago.Client, topic string, partition int, offset int64) ([]kafkago.Message, int64, error) {
	res, err := client.Fetch(ctx, &kafkago.FetchRequest{
		Topic:     topic,
		Partition: partition,
		Offset:    offset,
		MinBytes:  0, // answer at once, empty or not
		MaxBytes:  16 << 20,
		MaxWait:   time.Second,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s/%d@%d: %w", topic, partition, offset, err)
	}
	if res.Error != nil {
		return nil, 0, fmt.Errorf("fetch %s/%d@%d: %w", topic, partition, offset, res.Error)
	}
	var msgs []kafkago.Message
	for {
		rec, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return msgs, res.HighWatermark, nil
		}
		if err != nil {
			return msgs, res.HighWatermark, fmt.Errorf("fetch %s/%d@%d: read record: %w", topic, partition, offset, err)
		}
		if rec.Offset < offset { // a batch may start before the asked offset
			continue
		}
		key, err := kafkago.ReadAll(rec.Key)
		if err != nil {
			return msgs, res.HighWatermark, fmt.Errorf("read key: %w", err)
		}
		value, err := kafkago.ReadAll(rec.Value)
		if err != nil {
			return msgs, res.HighWatermark, fmt.Errorf("read value: %w", err)
		}
		msgs = append(msgs, kafkago.Message{
			Topic:     topic,
			Partition: partition,
			Offset:    rec.Offset,
			Key:       key,
			Value:     value,
			Headers:   copyHeaders(rec.Headers),
			Time:      rec.Time,
		})
	}
}

// copyHeaders detaches headers from the record set's buffers, which kafka-go
// may reuse.
func copyHeaders(hs []kafkago.Header) []kafkago.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: append([]byte(nil), h.Value...)}
	}
	return out
}

func flatten(byPartition map[int][]kafkago.Message) []kafkago.Message {
	partitions := make([]int, 0, len(byPartition))
	for p := range byPartition {
		partitions = append(partitions, p)
	}
	sort.Ints(partitions)
	var out []kafkago.Message
	for _, p := range partitions {
		out = append(out, byPartition[p]...)
	}
	return out
}
