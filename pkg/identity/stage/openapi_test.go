package stage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity/stage"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/schemas"
)

// apiContract checks exchanges with a running server against the identity
// OpenAPI document and records which documented answers were seen.
type apiContract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	client *http.Client
	seen   map[string]bool // "METHOD /path status"
}

func newAPIContract(t *testing.T) *apiContract {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(schemas.MustOpenAPI(schemas.OpenAPIIdentity))
	if err != nil {
		t.Fatalf("loading the identity OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the identity OpenAPI document is invalid: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &apiContract{t: t, doc: doc, router: router, client: &http.Client{Transport: transport, Timeout: 20 * time.Second}, seen: map[string]bool{}}
}

// apiAnswer is an HTTP answer read in full.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

// decodeAs decodes an answer's JSON body into a new T.
func decodeAs[T any](t *testing.T, a apiAnswer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
	return v
}

// exchange validates a request against the document (wantValid says whether
// the document should accept it), sends it, checks the status and validates
// the answer: status documented, headers and body matching their schemas.
func (c *apiContract) exchange(method, rawURL string, wantValid bool, wantStatus int) apiAnswer {
	c.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		c.t.Fatalf("new request: %v", err)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: not in the OpenAPI document: %v", method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case wantValid && err != nil:
		c.t.Errorf("%s %s: the document rejects a request the test meant as valid: %v", method, req.URL, err)
	case !wantValid && err == nil:
		c.t.Errorf("%s %s: the document accepts a request the test meant as invalid", method, req.URL)
	}
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading the answer of %s %s: %v", method, req.URL, err)
	}
	if res.StatusCode != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, req.URL, res.StatusCode, wantStatus, b)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: opts}
	out.SetBodyBytes(b)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s: the %d answer does not match the document: %v\nbody: %s", method, req.URL, res.StatusCode, err, b)
	}
	undocumentedHeaders(c.t, route, res)
	c.seen[fmt.Sprintf("%s %s %d", route.Method, route.Path, res.StatusCode)] = true
	return apiAnswer{status: res.StatusCode, header: res.Header, body: b}
}

// answersExercised compares the answers seen with every documented answer.
func (c *apiContract) answersExercised() {
	c.t.Helper()
	var want, seen []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				want = append(want, method+" "+path+" "+status)
			}
		}
	}
	for s := range c.seen {
		seen = append(seen, s)
	}
	sort.Strings(want)
	sort.Strings(seen)
	if !slices.Equal(seen, want) {
		c.t.Errorf("answers exercised\n got %q\nwant %q", seen, want)
	}
}

// flagDefaults fills a config's fields with the defaults its flags declare.
func flagDefaults(t *testing.T, bind func(*config.FlagSet)) {
	t.Helper()
	fs := config.NewFlagSet("t", func(string) (string, bool) { return "", false })
	bind(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
}

// identityService starts an identity instance with default settings against
// brokers and the registry, stopped when the test ends.
func identityService(t *testing.T, brokers []string, registryURL string) *stage.Service {
	t.Helper()
	return startIdentity(t, identityConfig(t, brokers, registryURL))
}

// identityConfig is identity's default settings against brokers and the
// registry, on a free port, with its data in a temp dir.
func identityConfig(t *testing.T, brokers []string, registryURL string) config.Identity {
	t.Helper()
	var cfg config.Identity
	flagDefaults(t, cfg.Bind)
	cfg.Kafka.Brokers, cfg.Registry.URL = brokers, registryURL
	cfg.Addr, cfg.AdminAddr, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	cfg.SnapshotInterval = 200 * time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatalf("identity configuration: %v", err)
	}
	return cfg
}

// startIdentity starts an identity instance with cfg; it is stopped, and its
// shutdown checked, when the test ends (a test may stop it before: Shutdown
// is idempotent).
func startIdentity(t *testing.T, cfg config.Identity) *stage.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := stage.NewService(ctx, cfg, health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatalf("identity NewService: %v", err)
	}
	if err := svc.Start(); err != nil {
		t.Fatalf("identity Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("identity Shutdown: %v", err)
		}
	})
	return svc
}

// waitElected waits until svc holds the lease and serves the API (it caught
// up), failing the test after 30 s.
func waitElected(t *testing.T, svc *stage.Service) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !svc.Stage().Serving(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("identity never became active")
		}
	}
}

