package stage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/schemas"
)

// TestRegistryOutagePausesIdentity sends events written with a cx.Event
// schema the stage has not seen while the schema registry answers 503: they
// are neither dead-lettered nor journeyed until the registry is back, and
// then every one is.
func TestRegistryOutagePausesIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	brokers := kafkatest.NewBroker(t)
	url := registrytest.Start(t).URL()
	outage := registrytest.NewOutage(t, url)
	cfg := identityConfig(t, brokers, outage.URL)
	waitElected(t, startIdentity(t, cfg))

	// A newer cx.Event (one more optional field), registered directly.
	var schema map[string]any
	if err := json.Unmarshal([]byte(schemas.MustAvro(schemas.Event)), &schema); err != nil {
		t.Fatal(err)
	}
	schema["fields"] = append(schema["fields"].([]any), map[string]any{"name": "campaign", "type": []any{"null", "string"}, "default": nil})
	newer, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(url))
	codec, err := avro.NewSerde(cl).Register(ctx, avro.Subject("cx.events"), string(newer))
	if err != nil {
		t.Fatal(err)
	}
	outage.Down.Store(true)
	const events = 5
	prod := kafka.NewProducer(brokers, kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for i := range events {
		e := &event.Event{EventID: fmt.Sprintf("o-%d", i), Channel: event.ChannelWeb, Type: "page_view", EventTime: at, ClientTime: at, ReceivedAt: at,
			Identifiers: []event.Identifier{{Type: "anonymous_id", Value: fmt.Sprintf("a-%d", i)}}}
		native := e.Native()
		native["campaign"] = map[string]any{"string": "autumn"}
		v, err := codec.Append(nil, native)
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.Produce(ctx, kafkago.Message{Topic: "cx.events", Key: []byte(e.RoutingKey()), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	// While the registry is down, nothing comes out of the stage.
	time.Sleep(2 * time.Second)
	for _, topic := range []string{"cx.events.dlq", "cx.journeys"} {
		if got, err := kafka.Snapshot(ctx, brokers, topic, 0); err != nil || len(got) != 0 {
			t.Fatalf("%s holds %d records (%v) while the registry is down, want none", topic, len(got), err)
		}
	}
	outage.Down.Store(false)
	kafkatest.ReadN(t, brokers, "cx.journeys", events, 30*time.Second)
	if got, err := kafka.Snapshot(ctx, brokers, "cx.events.dlq", 0); err != nil || len(got) != 0 {
		t.Fatalf("%d dead letters (%v), want none", len(got), err)
	}
}
