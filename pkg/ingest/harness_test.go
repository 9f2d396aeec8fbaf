package ingest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry"
)

// Topic and subject names under the default "cx." prefix (DESIGN.md "Kafka topics").
const (
	eventsTopic   = "cx.events"
	dlqTopic      = "cx.events.dlq"
	eventsSubject = "cx.events-value"
	dlqSubject    = "cx.events.dlq-value"

	readTimeout = 10 * time.Second
	ndjsonType  = "application/x-ndjson"
	jsonType    = "application/json"
)

// testContext is a context ending with the test, bounded by d.
func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startRegistry runs an embedded schema registry on a free port, with its data
// under a temp dir, until the test ends, and returns its URL.
func startRegistry(t testing.TB) string {
	t.Helper()
	reg, err := registry.New(t.TempDir(), zap.NewNop())
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	if err := reg.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("registry.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reg.Shutdown(ctx); err != nil {
			t.Errorf("registry.Shutdown: %v", err)
		}
	})
	return reg.URL()
}

// defaultConfig returns ingest's configuration with every default, as the
// binary would build it from no flags and no environment, pointed at brokers
// and the registry, listening on a free port without an admin server.
func defaultConfig(t testing.TB, brokers []string, registryURL string) config.Ingest {
	t.Helper()
	var cfg config.Ingest
	fs := config.NewFlagSet("t", func(string) (string, bool) { return "", false })
	cfg.Bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	cfg.Kafka.Brokers = brokers
	cfg.Registry.URL = registryURL
	cfg.Addr = "127.0.0.1:0"
	cfg.AdminAddr = ""
	return cfg
}

// harness is one ingest service against a real broker and a real registry.
type harness struct {
	t       testing.TB
	brokers []string
	svc     *ingest.Service
	client  *http.Client
	wire    *wireReader
}

// newHarness starts a broker, a registry and an ingest service configured by
// defaults and then by edit (may be nil); all stop when the test ends.
func newHarness(t testing.TB, edit func(*config.Ingest)) *harness {
	t.Helper()
	brokers := kafkatest.NewBroker(t)
	return newHarnessOn(t, brokers, edit)
}

// newHarnessOn is newHarness against brokers the caller started.
func newHarnessOn(t testing.TB, brokers []string, edit func(*config.Ingest)) *harness {
	t.Helper()
	regURL := startRegistry(t)
	cfg := defaultConfig(t, brokers, regURL)
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	svc := startService(t, cfg)
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(transport.CloseIdleConnections)
	return &harness{
		t: t, brokers: brokers, svc: svc,
		client: &http.Client{Transport: transport, Timeout: 20 * time.Second},
		wire:   newWireReader(t, regURL),
	}
}

// startService builds and starts ingest with a fresh metrics registry and
// shuts it down when the test ends.
func startService(t testing.TB, cfg config.Ingest) *ingest.Service {
	t.Helper()
	svc, err := ingest.NewService(testContext(t, 20*time.Second), cfg, "ingest", health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	if err := svc.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return svc
}

func (h *harness) url(path string) string { return "http://" + h.svc.Addr() + path }

// response is an HTTP answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// result decodes a 202 answer, failing the test on any other.
func (r response) result(t testing.TB) ingest.Result {
	t.Helper()
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", r.status, r.body)
	}
	var res ingest.Result
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("decoding 202 body %q: %v", r.body, err)
	}
	return res
}

// errorCode decodes the "code" of an error answer.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decoding error body %q: %v", r.body, err)
	}
	if e.Message == "" {
		t.Errorf("error answer %s has no message", r.body)
	}
	return e.Code
}

// post sends body to /v1/{channel}/events; header may carry extra headers.
func (h *harness) post(channel, contentType string, body []byte, header http.Header) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url("/v1/"+channel+"/events"), bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, vs := range header {
		req.Header[k] = vs
	}
	return h.do(req)
}

