package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Snapshot reads a topic without a consumer group: it fetches every partition
// from its first offset up to the high watermark seen when it started, and
// returns the records ordered by partition, then offset. For tools (cx360 tail)
// and tests; it commits nothing, so it can be repeated. It speaks plaintext;
// Cluster.Snapshot uses the cluster's security.
func Snapshot(ctx context.Context, brokers []string, topic string, limit int) ([]kafkago.Message, error) {
	return Cluster{Brokers: brokers}.Snapshot(ctx, topic, limit)
}

// FetchNew fetches, on every partition of topic, the records from next[p] up to
// the partition's high watermark, calling fn for each and advancing next. fn
// returning false stops the fetch.
func FetchNew(ctx context.Context, client *kafkago.Client, topic string, next map[int]int64, fn func(kafkago.Message) bool) error {
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("kafka: metadata: %w", err)
	}
	if len(md.Topics) != 1 {
		return fmt.Errorf("kafka: metadata: %d topics answered for %q", len(md.Topics), topic)
	}
	if err := md.Topics[0].Error; err != nil {
		return fmt.Errorf("kafka: metadata %q: %w", topic, err)
	}
	for _, p := range md.Topics[0].Partitions {
		for {
			msgs, hwm, err := fetchPartition(ctx, client, topic, p.ID, next[p.ID])
			if err != nil {
				return err
			}
			for _, m := range msgs {
				next[p.ID] = m.Offset + 1
				if !fn(m) {
					return nil
				}
			}
			if len(msgs) == 0 || next[p.ID] >= hwm {
				break
			}
		}
	}
	return nil
}

// fetchPartition fetches from offset without waiting for new data and returns
// the records at or after offset plus the partition's high watermark.
func fetchPartition(ctx context.Context, client *kafkago.Client, topic string, partition int, offset int64) ([]kafkago.Message, int64, error) {
	res, err := client.Fetch(ctx, &kafkago.FetchRequest{
		Topic: topic, Partition: partition, Offset: offset,
		MinBytes: 0, // answer at once, empty or not
		MaxBytes: 16 << 20, MaxWait: time.Second,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("kafka: fetch %s/%d@%d: %w", topic, partition, offset, err)
	}
	if res.Error != nil {
		return nil, 0, fmt.Errorf("kafka: fetch %s/%d@%d: %w", topic, partition, offset, res.Error)
	}
	var msgs []kafkago.Message
	for {
		rec, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return msgs, res.HighWatermark, nil
		}
		if err != nil {
			return msgs, res.HighWatermark, fmt.Errorf("kafka: fetch %s/%d@%d: read record: %w", topic, partition, offset, err)
		}
		if rec.Offset < offset { // a batch may start before the asked offset
			continue
		}
		key, err := kafkago.ReadAll(rec.Key)
		if err != nil {
			return msgs, res.HighWatermark, fmt.Errorf("kafka: read key: %w", err)
		}
		value, err := kafkago.ReadAll(rec.Value)
		if err != nil {
			return msgs, res.HighWatermark, fmt.Errorf("kafka: read value: %w", err)
		}
		var headers []kafkago.Header
		for _, h := range rec.Headers { // detach from buffers kafka-go may reuse
			headers = append(headers, kafkago.Header{Key: h.Key, Value: append([]byte(nil), h.Value...)})
		}
		msgs = append(msgs, kafkago.Message{
			Topic: topic, Partition: partition, Offset: rec.Offset,
			Key: key, Value: value, Headers: headers, Time: rec.Time,
		})
	}
}

func countAll(m map[int][]kafkago.Message) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
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
