package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/kafka/embedded"
	"github.com/cx360/cx360/schemas"
)

// contract checks exchanges with a running server against an OpenAPI
// document and records which documented answers were seen.
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool // "METHOD /path status"
}

func newContract(t *testing.T, name string) *contract {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(schemas.MustOpenAPI(name))
	if err != nil {
		t.Fatalf("loading the %s OpenAPI document: %v", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the %s OpenAPI document is invalid: %v", name, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	// kin-openapi has no NDJSON decoder; the document describes NDJSON bodies
	// as text (each line is checked against EventItem separately).
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	return &contract{t: t, doc: doc, router: router, seen: map[string]bool{}}
}

// authenticate accepts a request the document's bearerAuth scheme describes:
// an Authorization header with the Bearer scheme. (Whether the key is valid
// is the server's business; the document cannot know the keys.)
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearerAuth" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	scheme, _, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return fmt.Errorf("no Bearer Authorization header")
	}
	return nil
}

// exchange validates a request against the document (wantValid says whether
// the document should accept it), sends it, checks the status, and validates
// the answer: status documented, headers and body matching their schemas.
func (c *contract) exchange(client *http.Client, method, url, contentType string, body []byte, header http.Header, wantValid bool, wantStatus int) response {
	c.t.Helper()
	newRequest := func() *http.Request {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			c.t.Fatalf("new request: %v", err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		return req
	}
	req := newRequest()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: not in the OpenAPI document: %v", method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case wantValid && err != nil:
		c.t.Errorf("%s %s: the document rejects a request the test meant as valid: %v", method, req.URL.Path, err)
	case !wantValid && err == nil:
		c.t.Errorf("%s %s: the document accepts a request the test meant as invalid", method, req.URL.Path)
	}

	res, err := client.Do(newRequest())
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading the answer of %s %s: %v", method, req.URL.Path, err)
	}
	if res.StatusCode != wantStatus {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, req.URL.Path, res.StatusCode, wantStatus, b)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: opts}
	out.SetBodyBytes(b)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s: the %d answer does not match the document: %v\nbody: %s", method, req.URL.Path, res.StatusCode, err, b)
	}
	undocumentedHeaders(c.t, route, res)
	c.seen[fmt.Sprintf("%s %s %d", route.Method, route.Path, res.StatusCode)] = true
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// documentedAnswers lists "METHOD /path status" for every documented answer.
func documentedAnswers(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				out = append(out, method+" "+path+" "+status)
			}
		}
	}
	sort.Strings(out)
	return out
}

// documentedOperations lists "METHOD /path" for every operation: the same
// syntax as http.ServeMux patterns.
func documentedOperations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// compareSets reports what is in got (found in source) but not documented,
// and what is documented but not in got.
func compareSets(t *testing.T, what, source string, got, documented []string) {
	t.Helper()
	for _, g := range got {
		if !slices.Contains(documented, g) {
			t.Errorf("%s: %q is in %s but not in the OpenAPI document", what, g, source)
		}
	}
	for _, d := range documented {
		if !slices.Contains(got, d) {
			t.Errorf("%s: %q is in the OpenAPI document but not in %s", what, d, source)
		}
	}
}

// The ingest server serves its embedded document, unauthenticated, and
// answers exactly the operations the document lists.
func TestOpenAPIDocumentIsServedAndListsEveryRoute(t *testing.T) {
	h := newHarness(t, func(c *config.Ingest) { c.APIKeys = []string{"pos:0123456789abcdef0123"} })
	r := h.get("/openapi.json") // no Authorization: the document is public
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	if want := schemas.MustOpenAPI(schemas.OpenAPIIngest); !bytes.Equal(r.body, want) {
		t.Fatalf("GET /openapi.json served %d bytes that differ from the embedded %d-byte document", len(r.body), len(want))
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatalf("loading the served document: %v", err)
	}
	routes := h.svc.Routes()
	sort.Strings(routes)
	if len(routes) != 5 { // events, openapi, healthz, readyz, metrics
		t.Errorf("server routes %q: want 5", routes)
	}
	compareSets(t, "ingest routes", "the server's routes", routes, documentedOperations(doc))
}

