package stage_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/kafka"
)

type stack struct {
	t  *testing.T
	ep devstack.Endpoints
	sd *avro.Serde
}

func startStack(t *testing.T, dir string) (*stack, *devstack.Stack) {
	t.Helper()
	var ic config.Ingest
	fs := config.NewFlagSet("t", func(string) (string, bool) { return "", false })
	ic.Bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	ic.Addr, ic.AdminAddr = "127.0.0.1:0", ""
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ds, err := devstack.Start(ctx, devstack.Config{
		DataDir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Ingest: ic,
		Identity: config.Identity{SnapshotInterval: 200 * time.Millisecond},
	}, health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(ds.Endpoints().Registry))
	s := &stack{t: t, ep: ds.Endpoints(), sd: avro.NewSerde(cl)}
	s.waitActive()
	return s, ds
}

func (s *stack) waitActive() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var st struct{ Active bool }
		if s.getJSON("/v1/status", &st) == http.StatusOK && st.Active {
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
