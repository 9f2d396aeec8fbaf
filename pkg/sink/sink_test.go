package sink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/clickhouse/server"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/sink"
	"github.com/cx360/cx360/schemas"
)

type env struct {
	t       *testing.T
	metrics *prometheus.Registry
	srv     *server.Server
	ep      devstack.Endpoints
	ch      *clickhouse.Client
	cancel  context.CancelFunc
	done    chan error
}

// start runs the embedded pipeline (broker, registry, ingest, identity), a real
// ClickHouse server, and the sink between them.
func start(t *testing.T, store func(*clickhouse.Client) sink.Store) *env {
	t.Helper()
	srv := chtest.NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	if err := sink.Migrate(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if err := sink.Migrate(ctx, ch); err != nil { // idempotent
		t.Fatalf("second migration: %v", err)
	}

	ic := devstacktest.Ingest(t)
	ep := devstacktest.Start(t, devstack.Config{Ingest: ic,
		Identity: config.Identity{SnapshotInterval: 200 * time.Millisecond, ProfileInterval: 100 * time.Millisecond}}, health.NewRegistry(), nil).Endpoints()

	cl, _ := sr.NewClient(sr.URLs(ep.Registry))
	serde := avro.NewSerde(cl)
	dlq, err := serde.RegisterTopic(ctx, "cx.events.dlq", schemas.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	prod := kafka.NewProducer([]string{ep.Kafka}, kafka.WriterConfig{}, zap.NewNop())
	t.Cleanup(func() { prod.Close() })
	var st sink.Store = ch
	if store != nil {
		st = store(ch)
	}
	reg := prometheus.NewRegistry()
	s := sink.New(sink.Config{
		Brokers: []string{ep.Kafka}, GroupID: "cx360-sink", JourneysTopic: "cx.journeys", CustomersTopic: "cx.customers",
		ChangesTopic: "cx.identity.changes", DLQTopic: "cx.events.dlq", BatchRows: 1000, FlushInterval: 200 * time.Millisecond,
		IsRetryable: clickhouse.IsRetryable, MaxRetryBackoff: 500 * time.Millisecond, Metrics: sink.NewMetrics(reg),
	}, st, serde, dlq, prod, zap.NewNop())
	rctx, rcancel := context.WithCancel(context.Background())
	e := &env{t: t, metrics: reg, srv: srv, ep: ep, ch: ch, cancel: rcancel, done: make(chan error, 1)}
	go func() { e.done <- s.Run(rctx) }()
	t.Cleanup(func() {
		rcancel()
		if err := <-e.done; err != nil {
			t.Errorf("sink: %v", err)
		}
	})
	e.waitActive()
	return e
}

func (e *env) waitActive() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.ep.Identity + "/v1/status")
		if err == nil {
			var st struct{ Serving bool }
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Serving {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("identity never became active")
}

func (e *env) post(channel, body string) {
	e.t.Helper()
	resp, err := http.Post(e.ep.Ingest+"/v1/"+channel+"/events", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("post: %d", resp.StatusCode)
	}
}

// erase asks identity to erase the customer holding an identifier, and
// returns the customer's id.
func (e *env) erase(typ, value string) string {
	e.t.Helper()
	resp, err := http.Get(e.ep.Identity + "/v1/customers/lookup?type=" + typ + "&value=" + value)
	if err != nil {
		e.t.Fatal(err)
	}
	var p struct {
		CustomerID string `json:"customer_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("lookup %s %s: %d %v", typ, value, resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.ep.Identity+"/v1/customers/"+p.CustomerID, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("erase %s: %d", p.CustomerID, resp.StatusCode)
	}
	return p.CustomerID
}

// eventually polls a single-number query until it returns want.
func (e *env) eventually(query string, want uint64) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got uint64
	for time.Now().Before(deadline) {
		if err := e.ch.QueryRow(context.Background(), query).Scan(&got); err == nil && got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%s: got %d, want %d", query, got, want)
}

func TestPipelineLandsInClickHouse(t *testing.T) {
	e := start(t, nil)
	e.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"anon-1"},"web":{"url":"https://shop.example/"}}
{"event_id":"w2","type":"login","timestamp":"2026-11-02T09:05:00Z","identifiers":{"anonymous_id":"anon-1","email":"ann@example.com"}}`)
	e.post("store", `{"event_id":"s1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-77","phone":"020 7946 0958"},"store":{"store_id":"S-1"},"order":{"order_id":"o-1","total":42.5,"items":[{"sku":"A1","quantity":1,"price":42.5}]}}`)
	// Two customers first: events on different partitions may be resolved
	// in any order, and a call resolved before the purchase would make the
	// purchase join Ann's customer without a merge.
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 3)
	e.post("phone", `{"event_id":"p1","type":"call","timestamp":"2026-11-04T10:00:00Z","identifiers":{"phone":"+44 20 7946 0958","email":"ann@example.com"},"call":{"wait_seconds":240,"outcome":"resolved","reason":"delivery_date"}}
{"event_id":"p2","type":"survey_response","timestamp":"2026-11-04T10:30:00Z","identifiers":{"phone":"+442079460958"},"survey":{"kind":"csat","score":2}}`)

	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 5)
	// Every event resolves, through identity_map, to the one surviving customer.
	e.eventually(`SELECT uniqExact(if(survivor = '', customer_id, survivor)) FROM (SELECT customer_id FROM cx360.journey_events FINAL)
		ANY LEFT JOIN (SELECT customer_id, argMax(survivor_id, version) AS survivor FROM cx360.identity_map GROUP BY customer_id)
		USING customer_id`, 1)
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'merge'", 1)
	e.eventually("SELECT toUInt64(sum(order_total)) FROM cx360.journey_events FINAL WHERE type = 'purchase'", 42)
	e.eventually("SELECT count() FROM cx360.customers FINAL WHERE is_deleted = 0 AND orders = 1 AND low_scores = 1", 1)

	// A replay of the same records changes nothing after FINAL.
	e.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"anon-1"},"web":{"url":"https://shop.example/"}}`)
	time.Sleep(time.Second)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 5)
}

// refusingStore is a fault injector around the real ClickHouse client: it
// refuses, as ClickHouse refuses a row it cannot parse, any batch holding the
// journey of event "poison". ClickHouse 18.16 has no CHECK constraints, and the
// sink builds typed rows, so nothing real produces such a row on demand.
type refusingStore struct{ *clickhouse.Client }

func (r refusingStore) InsertBatch(ctx context.Context, table string, cols []string, rows [][]any) error {
	for _, row := range rows {
		if table == sink.TableJourneys && row[0] == "poison" {
			return errPoison
		}
	}
	return r.Client.InsertBatch(ctx, table, cols, rows)
}

var errPoison = &poisonError{}

type poisonError struct{}

func (*poisonError) Error() string { return "code: 27, message: Cannot parse input (injected)" }

func TestPoisonRowGoesToTheDLQAloneAndTheBatchLands(t *testing.T) {
	e := start(t, func(c *clickhouse.Client) sink.Store { return refusingStore{c} })
	var body strings.Builder
	for i := range 9 {
		id := "ok-" + string(rune('a'+i))
		if i == 4 {
			id = "poison"
		}
		body.WriteString(`{"event_id":"` + id + `","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"a-` + id + `"}}` + "\n")
	}
	e.post("web", body.String())
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 8)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'poison'", 0)
	// The dead letter names the record and keeps its bytes.
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs, err := kafka.Snapshot(context.Background(), []string{e.ep.Kafka}, "cx.events.dlq", 0)
		if err == nil && len(msgs) == 1 && strings.Contains(string(msgs[0].Value), "rejected_by_clickhouse") && strings.Contains(string(msgs[0].Value), "poison") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter for the poison row (%d records, %v)", len(msgs), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The metrics say the same: one dead letter for its reason, eight journey rows.
	if n, err := testutil.GatherAndCount(e.metrics, "cx360_sink_dlq_records_total"); err != nil || n != 1 {
		t.Errorf("cx360_sink_dlq_records_total series: %d, %v; want 1", n, err)
	}
	want := `
# HELP cx360_sink_dlq_records_total Records dead-lettered, by reason code.
# TYPE cx360_sink_dlq_records_total counter
cx360_sink_dlq_records_total{code="rejected_by_clickhouse"} 1
`
	if err := testutil.GatherAndCompare(e.metrics, strings.NewReader(want), "cx360_sink_dlq_records_total"); err != nil {
		t.Error(err)
	}
	if got := seriesValue(t, e.metrics, "cx360_sink_rows_total", "table", sink.TableJourneys); got != 8 {
		t.Errorf("cx360_sink_rows_total{table=%q} = %v, want 8", sink.TableJourneys, got)
	}
}