func (h *harness) get(path string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url(path), nil)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("reading answer of %s %s: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// readEvents reads exactly n records of cx.events and decodes each with the
// independent reader.
func (h *harness) readEvents(n int) []decodedEvent {
	h.t.Helper()
	msgs := kafkatest.ReadN(h.t, h.brokers, eventsTopic, n, readTimeout)
	out := make([]decodedEvent, len(msgs))
	for i, m := range msgs {
		out[i] = decodedEvent{Key: string(m.Key), wireEvent: h.wire.event(m)}
	}
	return out
}

// readDeadLetters reads exactly n records of cx.events.dlq and decodes them.
func (h *harness) readDeadLetters(n int) []decodedDeadLetter {
	h.t.Helper()
	msgs := kafkatest.ReadN(h.t, h.brokers, dlqTopic, n, readTimeout)
	out := make([]decodedDeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = decodedDeadLetter{Key: string(m.Key), wireDeadLetter: h.wire.deadLetter(m)}
	}
	return out
}

// eventsByID indexes decoded events by event_id, failing on a repeated id.
func eventsByID(t testing.TB, evs []decodedEvent) map[string]decodedEvent {
	t.Helper()
	out := make(map[string]decodedEvent, len(evs))
	for _, e := range evs {
		if _, dup := out[e.EventID]; dup {
			t.Errorf("event %q is on %s more than once", e.EventID, eventsTopic)
		}
		out[e.EventID] = e
	}
	return out
}

// ---- the independent reader: franz-go's sr serde with hamba/avro ----

// wireEvent is cx.Event as an independent consumer would declare it.
type wireEvent struct {
	EventID     string           `avro:"event_id"`
	Channel     string           `avro:"channel"`
	Type        string           `avro:"type"`
	EventTime   time.Time        `avro:"event_time"`
	ClientTime  time.Time        `avro:"client_time"`
	SentAt      *time.Time       `avro:"sent_at"`
	ReceivedAt  time.Time        `avro:"received_at"`
	Identifiers []wireIdentifier `avro:"identifiers"`
	Properties  map[string]any   `avro:"properties"`
	Web         *wireWeb         `avro:"web"`
	App         *wireApp         `avro:"app"`
	Store       *wireStore       `avro:"store"`
	Order       *wireOrder       `avro:"order"`
	Call        *wireCall        `avro:"call"`
	Survey      *wireSurvey      `avro:"survey"`
}

type wireIdentifier struct {
	Type    string `avro:"type"`
	Value   string `avro:"value"`
	Blocked bool   `avro:"blocked"`
}

type wireWeb struct {
	URL       *string `avro:"url"`
	Referrer  *string `avro:"referrer"`
	Title     *string `avro:"title"`
	SessionID *string `avro:"session_id"`
	UserAgent *string `avro:"user_agent"`
}

type wireApp struct {
	Platform   *string `avro:"platform"`
	AppVersion *string `avro:"app_version"`
	Screen     *string `avro:"screen"`
	SessionID  *string `avro:"session_id"`
}

type wireStore struct {
	StoreID    *string `avro:"store_id"`
	RegisterID *string `avro:"register_id"`
	StaffID    *string `avro:"staff_id"`
}

type wireOrder struct {
	OrderID  *string         `avro:"order_id"`
	Total    *float64        `avro:"total"`
	Currency *string         `avro:"currency"`
	Items    []wireOrderItem `avro:"items"`
}

type wireOrderItem struct {
	SKU      string  `avro:"sku"`
	Quantity float64 `avro:"quantity"`
	Price    float64 `avro:"price"`
}

type wireCall struct {
	CallID        *string  `avro:"call_id"`
	Direction     *string  `avro:"direction"`
	Queue         *string  `avro:"queue"`
	WaitSeconds   *float64 `avro:"wait_seconds"`
	HandleSeconds *float64 `avro:"handle_seconds"`
	Outcome       *string  `avro:"outcome"`
	AgentID       *string  `avro:"agent_id"`
	Reason        *string  `avro:"reason"`
}

type wireSurvey struct {
	Kind         string   `avro:"kind"`
	Score        float64  `avro:"score"`
	ScaleMax     *float64 `avro:"scale_max"`
	Comment      *string  `avro:"comment"`
	AboutEventID *string  `avro:"about_event_id"`
}

// wireDeadLetter is cx.DeadLetter as an independent consumer would declare it.
type wireDeadLetter struct {
	ID         string    `avro:"id"`
	Stage      string    `avro:"stage"`
	Source     string    `avro:"source"`
	ReasonCode string    `avro:"reason_code"`
	Error      string    `avro:"error"`
	Raw        []byte    `avro:"raw"`
	Index      *int      `avro:"index"`
	ReceivedAt time.Time `avro:"received_at"`
	Topic      *string   `avro:"topic"`
	Partition  *int      `avro:"partition"`
	Offset     *int64    `avro:"offset"`
}

type decodedEvent struct {
	Key string
	wireEvent
}

type decodedDeadLetter struct {
	Key string
	wireDeadLetter
}

// wireReader decodes records the way any Confluent-compatible consumer does:
// header first, then the writer schema fetched from the registry by the id in
// the header, registered lazily in a franz-go sr.Serde whose decode function is
// hamba/avro's. It shares no code with ingest's goavro path.
type wireReader struct {
	t      testing.TB
	client *sr.Client
	serde  *sr.Serde

	mu         sync.Mutex
	registered map[int]bool
	subjectIDs map[string]int
}

func newWireReader(t testing.TB, registryURL string) *wireReader {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(registryURL))
	if err != nil {
		t.Fatalf("sr.NewClient: %v", err)
	}
	return &wireReader{t: t, client: cl, serde: sr.NewSerde(), registered: map[int]bool{}, subjectIDs: map[string]int{}}
}

