package kafkatest_test

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

func TestReadNReturnsEveryPartitionFromTheStart(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	transport := &kafkago.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: transport}
	created, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: "t", NumPartitions: 2, ReplicationFactor: 1}}})
	if err != nil || created.Errors["t"] != nil {
		t.Fatalf("create topic: %v %v", err, created)
	}
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(brokers...),
		Balancer:     kafkago.BalancerFunc(func(m kafkago.Message, _ ...int) int { return int(m.Key[0] - '0') }),
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: time.Millisecond,
		Transport:    transport,
	}
	msgs := []kafkago.Message{
		{Topic: "t", Key: []byte("1"), Value: []byte("p1-a"), Headers: []kafkago.Header{{Key: "h", Value: []byte("x")}}},
		{Topic: "t", Key: []byte("0"), Value: []byte("p0-a")},
		{Topic: "t", Key: []byte("1"), Value: []byte("p1-b")},
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}

	// Twice: ReadN commits nothing, so both reads see everything.
	for range 2 {
		got := kafkatest.ReadN(t, brokers, "t", 3, 5*time.Second)
		want := []struct {
			partition int
			offset    int64
			value     string
		}{{0, 0, "p0-a"}, {1, 0, "p1-a"}, {1, 1, "p1-b"}}
		for i, w := range want {
			m := got[i]
			if m.Topic != "t" || m.Partition != w.partition || m.Offset != w.offset || string(m.Value) != w.value {
				t.Errorf("message %d = %s/%d@%d %q, want t/%d@%d %q", i, m.Topic, m.Partition, m.Offset, m.Value, w.partition, w.offset, w.value)
			}
		}
		if h := got[1].Headers; len(h) != 1 || h[0].Key != "h" || string(h[0].Value) != "x" {
			t.Errorf("headers = %v, want h=x", h)
		}
	}
}