// seriesValue returns the value of the series of name whose label has value.
func seriesValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// flakyDeleteStore is a fault injector around the real ClickHouse client: its
// first ALTER … DELETE statements fail as a dropped connection fails, which
// a real server cannot be made to do at a chosen statement.
type flakyDeleteStore struct {
	*clickhouse.Client
	failures *atomic.Int32 // left to inject
}

func (f flakyDeleteStore) Exec(ctx context.Context, query string, args ...any) error {
	if strings.Contains(query, " DELETE ") && f.failures.Add(-1) >= 0 {
		return fmt.Errorf("injected: %w", syscall.ECONNRESET)
	}
	return f.Client.Exec(ctx, query, args...)
}

// TestErasureDeletesRowsAndKeepsAnAudit erases a customer while the
// connection drops under the first deletes: they are retried, and the sink
// goes on.
func TestErasureDeletesRowsAndKeepsAnAudit(t *testing.T) {
	var failures atomic.Int32
	failures.Store(2)
	e := start(t, func(c *clickhouse.Client) sink.Store { return flakyDeleteStore{c, &failures} })
	e.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"email":"ann@example.com"}}
{"event_id":"w2","type":"page_view","timestamp":"2026-11-02T09:01:00Z","identifiers":{"email":"bob@example.com"}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 2)
	customer := e.erase("email", "ann@example.com")
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 1)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE has(identifier_values, 'ann@example.com')", 0)
	e.eventually("SELECT count() FROM cx360.customers FINAL WHERE has(identifier_values, 'ann@example.com')", 0)
	e.eventually("SELECT count() FROM cx360.erasures WHERE customer_id = '"+customer+"'", 1)
	// The identity changes kept the identifiers too: only the erasure's own row, without them, stays.
	e.eventually("SELECT count() FROM cx360.identity_changes WHERE has(identifier_values, 'ann@example.com')", 0)
	e.eventually("SELECT count() FROM cx360.identity_changes WHERE customer_id = '"+customer+"' AND kind = 'erase' AND empty(identifier_values)", 1)
	e.eventually("SELECT count() FROM cx360.identity_changes WHERE has(identifier_values, 'bob@example.com')", 1)
	if failures.Load() >= 0 {
		t.Fatal("no delete failed: the test injected nothing")
	}
}