// Every documented answer of the ingest API is produced by the real server
// (Kafka, registry, HTTP) and matches the document, and every request the
// test means as valid is valid by the document.
func TestOpenAPIIngestAnswersMatchTheDocument(t *testing.T) {
	const key = "0123456789abcdef0123"
	dataDir := t.TempDir()
	broker, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: dataDir}, zap.NewNop())
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(broker.Close)
	h := newHarnessOn(t, broker.Addrs(), func(c *config.Ingest) {
		c.APIKeys = []string{"pos:" + key}
		c.MaxBodyBytes = 4096
		c.MaxItems = 3
		c.ProduceTimeout = time.Second // the 503 below answers within a second
	})
	c := newContract(t, schemas.OpenAPIIngest)
	auth := bearer(key)
	g := newGenerator(41)
	post := func(channel, contentType string, body []byte, header http.Header, wantValid bool, wantStatus int) response {
		t.Helper()
		return c.exchange(h.client, http.MethodPost, h.url("/v1/"+channel+"/events"), contentType, body, header, wantValid, wantStatus)
	}
	get := func(path string, wantStatus int) response {
		t.Helper()
		return c.exchange(h.client, http.MethodGet, h.url(path), "", nil, nil, true, wantStatus)
	}

	// 202: one object, an array with a rejected item, NDJSON with a bad line.
	if res := post("store", jsonType, g.next(t, "store", "oa-").Raw, auth, true, http.StatusAccepted).result(t); res.Accepted != 1 || res.Rejected != 0 {
		t.Errorf("one object: %+v", res)
	}
	badEmail := []byte(`{"event_id":"oa-bad","type":"login","timestamp":"2026-11-02T10:00:00Z","identifiers":{"email":"no-at-sign"}}`)
	res := post("web", jsonType, arrayBody(g.next(t, "web", "oa-").Raw, badEmail), auth, true, http.StatusAccepted).result(t)
	if res.Accepted != 1 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Index != 1 || res.Errors[0].Code != "invalid_email" || res.Errors[0].Field != "identifiers.email" {
		t.Errorf("array with a bad email: %+v", res)
	}
	nd := ndjsonBody(g.next(t, "phone", "oa-").Raw, []byte(`{"type":`))
	res = post("phone", ndjsonType, nd, auth, true, http.StatusAccepted).result(t)
	if res.Accepted != 1 || res.Rejected != 1 || res.Errors[0].Code != "invalid_json" {
		t.Errorf("NDJSON with a bad line: %+v", res)
	}
	checkNDJSONLines(t, c.doc, nd, []bool{true, false})
	// A retry of the same events: acknowledged as duplicates.
	dup := g.next(t, "app", "oa-dup-").Raw
	post("app", jsonType, dup, auth, true, http.StatusAccepted)
	if res := post("app", jsonType, dup, auth, true, http.StatusAccepted).result(t); res.Accepted != 1 || res.Duplicates != 1 {
		t.Errorf("resent event: %+v, want accepted 1, duplicates 1", res)
	}

	// 400: a body that is no JSON at all; the document rejects it too.
	if code := post("store", jsonType, []byte("xyz"), auth, false, http.StatusBadRequest).errorCode(t); code != "unparseable_body" {
		t.Errorf("400 code %q", code)
	}
	// 401: keys are configured and none is sent; the document's security is
	// optional (keys are a deployment choice), so the request itself is valid.
	r := post("store", jsonType, g.next(t, "store", "oa-").Raw, nil, true, http.StatusUnauthorized)
	if code := r.errorCode(t); code != "unauthorized" || r.header.Get("WWW-Authenticate") != `Bearer realm="cx360"` {
		t.Errorf("401: code %q, WWW-Authenticate %q", code, r.header.Get("WWW-Authenticate"))
	}
	// 404: a channel name the document allows (a custom channel could have it) but no mapping defines.
	if code := post("fax", jsonType, []byte(`{}`), auth, true, http.StatusNotFound).errorCode(t); code != "unknown_channel" {
		t.Errorf("404 code %q", code)
	}
	// 413: over the 4096-byte limit.
	var big [][]byte
	for len(bytes.Join(big, []byte("\n"))) <= 4096 {
		big = append(big, g.next(t, "web", "oa-big-").Raw)
	}
	if code := post("web", ndjsonType, ndjsonBody(big...), auth, true, http.StatusRequestEntityTooLarge).errorCode(t); code != "body_too_large" {
		t.Errorf("413 code %q", code)
	}
	// 413: over the limit of 3 items, in a body under the byte limit.
	if code := post("web", jsonType, arrayBody(raws(g.batch(t, "web", "oa-many-", 4))...), auth, true, http.StatusRequestEntityTooLarge).errorCode(t); code != "too_many_items" {
		t.Errorf("413 code %q, want too_many_items", code)
	}

	get("/healthz", http.StatusOK)
	get("/readyz", http.StatusOK)
	if r := get("/metrics", http.StatusOK); !strings.Contains(string(r.body), "go_goroutines") {
		t.Errorf("/metrics has no go_goroutines")
	}
	get("/openapi.json", http.StatusOK)

	// 503 and a failing /readyz: Kafka goes away.
	addr := broker.Addrs()[0]
	broker.Close()
	get("/readyz", http.StatusServiceUnavailable)
	r = post("store", jsonType, g.next(t, "store", "oa-down-").Raw, auth, true, http.StatusServiceUnavailable)
	if code := r.errorCode(t); code != "unavailable" || r.header.Get("Retry-After") != "1" {
		t.Errorf("503: code %q, Retry-After %q", code, r.header.Get("Retry-After"))
	}
	// Kafka comes back, so that shutting ingest down flushes normally.
	restarted, err := embedded.Start(embedded.Config{Addr: addr, DataDir: dataDir}, zap.NewNop())
	if err != nil {
		t.Fatalf("restart broker on %s: %v", addr, err)
	}
	t.Cleanup(restarted.Close)

	// Every documented answer was produced and checked: nothing in the
	// document is untested, and nothing the server said is undocumented.
	seen := make([]string, 0, len(c.seen))
	for s := range c.seen {
		seen = append(seen, s)
	}
	sort.Strings(seen)
	if want := documentedAnswers(c.doc); !slices.Equal(seen, want) {
		t.Errorf("answers exercised\n got %q\nwant %q", seen, want)
	}
}

