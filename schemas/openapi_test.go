package schemas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cx360/cx360/schemas"
)

// loadOpenAPI loads and validates an embedded document the way clients and
// code generators will: every $ref resolves, every schema is well formed and
// every example matches its schema (kin-openapi checks examples by default).
func loadOpenAPI(t *testing.T, name string) *openapi3.T {
	t.Helper()
	b, err := schemas.OpenAPI(name)
	if err != nil {
		t.Fatalf("OpenAPI(%q): %v", name, err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s: not valid JSON", name)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("%s: loading: %v", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: invalid OpenAPI document: %v", name, err)
	}
	return doc
}

// operations lists "METHOD path" for every operation of doc, sorted.
func operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDocumentsLoadAndValidate(t *testing.T) {
	want := map[string][]string{
		schemas.OpenAPIIngest: {
			"GET /healthz", "GET /metrics", "GET /openapi.json", "GET /readyz",
			"POST /v1/{channel}/events",
		},
		schemas.OpenAPIIdentity: {
			"DELETE /v1/customers/{id}", "GET /healthz", "GET /metrics", "GET /openapi.json", "GET /readyz",
			"GET /v1/customers/lookup", "GET /v1/customers/{id}", "GET /v1/status",
			"POST /v1/customers/{id}/split", "POST /v1/identifiers/{type}/{value}/unlink",
		},
	}
	for name, wantOps := range want {
		t.Run(name, func(t *testing.T) {
			doc := loadOpenAPI(t, name)
			if doc.OpenAPI != "3.0.3" {
				t.Errorf("openapi %q, want 3.0.3", doc.OpenAPI)
			}
			if got := operations(doc); !slices.Equal(got, wantOps) {
				t.Errorf("operations\n got %q\nwant %q", got, wantOps)
			}
			ids := map[string]string{}
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					where := method + " " + path
					if op.OperationID == "" || op.Summary == "" {
						t.Errorf("%s: operationId %q, summary %q; both are required here", where, op.OperationID, op.Summary)
					}
					if prev, dup := ids[op.OperationID]; dup {
						t.Errorf("operationId %q used by %s and %s", op.OperationID, prev, where)
					}
					ids[op.OperationID] = where
					checkResponses(t, where, op)
				}
			}
		})
	}
}

// checkResponses holds every documented answer to the house rules: a JSON
// schema for every answer but /metrics, a code+message error body for every
// error, and Retry-After on every 503 that asks the client to retry.
func checkResponses(t *testing.T, where string, op *openapi3.Operation) {
	t.Helper()
	for code, ref := range op.Responses.Map() {
		status, err := strconv.Atoi(code)
		if err != nil {
			t.Errorf("%s: response %q is not a status code", where, code)
			continue
		}
		res := ref.Value
		if res.Description == nil || *res.Description == "" {
			t.Errorf("%s %d: no description", where, status)
		}
		media := res.Content.Get("application/json")
		if where == "GET /metrics" {
			media = res.Content.Get("text/plain")
		}
		if media == nil || media.Schema == nil {
			t.Errorf("%s %d: no schema for its content", where, status)
			continue
		}
		if status < 400 {
			continue
		}
		if where == "GET /readyz" {
			continue // 503 is the readiness answer itself, not an error body
		}
		s := media.Schema.Value
		if len(s.AllOf) > 0 {
			s = s.AllOf[0].Value
		}
		if !slices.Equal(s.Required, []string{"code", "message"}) {
			t.Errorf("%s %d: error body requires %q, want code and message", where, status, s.Required)
		}
		if status == http.StatusServiceUnavailable && res.Headers["Retry-After"] == nil {
			t.Errorf("%s 503: no Retry-After header", where)
		}
	}
}

// The ingest API is open without keys and takes a Bearer key when keys are
// configured: its security requirement is optional, and only on the events route.
func TestIngestSecurityIsOptionalBearer(t *testing.T) {
	doc := loadOpenAPI(t, schemas.OpenAPIIngest)
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("bearerAuth scheme: %+v", scheme)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil {
				t.Errorf("%s %s: no security requirement (say [] for none)", method, path)
				continue
			}
			reqs := *op.Security
			if path == "/v1/{channel}/events" {
				if len(reqs) != 2 || len(reqs[0]["bearerAuth"]) != 0 || reqs[0]["bearerAuth"] == nil || len(reqs[1]) != 0 {
					t.Errorf("%s %s: security %v, want bearerAuth or nothing", method, path, reqs)
				}
			} else if len(reqs) != 0 {
				t.Errorf("%s %s: security %v, want none", method, path, reqs)
			}
		}
	}
}

func TestOpenAPIUnknownNameAndCopies(t *testing.T) {
	if _, err := schemas.OpenAPI("sink"); err == nil {
		t.Error(`OpenAPI("sink"): no error`)
	}
	a := schemas.MustOpenAPI(schemas.OpenAPIIngest)
	a[0] = 'X'
	if b := schemas.MustOpenAPI(schemas.OpenAPIIngest); b[0] != '{' || bytes.Equal(a, b) {
		t.Error("OpenAPI returned the embedded bytes themselves: a caller's write changed them")
	}
}