// TestClickHouseDownForThirtySeconds stops ClickHouse in the middle of a load
// and starts it again 30 s later: the sink retries with backoff while
// consumption waits, and every event lands exactly once, with no manual step.
func TestClickHouseDownForThirtySeconds(t *testing.T) {
	e := start(t, nil)
	batch := func(from, n int) string {
		var b strings.Builder
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, `{"event_id":"e-%05d","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"a-%d"}}`+"\n", i, i%300)
		}
		return b.String()
	}
	e.post("web", batch(0, 500))
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 500)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ { // keeps arriving while ClickHouse is down
		e.post("web", batch(i*500, 500))
	}
	time.Sleep(30 * time.Second)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := e.srv.Start(sctx); err != nil {
		t.Fatal(err)
	}
	e.post("web", batch(2000, 500))
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 2500)
	e.eventually("SELECT uniqExact(event_id) FROM cx360.journey_events", 2500)
}

// TestNewJourneyFieldBecomesAColumn upgrades cx.JourneyEvent while the sink
// runs: a producer registers a compatible schema with one new optional field
// at the top and one inside the event, and writes with it. The sink adds a
// column for each (ALTER … ADD COLUMN), fills them, and loses no row: rows of
// the older schema read the column's default.
func TestNewJourneyFieldBecomesAColumn(t *testing.T) {
	e := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.post("store", `{"event_id":"old-1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-1"},"order":{"order_id":"o-1","total":10}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 1)
	e.produceNewerJourney(ctx, "new-1")
	// And the pipeline goes on with the older schema meanwhile.
	e.post("store", `{"event_id":"old-2","type":"purchase","timestamp":"2026-11-03T12:00:00Z","identifiers":{"loyalty_id":"L-2"},"order":{"order_id":"o-2","total":20}}`)

	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 3)
	e.eventually("SELECT count() FROM system.columns WHERE database = 'cx360' AND table = 'journey_events' AND name IN ('loyalty_tier', 'basket_size', 'tags')", 3)
	var types []string
	rows, err := e.ch.Query(ctx, "SELECT type FROM system.columns WHERE database = 'cx360' AND table = 'journey_events' AND name IN ('loyalty_tier', 'basket_size', 'tags') ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ty string
		if err := rows.Scan(&ty); err != nil {
			t.Fatal(err)
		}
		types = append(types, ty)
	}
	rows.Close()
	if want := []string{"Nullable(Int64)", "String", "Array(String)"}; fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("column types (basket_size, loyalty_tier, tags) = %v, want %v", types, want)
	}
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'new-1' AND loyalty_tier = 'gold' AND basket_size = 3 AND tags = ['vip', 'promo'] AND order_id = 'o-1'", 1)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id IN ('old-1', 'old-2') AND loyalty_tier = '' AND isNull(basket_size) AND empty(tags)", 2)
}

// produceNewerJourney re-encodes the first journey on cx.journeys with a
// newer cx.JourneyEvent schema — loyalty_tier, and in the nested cx.Event
// basket_size and an array of tags — as eventID, and produces it.
func (e *env) produceNewerJourney(ctx context.Context, eventID string) {
	t := e.t
	t.Helper()
	var schema map[string]any
	if err := json.Unmarshal([]byte(schemas.MustAvro(schemas.JourneyEvent)), &schema); err != nil {
		t.Fatal(err)
	}
	fields := schema["fields"].([]any)
	fields = append(fields, map[string]any{"name": "loyalty_tier", "type": []any{"null", "string"}, "default": nil})
	for _, f := range fields {
		if f := f.(map[string]any); f["name"] == "event" {
			ev := f["type"].(map[string]any)
			ev["fields"] = append(ev["fields"].([]any),
				map[string]any{"name": "basket_size", "type": []any{"null", "long"}, "default": nil},
				map[string]any{"name": "tags", "type": map[string]any{"type": "array", "items": "string"}, "default": []any{}})
		}
	}
	schema["fields"] = fields
	v2, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(e.ep.Registry))
	serde := avro.NewSerde(cl)
	codec, err := serde.Register(ctx, avro.Subject("cx.journeys"), string(v2))
	if err != nil {
		t.Fatalf("registering the newer cx.JourneyEvent: %v", err)
	}
	// A record as the identity stage wrote it, re-encoded with the new fields.
	got := kafkatest.ReadN(t, []string{e.ep.Kafka}, "cx.journeys", 1, 10*time.Second)
	native, _, err := serde.Decode(ctx, got[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	rec := native.(map[string]any)
	rec["loyalty_tier"] = map[string]any{"string": "gold"}
	ev := rec["event"].(map[string]any)
	ev["event_id"] = eventID
	ev["basket_size"] = map[string]any{"long": int64(3)}
	ev["tags"] = []any{"vip", "promo"}
	value, err := codec.Append(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	prod := kafka.NewProducer([]string{e.ep.Kafka}, kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	if err := prod.Produce(ctx, kafkago.Message{Topic: "cx.journeys", Key: got[0].Key, Value: value}); err != nil {
		t.Fatal(err)
	}
}

// TestFieldWhoseColumnHasAnotherTypeIsLeftOut: a new field whose name an
// analyst already used for a column of another type is left out of the
// rows (its values stay on the topic), and the rows land.
func TestFieldWhoseColumnHasAnotherTypeIsLeftOut(t *testing.T) {
	e := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.ch.Exec(ctx, "ALTER TABLE cx360.journey_events ADD COLUMN basket_size String"); err != nil {
		t.Fatal(err)
	}
	e.post("store", `{"event_id":"old-1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-1"},"order":{"order_id":"o-1","total":10}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 1)
	e.produceNewerJourney(ctx, "new-1")
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'new-1' AND loyalty_tier = 'gold' AND basket_size = '' AND tags = ['vip', 'promo']", 1)
	if n, err := testutil.GatherAndCount(e.metrics, "cx360_sink_dlq_records_total"); err != nil || n != 0 {
		t.Fatalf("%d dead-letter series (%v), want none", n, err)
	}
}