// subjectID is the id of the latest schema under subject.
func (w *wireReader) subjectID(subject string) int {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.subjectIDs[subject]; ok {
		return id
	}
	ss, err := w.client.SchemaByVersion(testContext(w.t, 5*time.Second), subject, -1)
	if err != nil {
		w.t.Fatalf("registry: latest schema of %s: %v", subject, err)
	}
	w.subjectIDs[subject] = ss.ID
	return ss.ID
}

// ensure registers the writer schema of id with the serde, for values of v's type.
func (w *wireReader) ensure(id int, v any) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.registered[id] {
		return
	}
	s, err := w.client.SchemaByID(testContext(w.t, 5*time.Second), id)
	if err != nil {
		w.t.Fatalf("registry: schema %d: %v", id, err)
	}
	schema, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
	if err != nil {
		w.t.Fatalf("hamba: parsing schema %d: %v", id, err)
	}
	w.serde.Register(id, v, sr.DecodeFn(func(b []byte, v any) error {
		return avro.Unmarshal(schema, b, v)
	}))
	w.registered[id] = true
}

// checkHeader asserts the Confluent wire-format header: magic byte 0 and the
// big-endian id of the latest schema under subject.
func (w *wireReader) checkHeader(m kafkago.Message, subject string) int {
	w.t.Helper()
	if len(m.Value) < 5 {
		w.t.Fatalf("%s record at %d/%d is %d bytes, shorter than the wire-format header", m.Topic, m.Partition, m.Offset, len(m.Value))
	}
	if m.Value[0] != 0 {
		w.t.Fatalf("%s record at %d/%d: magic byte %d, want 0", m.Topic, m.Partition, m.Offset, m.Value[0])
	}
	id := int(binary.BigEndian.Uint32(m.Value[1:5]))
	if want := w.subjectID(subject); id != want {
		w.t.Fatalf("%s record at %d/%d: schema id %d, want %d (latest under %s)", m.Topic, m.Partition, m.Offset, id, want, subject)
	}
	return id
}

func (w *wireReader) event(m kafkago.Message) wireEvent {
	w.t.Helper()
	w.ensure(w.checkHeader(m, eventsSubject), wireEvent{})
	var e wireEvent
	if err := w.serde.Decode(m.Value, &e); err != nil {
		w.t.Fatalf("decoding %s record at %d/%d: %v", m.Topic, m.Partition, m.Offset, err)
	}
	return e
}

func (w *wireReader) deadLetter(m kafkago.Message) wireDeadLetter {
	w.t.Helper()
	w.ensure(w.checkHeader(m, dlqSubject), wireDeadLetter{})
	var d wireDeadLetter
	if err := w.serde.Decode(m.Value, &d); err != nil {
		w.t.Fatalf("decoding %s record at %d/%d: %v", m.Topic, m.Partition, m.Offset, err)
	}
	return d
}

// ---- bodies ----

// arrayBody joins items into a JSON array, one item per line, so that each
// item's exact bytes are recognisable in the dead-letter queue.
func arrayBody(items ...[]byte) []byte {
	return []byte("[\n  " + string(bytes.Join(items, []byte(",\n  "))) + "\n]")
}

// ndjsonBody joins items into NDJSON, with a blank line in the middle (blank
// lines are ignored) and a trailing newline.
func ndjsonBody(items ...[]byte) []byte {
	var b bytes.Buffer
	for i, it := range items {
		b.Write(it)
		b.WriteByte('\n')
		if i == len(items)/2 {
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

// metricValue returns the value of the sample of name with labels (as
// `channel="web"`) in a Prometheus text exposition, failing if absent.
func metricValue(t testing.TB, exposition, name, labels string) string {
	t.Helper()
	prefix := name + "{" + labels + "} "
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	t.Fatalf("metric %s{%s} not exposed", name, labels)
	return ""
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func fmtIDs(ids []wireIdentifier) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s:%s(blocked=%v)", id.Type, id.Value, id.Blocked)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
