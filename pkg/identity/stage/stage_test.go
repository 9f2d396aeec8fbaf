package stage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/identity/stage"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/schemas"
)

type stack struct {
	t  *testing.T
	ep devstack.Endpoints
	sd *avro.Serde
}

func startStack(t *testing.T, dir string) (*stack, *devstack.Stack) {
	t.Helper()
	s, ds := startParts(t, dir, false)
	s.waitActive()
	return s, ds
}

// startParts starts the dev stack on dir; infraOnly: the broker and the
// registry alone.
func startParts(t *testing.T, dir string, infraOnly bool) (*stack, *devstack.Stack) {
	t.Helper()
	ic := devstacktest.Ingest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ds, err := devstack.Start(ctx, devstack.Config{
		DataDir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Ingest: ic,
		Identity: config.Identity{SnapshotInterval: 200 * time.Millisecond}, InfraOnly: infraOnly,
	}, health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(ds.Endpoints().Registry))
	return &stack{t: t, ep: ds.Endpoints(), sd: avro.NewSerde(cl)}, ds
}

func (s *stack) waitActive() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var st struct{ Serving bool }
		if s.getJSON("/v1/status", &st) == http.StatusOK && st.Serving {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("identity never became active")
}

func (s *stack) post(channel, body string) {
	s.t.Helper()
	resp, err := http.Post(s.ep.Ingest+"/v1/"+channel+"/events", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || strings.Contains(string(b), `"rejected":1`) {
		s.t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
}

func (s *stack) do(method, path string, out any) int {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.ep.Identity+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (s *stack) getJSON(path string, out any) int { return s.do(http.MethodGet, path, out) }

// records returns every record of topic decoded (nil value for tombstones), keyed order preserved.
func (s *stack) records(topic string) []record {
	s.t.Helper()
	msgs, err := kafka.Snapshot(context.Background(), []string{s.ep.Kafka}, topic, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []record
	for _, m := range msgs {
		r := record{Key: string(m.Key)}
		if m.Value != nil {
			native, _, err := s.sd.Decode(context.Background(), m.Value)
			if err != nil {
				s.t.Fatal(err)
			}
			r.Value = avro.Plain(native).(map[string]any)
		}
		out = append(out, r)
	}
	return out
}

type record struct {
	Key   string
	Value map[string]any
}

// waitFor polls until cond holds for the records of topic.
func (s *stack) waitFor(topic string, what string, cond func([]record) bool) []record {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := s.records(topic)
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not seen on %s within 20s (%d records)", what, topic, len(recs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type profile struct {
	CustomerID  string `json:"customer_id"`
	RequestedID string `json:"requested_id"`
	Version     int64
	Identifiers []struct{ Type, Value string }
	EventCounts map[string]int64 `json:"event_counts"`
	MergedIDs   []string         `json:"merged_ids"`
	Orders      int64
}

// TestMergeThenUnlinkThroughThePipeline: events enter through ingest's HTTP
// API; identity resolves them; the merge and its undo are visible on every
// output topic and through the profile API.
func TestMergeThenUnlinkThroughThePipeline(t *testing.T) {
	s, ds := startStack(t, t.TempDir())
	defer ds.Shutdown(context.Background())

	s.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"anon-1"}}
{"event_id":"w2","type":"login","timestamp":"2026-11-02T09:05:00Z","identifiers":{"anonymous_id":"anon-1","email":"Ann@Example.com"}}`)
	s.post("store", `{"event_id":"s1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-77","phone":"020 7946 0958"},"order":{"total":42.5}}`)
	journeys := s.waitFor("cx.journeys", "3 journeys", func(r []record) bool { return len(r) == 3 })
	cust := map[string]string{}
	for _, j := range journeys {
		ev := j.Value["event"].(map[string]any)
		cust[ev["event_id"].(string)] = j.Value["customer_id"].(string)
		if j.Key != j.Value["customer_id"] {
			t.Fatalf("journey key %q is not its customer id", j.Key)
		}
	}
	ann, loyal := cust["w1"], cust["s1"]
	if cust["w2"] != ann || ann == loyal {
		t.Fatalf("customers: %v", cust)
	}

	// The phone call links Ann's email to the loyalty card: one customer.
	s.post("phone", `{"event_id":"p1","type":"call","timestamp":"2026-11-04T10:00:00Z","identifiers":{"phone":"+44 20 7946 0958","email":"ann@example.com"},"call":{"reason":"delivery_date","wait_seconds":200}}`)
	changes := s.waitFor("cx.identity.changes", "a merge", func(r []record) bool {
		return slices.ContainsFunc(r, func(x record) bool { return x.Value["kind"] == "merge" })
	})
	var merge map[string]any
	for _, c := range changes {
		if c.Value["kind"] == "merge" {
			merge = c.Value
		}
	}
	survivor := merge["customer_id"].(string)
	if survivor != ann || merge["related_ids"].([]any)[0] != loyal || merge["event_id"] != "p1" {
		t.Fatalf("merge %v: want survivor %s (oldest), merged %s", merge, ann, loyal)
	}
	var p profile
	if code := s.getJSON("/v1/customers/"+loyal, &p); code != http.StatusOK || p.CustomerID != ann || p.RequestedID != loyal || p.Orders != 1 {
		t.Fatalf("GET merged-away id: %d %+v", code, p)
	}
	if code := s.getJSON("/v1/customers/lookup?type=phone&value=020%207946%200958", &p); code != http.StatusOK || p.CustomerID != ann {
		t.Fatalf("lookup by phone: %d %+v", code, p)
	}
	s.waitFor("cx.customers", "tombstone of the merged profile", func(r []record) bool {
		return len(r) > 0 && slices.ContainsFunc(r, func(x record) bool { return x.Key == loyal && x.Value == nil })
	})

	// Undo: the phone stops bridging; both profiles are back.
	var ans struct{ Changes []map[string]any }
	if code := s.do(http.MethodPost, "/v1/identifiers/phone/+442079460958/unlink", &ans); code != http.StatusOK || len(ans.Changes) == 0 {
		t.Fatalf("unlink: %d %+v", code, ans)
	}
	if code := s.getJSON("/v1/customers/"+loyal, &p); code != http.StatusOK || p.CustomerID != loyal || p.Orders != 1 {
		t.Fatalf("after unlink, GET %s: %d %+v", loyal, code, p)
	}
	s.waitFor("cx.identity.changes", "a split", func(r []record) bool {
		return slices.ContainsFunc(r, func(x record) bool { return x.Value["kind"] == "split" })
	})

	// Erasure: gone from the API, tombstoned, an erase change without personal data.
	if code := s.do(http.MethodDelete, "/v1/customers/"+ann, nil); code != http.StatusOK {
		t.Fatalf("erase: %d", code)
	}
	if code := s.getJSON("/v1/customers/"+ann, nil); code != http.StatusNotFound {
		t.Fatalf("erased customer answers %d", code)
	}
	s.waitFor("cx.identity.changes", "an erase", func(r []record) bool {
		return slices.ContainsFunc(r, func(x record) bool {
			return x.Value["kind"] == "erase" && x.Value["customer_id"] == ann && len(x.Value["identifiers"].([]any)) == 0
		})
	})
	if code := s.getJSON("/v1/customers/lookup?type=email&value=ann@example.com", nil); code != http.StatusNotFound {
		t.Fatalf("erased email still resolves: %d", code)
	}
}

// TestTakeoverReassertsWhatAPredecessorPublished: an instance killed past its
// last snapshot may have published a merge that its successor's replay never
// repeats. The successor, in a new epoch, reasserts where every id such a
// change named stands, with versions above the stale change's, so that
// identity_map (for each id, the change naming it with the highest version)
// ends as the graph says.
func TestTakeoverReassertsWhatAPredecessorPublished(t *testing.T) {
	dir := t.TempDir()
	s, ds := startStack(t, dir)
	s.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"anon-1"}}`)
	s.post("store", `{"event_id":"s1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-77"},"order":{"total":42.5}}`)
	journeys := s.waitFor("cx.journeys", "2 journeys", func(r []record) bool { return len(r) == 2 })
	cust := map[string]string{}
	for _, j := range journeys {
		cust[j.Value["event"].(map[string]any)["event_id"].(string)] = j.Value["customer_id"].(string)
	}
	web, store := cust["w1"], cust["s1"]
	if web == store {
		t.Fatalf("one customer for unrelated events: %s", web)
	}
	var before profile
	if code := s.getJSON("/v1/customers/"+web, &before); code != http.StatusOK || before.Version <= 1<<identity.EpochShift {
		t.Fatalf("GET %s: %d, version %d: want a version of epoch 1 or later", web, code, before.Version)
	}
	if err := ds.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// What the predecessor published past its snapshot, as the kill left it:
	// a merge of the store customer into the web one, which the graph never made.
	stale := identity.Change{
		ID: "stale-merge", Kind: identity.ChangeMerge, CustomerID: web, RelatedIDs: []string{store},
		Identifiers: []event.Identifier{}, Reason: "a history the successor does not repeat", At: time.Now().UTC(),
		Version: before.Version + 1000,
	}
	infra, ids := startParts(t, dir, true)
	codec, err := infra.sd.RegisterTopic(context.Background(), "cx.identity.changes", schemas.IdentityChange)
	if err != nil {
		t.Fatal(err)
	}
	value, err := codec.Append(nil, stale.Native())
	if err != nil {
		t.Fatal(err)
	}
	prod := kafka.Cluster{Brokers: []string{infra.ep.Kafka}}.NewProducer(kafka.WriterConfig{}, zap.NewNop())
	if err := prod.Produce(context.Background(), kafkago.Message{Topic: "cx.identity.changes", Key: []byte(web), Value: value}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(prod.Close(), ids.Shutdown(context.Background())); err != nil {
		t.Fatal(err)
	}

	// The successor: its changes must leave each id where the graph has it.
	s2, ds2 := startStack(t, dir)
	defer ds2.Shutdown(context.Background())
	changes := s2.waitFor("cx.identity.changes", "the reasserted ids", func(r []record) bool {
		return latestSurvivor(r, store).version > stale.Version && latestSurvivor(r, web).version > stale.Version
	})
	for _, id := range []string{web, store} {
		if got := latestSurvivor(changes, id); got.survivor != id || got.version < 2<<identity.EpochShift {
			t.Errorf("%s: the change naming it with the highest version says %+v; want itself, in epoch 2 or later", id, got)
		}
	}
	var after profile
	if code := s2.getJSON("/v1/customers/"+store, &after); code != http.StatusOK || after.CustomerID != store || after.Version < 2<<identity.EpochShift {
		t.Fatalf("GET %s after the takeover: %d %+v", store, code, after)
	}
}

// TestTakeoverReappliesOperatorActions: each instance keeps its own
// snapshot, so a successor whose snapshot predates an erasure and an unlink
// (here: none at all) rebuilds the erased customer and the unlinked link from
// the events. It applies both again from the changes its predecessor
// published: the erased customer is gone and the unlinked identifier stays
// apart.
func TestTakeoverReappliesOperatorActions(t *testing.T) {
	dir := t.TempDir()
	s, ds := startStack(t, dir)
	s.post("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"email":"ann@example.com"}}`)
	s.post("store", `{"event_id":"s1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-1","phone":"+442079460958"}}`)
	s.post("phone", `{"event_id":"p1","type":"call","timestamp":"2026-11-04T11:00:00Z","identifiers":{"phone":"+442079460958","email":"bob@example.com"}}`)
	s.waitFor("cx.journeys", "3 journeys", func(r []record) bool { return len(r) == 3 })
	var ann, bob profile
	if code := s.getJSON("/v1/customers/lookup?type=email&value=ann@example.com", &ann); code != http.StatusOK {
		t.Fatalf("lookup ann: %d", code)
	}
	if code := s.do(http.MethodDelete, "/v1/customers/"+ann.CustomerID, nil); code != http.StatusOK {
		t.Fatalf("erase: %d", code)
	}
	if code := s.do(http.MethodPost, "/v1/identifiers/phone/+442079460958/unlink", nil); code != http.StatusOK {
		t.Fatalf("unlink: %d", code)
	}
	if code := s.getJSON("/v1/customers/lookup?type=email&value=bob@example.com", &bob); code != http.StatusOK {
		t.Fatalf("lookup bob: %d", code)
	}
	if err := ds.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The successor, with a data dir of its own that has no snapshot.
	if err := os.RemoveAll(filepath.Join(dir, "identity")); err != nil {
		t.Fatal(err)
	}
	s2, ds2 := startParts(t, dir, false)
	defer ds2.Shutdown(context.Background())
	// From its first moment, the successor never shows the erased customer,
	// though its replay rebuilds it before the erasure is applied again.
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	stopWatching := watchAnswers(client, s2.ep.Identity+"/v1/customers/"+ann.CustomerID, 5*time.Millisecond)
	s2.waitActive()
	seen := stopWatching()
	// Before its election it is a standby with nobody to forward to (503
	// standby); elected, it catches up (503 catching_up); then 404.
	answers := seen["503 standby"] + seen["503 catching_up"] + seen["404 not_found"]
	if answers != sum(seen) || seen["503 catching_up"] == 0 {
		t.Errorf("while the successor caught up, GET of the erased customer answered %v; want only 503 standby or catching_up, then 404", seen)
	}
	s2.waitFor("cx.identity.changes", "the erasure applied again", func(r []record) bool {
		n := 0
		for _, c := range r {
			if c.Value["kind"] == identity.ChangeErase && c.Value["customer_id"] == ann.CustomerID {
				n++
			}
		}
		return n >= 2
	})
	if code := s2.getJSON("/v1/customers/"+ann.CustomerID, nil); code != http.StatusNotFound {
		t.Errorf("GET the erased customer after the takeover: %d, want 404", code)
	}
	if code := s2.getJSON("/v1/customers/lookup?type=email&value=ann@example.com", nil); code != http.StatusNotFound {
		t.Errorf("lookup of the erased email after the takeover: %d, want 404", code)
	}
	var loyal, bob2 profile
	if code := s2.getJSON("/v1/customers/lookup?type=loyalty_id&value=L-1", &loyal); code != http.StatusOK {
		t.Fatalf("lookup L-1: %d", code)
	}
	if code := s2.getJSON("/v1/customers/lookup?type=email&value=bob@example.com", &bob2); code != http.StatusOK {
		t.Fatalf("lookup bob: %d", code)
	}
	if loyal.CustomerID == bob2.CustomerID || bob2.CustomerID != bob.CustomerID {
		t.Errorf("after the takeover the unlinked phone joins L-1's customer %s and bob's %s again (before: bob %s)", loyal.CustomerID, bob2.CustomerID, bob.CustomerID)
	}
}

type mapping struct {
	survivor string
	version  int64
}

// latestSurvivor reads changes as the sink builds identity_map: a merge maps
// each related id to the customer, a split each related id to itself; the
// row with the highest version wins.
func latestSurvivor(changes []record, id string) mapping {
	var best mapping
	for _, c := range changes {
		v, _ := c.Value["version"].(int64)
		for _, r := range c.Value["related_ids"].([]any) {
			if r != id || v <= best.version {
				continue
			}
			switch c.Value["kind"] {
			case identity.ChangeMerge:
				best = mapping{c.Value["customer_id"].(string), v}
			case identity.ChangeSplit:
				best = mapping{id, v}
			}
		}
		if c.Value["kind"] == identity.ChangeMerge && c.Value["customer_id"] == id && v > best.version {
			best = mapping{id, v}
		}
	}
	return best
}

// TestFinalSnapshotUnderLoad shuts identity down while events stream in,
// three times: each shutdown ends with a snapshot covering what the stage
// resolved (a batch cut short by the shutdown is read again, not a reason
// to skip the snapshot).
func TestFinalSnapshotUnderLoad(t *testing.T) {
	dir := t.TempDir()
	infra, _ := startParts(t, dir, true)
	ctx := context.Background()
	codec, err := infra.sd.RegisterTopic(ctx, "cx.events", schemas.Event)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		cfg := identityConfig(t, []string{infra.ep.Kafka}, infra.ep.Registry)
		cfg.SnapshotInterval = time.Hour // only the final snapshot
		cfg.GroupID = fmt.Sprintf("final-%d", round)
		svc := startIdentity(t, cfg)
		waitElected(t, svc)
		prod := kafka.NewProducer([]string{infra.ep.Kafka}, kafka.WriterConfig{BatchTimeout: time.Millisecond}, zap.NewNop())
		stop := make(chan struct{})
		sending := make(chan struct{})
		go func() {
			defer close(sending)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var msgs []kafkago.Message
				for j := range 50 {
					now := time.Now().UTC()
					e := event.Event{EventID: fmt.Sprintf("f%d-%d-%d", round, i, j), Channel: event.ChannelWeb, Type: "page_view",
						EventTime: now, ClientTime: now, ReceivedAt: now, Identifiers: []event.Identifier{{Type: "anonymous_id", Value: fmt.Sprintf("a-%d-%d", i, j)}}}
					b, err := codec.Append(nil, e.Native())
					if err != nil {
						panic(err)
					}
					msgs = append(msgs, kafkago.Message{Topic: "cx.events", Key: []byte(e.EventID), Value: b})
				}
				_ = prod.Produce(ctx, msgs...)
			}
		}()
		for svc.Stage().Processed() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = svc.Shutdown(sctx)
		cancel()
		close(stop)
		<-sending
		prod.Close()
		if err != nil {
			t.Fatalf("round %d: shutdown: %v", round, err)
		}
		offsets, ids, err := stage.SnapshotCovers(cfg.DataDir)
		if err != nil {
			t.Fatalf("round %d: no final snapshot: %v", round, err)
		}
		var covered int64
		for _, o := range offsets {
			covered += o
		}
		if covered < svc.Stage().Processed() || ids == 0 {
			t.Fatalf("round %d: the final snapshot covers %d events and %d identifiers; the stage resolved %d", round, covered, ids, svc.Stage().Processed())
		}
	}
}

