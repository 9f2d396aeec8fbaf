package ingest_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/cx360/cx360/pkg/config"
)

func bearer(key string) http.Header {
	return http.Header{"Authorization": {"Bearer " + key}}
}

// With keys configured, only a valid Bearer key is let in; keys rotate at run
// time without a restart; a refused request stores nothing.
func TestAPIKeysAndRotation(t *testing.T) {
	const oldKey, newKey = "0123456789abcdef0123", "fedcba9876543210fedc"
	h := newHarness(t, func(c *config.Ingest) { c.APIKeys = []string{"pos:" + oldKey} })
	g := newGenerator(6)
	accepted := 0
	send := func(header http.Header, wantStatus int) {
		t.Helper()
		ev := g.next(t, "store", "auth-")
		r := h.post("store", jsonType, ev.Raw, header)
		if r.status != wantStatus {
			t.Fatalf("Authorization %q: status %d, want %d; body %s", header.Get("Authorization"), r.status, wantStatus, r.body)
		}
		switch wantStatus {
		case http.StatusAccepted:
			accepted++
		case http.StatusUnauthorized:
			if code := r.errorCode(t); code != "unauthorized" {
				t.Errorf("401 code %q, want unauthorized", code)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without a WWW-Authenticate header")
			}
		}
	}

	send(nil, http.StatusUnauthorized)
	send(bearer("wrong-key-0000000000"), http.StatusUnauthorized)
	send(http.Header{"Authorization": {oldKey}}, http.StatusUnauthorized) // no "Bearer "
	send(http.Header{"Authorization": {"Basic " + oldKey}}, http.StatusUnauthorized)
	send(bearer(oldKey[:len(oldKey)-1]), http.StatusUnauthorized) // a prefix of the key
	send(bearer(oldKey), http.StatusAccepted)

	// An unknown channel is not revealed to a caller without a key.
	if r := h.post("fax", jsonType, []byte(`{}`), nil); r.status != http.StatusUnauthorized {
		t.Errorf("unknown channel without a key: status %d, want 401", r.status)
	}

	h.svc.Keys().Set(map[string]string{newKey: "pos"})
	send(bearer(oldKey), http.StatusUnauthorized)
	send(bearer(newKey), http.StatusAccepted)

	if evs := h.readEvents(accepted); len(evs) != accepted {
		t.Errorf("%d events on %s, want %d", len(evs), eventsTopic, accepted)
	}
	if dl := h.readDeadLetters(0); len(dl) != 0 {
		t.Errorf("%d dead letters from refused requests", len(dl))
	}
}

// A body over the limit is answered 413 and stores nothing.
func TestBodyOverLimitIs413(t *testing.T) {
	h := newHarness(t, func(c *config.Ingest) { c.MaxBodyBytes = 4096 })
	g := newGenerator(7)
	var body []byte
	var n int
	for len(body) < 10<<10 {
		body = append(append(body, g.next(t, "web", "big-").Raw...), '\n')
		n++
	}
	r := h.post("web", ndjsonType, body, nil)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d-byte body (%d events): status %d, want 413; body %s", len(body), n, r.status, r.body)
	}
	if code := r.errorCode(t); code != "body_too_large" {
		t.Errorf("413 code %q, want body_too_large", code)
	}

	// A body just under the limit still goes through.
	small := bytes.Join(raws(g.batch(t, "web", "small-", 3)), []byte("\n"))
	if len(small) > 4096 {
		t.Fatalf("test body of %d bytes is over the limit", len(small))
	}
	if res := h.post("web", ndjsonType, small, nil).result(t); res.Accepted != 3 {
		t.Errorf("small body: %+v, want 3 accepted", res)
	}
	h.readEvents(3)
	h.readDeadLetters(0)
}
