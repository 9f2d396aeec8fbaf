package stage_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry/registrytest"
)

// TestStandbyForwardsToTheActive: a standby answers every profile-API
// request with the active instance's answer, so an erasure made through
// either instance is seen through both at once; and a standby joining does
// not interrupt the active instance's API. Before, a standby answered reads
// from its own last snapshot, which could still hold an erased customer.
func TestStandbyForwardsToTheActive(t *testing.T) {
	brokers := kafkatest.NewBroker(t)
	reg := registrytest.Start(t)
	in := ingestService(t, brokers, reg.URL())
	active := identityService(t, brokers, reg.URL())
	waitElected(t, active)
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	call := func(method, url string, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		return res.StatusCode, string(b)
	}

	res, err := client.Post("http://"+in.Addr()+"/v1/web/events", "application/x-ndjson",
		strings.NewReader(`{"event_id":"f1","type":"login","timestamp":"2026-11-02T09:05:00Z","identifiers":{"anonymous_id":"anon-f","email":"fay@example.com"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var accepted ingest.Result
	if err := json.NewDecoder(res.Body).Decode(&accepted); err != nil || res.StatusCode != http.StatusAccepted || accepted.Accepted != 1 {
		t.Fatalf("ingest: %d %+v %v", res.StatusCode, accepted, err)
	}
	res.Body.Close()
	lookup := "/v1/customers/lookup?type=email&value=fay@example.com"
	var fay apiProfile
	poll(t, "the customer resolved", func() bool { return plainGet(t, client, "http://"+active.Addr()+lookup, &fay) == http.StatusOK })

	// A standby joins: the group rebalances, and the active instance ends its
	// term and starts the next (a second epoch claim). Its API answers
	// throughout: nobody else held the lease in between. (That holds when
	// the term ends with nothing in flight, as here once the customer's
	// profile is out: a batch or profiles still being produced when the
	// generation ends leave the next term to reload and catch up.)
	kafkatest.ReadN(t, brokers, "cx.customers", 1, 30*time.Second)
	stopWatching := watchAnswers(client, "http://"+active.Addr()+lookup, 10*time.Millisecond)
	standby := identityService(t, brokers, reg.URL())
	claims := kafkatest.ReadN(t, brokers, "cx.identity.lease", 2, 30*time.Second)
	waitElected(t, active)
	seen := stopWatching()
	for _, c := range claims {
		if string(c.Value) != "http://"+active.Addr() {
			t.Fatalf("epoch claims %q, %q: want both by the active instance at http://%s", claims[0].Value, claims[1].Value, active.Addr())
		}
	}
	if len(seen) != 1 || seen["200 "] == 0 {
		t.Errorf("while a standby joined, the active instance answered %v; want only 200", seen)
	}
	if standby.Stage().Active() {
		t.Fatal("the second instance took the lease; want it on standby")
	}

	// Reads through the standby are the active instance's answers.
	for _, path := range []string{lookup, "/v1/customers/" + fay.CustomerID} {
		code, body := call(http.MethodGet, "http://"+standby.Addr()+path, nil)
		var got apiProfile
		if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil || got.CustomerID != fay.CustomerID {
			t.Fatalf("GET %s on the standby: %d %s", path, code, body)
		}
	}
	// An erasure sent to the standby is made by the active instance, and
	// neither instance shows the customer after.
	code, body := call(http.MethodDelete, "http://"+standby.Addr()+"/v1/customers/"+fay.CustomerID, nil)
	if code != http.StatusOK || !strings.Contains(body, `"kind":"erase"`) {
		t.Fatalf("DELETE on the standby: %d %s", code, body)
	}
	for _, svc := range []string{active.Addr(), standby.Addr()} {
		for _, path := range []string{lookup, "/v1/customers/" + fay.CustomerID} {
			if code, body := call(http.MethodGet, "http://"+svc+path, nil); code != http.StatusNotFound {
				t.Errorf("GET %s on %s after the erasure: %d %s", path, svc, code, body)
			}
		}
	}
	// A request another standby forwarded is not forwarded again.
	code, body = call(http.MethodGet, "http://"+standby.Addr()+lookup, http.Header{"Cx360-Forwarded-By": {"http://127.0.0.1:9"}})
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"standby"`) {
		t.Errorf("a forwarded request on the standby: %d %s", code, body)
	}
}

// watchAnswers GETs url every interval until the returned stop is called,
// which returns how often each answer came: "status code" (the code of an
// error body, empty for a profile), or the request's error.
func watchAnswers(client *http.Client, url string, interval time.Duration) (stop func() map[string]int) {
	var watching sync.WaitGroup
	done := make(chan struct{})
	seen := map[string]int{}
	watching.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
			res, err := client.Get(url)
			if err != nil {
				seen[err.Error()]++
				continue
			}
			var e struct{ Code string }
			_ = json.NewDecoder(res.Body).Decode(&e) // a profile has no code
			res.Body.Close()
			seen[fmt.Sprint(res.StatusCode, " ", e.Code)]++
		}
	})
	return func() map[string]int {
		close(done)
		watching.Wait()
		return seen
	}
}
