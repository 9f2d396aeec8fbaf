package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/schemas"
)

// These tests run the real identity binary as separate processes and kill
// them with SIGKILL: nothing in-process can fake a crash between a produce and
// a snapshot.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cx360-identity-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "identity")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building identity:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type env struct {
	t        *testing.T
	brokers  []string
	registry string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	brokers := kafkatest.NewBroker(t)
	return &env{t: t, brokers: brokers, registry: registrytest.Start(t).URL()}
}

// produce writes events to cx.events as ingest would (Avro, routing key).
func (e *env) produce(events []*event.Event) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, e.brokers, []kafka.TopicSpec{{Name: "cx.events", Partitions: 3, ReplicationFactor: 1}}); err != nil {
		e.t.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(e.registry))
	codec, err := avro.NewSerde(cl).RegisterTopic(ctx, "cx.events", schemas.Event)
	if err != nil {
		e.t.Fatal(err)
	}
	p := kafka.NewProducer(e.brokers, kafka.WriterConfig{}, zap.NewNop())
	defer p.Close()
	var msgs []kafkago.Message
	for _, ev := range events {
		b, err := codec.Append(nil, ev.Native())
		if err != nil {
			e.t.Fatal(err)
		}
		msgs = append(msgs, kafkago.Message{Topic: "cx.events", Key: []byte(ev.RoutingKey()), Value: b})
	}
	if err := p.Produce(ctx, msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// instance is one identity process.
type instance struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	dataDir string
	logs    *os.File
}

func (e *env) start(dataDir, addr string) *instance {
	e.t.Helper()
	if addr == "" {
		addr = freeAddr(e.t)
	}
	logs, err := os.CreateTemp(e.t.TempDir(), "identity-*.log")
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(binary,
		"--kafka-brokers", strings.Join(e.brokers, ","), "--registry-url", e.registry,
		"--identity-addr", addr, "--identity-admin-addr", "", "--identity-data-dir", dataDir,
		"--identity-batch-size", "50", "--identity-snapshot-interval", "150ms", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	in := &instance{t: e.t, cmd: cmd, addr: addr, dataDir: dataDir, logs: logs}
	e.t.Cleanup(in.kill)
	return in
}

func (in *instance) kill() {
	if in.cmd.ProcessState == nil {
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
		_ = in.cmd.Wait()
	}
}

func (in *instance) status() (active bool, ok bool) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + in.addr + "/v1/status")
	if err != nil {
		return false, false
	}
	defer resp.Body.Close()
	var st struct{ Active bool }
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return false, false
	}
	return st.Active, true
}

func (in *instance) stats() string {
	resp, err := http.Get("http://" + in.addr + "/v1/status")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var st struct{ Graph identity.Stats }
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return fmt.Sprintf("%+v", st.Graph)
}

func (in *instance) lookup(key string) string {
	typ, value, _ := strings.Cut(key, ":")
	resp, err := http.Get("http://" + in.addr + "/v1/customers/lookup?type=" + typ + "&value=" + url.QueryEscape(value))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	var p identity.Profile
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return p.CustomerID
}

func (in *instance) profile(id string) (identity.Profile, int) {
	resp, err := http.Get("http://" + in.addr + "/v1/customers/" + id)
	if err != nil {
		return identity.Profile{}, 0
	}
	defer resp.Body.Close()
	var p identity.Profile
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return p, resp.StatusCode
}

// converged waits until the instance answers every identifier with the
// reference graph's customer and every reference profile with the same
// identifiers and aggregates (no event lost, none counted twice).
func (in *instance) converged(ref *identity.Graph, keys []string, within time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(within)
	var mismatch string
	for time.Now().Before(deadline) {
		mismatch = ""
		for _, k := range keys {
			typ, value, _ := strings.Cut(k, ":")
			want, ok := ref.Lookup(typ, value)
			if !ok {
				continue
			}
			if got := in.lookup(k); got != want.CustomerID {
				mismatch = fmt.Sprintf("%s: customer %q, want %q", k, got, want.CustomerID)
				break
			}
			got, _ := in.profile(want.CustomerID)
			if !sameProfile(got, want) {
				mismatch = fmt.Sprintf("profile %s:\n got %+v\nwant %+v", want.CustomerID, got, want)
				break
			}
		}
		if mismatch == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := os.ReadFile(in.logs.Name())
	in.t.Fatalf("identity did not converge to the uninterrupted graph: %s\nlogs:\n%s", mismatch, tail(string(logs), 3000))
}

func sameProfile(a, b identity.Profile) bool {
	return fmt.Sprint(a.Identifiers) == fmt.Sprint(b.Identifiers) && fmt.Sprint(a.EventCounts) == fmt.Sprint(b.EventCounts) &&
		a.Orders == b.Orders && a.TotalSpend == b.TotalSpend && a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen)
}

