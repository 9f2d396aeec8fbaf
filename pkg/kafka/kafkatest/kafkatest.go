// Package kafkatest is the Kafka test fixture shared by cx360's tests: a real
// Kafka-protocol broker (the embedded kfake) on a free 127.0.0.1 port, and a
// reader that fetches what a test produced (kafka.FetchNew, no group).
package kafkatest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/kafka"
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
		err := kafka.FetchNew(ctx, client, topic, next, func(m kafkago.Message) bool {
			byPartition[m.Partition] = append(byPartition[m.Partition], m)
			total++
			return true
		})
		if err != nil {
			lastErr = err
		}
		if total > n {
			t.Fatalf("kafkatest: read %d messages from %q, want exactly %d", total, topic, n)
		}
		if total == n {
			out := make([]kafkago.Message, 0, n)
			for _, p := range slices.Sorted(maps.Keys(byPartition)) {
				out = append(out, byPartition[p]...)
			}
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kafkatest: read %d of %d messages from %q within %v (last error: %v)", total, n, topic, timeout, lastErr)
		case <-poll.C:
		}
	}
}
