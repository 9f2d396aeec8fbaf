package ingest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

// writeMappings copies the named files of testdata/mappings into a fresh dir.
func writeMappings(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", "mappings", n))
		if err != nil {
			t.Fatalf("reading fixture: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatalf("writing mapping: %v", err)
		}
	}
	return dir
}

// A channel defined by a mapping file alone takes source-shaped JSON and
// produces normalised cx.Events under its own name, rejecting like built-ins.
func TestMappedChannelFromFileAlone(t *testing.T) {
	dir := writeMappings(t, "chat.yaml")
	h := newHarness(t, func(c *config.Ingest) { c.MappingsDir = dir })

	body := arrayBody(
		[]byte(`{"id":"chat-1","ts":1768472100,"customer":{"email":" Bob@Example.ORG ","phone":"020 7946 0123"},"topic":"refund","agent":"ag-7","lines":[{"text":"hi"}]}`),
		[]byte(`{"id":"chat-2","ts":"1768472160.5","customer":{"phone":"+44 20 7946 0958"}}`),
		[]byte(`{"id":"chat-3","ts":1768472200,"customer":{}}`),
		[]byte(`{"id":"chat-4","ts":"soon","customer":{"email":"a@example.com"}}`),
	)
	res := h.post("chat", jsonType, body, nil).result(t)
	if res.Accepted != 2 || res.Rejected != 2 || len(res.Errors) != 2 ||
		res.Errors[0].Index != 2 || res.Errors[0].Code != "missing_identifier" ||
		res.Errors[1].Index != 3 || res.Errors[1].Code != "mapping_failed" {
		t.Fatalf("answer %+v, want 2 accepted; index 2 missing_identifier, index 3 mapping_failed", res)
	}

	got := eventsByID(t, h.readEvents(2))
	c1, c2 := got["chat-1"], got["chat-2"]
	wantIDs := []wireIdentifier{{Type: "email", Value: "bob@example.org"}, {Type: "phone", Value: "+442079460123"}}
	if c1.Channel != "chat" || c1.Type != "chat_message" || !slices.Equal(c1.Identifiers, wantIDs) || c1.Key != "email:bob@example.org" {
		t.Errorf("chat-1: channel %q type %q identifiers %s key %q; want chat, chat_message, %s, email:bob@example.org",
			c1.Channel, c1.Type, fmtIDs(c1.Identifiers), c1.Key, fmtIDs(wantIDs))
	}
	if want := time.Unix(1768472100, 0); !c1.EventTime.Equal(want) || !c1.ClientTime.Equal(want) {
		t.Errorf("chat-1: event_time %s client_time %s, want %s (unix seconds)", c1.EventTime, c1.ClientTime, want)
	}
	if c1.Properties["topic"] != "refund" || c1.Call == nil || str(c1.Call.AgentID) != "ag-7" || str(c1.Call.Queue) != "chat" {
		t.Errorf("chat-1: properties %v call %+v; want topic refund, call agent ag-7 queue chat", c1.Properties, c1.Call)
	}
	if c1.Web != nil || c1.App != nil || c1.Store != nil {
		t.Errorf("chat-1: unexpected blocks web %v app %v store %v", c1.Web, c1.App, c1.Store)
	}
	if want := time.UnixMilli(1768472160500); !c2.EventTime.Equal(want) || c2.Properties["topic"] != "general" || c2.Key != "phone:+442079460958" {
		t.Errorf("chat-2: event_time %s topic %v key %q; want %s, default topic general, phone:+442079460958", c2.EventTime, c2.Properties["topic"], c2.Key, want)
	}

	dls := h.readDeadLetters(2)
	for _, dl := range dls {
		if dl.Key != "chat" || dl.Source != "chat" || !strings.Contains(string(body), string(dl.Raw)) || !strings.HasPrefix(string(dl.Raw), `{"id":"chat-`) {
			t.Errorf("dead letter key %q source %q raw %q; want chat, chat, the item's bytes", dl.Key, dl.Source, dl.Raw)
		}
	}

	// Built-in channels still work next to mapped ones.
	if res := h.post("web", jsonType, newGenerator(8).next(t, "web", "w-").Raw, nil).result(t); res.Accepted != 1 {
		t.Errorf("web next to a mapped channel: %+v", res)
	}
}

// A mapping with an error stops ingest at start with a message naming the file.
func TestBadMappingFailsStartNamingTheFile(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	regURL := startRegistry(t)
	for _, name := range []string{"bad_target.yaml", "builtin.yml"} {
		t.Run(name, func(t *testing.T) {
			dir := writeMappings(t, "chat.yaml", name)
			cfg := defaultConfig(t, brokers, regURL)
			cfg.MappingsDir = dir
			svc, err := ingest.NewService(testContext(t, 10*time.Second), cfg, "ingest", health.NewRegistry(), zap.NewNop())
			if err == nil {
				_ = svc.Shutdown(testContext(t, 5*time.Second))
				t.Fatalf("NewService with %s succeeded, want an error", name)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, name)) {
				t.Errorf("error %q does not name the file %s", err, filepath.Join(dir, name))
			}
		})
	}
}

// A mapped item "takes exactly the path of a built-in channel's event: same
// validation, normalisation and errors" (pkg/mapping): items that are not
// objects get the built-in code, not_an_object.
func TestMappedChannelRejectsNonObjectsLikeBuiltins(t *testing.T) {
	dir := writeMappings(t, "chat.yaml")
	h := newHarness(t, func(c *config.Ingest) { c.MappingsDir = dir })
	body := arrayBody([]byte(`42`), []byte(`"hello"`), []byte(`[{"id":"x"}]`), []byte(`null`))
	for _, ch := range []string{"web", "chat"} {
		res := h.post(ch, jsonType, body, nil).result(t)
		if res.Rejected != 4 || len(res.Errors) != 4 {
			t.Fatalf("%s: %+v, want 4 rejected", ch, res)
		}
		for i, e := range res.Errors {
			if e.Index != i || e.Code != "not_an_object" {
				t.Errorf("%s item %d: %+v, want code not_an_object", ch, i, e)
			}
		}
	}
	h.readDeadLetters(8)
}
