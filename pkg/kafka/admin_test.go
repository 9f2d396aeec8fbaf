package kafka_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/embedded"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

func TestEnsureTopicsCreatesPartitionsAndCompaction(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	ctx := testContext(t, 10*time.Second)
	specs := []kafka.TopicSpec{
		{Name: "cx.events", Partitions: 4, ReplicationFactor: 1},
		{Name: "cx.customers", Partitions: 2, ReplicationFactor: 1, Compacted: true,
			Configs: map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete"}},
	}

	if err := kafka.EnsureTopics(ctx, brokers, specs); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	// Idempotent: the second call finds both topics and changes nothing.
	if err := kafka.EnsureTopics(ctx, brokers, specs); err != nil {
		t.Fatalf("EnsureTopics again: %v", err)
	}

	if got := partitionCount(t, brokers, "cx.events"); got != 4 {
		t.Errorf("cx.events partitions = %d, want 4", got)
	}
	if got := partitionCount(t, brokers, "cx.customers"); got != 2 {
		t.Errorf("cx.customers partitions = %d, want 2", got)
	}

	customers := topicConfigs(t, brokers, "cx.customers")
	if got := customers["cleanup.policy"]; got != "compact" {
		t.Errorf("cx.customers cleanup.policy = %q, want compact (Compacted wins over Configs)", got)
	}
	if got := customers["retention.ms"]; got != "86400000" {
		t.Errorf("cx.customers retention.ms = %q, want 86400000", got)
	}
	if got := topicConfigs(t, brokers, "cx.events")["cleanup.policy"]; got == "compact" {
		t.Errorf("cx.events cleanup.policy = %q, want the delete default", got)
	}
}

func TestEnsureTopicsLeavesExistingTopicAlone(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	ctx := testContext(t, 10*time.Second)
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Name: "t", Partitions: 2}}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Name: "t", Partitions: 5}}); err != nil {
		t.Fatalf("EnsureTopics with another partition count: %v", err)
	}
	if got := partitionCount(t, brokers, "t"); got != 2 {
		t.Errorf("partitions = %d, want the original 2", got)
	}
}

func TestEnsureTopicsUsesBrokerDefaults(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	ctx := testContext(t, 10*time.Second)
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Name: "defaults"}}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	if got := partitionCount(t, brokers, "defaults"); got != embedded.DefaultPartitions {
		t.Errorf("partitions = %d, want the broker default %d", got, embedded.DefaultPartitions)
	}
}

func TestEnsureTopicsInvalidSpecFailsAtOnce(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	ctx := testContext(t, 10*time.Second)
	start := time.Now()
	// One broker cannot hold three replicas: retrying would not help.
	err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Name: "t", Partitions: 1, ReplicationFactor: 3}})
	if !errors.Is(err, kafkago.InvalidReplicationFactor) {
		t.Fatalf("err = %v, want InvalidReplicationFactor", err)
	}
	if !strings.Contains(err.Error(), `"t"`) {
		t.Errorf("err = %q, want it to name the topic", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %v, want an immediate failure", elapsed)
	}
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Partitions: 1}}); err == nil {
		t.Error("spec without name: err = nil, want an error")
	}
	if err := kafka.EnsureTopics(ctx, nil, []kafka.TopicSpec{{Name: "t"}}); !errors.Is(err, kafka.ErrNoBrokers) {
		t.Errorf("no brokers: err = %v, want ErrNoBrokers", err)
	}
}

func TestEnsureTopicsUnreachableNamesBrokers(t *testing.T) {
	addr := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()

	err := kafka.EnsureTopics(ctx, []string{addr}, []kafka.TopicSpec{{Name: "t", Partitions: 1}})
	if err == nil {
		t.Fatal("err = nil, want unreachable error")
	}
	want := "kafka: cannot reach brokers [" + addr + "]: dial tcp " + addr
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %q, want prefix %q and \"connection refused\"", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %v, want about the 500ms deadline", elapsed)
	}
}

func TestEnsureTopicsWaitsForBrokerToStart(t *testing.T) {
	// Until the broker starts, its port hangs up on every connection, so
	// we know EnsureTopics has failed at least once.
	addr, hangUps, stopHangingUp := hangUpListener(t)
	ctx := testContext(t, 15*time.Second)
	done := make(chan error, 1)
	go func() {
		done <- kafka.EnsureTopics(ctx, []string{addr}, []kafka.TopicSpec{{Name: "late", Partitions: 2}})
	}()

	waitFor(t, 10*time.Second, func() bool { return hangUps() > 0 })
	stopHangingUp()
	b, err := embedded.Start(embedded.Config{Addr: addr}, nil)
	if err != nil {
		t.Fatalf("start broker on %s: %v", addr, err)
	}
	t.Cleanup(b.Close)

	if err := <-done; err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	if got := partitionCount(t, b.Addrs(), "late"); got != 2 {
		t.Errorf("partitions = %d, want 2", got)
	}
}

func TestPing(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	ctx := testContext(t, 5*time.Second)
	if err := kafka.Ping(ctx, brokers); err != nil {
		t.Errorf("Ping live broker: %v", err)
	}

	addr := closedPort(t)
	err := kafka.Ping(ctx, []string{addr})
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: cannot reach brokers ["+addr+"]") {
		t.Errorf("Ping closed port: err = %v, want unreachable error naming %s", err, addr)
	}
	if err := kafka.Ping(ctx, nil); !errors.Is(err, kafka.ErrNoBrokers) {
		t.Errorf("Ping no brokers: err = %v, want ErrNoBrokers", err)
	}
}

// testContext returns a context cancelled after d or at the end of the test.
func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

// hangUpListener holds a 127.0.0.1 port with a listener that closes every
// connection at once, like a broker that is not up yet, until stop is called
// (or the test ends); the port can then be taken by a real broker. accepted
// counts the connections it hung up on.
func hangUpListener(t testing.TB) (addr string, accepted func() int64, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var count atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			_ = conn.Close()
			count.Add(1)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = ln.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), count.Load, stop
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func adminClient(t testing.TB, brokers []string) *kafkago.Client {
	t.Helper()
	transport := &kafkago.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: transport, Timeout: 5 * time.Second}
}

func partitionCount(t testing.TB, brokers []string, topic string) int {
	t.Helper()
	md, err := adminClient(t, brokers).Metadata(context.Background(), &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("metadata %s: %v", topic, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("metadata %s: %+v", topic, md.Topics)
	}
	return len(md.Topics[0].Partitions)
}

func topicConfigs(t testing.TB, brokers []string, topic string) map[string]string {
	t.Helper()
	resp, err := adminClient(t, brokers).DescribeConfigs(context.Background(), &kafkago.DescribeConfigsRequest{
		Resources: []kafkago.DescribeConfigRequestResource{{ResourceType: kafkago.ResourceTypeTopic, ResourceName: topic}},
	})
	if err != nil {
		t.Fatalf("describe configs %s: %v", topic, err)
	}
	if len(resp.Resources) != 1 || resp.Resources[0].Error != nil {
		t.Fatalf("describe configs %s: %+v", topic, resp.Resources)
	}
	out := map[string]string{}
	for _, e := range resp.Resources[0].ConfigEntries {
		out[e.ConfigName] = e.ConfigValue
	}
	return out
}
