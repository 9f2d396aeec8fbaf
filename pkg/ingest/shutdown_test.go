package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/kafka/embedded"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

// topicRecordCount is the number of records on topic: the sum over its
// partitions of last minus first offset.
func topicRecordCount(t testing.TB, brokers []string, topic string) int {
	t.Helper()
	ctx := testContext(t, 10*time.Second)
	transport := &kafkago.Transport{ClientID: "cx360-ingest-test"}
	defer transport.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: transport}
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("metadata of %s: %v %+v", topic, err, md)
	}
	var reqs []kafkago.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID))
	}
	res, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	n := 0
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("list offsets of %s/%d: %v", topic, p.Partition, p.Error)
		}
		n += int(p.LastOffset - p.FirstOffset)
	}
	return n
}

// loadClient is one client posting NDJSON batches of unique events until an
// answer is not 202 or the connection fails.
type loadClient struct {
	template []byte   // a batch whose event ids contain batchMarker
	ids      []string // the template's event ids
	accepted []string // ids of batches answered 202
	unsure   []string // ids of the batch whose answer was not 202 or was lost
	lastErr  string
	lastOK   time.Time // when the last 202 arrived
}

const batchMarker = "BATCH"

func (c *loadClient) run(h *harness, client *http.Client, progress chan<- struct{}) {
	for b := 0; ; b++ {
		num := fmt.Sprintf("%05d", b)
		body := bytes.ReplaceAll(c.template, []byte(batchMarker), []byte(num))
		ids := make([]string, len(c.ids))
		for i, id := range c.ids {
			ids[i] = strings.Replace(id, batchMarker, num, 1)
		}
		res, err := client.Post(h.url("/v1/web/events"), ndjsonType, bytes.NewReader(body))
		if err != nil {
			c.unsure, c.lastErr = ids, err.Error()
			return
		}
		status := res.StatusCode
		_ = res.Body.Close() // the status is what matters
		if status != http.StatusAccepted {
			c.unsure, c.lastErr = ids, fmt.Sprintf("status %d", status)
			return
		}
		c.accepted = append(c.accepted, ids...)
		c.lastOK = time.Now()
		select {
		case progress <- struct{}{}:
		default:
		}
	}
}

