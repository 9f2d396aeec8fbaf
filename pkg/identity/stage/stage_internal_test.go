package stage

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/schemas"
)

// TestSplicedJourneyEqualsEncodedJourney: a journey built by splicing the
// incoming event's Avro body decodes to exactly the journey goavro encodes.
func TestSplicedJourneyEqualsEncodedJourney(t *testing.T) {
	eventCodec, _ := goavro.NewCodec(schemas.MustAvro(schemas.Event))
	journeyCodec, _ := goavro.NewCodec(schemas.MustAvro(schemas.JourneyEvent))
	head, err := goavro.NewCodec(journeyHeadSchema)
	if err != nil {
		t.Fatal(err)
	}
	total := 12.5
	e := &event.Event{EventID: "e1", Channel: "store", Type: "purchase", EventTime: time.UnixMilli(1793614500123).UTC(),
		ClientTime: time.UnixMilli(1793614500123).UTC(), ReceivedAt: time.UnixMilli(1793614501000).UTC(),
		Identifiers: []event.Identifier{{Type: "loyalty_id", Value: "L-1"}}, Properties: map[string]any{"k": "v"},
		Store: &event.Store{StoreID: "S1"}, Order: &event.Order{Total: &total, Items: []event.OrderItem{{SKU: "A", Quantity: 1, Price: 12.5}}}}
	body, err := eventCodec.BinaryFromNative(nil, e.Native())
	if err != nil {
		t.Fatal(err)
	}
	raw := append([]byte{0, 0, 0, 0, 7}, body...)
	spliced, err := head.BinaryFromNative(nil, map[string]any{"customer_id": "c-1", "phase": "visit"})
	if err != nil {
		t.Fatal(err)
	}
	spliced = append(spliced, raw[5:]...)
	want, err := journeyCodec.BinaryFromNative(nil, identity.JourneyNative("c-1", "visit", e))
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := journeyCodec.NativeFromBinary(spliced)
	if err != nil {
		t.Fatalf("spliced journey does not decode: %v", err)
	}
	b, _, _ := journeyCodec.NativeFromBinary(want)
	ta, _ := journeyCodec.TextualFromNative(nil, a)
	tb, _ := journeyCodec.TextualFromNative(nil, b)
	var ja, jb any
	_ = json.Unmarshal(ta, &ja)
	_ = json.Unmarshal(tb, &jb)
	if !reflect.DeepEqual(ja, jb) {
		t.Fatalf("spliced:\n%s\nencoded:\n%s", ta, tb)
	}
}

func TestLeaseStaysWithItsHolder(t *testing.T) {
	parts := []kafkago.Partition{{Topic: "cx.identity.lease", ID: 0}}
	members := []kafkago.GroupMember{{ID: "a"}, {ID: "b", UserData: []byte(leaseHolder)}, {ID: "c"}}
	got := leaseBalancer{}.AssignGroups(members, parts)
	if len(got["b"]["cx.identity.lease"]) != 1 || len(got["a"]["cx.identity.lease"]) != 0 {
		t.Fatalf("lease did not stay with its holder: %v", got)
	}
	got = leaseBalancer{}.AssignGroups(members[:1:1], parts)
	if len(got["a"]["cx.identity.lease"]) != 1 {
		t.Fatalf("lone member did not get the lease: %v", got)
	}
	got = leaseBalancer{}.AssignGroups([]kafkago.GroupMember{{ID: "z"}, {ID: "m"}}, parts)
	if len(got["m"]["cx.identity.lease"]) != 1 {
		t.Fatalf("without a holder the lowest id must win: %v", got)
	}
}

// TestAdvertiseURL: without a configured URL, an instance advertises its
// listener, under its hostname when it listens on every interface.
func TestAdvertiseURL(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		configured, listener, want string
	}{
		{"http://identity-0.identity:8082/", "127.0.0.1:8082", "http://identity-0.identity:8082"},
		{"HTTP://identity-0.identity:8082", "127.0.0.1:8082", "http://identity-0.identity:8082"},
		{"", "127.0.0.1:40123", "http://127.0.0.1:40123"},
		{"", "0.0.0.0:8082", "http://" + net.JoinHostPort(host, "8082")},
		{"", "[::]:8082", "http://" + net.JoinHostPort(host, "8082")},
		{"", "[::1]:8082", "http://[::1]:8082"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.listener)
		if err != nil {
			t.Fatal(err)
		}
		if got := advertiseURL(c.configured, addr); got != c.want {
			t.Errorf("advertiseURL(%q, %s) = %q, want %q", c.configured, c.listener, got, c.want)
		}
	}
}

// TestFormerActiveServesOnlyWhileTheLeaseIsItsOwn: between two of its terms
// an instance answers from its graph only while a fresh read of the lease
// topic shows its own claim last. Once another instance has claimed, or when
// Kafka cannot be asked, it must not: its graph may lack an erasure the
// other made.
func TestFormerActiveServesOnlyWhileTheLeaseIsItsOwn(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	kcfg := config.Kafka{Brokers: brokers, TopicPrefix: "cx.", Partitions: 1, ReplicationFactor: 1}
	topics := kcfg.Topics()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{{Name: topics.IdentityLease, Partitions: 1, ReplicationFactor: 1, Compacted: true}}); err != nil {
		t.Fatal(err)
	}
	prod := kafka.NewProducer(brokers, kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	claim := func(url string) {
		t.Helper()
		if err := prod.Produce(ctx, kafkago.Message{Topic: topics.IdentityLease, Key: []byte(epochKey), Value: []byte(url)}); err != nil {
			t.Fatal(err)
		}
	}
	newAPI := func(brokers []string) (*API, *Stage) {
		cluster, err := kafka.NewCluster(config.Kafka{Brokers: brokers})
		if err != nil {
			t.Fatal(err)
		}
		st := &Stage{topics: topics, cluster: cluster, logger: zap.NewNop(), advertise: "http://127.0.0.1:7"}
		st.serving.Store(true) // its last term ended cleanly
		transport := forwardTransport()
		t.Cleanup(transport.CloseIdleConnections)
		return &API{stage: st, logger: zap.NewNop(), transport: transport}, st
	}
	answer := func(a *API) string {
		t.Helper()
		rec := httptest.NewRecorder()
		a.activeOnly(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })(rec, httptest.NewRequest(http.MethodGet, "/v1/customers/x", nil))
		var e struct{ Code string }
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return fmt.Sprint(rec.Code, " ", e.Code)
	}

	a, st := newAPI(brokers)
	claim(st.advertise)
	st.claimed.Store(1) // its claim is the topic's first record: epoch 1
	if got := answer(a); got != "200 " {
		t.Fatalf("between its own terms: %s, want its own answer", got)
	}
	claim("http://127.0.0.1:1") // another instance claims (and does not answer)
	if got := answer(a); got != "503 standby" {
		t.Fatalf("after another instance claimed: %s, want 503 standby", got)
	}
	// Kafka out of reach, with its own URL the last it read.
	gone, st := newAPI([]string{"127.0.0.1:1"})
	st.claimed.Store(1)
	self, err := url.Parse(st.advertise)
	if err != nil {
		t.Fatal(err)
	}
	st.activeURL = activeURL{url: self, end: 1, read: time.Now().Add(-time.Hour)}
	if got := answer(gone); got != "503 standby" {
		t.Fatalf("with Kafka out of reach: %s, want 503 standby", got)
	}
}
