package embedded_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cx360/cx360/pkg/kafka/embedded"
)

// TestMemberKilledWhileJoiningLosesItsPartitions reproduces the kfake gap the
// broker's member reaper closes: a consumer whose process dies while its
// JoinGroup waits for a rebalance is put into the next generation anyway, and
// kfake never starts its session timer. Without the reaper, the partitions
// the leader assigns to the dead member are never consumed again.
func TestMemberKilledWhileJoiningLosesItsPartitions(t *testing.T) {
	const topic, group = "reaped", "g"
	b := start(t, embedded.Config{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &kafkago.Client{Addr: kafkago.TCP(b.Addrs()...), Transport: newTransport(t), Timeout: 5 * time.Second}
	if _, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}

	// The live member joins first and becomes the group's leader.
	live := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: b.Addrs(), GroupID: group, Topic: topic, StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond,
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 6 * time.Second, RebalanceTimeout: 6 * time.Second,
		JoinGroupBackoff: 200 * time.Millisecond,
	})
	defer live.Close()
	w := &kafkago.Writer{Addr: kafkago.TCP(b.Addrs()...), Balancer: &kafkago.RoundRobin{}, BatchTimeout: time.Millisecond, Transport: newTransport(t)}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafkago.Message{Topic: topic, Value: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	if _, err := live.FetchMessage(ctx); err != nil {
		t.Fatalf("live member's first fetch: %v", err)
	}

	// A second member asks to join and dies before the answer: its join
	// starts a rebalance that completes with it inside.
	joinAndDie(t, b.Addrs()[0], group, topic)
	for {
		d, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			t.Fatal(err)
		}
		if g := d.Groups[0]; g.GroupState == "Stable" && len(g.Members) == 2 {
			break // the dead member holds a partition now
		}
		if ctx.Err() != nil {
			t.Fatal("the rebalance with the dying member never completed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every record written from now on must reach the live member, from
	// both partitions.
	const n = 20
	for i := range n {
		if err := w.WriteMessages(ctx, kafkago.Message{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	partitions := map[int]bool{}
	for len(seen) < n {
		m, err := live.FetchMessage(fctx)
		if err != nil {
			t.Fatalf("live member read %d of %d records (partitions %v): %v", len(seen), n, partitions, err)
		}
		var i int
		if _, err := fmt.Sscanf(string(m.Value), "v%d", &i); err == nil {
			seen[i] = true
			partitions[m.Partition] = true
		}
	}
	if len(partitions) != 2 {
		t.Errorf("records came from partitions %v, want both", partitions)
	}
}

// joinAndDie sends a JoinGroup for a consumer subscribed to topic over a raw
// connection and closes the connection before the broker answers, as a
// process killed with -9 in the middle of a rebalance does.
func joinAndDie(t *testing.T, addr, group, topic string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 5
	join.Group = group
	join.SessionTimeoutMillis = 6000
	join.RebalanceTimeoutMillis = 6000
	join.ProtocolType = "consumer"
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = "range"
	proto.Metadata = meta.AppendTo(nil)
	join.Protocols = []kmsg.JoinGroupRequestProtocol{proto}

	// v4+: the first join only hands out a member id.
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("dying-member"))
	rd := bufio.NewReader(conn)
	if _, err := conn.Write(formatter.AppendRequest(nil, join, 1)); err != nil {
		t.Fatal(err)
	}
	var size int32
	if err := binary.Read(rd, binary.BigEndian, &size); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(rd, body); err != nil {
		t.Fatal(err)
	}
	resp := join.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Version = join.Version
	if err := resp.ReadFrom(body[4:]); err != nil { // after the correlation id
		t.Fatal(err)
	}
	if resp.MemberID == "" {
		t.Fatalf("first join: no member id (error code %d)", resp.ErrorCode)
	}
	join.MemberID = resp.MemberID
	if _, err := conn.Write(formatter.AppendRequest(nil, join, 2)); err != nil {
		t.Fatal(err)
	}
	// Let the broker read the join before the connection goes.
	time.Sleep(100 * time.Millisecond)
}