// checkNDJSONLines validates each line of an NDJSON body against the
// document's EventItem schema (the document describes the body as text).
func checkNDJSONLines(t *testing.T, doc *openapi3.T, body []byte, wantValid []bool) {
	t.Helper()
	schema := doc.Components.Schemas["EventItem"].Value
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	if len(lines) != len(wantValid) {
		t.Fatalf("%d lines, want %d", len(lines), len(wantValid))
	}
	for i, line := range lines {
		var v any
		valid := json.Unmarshal(line, &v) == nil && schema.VisitJSON(v) == nil
		if valid != wantValid[i] {
			t.Errorf("NDJSON line %d %s: valid by EventItem %v, want %v", i, line, valid, wantValid[i])
		}
	}
}

// The InputEvent schema and the server agree on items: what the schema
// rejects, the server rejects; what the schema accepts, the server accepts,
// except for the rules JSON Schema cannot state (listed with schemaValid true
// and a rejection code).
func TestOpenAPIInputEventSchemaAgreesWithTheServer(t *testing.T) {
	h := newHarness(t, nil)
	c := newContract(t, schemas.OpenAPIIngest)
	inputEvent := c.doc.Components.Schemas["InputEvent"].Value
	const ts = `"timestamp":"2026-11-02T10:15:00Z"`
	cases := []struct {
		name, channel, item string
		schemaValid         bool
		wantCode            string // "" for accepted
	}{
		{"design example (store part)", "store", `{"event_id":"e-123","type":"purchase","timestamp":"2026-11-02T10:15:00.123Z","sent_at":"2026-11-02T10:15:01Z",
			"identifiers":{"user_id":"u-9","email":"Ann@Example.com","phone":"+44 20 7946 0958","loyalty_id":"L-77","device_id":"d-1","anonymous_id":"a-1","payment_token":"tok_x"},
			"properties":{"any":"string","n":1.5,"b":true,"gone":null},"store":{"store_id":"S-12","register_id":"R-3","staff_id":"st-5"},
			"order":{"order_id":"o-1","total":42.5,"currency":"gbp","items":[{"sku":"A1","quantity":2,"price":21.25}]},
			"survey":{"kind":"csat","score":4,"scale_max":5,"comment":"ok","about_event_id":"e-100"}}`, true, ""},
		{"web with epoch milliseconds", "web", `{"type":"page_view","timestamp":1793614500123,"identifiers":{"anonymous_id":"a-1"},"web":{"url":"https://x.example/","session_id":"s"}}`, true, ""},
		{"app block", "app", `{"type":"screen_view",` + ts + `,"identifiers":{"device_id":"d-1"},"app":{"platform":"ios","app_version":"5.2.0","screen":"cart","session_id":"s"}}`, true, ""},
		{"call with an outcome outside the known list", "phone", `{"type":"call",` + ts + `,"identifiers":{"phone":"+44 20 7946 0958"},"call":{"call_id":"c-1","direction":"inbound","queue":"q","wait_seconds":45,"handle_seconds":300,"outcome":"voicemail","agent_id":"a","reason":"r"}}`, true, ""},
		{"custom identifier type, numeric value", "store", `{"type":"visit",` + ts + `,"identifiers":{"crm_id":12345}}`, true, ""},
		{"unknown field", "store", `{"type":"visit",` + ts + `,"identifiers":{"user_id":"u"},"colour":"red"}`, false, "unknown_field"},
		{"no type", "store", `{` + ts + `,"identifiers":{"user_id":"u"}}`, false, "missing_type"},
		{"bad type", "store", `{"type":"!visit",` + ts + `,"identifiers":{"user_id":"u"}}`, false, "invalid_type"},
		{"no timestamp", "store", `{"type":"visit","identifiers":{"user_id":"u"}}`, false, "missing_timestamp"},
		{"epoch seconds", "store", `{"type":"visit","timestamp":1793614500,"identifiers":{"user_id":"u"}}`, false, "invalid_timestamp"},
		{"no identifiers", "store", `{"type":"visit",` + ts + `,"identifiers":{}}`, false, "missing_identifier"},
		{"identifier of a wrong JSON type", "store", `{"type":"visit",` + ts + `,"identifiers":{"user_id":true}}`, false, "invalid_identifier"},
		{"object property", "store", `{"type":"visit",` + ts + `,"identifiers":{"user_id":"u"},"properties":{"o":{"a":1}}}`, false, "invalid_property"},
		{"survey kind", "store", `{"type":"survey",` + ts + `,"identifiers":{"user_id":"u"},"survey":{"kind":"stars","score":4}}`, false, "invalid_survey"},
		{"survey without score", "store", `{"type":"survey",` + ts + `,"identifiers":{"user_id":"u"},"survey":{"kind":"nps"}}`, false, "invalid_survey"},
		{"order item without sku", "store", `{"type":"purchase",` + ts + `,"identifiers":{"user_id":"u"},"order":{"items":[{"quantity":1}]}}`, false, "invalid_order"},
		{"two-letter currency", "store", `{"type":"purchase",` + ts + `,"identifiers":{"user_id":"u"},"order":{"currency":"GB"}}`, false, "invalid_order"},
		{"event id over 256 bytes", "store", `{"event_id":"` + strings.Repeat("x", 257) + `","type":"visit",` + ts + `,"identifiers":{"user_id":"u"}}`, false, "invalid_event_id"},
		{"not an object", "store", `42`, false, "not_an_object"},
		// Rules the schema cannot state: the server is stricter than the document.
		{"only empty identifiers", "store", `{"type":"visit",` + ts + `,"identifiers":{"email":""}}`, true, "missing_identifier"},
		{"email without @", "store", `{"type":"visit",` + ts + `,"identifiers":{"email":"nobody"}}`, true, "invalid_email"},
		{"upper-case identifier type", "store", `{"type":"visit",` + ts + `,"identifiers":{"CRM":"x"}}`, true, "invalid_identifier"},
		{"web block on the store channel", "store", `{"type":"visit",` + ts + `,"identifiers":{"user_id":"u"},"web":{"url":"u"}}`, true, "block_not_allowed"},
		{"score above its scale", "store", `{"type":"survey",` + ts + `,"identifiers":{"user_id":"u"},"survey":{"kind":"csat","score":9}}`, true, "invalid_survey"},
		{"a year in the future", "store", `{"type":"visit","timestamp":"` + time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339) + `","identifiers":{"user_id":"u"}}`, true, "timestamp_in_future"},
	}
	accepted, rejected := 0, 0
	for _, tc := range cases {
		var v any
		if err := json.Unmarshal([]byte(tc.item), &v); err != nil {
			t.Fatalf("%s: test item is not JSON: %v", tc.name, err)
		}
		err := inputEvent.VisitJSON(v)
		if (err == nil) != tc.schemaValid {
			t.Errorf("%s: valid by InputEvent %v, want %v (%v)", tc.name, err == nil, tc.schemaValid, err)
		}
		// Each item is sent in an array: a bare 42 would be a 400 (not a
		// batch), and the request schema accepts any object for custom channels.
		body := []byte("[" + tc.item + "]")
		res := c.exchange(h.client, http.MethodPost, h.url("/v1/"+tc.channel+"/events"), jsonType, body, nil, tc.item != "42", http.StatusAccepted).result(t)
		var got string
		if res.Rejected == 1 && len(res.Errors) == 1 {
			got = res.Errors[0].Code
			rejected++
		} else if res.Accepted == 1 {
			accepted++
		}
		if got != tc.wantCode || res.Accepted+res.Rejected != 1 {
			t.Errorf("%s: server answered %+v, want code %q", tc.name, res, tc.wantCode)
		}
	}
	if evs := h.readEvents(accepted); len(evs) != accepted {
		t.Errorf("%d events on %s, want %d", len(evs), eventsTopic, accepted)
	}
	if dls := h.readDeadLetters(rejected); len(dls) != rejected {
		t.Errorf("%d dead letters, want %d", len(dls), rejected)
	}
}

