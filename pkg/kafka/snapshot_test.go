package kafka_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/kafka"
)

// TestFetchRangeStopsWhereAsked: records from next up to until on the
// partitions until names, up to the end on the others; next advances.
func TestFetchRangeStopsWhereAsked(t *testing.T) {
	brokers := newTopics(t, map[string]int{"ranged": 2})
	ctx := testContext(t, 20*time.Second)
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	for part := range 2 {
		var recs []kafkago.Record
		for i := range 10 {
			recs = append(recs, kafkago.Record{Value: kafkago.NewBytes(fmt.Appendf(nil, "%d-%d", part, i))})
		}
		resp, err := client.Produce(ctx, &kafkago.ProduceRequest{Topic: "ranged", Partition: part, RequiredAcks: kafkago.RequireAll, Records: kafkago.NewRecordReader(recs...)})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	next := map[int]int64{0: 2, 1: 5}
	var got []string
	if err := kafka.FetchRange(ctx, client, "ranged", next, map[int]int64{0: 4}, func(m kafkago.Message) bool {
		got = append(got, string(m.Value))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"0-2", "0-3", "1-5", "1-6", "1-7", "1-8", "1-9"}
	if !slices.Equal(got, want) || next[0] != 4 || next[1] != 10 {
		t.Fatalf("got %v, next %v; want %v, next map[0:4 1:10]", got, next, want)
	}
}