func sum(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// TestTakeoverKeepsSingletonCustomers: the customer of an event whose every
// identifier is blocked (a customer of one event, which the graph does not
// keep) survives a successor's reconciliation. Before, the successor took it
// for a predecessor's leftover and tombstoned it, and its events vanished
// from the journey in ClickHouse.
func TestTakeoverKeepsSingletonCustomers(t *testing.T) {
	dir := t.TempDir()
	s, ds := startStack(t, dir)
	s.post("web", `{"event_id":"b1","type":"newsletter_signup","timestamp":"2026-11-02T09:06:00Z","identifiers":{"email":"test@test.com"}}`)
	single := s.waitFor("cx.customers", "the singleton's profile", func(r []record) bool { return len(r) == 1 && r[0].Value != nil })[0].Key
	if err := ds.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The successor, with no snapshot: it reconciles with what was published.
	if err := os.RemoveAll(filepath.Join(dir, "identity")); err != nil {
		t.Fatal(err)
	}
	s2, ds2 := startStack(t, dir)
	defer ds2.Shutdown(context.Background())
	// Commands are taken once reconciling is done: a command on no customer
	// then answers 404 instead of 503 catching_up.
	deadline := time.Now().Add(20 * time.Second)
	for s2.do(http.MethodDelete, "/v1/customers/00000000-0000-0000-0000-000000000000", nil) != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatal("the successor never took commands")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var last *record
	for _, r := range s2.records("cx.customers") {
		if r.Key == single {
			last = &r
		}
	}
	if last == nil || last.Value == nil {
		t.Fatalf("after the takeover the singleton customer %s was tombstoned", single)
	}
}