// The rejection codes in the document are exactly the item codes declared in
// pkg/event, pkg/normalize and pkg/mapping (read from their source, so a new
// code fails here until it is documented), and the request-level codes are
// documented on the error answers.
func TestOpenAPIRejectionCodesAreTheDeclaredOnes(t *testing.T) {
	c := newContract(t, schemas.OpenAPIIngest)
	declared := map[string]bool{}
	for _, dir := range []string{"../event", "../normalize", "../mapping"} {
		for code := range codeConstants(t, dir) {
			declared[code] = true
		}
	}
	requestLevel := []string{"unparseable_body", "unknown_channel"}
	notRejections := []string{"duplicate"} // counted in "duplicates", never an error entry
	var itemCodes []string
	for code := range declared {
		if !slices.Contains(requestLevel, code) && !slices.Contains(notRejections, code) {
			itemCodes = append(itemCodes, code)
		}
	}
	sort.Strings(itemCodes)
	if len(itemCodes) < 15 {
		t.Fatalf("found only %d codes in the source: %q", len(itemCodes), itemCodes)
	}
	compareSets(t, "item rejection codes", "pkg/event, pkg/normalize and pkg/mapping", itemCodes, enumOf(c.doc.Components.Schemas["RejectionCode"].Value))
	errorCodes := enumOf(c.doc.Components.Schemas["Error"].Value.Properties["code"].Value)
	for _, code := range requestLevel {
		if !slices.Contains(errorCodes, code) {
			t.Errorf("request-level code %q is not among the documented error codes %q", code, errorCodes)
		}
	}
}

func enumOf(s *openapi3.Schema) []string {
	out := make([]string, 0, len(s.Enum))
	for _, v := range s.Enum {
		out = append(out, fmt.Sprint(v))
	}
	sort.Strings(out)
	return out
}

// codeConstants returns the string values of the constants named Code* in
// the non-test Go files of dir.
func codeConstants(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", file, err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatalf("%s: %s: %v", file, name.Name, err)
					}
					out[v] = true
				}
			}
		}
	}
	return out
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