// Shutting down while eight clients post loses nothing answered 202: every
// such event is on cx.events, and nothing else is there but events whose
// answer was not 202.
func TestShutdownUnderLoadLosesNothingAcknowledged(t *testing.T) {
	h := newHarness(t, nil)
	const clients, batchSize = 8, 100

	load := make([]*loadClient, clients)
	for c := range load {
		g := newGenerator(uint64(100 + c))
		evs := g.batch(t, "web", fmt.Sprintf("load-%d-%s-", c, batchMarker), batchSize)
		lc := &loadClient{template: ndjsonBody(raws(evs)...)}
		for _, e := range evs {
			lc.ids = append(lc.ids, e.In.EventID)
		}
		load[c] = lc
	}

	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 20 * time.Second}
	progress := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, lc := range load {
		wg.Go(func() { lc.run(h, client, progress) })
	}

	// Shut down once the clients are well under way (at least 300 ms and
	// 16 acknowledged batches), while they keep posting.
	start := time.Now()
	deadline := time.After(15 * time.Second)
	for n := 0; n < 2*clients || time.Since(start) < 300*time.Millisecond; {
		select {
		case <-progress:
			n++
		case <-deadline:
			t.Fatalf("clients acknowledged only %d batches in 15 s", n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutStart := time.Now()
	if err := h.svc.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown under load: %v", err)
	}
	t.Logf("shutdown took %v", time.Since(shutStart))
	wg.Wait()

	accepted := map[string]bool{}
	answeredDuringShutdown := 0
	unsure := map[string]bool{}
	for c, lc := range load {
		for _, id := range lc.accepted {
			accepted[id] = true
		}
		if lc.lastOK.After(shutStart) {
			answeredDuringShutdown++
		}
		for _, id := range lc.unsure {
			unsure[id] = true
		}
		t.Logf("client %d: %d batches acknowledged, stopped on %s", c, len(lc.accepted)/batchSize, lc.lastErr)
	}
	if answeredDuringShutdown == 0 {
		t.Errorf("no request was answered after shutdown began: the test did not shut down under load")
	}
	if len(accepted) < 2*clients*batchSize {
		t.Fatalf("only %d events acknowledged before shutdown", len(accepted))
	}

	// The broker is still up: read everything on the topic.
	n := topicRecordCount(t, h.brokers, eventsTopic)
	msgs := kafkatest.ReadN(t, h.brokers, eventsTopic, n, 30*time.Second)
	onTopic := map[string]bool{}
	for _, m := range msgs {
		id := h.wire.event(m).EventID
		onTopic[id] = true
		if !accepted[id] && !unsure[id] {
			t.Errorf("event %s is on the topic but was never sent", id)
		}
	}
	lost := 0
	for id := range accepted {
		if !onTopic[id] {
			lost++
			if lost <= 5 {
				t.Errorf("event %s was answered 202 but is not on %s", id, eventsTopic)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged events lost", lost, len(accepted))
	}
	t.Logf("%d acknowledged, %d unsure, %d records on the topic; %d clients answered 202 after shutdown began",
		len(accepted), len(unsure), len(msgs), answeredDuringShutdown)
}

// With Kafka gone, a request is answered 503 with Retry-After, in time for a
// client that waits a few seconds, and nothing of it counts as produced: once
// Kafka is back, the client's retry is produced (not taken for a duplicate).
func TestKafkaUnavailableAnswers503AndRetrySucceeds(t *testing.T) {
	dataDir := t.TempDir()
	broker, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: dataDir}, zap.NewNop())
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(broker.Close)
	addr := broker.Addrs()[0]
	// Requests give up on Kafka after 1 s, below the client's patience of 3 s.
	h := newHarnessOn(t, broker.Addrs(), func(c *config.Ingest) { c.ProduceTimeout = time.Second })
	g := newGenerator(11)

	if res := h.post("store", jsonType, g.next(t, "store", "up-").Raw, nil).result(t); res.Accepted != 1 {
		t.Fatalf("with Kafka up: %+v", res)
	}
	broker.Close()

	r := h.get("/readyz")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"schema_registry":"ok"`) || strings.Contains(string(r.body), `"kafka":"ok"`) {
		t.Errorf("/readyz with Kafka down: status %d body %s; want 503, kafka failing, registry ok", r.status, r.body)
	}

	retried := g.next(t, "store", "down-")
	impatient := &http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	res, err := impatient.Post(h.url("/v1/store/events"), jsonType, bytes.NewReader(retried.Raw))
	took := time.Since(start)
	switch {
	case err != nil:
		t.Errorf("with Kafka down, no answer within the client's 3 s (after %v): %v; want 503 with Retry-After", took.Round(time.Millisecond), err)
	default:
		_ = res.Body.Close() // only the status and headers matter
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("with Kafka down: status %d Retry-After %q after %v; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"), took)
		}
	}

	// Kafka comes back on the same address with its data.
	restarted, err := embedded.Start(embedded.Config{Addr: addr, DataDir: dataDir}, zap.NewNop())
	if err != nil {
		t.Fatalf("restart broker on %s: %v", addr, err)
	}
	t.Cleanup(restarted.Close)
	resp := h.post("store", jsonType, retried.Raw, nil)
	if got := resp.result(t); got.Accepted != 1 || got.Duplicates != 0 {
		t.Errorf("retry once Kafka is back: %+v, want accepted 1, duplicates 0 (the failed attempt must not count as produced)", got)
	}
	// At least once: the abandoned attempt may still have been written late.
	n := topicRecordCount(t, h.brokers, eventsTopic)
	found := false
	for _, m := range kafkatest.ReadN(t, h.brokers, eventsTopic, n, readTimeout) {
		found = found || h.wire.event(m).EventID == retried.In.EventID
	}
	if !found || n < 2 {
		t.Errorf("retried event %s on %s: %v (%d records); want it there after the first event", retried.In.EventID, eventsTopic, found, n)
	}
}
