package ingest_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// /healthz and /readyz answer on the API address, /readyz checking Kafka and
// the registry for real; /metrics counts what was accepted and rejected.
func TestHealthReadinessAndMetrics(t *testing.T) {
	h := newHarness(t, nil)

	if r := h.get("/healthz"); r.status != http.StatusOK {
		t.Errorf("/healthz: status %d, want 200; body %s", r.status, r.body)
	}
	r := h.get("/readyz")
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(r.body, &ready); err != nil {
		t.Fatalf("/readyz body %q: %v", r.body, err)
	}
	if r.status != http.StatusOK || ready.Status != "ready" || ready.Checks["kafka"] != "ok" || ready.Checks["schema_registry"] != "ok" {
		t.Errorf("/readyz: status %d body %s; want 200, ready, kafka ok, schema_registry ok", r.status, r.body)
	}

	g := newGenerator(9)
	web := g.batch(t, "web", "m-web-", 3)
	app := g.batch(t, "app", "m-app-", 2)
	h.post("web", ndjsonType, ndjsonBody(raws(web)...), nil).result(t)
	h.post("app", jsonType, arrayBody(append(raws(app), []byte(`{"type":"x"}`))...), nil).result(t)
	h.post("app", jsonType, arrayBody(raws(app)...), nil).result(t) // two duplicates
	h.post("web", jsonType, []byte("garbage"), nil)

	m := h.get("/metrics")
	if m.status != http.StatusOK {
		t.Fatalf("/metrics: status %d", m.status)
	}
	text := string(m.body)
	for _, c := range []struct{ name, labels, want string }{
		{"cx360_ingest_events_accepted_total", `channel="web"`, "3"},
		{"cx360_ingest_events_accepted_total", `channel="app"`, "4"},
		{"cx360_ingest_events_duplicate_total", `channel="app"`, "2"},
		{"cx360_ingest_events_rejected_total", `channel="app",code="missing_timestamp"`, "1"},
		{"cx360_ingest_events_rejected_total", `channel="web",code="unparseable_body"`, "1"},
		{"cx360_ingest_dlq_records_total", `channel="app"`, "1"},
		{"cx360_ingest_dlq_records_total", `channel="web"`, "1"},
		{"cx360_ingest_http_requests_total", `status="202"`, "3"},
		{"cx360_ingest_http_requests_total", `status="400"`, "1"},
	} {
		if got := metricValue(t, text, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %s, want %s", c.name, c.labels, got, c.want)
		}
	}
	h.readEvents(5)
	h.readDeadLetters(2)
}