// ingestService starts ingest with default settings, to feed identity
// through the real pipeline; stopped when the test ends.
func ingestService(t *testing.T, brokers []string, registryURL string) *ingest.Service {
	t.Helper()
	var cfg config.Ingest
	flagDefaults(t, cfg.Bind)
	cfg.Kafka.Brokers, cfg.Registry.URL = brokers, registryURL
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", ""
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := ingest.NewService(ctx, cfg, "ingest", health.NewRegistry(), zap.NewNop())
	if err != nil {
		t.Fatalf("ingest NewService: %v", err)
	}
	if err := svc.Start(); err != nil {
		t.Fatalf("ingest Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("ingest Shutdown: %v", err)
		}
	})
	return svc
}

// poll calls get until it reports done, failing the test after 20 s.
func poll(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// plainGet reads a JSON answer without checking it against the document
// (for polling); it returns the status.
func plainGet(t *testing.T, client *http.Client, u string, v any) int {
	t.Helper()
	res, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK && v != nil {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decoding: %v", u, err)
		}
	}
	return res.StatusCode
}

type apiProfile struct {
	CustomerID  string   `json:"customer_id"`
	RequestedID string   `json:"requested_id"`
	Orders      int64    `json:"orders"`
	MergedIDs   []string `json:"merged_ids"`
}

