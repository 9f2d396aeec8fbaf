package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/pkg/sink"
)

// TestRegistryOutagePausesTheSink starts the sink while the schema registry
// answers 503: the journeys, whose schema it has not seen yet, are neither
// dead-lettered nor lost; they land once the registry is back.
func TestRegistryOutagePausesTheSink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := newRig(t, 1)
	brokers, url, journey, dlq, ch := r.brokers, r.registry, r.journey, r.dlq, r.ch
	prod := kafka.NewProducer(brokers, kafka.WriterConfig{}, zap.NewNop())
	t.Cleanup(func() { prod.Close() })
	const journeys = 3
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for i := range journeys {
		e := &event.Event{EventID: fmt.Sprintf("r-%d", i), Channel: event.ChannelWeb, Type: "page_view", EventTime: at, ClientTime: at, ReceivedAt: at,
			Identifiers: []event.Identifier{{Type: "anonymous_id", Value: "a"}}}
		v, err := journey.Append(nil, identity.JourneyNative("c", identity.PhasePreVisit, e))
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.Produce(ctx, kafkago.Message{Topic: "cx.journeys", Key: []byte("c"), Value: v}); err != nil {
			t.Fatal(err)
		}
	}

	outage := registrytest.NewOutage(t, url)
	outage.Down.Store(true)
	rcl, _ := sr.NewClient(sr.URLs(outage.URL))
	reg := prometheus.NewRegistry()
	s := sink.New(sink.Config{Brokers: brokers, GroupID: "outage", JourneysTopic: "cx.journeys", CustomersTopic: "cx.customers",
		ChangesTopic: "cx.identity.changes", DLQTopic: "cx.events.dlq", FlushInterval: 100 * time.Millisecond,
		IsRetryable: clickhouse.IsRetryable, MaxRetryBackoff: 200 * time.Millisecond, Metrics: sink.NewMetrics(reg)}, ch, avro.NewSerde(rcl), dlq, prod, zap.NewNop())
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("sink: %v", err)
		}
	})

	// While the registry is down, the sink retries and writes nothing.
	deadline := time.Now().Add(30 * time.Second)
	for seriesValue(t, reg, "cx360_sink_retries_total", "operation", "schema_registry") < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the sink never retried the schema registry")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var n uint64
	if err := ch.QueryRow(ctx, "SELECT count() FROM cx360.journey_events").Scan(&n); err != nil || n != 0 {
		t.Fatalf("while the registry was down: %d rows (%v)", n, err)
	}
	outage.Down.Store(false)
	for deadline = time.Now().Add(30 * time.Second); n != journeys; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the registry came back: %d of %d journeys in ClickHouse", n, journeys)
		}
		if err := ch.QueryRow(ctx, "SELECT count() FROM cx360.journey_events FINAL").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if dead, err := kafka.Snapshot(ctx, brokers, "cx.events.dlq", 0); err != nil || len(dead) != 0 {
		t.Fatalf("%d dead letters (%v), want none", len(dead), err)
	}
}