// TestKillNineAtAnyMomentEndsInTheUninterruptedGraph kills the identity
// process with SIGKILL at random moments while it works, restarts it on the
// same data dir each time, and requires exactly the graph and profiles of an
// uninterrupted, in-order run.
func TestKillNineAtAnyMomentEndsInTheUninterruptedGraph(t *testing.T) {
	e := newEnv(t)
	events, keys := workload(rand.New(rand.NewPCG(11, 12)), 6000)
	e.produce(events)
	ref := reference(t, events)

	dataDir := t.TempDir()
	addr := freeAddr(t)
	r := rand.New(rand.NewPCG(5, 6))
	for kill := range 3 {
		in := e.start(dataDir, addr)
		waitActive(t, in, 30*time.Second)
		time.Sleep(time.Duration(50+r.IntN(400)) * time.Millisecond) // somewhere mid-batch, mid-snapshot, mid-produce
		t.Logf("kill -9 #%d while the graph holds %s", kill+1, in.stats())
		in.kill()
	}
	in := e.start(dataDir, addr)
	waitActive(t, in, 30*time.Second)
	in.converged(ref, keys, 60*time.Second)
}

// TestStandbyTakesOverWhenTheActiveDies runs two instances: one works, the
// other waits; when the active one is killed, the standby takes over and ends
// in the same graph. The two are never active at once.
func TestStandbyTakesOverWhenTheActiveDies(t *testing.T) {
	e := newEnv(t)
	events, keys := workload(rand.New(rand.NewPCG(21, 22)), 3000)
	e.produce(events)
	ref := reference(t, events)

	a := e.start(t.TempDir(), "")
	b := e.start(t.TempDir(), "")
	var active, standby *instance
	deadline := time.Now().Add(40 * time.Second)
	for active == nil && time.Now().Before(deadline) {
		aa, _ := a.status()
		ba, _ := b.status()
		if aa && ba {
			t.Fatal("both instances active at once")
		}
		switch {
		case aa:
			active, standby = a, b
		case ba:
			active, standby = b, a
		}
		time.Sleep(100 * time.Millisecond)
	}
	if active == nil {
		t.Fatal("no instance became active")
	}
	active.converged(ref, keys, 60*time.Second)
	// The lease stays with the working instance when the other one joins.
	if aa, _ := active.status(); !aa {
		t.Fatal("the lease moved away from the working instance")
	}
	if sa, _ := standby.status(); sa {
		t.Fatal("the standby is active too")
	}

	active.kill()
	waitActive(t, standby, 40*time.Second) // after the dead member's session times out
	standby.converged(ref, keys, 60*time.Second)
}

func waitActive(t *testing.T, in *instance, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if a, _ := in.status(); a {
			return
		}
		if in.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	logs, _ := os.ReadFile(in.logs.Name())
	t.Fatalf("identity did not become active within %v; logs:\n%s", within, tail(string(logs), 3000))
}

// reference applies the events to an in-memory graph in canonical order.
func reference(t *testing.T, events []*event.Event) *identity.Graph {
	t.Helper()
	g, err := identity.NewGraph(identity.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b *event.Event) int {
		if c := a.EventTime.Compare(b.EventTime); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	for _, e := range sorted {
		g.Apply(e)
	}
	return g
}

// workload is a mixed stream: people with several identifiers, logins that
// merge, shared household devices, and out-of-order times.
func workload(r *rand.Rand, n int) ([]*event.Event, []string) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	keys := map[string]bool{}
	var events []*event.Event
	for i := range n {
		person := r.IntN(n / 8)
		ids := []event.Identifier{{Type: "anonymous_id", Value: fmt.Sprintf("a%d-%d", person, r.IntN(4))}}
		if r.IntN(3) == 0 {
			ids = append(ids, event.Identifier{Type: "email", Value: fmt.Sprintf("p%d@example.com", person)})
		}
		if r.IntN(5) == 0 {
			ids = append(ids, event.Identifier{Type: "loyalty_id", Value: fmt.Sprintf("L%d", person)})
		}
		if r.IntN(6) == 0 {
			ids = append(ids, event.Identifier{Type: "device_id", Value: fmt.Sprintf("d%d", person/2)})
		}
		event.SortIdentifiers(ids)
		for _, id := range ids {
			keys[id.Type+":"+id.Value] = true
		}
		total := float64(r.IntN(100))
		e := &event.Event{
			EventID: fmt.Sprintf("e%05d", i), Channel: event.ChannelStore, Type: "purchase",
			EventTime: base.Add(time.Duration(r.IntN(30*24*60)) * time.Minute), ReceivedAt: base.Add(40 * 24 * time.Hour),
			Identifiers: ids, Order: &event.Order{Total: &total},
		}
		e.ClientTime = e.EventTime
		events = append(events, e)
	}
	return events, slices.Sorted(mapsKeys(keys))
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
