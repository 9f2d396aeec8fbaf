package embedded_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/kafka/embedded"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

func TestBrokerPersistsRecordsAndGroupOffsetsAcrossRestart(t *testing.T) {
	const (
		topic = "persisted"
		group = "cx360-sink"
		total = 5
	)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first := start(t, embedded.Config{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 1})
	// The writer asks for auto-creation: the topic gets Config.Partitions.
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(first.Addrs()...),
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           time.Millisecond,
		AllowAutoTopicCreation: true,
		Transport:              newTransport(t),
	}
	for i := range total {
		msg := kafkago.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
		if err := w.WriteMessages(ctx, msg); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}

	// A group member consumes and commits the first 3 records.
	r := newGroupReader(first.Addrs(), group, topic)
	for i := range 3 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close reader: %v", err)
	}
	first.Close()
	first.Close() // idempotent

	second := start(t, embedded.Config{Addr: "127.0.0.1:0", DataDir: dir})

	got := kafkatest.ReadN(t, second.Addrs(), topic, total, 10*time.Second)
	for i, m := range got {
		if want := fmt.Sprintf("k%d=v%d", i, i); string(m.Key)+"="+string(m.Value) != want || m.Offset != int64(i) {
			t.Errorf("record %d after restart = %s=%s at offset %d, want %s at offset %d", i, m.Key, m.Value, m.Offset, want, i)
		}
	}

	client := &kafkago.Client{Addr: kafkago.TCP(second.Addrs()...), Transport: newTransport(t), Timeout: 5 * time.Second}
	offsets, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if ps := offsets.Topics[topic]; len(ps) != 1 || ps[0].CommittedOffset != 3 {
		t.Errorf("committed offsets after restart = %+v, want partition 0 at 3", ps)
	}

	// The group resumes where it left off.
	r = newGroupReader(second.Addrs(), group, topic)
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("fetch after restart: %v", err)
	}
	if string(m.Value) != "v3" {
		t.Errorf("group resumed at %q (offset %d), want v3", m.Value, m.Offset)
	}
}

// A process killed with -9 never runs Close. kfake writes records and state
// files as it goes (through the page cache, no fsync), so a copy of the data
// dir taken while the broker runs is what a killed process leaves behind.
func TestBrokerRecoversDataDirOfKilledProcess(t *testing.T) {
	const topic, group = "crash", "g"
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	running := start(t, embedded.Config{Addr: "127.0.0.1:0", DataDir: dir})

	// Created with CreateTopics, as kafka.EnsureTopics does: kfake saves
	// topics.json right away then. (Topics auto-created by a metadata
	// request are only saved on Close.)
	client := &kafkago.Client{Addr: kafkago.TCP(running.Addrs()...), Transport: newTransport(t), Timeout: 5 * time.Second}
	created, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := created.Errors[topic]; err != nil {
		t.Fatalf("create topic: %v", err)
	}
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(running.Addrs()...),
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: time.Millisecond,
		Transport:    newTransport(t),
	}
	if err := w.WriteMessages(ctx, kafkago.Message{Topic: topic, Value: []byte("a")}, kafkago.Message{Topic: topic, Value: []byte("b")}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	commit, err := client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{
		GroupID: group, GenerationID: -1,
		Topics: map[string][]kafkago.OffsetCommit{topic: {{Partition: 0, Offset: 1}}},
	})
	if err != nil {
		t.Fatalf("offset commit: %v", err)
	}
	if perr := commit.Topics[topic][0].Error; perr != nil {
		t.Fatalf("offset commit: %v", perr)
	}

	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatalf("copy data dir: %v", err)
	}
	recovered := start(t, embedded.Config{Addr: "127.0.0.1:0", DataDir: crashed})

	if got := kafkatest.ReadN(t, recovered.Addrs(), topic, 2, 10*time.Second); string(got[0].Value)+string(got[1].Value) != "ab" {
		t.Errorf("records after crash = %q, %q; want a, b", got[0].Value, got[1].Value)
	}
	client = &kafkago.Client{Addr: kafkago.TCP(recovered.Addrs()...), Transport: newTransport(t), Timeout: 5 * time.Second}
	offsets, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if ps := offsets.Topics[topic]; len(ps) != 1 || ps[0].CommittedOffset != 1 {
		t.Errorf("committed offsets after crash = %+v, want partition 0 at 1", ps)
	}
}

func TestBrokerListensOnLoopbackOnly(t *testing.T) {
	b := start(t, embedded.Config{Addr: "127.0.0.1:0"})
	addrs := b.Addrs()
	if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") || strings.HasSuffix(addrs[0], ":0") {
		t.Errorf("Addrs() = %v, want one 127.0.0.1:<port>", addrs)
	}

	// Clients follow the advertised address from metadata: it must be the
	// same loopback address.
	client := &kafkago.Client{Addr: kafkago.TCP(addrs...), Transport: newTransport(t), Timeout: 5 * time.Second}
	md, err := client.Metadata(context.Background(), &kafkago.MetadataRequest{})
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(md.Brokers) != 1 || fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) != addrs[0] {
		t.Errorf("advertised brokers = %+v, want exactly %s", md.Brokers, addrs[0])
	}

	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:9092", ":9092", "127.0.0.1:x", "127.0.0.1"} {
		if b, err := embedded.Start(embedded.Config{Addr: addr}, nil); err == nil {
			b.Close()
			t.Errorf("Start(%q): err = nil, want a rejection", addr)
		}
	}
}

func TestStartFailsWhenPortIsTaken(t *testing.T) {
	b := start(t, embedded.Config{Addr: "127.0.0.1:0"})
	if other, err := embedded.Start(embedded.Config{Addr: b.Addrs()[0]}, nil); err == nil {
		other.Close()
		t.Fatal("second broker on the same port: err = nil, want address in use")
	} else if !strings.Contains(err.Error(), b.Addrs()[0]) {
		t.Errorf("err = %q, want it to name %s", err, b.Addrs()[0])
	}
}

func start(t *testing.T, cfg embedded.Config) *embedded.Broker {
	t.Helper()
	b, err := embedded.Start(cfg, nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func newTransport(t *testing.T) *kafkago.Transport {
	tr := &kafkago.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func newGroupReader(brokers []string, group, topic string) *kafkago.Reader {
	return kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:     brokers,
		GroupID:     group,
		Topic:       topic,
		StartOffset: kafkago.FirstOffset,
		MaxWait:     100 * time.Millisecond,
	})
}