// TestSplitRevivesAMergedAwayProfile merges two customers, splits them again,
// and requires the merged-away customer live in ClickHouse: its tombstone and
// its profile after the split are ordered by their position on cx.customers.
func TestSplitRevivesAMergedAwayProfile(t *testing.T) {
	e := start(t, nil)
	e.post("web", `{"event_id":"m1","type":"login","timestamp":"2026-11-02T09:00:00Z","identifiers":{"user_id":"u-9","email":"ann@example.com"}}`)
	e.post("store", `{"event_id":"m2","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-77","phone":"020 7946 0958"},"order":{"total":42.5}}`)
	e.eventually("SELECT count() FROM cx360.customers FINAL WHERE is_deleted = 0", 2)
	e.post("phone", `{"event_id":"m3","type":"call","timestamp":"2026-11-04T10:00:00Z","identifiers":{"phone":"+44 20 7946 0958","email":"ann@example.com"}}`)
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'merge'", 1)
	e.eventually("SELECT count() FROM cx360.customers FINAL WHERE is_deleted = 0", 1)

	var survivor string
	if err := e.ch.QueryRow(context.Background(), "SELECT customer_id FROM cx360.identity_changes FINAL WHERE kind = 'merge'").Scan(&survivor); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.ep.Identity+"/v1/customers/"+survivor+"/split", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("split: %d", resp.StatusCode)
	}
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'split'", 1)
	e.eventually("SELECT count() FROM cx360.customers FINAL WHERE is_deleted = 0", 2)
}