// The identity service serves its embedded document, answers exactly the
// operations the document lists, and every documented answer is produced by
// the real service (Kafka, registry, ingest feeding it) and matches the
// document.
//
// Not produced: the 503 "unavailable" code (a command whose outputs Kafka
// did not acknowledge); its status, headers and body schema are the same as
// the standby 503, which is produced. Stopping Kafka under a running
// consumer group to force it would make the test slow and flaky.
func TestOpenAPIIdentityAnswersMatchTheDocument(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	reg := registrytest.Start(t)
	in := ingestService(t, brokers, reg.URL())
	// The active instance advertises a URL nothing answers at, so that the
	// standby started below cannot forward to it and answers 503 itself
	// (TestStandbyForwardsToTheActive covers forwarding).
	cfg := identityConfig(t, brokers, reg.URL())
	cfg.AdvertiseURL = "http://127.0.0.1:1"
	active := startIdentity(t, cfg)
	c := newAPIContract(t)
	api := "http://" + active.Addr()

	served := c.exchange(http.MethodGet, api+"/openapi.json", true, http.StatusOK)
	if !bytes.Equal(served.body, schemas.MustOpenAPI(schemas.OpenAPIIdentity)) || served.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: Content-Type %q, %d bytes that differ from the embedded document", served.header.Get("Content-Type"), len(served.body))
	}
	var documented []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	routes := active.Routes()
	sort.Strings(routes)
	sort.Strings(documented)
	if !slices.Equal(routes, documented) {
		t.Errorf("routes registered on the server\n %q\ndocumented\n %q", routes, documented)
	}

	poll(t, "identity serving", func() bool {
		var st struct{ Serving bool }
		return plainGet(t, c.client, api+"/v1/status", &st) == http.StatusOK && st.Serving
	})
	type statusAnswer struct {
		Active    bool
		Serving   bool
		Processed int64
	}
	if st := decodeAs[statusAnswer](t, c.exchange(http.MethodGet, api+"/v1/status", true, http.StatusOK)); !st.Active || !st.Serving {
		t.Errorf("status %+v: want active and serving", st)
	}

	send := func(channel, ndjson string) {
		t.Helper()
		res, err := c.client.Post("http://"+in.Addr()+"/v1/"+channel+"/events", "application/x-ndjson", strings.NewReader(ndjson))
		if err != nil {
			t.Fatalf("posting to ingest: %v", err)
		}
		defer res.Body.Close()
		var r ingest.Result
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != http.StatusAccepted || r.Rejected != 0 {
			t.Fatalf("posting to ingest: %d %+v %v", res.StatusCode, r, err)
		}
	}
	send("web", `{"event_id":"w1","type":"page_view","timestamp":"2026-11-02T09:00:00Z","identifiers":{"anonymous_id":"anon-1"}}
{"event_id":"w2","type":"login","timestamp":"2026-11-02T09:05:00Z","identifiers":{"anonymous_id":"anon-1","email":"Ann@Example.com"}}`)
	send("store", `{"event_id":"s1","type":"purchase","timestamp":"2026-11-03T11:00:00Z","identifiers":{"loyalty_id":"L-77","phone":"020 7946 0958"},"order":{"total":42.5}}`)
	var ann, loyal apiProfile
	poll(t, "both customers resolved", func() bool {
		return plainGet(t, c.client, api+"/v1/customers/lookup?type=email&value=ann@example.com", &ann) == http.StatusOK &&
			plainGet(t, c.client, api+"/v1/customers/lookup?type=loyalty_id&value=L-77", &loyal) == http.StatusOK
	})
	if ann.CustomerID == loyal.CustomerID {
		t.Fatalf("one customer %s before any link", ann.CustomerID)
	}
	// A call links the email to the phone: the loyalty customer merges into Ann's (the oldest).
	send("phone", `{"event_id":"p1","type":"call","timestamp":"2026-11-04T10:00:00Z","identifiers":{"phone":"+44 20 7946 0958","email":"ann@example.com"},"call":{"wait_seconds":200}}`)
	poll(t, "the merge", func() bool {
		var p apiProfile
		return plainGet(t, c.client, api+"/v1/customers/"+loyal.CustomerID, &p) == http.StatusOK && p.CustomerID == ann.CustomerID
	})

	// 200: a live id, a merged-away id (survivor + requested_id + Content-Location), a lookup.
	getProfile := func(id string) (apiProfile, apiAnswer) {
		t.Helper()
		r := c.exchange(http.MethodGet, api+"/v1/customers/"+id, true, http.StatusOK)
		return decodeAs[apiProfile](t, r), r
	}
	if p, r := getProfile(ann.CustomerID); p.CustomerID != ann.CustomerID || p.RequestedID != "" || r.header.Get("Content-Location") != "" || !slices.Equal(p.MergedIDs, []string{loyal.CustomerID}) {
		t.Errorf("GET live id: %+v, Content-Location %q", p, r.header.Get("Content-Location"))
	}
	if p, r := getProfile(loyal.CustomerID); p.CustomerID != ann.CustomerID || p.RequestedID != loyal.CustomerID || p.Orders != 1 ||
		r.header.Get("Content-Location") != "/v1/customers/"+ann.CustomerID {
		t.Errorf("GET merged-away id: %+v, Content-Location %q", p, r.header.Get("Content-Location"))
	}
	lookup := func(q url.Values, wantValid bool, wantStatus int) apiAnswer {
		t.Helper()
		return c.exchange(http.MethodGet, api+"/v1/customers/lookup?"+q.Encode(), wantValid, wantStatus)
	}
	if p := decodeAs[apiProfile](t, lookup(url.Values{"type": {"phone"}, "value": {"020 7946 0958"}}, true, http.StatusOK)); p.CustomerID != ann.CustomerID {
		t.Errorf("lookup by national phone number: %+v", p)
	}

	// 400 and 404. A lookup without parameters is invalid by the document too.
	type errorAnswer struct{ Code, Message string }
	errCode := func(a apiAnswer) string { return decodeAs[errorAnswer](t, a).Code }
	for _, tc := range []struct {
		answer apiAnswer
		want   string
	}{
		{lookup(nil, false, http.StatusBadRequest), "bad_request"},
		{lookup(url.Values{"type": {"email"}, "value": {"nobody"}}, true, http.StatusBadRequest), "invalid_identifier"},
		{lookup(url.Values{"type": {"email"}, "value": {"zed@example.com"}}, true, http.StatusNotFound), "not_found"},
		{c.exchange(http.MethodGet, api+"/v1/customers/no-such-id", true, http.StatusNotFound), "not_found"},
		{c.exchange(http.MethodDelete, api+"/v1/customers/no-such-id", true, http.StatusNotFound), "not_found"},
		{c.exchange(http.MethodPost, api+"/v1/customers/no-such-id/split", true, http.StatusNotFound), "not_found"},
		{c.exchange(http.MethodPost, api+"/v1/identifiers/user_id/u-none/unlink", true, http.StatusNotFound), "not_found"},
		{c.exchange(http.MethodPost, api+"/v1/identifiers/email/nobody/unlink", true, http.StatusBadRequest), "invalid_identifier"},
	} {
		if got := errCode(tc.answer); got != tc.want {
			t.Errorf("error code %q, want %q (%s)", got, tc.want, tc.answer.body)
		}
	}

	// 200 commands: split undoes the merge, unlink answers for the phone, erase removes Ann.
	type commandResult struct {
		Changes []struct {
			Kind       string
			CustomerID string `json:"customer_id"`
		}
		Updated, Removed []string
	}
	split := decodeAs[commandResult](t, c.exchange(http.MethodPost, api+"/v1/customers/"+ann.CustomerID+"/split", true, http.StatusOK))
	if len(split.Changes) == 0 || !slices.Contains(split.Updated, loyal.CustomerID) {
		t.Errorf("split: %+v, want changes and %s republished", split, loyal.CustomerID)
	}
	if p, _ := getProfile(loyal.CustomerID); p.CustomerID != loyal.CustomerID || p.RequestedID != "" {
		t.Errorf("after the split, GET %s: %+v", loyal.CustomerID, p)
	}
	c.exchange(http.MethodPost, api+"/v1/identifiers/phone/"+url.PathEscape("+442079460958")+"/unlink", true, http.StatusOK)
	erase := decodeAs[commandResult](t, c.exchange(http.MethodDelete, api+"/v1/customers/"+ann.CustomerID, true, http.StatusOK))
	if len(erase.Changes) != 1 || erase.Changes[0].Kind != "erase" || erase.Changes[0].CustomerID != ann.CustomerID || !slices.Contains(erase.Removed, ann.CustomerID) {
		t.Errorf("erase: %+v", erase)
	}
	if code := errCode(c.exchange(http.MethodGet, api+"/v1/customers/"+ann.CustomerID, true, http.StatusNotFound)); code != "not_found" {
		t.Errorf("erased customer: code %q", code)
	}

	c.exchange(http.MethodGet, api+"/healthz", true, http.StatusOK)
	c.exchange(http.MethodGet, api+"/readyz", true, http.StatusOK)
	if r := c.exchange(http.MethodGet, api+"/metrics", true, http.StatusOK); !strings.Contains(string(r.body), "go_goroutines") {
		t.Errorf("/metrics has no go_goroutines")
	}

	// 503: a second instance in the same group is on standby (the first keeps
	// the lease), and the active one does not answer at the URL it advertised:
	// the standby refuses reads and commands alike, with Retry-After.
	standby := identityService(t, brokers, reg.URL())
	spare := "http://" + standby.Addr()
	if st := decodeAs[statusAnswer](t, c.exchange(http.MethodGet, spare+"/v1/status", true, http.StatusOK)); st.Active {
		t.Fatalf("second instance is active; want standby")
	}
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/v1/customers/" + loyal.CustomerID},
		{http.MethodGet, "/v1/customers/lookup?type=loyalty_id&value=L-77"},
		{http.MethodDelete, "/v1/customers/" + loyal.CustomerID},
		{http.MethodPost, "/v1/customers/" + loyal.CustomerID + "/split"},
		{http.MethodPost, "/v1/identifiers/loyalty_id/L-77/unlink"},
	} {
		r := c.exchange(req.method, spare+req.path, true, http.StatusServiceUnavailable)
		if code := errCode(r); code != "standby" || r.header.Get("Retry-After") != "5" {
			t.Errorf("%s %s on standby: code %q, Retry-After %q", req.method, req.path, code, r.header.Get("Retry-After"))
		}
	}
	// The standby refused: the loyalty customer is still there on the active one.
	if p, _ := getProfile(loyal.CustomerID); p.CustomerID != loyal.CustomerID {
		t.Errorf("after refused commands: %+v", p)
	}

	// /readyz 503: the schema registry goes away.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.Shutdown(ctx); err != nil {
		t.Fatalf("registry.Shutdown: %v", err)
	}
	type readyAnswer struct {
		Status string
		Checks map[string]string
	}
	if ready := decodeAs[readyAnswer](t, c.exchange(http.MethodGet, api+"/readyz", true, http.StatusServiceUnavailable)); ready.Status != "not ready" || ready.Checks["kafka"] != "ok" || ready.Checks["schema_registry"] == "ok" {
		t.Errorf("/readyz without a registry: %+v", ready)
	}

	c.answersExercised()
}

// undocumentedHeaders fails the test for a header in the answer that its
// documented response does not list (kin-openapi only checks the listed ones).
func undocumentedHeaders(t *testing.T, route *routers.Route, res *http.Response) {
	t.Helper()
	listed := []string{"Content-Type", "Content-Length", "Date", "Vary"} // HTTP framing and negotiation, not the API's
	for name := range route.Operation.Responses.Status(res.StatusCode).Value.Headers {
		listed = append(listed, http.CanonicalHeaderKey(name))
	}
	for name := range res.Header {
		if !slices.Contains(listed, name) {
			t.Errorf("%s %s: the %d answer has header %s, which the document does not list", route.Method, route.Path, res.StatusCode, name)
		}
	}
}
