package mapping

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const chat = `channel: chat
blocks: [call]
fields:
  event_id: id
  type: {const: chat_message}
  timestamp: {path: ts, format: unix_s}
  identifiers.email: customer.email
  identifiers.user_id: customer.id
  properties.topic: {path: topic, default: general}
  call.queue: queue
  survey.kind: {const: csat}
  survey.score: rating
`

func TestDecodeMapsSourceFields(t *testing.T) {
	m, err := Parse([]byte(chat))
	if err != nil {
		t.Fatal(err)
	}
	in, rej := m.Decode([]byte(`{"id":"c-1","ts":1793613600,"customer":{"email":"Ann@x.com","id":42},"queue":"billing","rating":4}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if in.EventID != "c-1" || in.Type != "chat_message" || string(in.Timestamp) != "1793613600000" ||
		string(in.Identifiers["email"]) != `"Ann@x.com"` || string(in.Identifiers["user_id"]) != "42" ||
		string(in.Properties["topic"]) != `"general"` || in.Call == nil || in.Call.Queue != "billing" || *in.Survey.Score != 4 {
		t.Fatalf("decoded %+v", in)
	}
	if !m.EventBlocks().Call || m.EventBlocks().Web {
		t.Fatalf("blocks %+v", m.EventBlocks())
	}
	for raw, code := range map[string]string{`[1]`: "not_an_object", `{"ts":"soon"}`: "mapping_failed", `{`: "invalid_json"} {
		if _, rej := m.Decode([]byte(raw)); rej == nil || rej.Code != code {
			t.Errorf("%s: got %+v, want %s", raw, rej, code)
		}
	}
}

func TestParseRejectsBadMappings(t *testing.T) {
	for name, doc := range map[string]string{
		"builtin channel":   "channel: web\nfields: {type: x, timestamp: t}",
		"bad channel":       "channel: Chat!\nfields: {type: x, timestamp: t}",
		"unknown target":    "channel: c\nfields: {type: x, timestamp: t, colour: c}",
		"block not allowed": "channel: c\nfields: {type: x, timestamp: t, web.url: u}",
		"no timestamp":      "channel: c\nfields: {type: x}",
		"path and const":    "channel: c\nfields: {type: {path: a, const: b}, timestamp: t}",
		"bad format":        "channel: c\nfields: {type: x, timestamp: {path: t, format: weird}}",
		"unknown key":       "channel: c\nfieldz: {}",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadDirNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "chat.yaml"), []byte(chat), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	ms, err := LoadDir(dir)
	if err != nil || len(ms) != 1 || ms[0].Channel != "chat" {
		t.Fatalf("LoadDir: %v %v", ms, err)
	}
	os.WriteFile(filepath.Join(dir, "broken.yml"), []byte("channel: [\n"), 0o644)
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "broken.yml") {
		t.Fatalf("error does not name the file: %v", err)
	}
	if ms, err := LoadDir(filepath.Join(dir, "missing")); err != nil || ms != nil {
		t.Fatalf("missing dir: %v %v", ms, err)
	}
}

// FuzzDecode: any source item is mapped or rejected with a code; never a panic.
func FuzzDecode(f *testing.F) {
	m, err := Parse([]byte(chat))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"id":"c","ts":1,"customer":{"email":"a@b.co"}}`, `{"ts":[1]}`, `{"customer":"x"}`, `null`, `{"ts":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, rej := m.Decode(raw)
		if (in == nil) == (rej == nil) {
			t.Fatalf("want exactly one of input or rejection, got %v %v", in, rej)
		}
		if rej != nil && rej.Code == "" {
			t.Fatal("rejection without a code")
		}
	})
}