// TestMergeChainsAreFlattened merges Z into Y, then Y into X: identity_map
// must answer X for all three with one argMax lookup (DESIGN.md), though the
// second merge names only Y.
func TestMergeChainsAreFlattened(t *testing.T) {
	e := start(t, nil)
	e.post("web", `{"event_id":"c1","type":"login","timestamp":"2026-11-01T09:00:00Z","identifiers":{"email":"x@example.com"}}`)
	e.post("store", `{"event_id":"c2","type":"purchase","timestamp":"2026-11-02T09:00:00Z","identifiers":{"loyalty_id":"L-Y"}}`)
	e.post("phone", `{"event_id":"c3","type":"call","timestamp":"2026-11-03T09:00:00Z","identifiers":{"phone":"+442079460001"}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 3)
	e.post("store", `{"event_id":"c4","type":"purchase","timestamp":"2026-11-04T09:00:00Z","identifiers":{"loyalty_id":"L-Y","phone":"+442079460001"}}`)
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'merge'", 1)
	e.post("web", `{"event_id":"c5","type":"login","timestamp":"2026-11-05T09:00:00Z","identifiers":{"email":"x@example.com","loyalty_id":"L-Y"}}`)
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'merge'", 2)
	// Every event's customer, looked up once, is the one live customer.
	e.eventually(`SELECT uniqExact(if(survivor = '', customer_id, survivor)) FROM (SELECT customer_id FROM cx360.journey_events FINAL)
		ANY LEFT JOIN (SELECT customer_id, argMax(survivor_id, version) AS survivor FROM cx360.identity_map GROUP BY customer_id)
		USING customer_id`, 1)
	e.eventually("SELECT uniqExact(s) FROM (SELECT argMax(survivor_id, version) AS s FROM cx360.identity_map GROUP BY customer_id)", 1)
}

// TestSplitAfterAMergeChainRepointsIdentityMap merges Z into Y, then Y into
// X through a phone, and unlinks the phone: Y is revived, and Z's events —
// whose identity_map rows said Y, then X through the chain's shortcut — must
// answer Y again with one argMax lookup.
func TestSplitAfterAMergeChainRepointsIdentityMap(t *testing.T) {
	e := start(t, nil)
	e.post("web", `{"event_id":"k1","type":"login","timestamp":"2026-11-01T09:00:00Z","identifiers":{"email":"x@example.com","phone":"+442079460002"}}`)
	e.post("store", `{"event_id":"k2","type":"purchase","timestamp":"2026-11-02T09:00:00Z","identifiers":{"loyalty_id":"L-Y"}}`)
	e.post("app", `{"event_id":"k3","type":"app_open","timestamp":"2026-11-03T09:00:00Z","identifiers":{"user_id":"u-z"}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 3)
	e.post("store", `{"event_id":"k4","type":"purchase","timestamp":"2026-11-04T09:00:00Z","identifiers":{"loyalty_id":"L-Y","user_id":"u-z"}}`)
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'merge'", 1)
	e.post("store", `{"event_id":"k5","type":"purchase","timestamp":"2026-11-05T09:00:00Z","identifiers":{"loyalty_id":"L-Y","phone":"+442079460002"}}`)
	e.eventually("SELECT count() FROM cx360.identity_changes FINAL WHERE kind = 'merge'", 2)
	owners := `SELECT uniqExact(if(survivor = '', customer_id, survivor)) FROM (SELECT customer_id FROM cx360.journey_events FINAL WHERE event_id IN (%s))
		ANY LEFT JOIN (SELECT customer_id, argMax(survivor_id, version) AS survivor FROM cx360.identity_map GROUP BY customer_id)
		USING customer_id`
	e.eventually(fmt.Sprintf(owners, "'k1','k2','k3','k4','k5'"), 1)

	req, _ := http.NewRequest(http.MethodPost, e.ep.Identity+"/v1/identifiers/phone/+442079460002/unlink", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unlink: %d", resp.StatusCode)
	}
	// Y's and Z's events share one owner, Y; X's are apart.
	e.eventually(fmt.Sprintf(owners, "'k2','k3','k4'"), 1)
	e.eventually(fmt.Sprintf(owners, "'k1','k2','k3','k4'"), 2)
	e.eventually(`SELECT count() FROM (SELECT customer_id FROM cx360.journey_events FINAL WHERE event_id = 'k3')
		ANY LEFT JOIN (SELECT customer_id, argMax(survivor_id, version) AS survivor FROM cx360.identity_map GROUP BY customer_id)
		USING customer_id
		WHERE survivor IN (SELECT customer_id FROM cx360.journey_events FINAL WHERE event_id = 'k2')`, 1)
}

// TestLaterPublishedJourneyWins: an event journeyed twice with different
// customers — by an identity instance killed past its snapshot, then by its
// successor — keeps, after FINAL, the journey published later, whatever the
// order the sink inserts them in.
func TestLaterPublishedJourneyWins(t *testing.T) {
	e := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.post("store", `{"event_id":"twice-1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-1"},"order":{"order_id":"o-1","total":10}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 1)
	got := kafkatest.ReadN(t, []string{e.ep.Kafka}, "cx.journeys", 1, 10*time.Second)
	cl, _ := sr.NewClient(sr.URLs(e.ep.Registry))
	serde := avro.NewSerde(cl)
	native, _, err := serde.Decode(ctx, got[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := serde.RegisterTopic(ctx, "cx.journeys", schemas.JourneyEvent)
	if err != nil {
		t.Fatal(err)
	}
	journey := func(customer string) []byte {
		rec := native.(map[string]any)
		rec["customer_id"] = customer
		b, err := codec.Append(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The successor's journey first, the predecessor's (published a minute
	// earlier) after it: the sink inserts them in this order.
	prod := kafka.NewProducer([]string{e.ep.Kafka}, kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	now := time.Now()
	if err := prod.Produce(ctx, kafkago.Message{Topic: "cx.journeys", Key: []byte("successor"), Value: journey("successor"), Time: now}); err != nil {
		t.Fatal(err)
	}
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE customer_id = 'successor'", 1)
	if err := prod.Produce(ctx, kafkago.Message{Topic: "cx.journeys", Key: []byte("predecessor"), Value: journey("predecessor"), Time: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("SELECT count() FROM cx360.journey_events WHERE event_id = 'twice-1'", 3)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'twice-1' AND customer_id = 'successor'", 1)
}

// TestLateRowsOfAnErasedCustomerStayOut: a journey of an erased customer
// that reaches the sink after the erasure — published before it, from a
// partition lagging behind the identity changes — is not inserted; one of
// the same customer id received after the erasure (the identifier came back)
// is.
func TestLateRowsOfAnErasedCustomerStayOut(t *testing.T) {
	e := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"email":"ann@example.com"}}`)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 1)
	customer := e.erase("email", "ann@example.com")
	erasedAt := time.Now()
	e.eventually("SELECT count() FROM cx360.erasures WHERE customer_id = '"+customer+"'", 1)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL", 0)

	cl, _ := sr.NewClient(sr.URLs(e.ep.Registry))
	journey, err := avro.NewSerde(cl).RegisterTopic(ctx, "cx.journeys", schemas.JourneyEvent)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafkago.Message
	for _, j := range []struct {
		id       string
		received time.Time
	}{{"late-1", erasedAt.Add(-time.Minute)}, {"back-1", erasedAt.Add(time.Minute)}} {
		ev := &event.Event{EventID: j.id, Channel: event.ChannelWeb, Type: "page_view", EventTime: j.received, ClientTime: j.received, ReceivedAt: j.received,
			Identifiers: []event.Identifier{{Type: "email", Value: "ann@example.com"}}}
		v, err := journey.Append(nil, identity.JourneyNative(customer, identity.PhasePreVisit, ev))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafkago.Message{Topic: "cx.journeys", Key: []byte(customer), Value: v})
	}
	prod := kafka.NewProducer([]string{e.ep.Kafka}, kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	if err := prod.Produce(ctx, msgs...); err != nil { // one partition, in order: back-1 lands after late-1 was seen
		t.Fatal(err)
	}
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'back-1'", 1)
	e.eventually("SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'late-1'", 0)
}
