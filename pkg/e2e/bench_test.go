package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/gen"
)

// BenchmarkPipeline measures the whole pipeline run as four processes, as in
// production (scripts/bench.sh runs it):
//
//   - events/s end to end: a generated retailer sent through ingest as fast
//     as 4 clients go, from the first request until ClickHouse holds every
//     event after FINAL;
//   - freshness: a second retailer sent at a steady ~2k events/s, each event
//     timed from its 202 to the moment it is queryable in ClickHouse (polled
//     every 20 ms), p50 and p99;
//   - peak RSS of each process (VmHWM): ingest, identity, sink, and the
//     infrastructure (kfake broker + registry; ClickHouse separately).
func BenchmarkPipeline(b *testing.B) {
	customers := envInt("CX360_BENCH_CUSTOMERS", 4000)
	for range b.N {
		bin := buildBinaries(b)
		p := newProcesses(b, bin)
		for _, name := range []string{"infra", "ingest", "identity", "sink"} {
			p.start(name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: p.addr("ch")})
		if err != nil {
			b.Fatal(err)
		}

		// Throughput.
		ds, err := gen.Generate(gen.Config{Seed: 1, Customers: customers})
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		if _, err := gen.Send(ctx, ds.Records, gen.SendConfig{URL: "http://" + p.addr("ingest"), Concurrency: 4}); err != nil {
			b.Fatal(err)
		}
		waitFor(ctx, b, ch, "SELECT count() FROM cx360.journey_events FINAL", uint64(ds.Truth.Counts.Events))
		elapsed := time.Since(began)
		b.ReportMetric(float64(ds.Truth.Counts.Events)/elapsed.Seconds(), "events/s")

		// Freshness at a steady rate.
		fresh, err := gen.Generate(gen.Config{Seed: 2, Customers: 1500, Start: gen.DefaultStart.AddDate(0, -2, 0)})
		if err != nil {
			b.Fatal(err)
		}
		p50, p99 := freshness(ctx, b, ch, "http://"+p.addr("ingest"), fresh.Records, 2000)
		b.ReportMetric(p50, "p50-ms")
		b.ReportMetric(p99, "p99-ms")

		for _, name := range []string{"ingest", "identity", "sink", "infra"} {
			b.ReportMetric(peakRSSMB(p.pid(name)), "MB-"+name)
		}
		b.ReportMetric(peakRSSMB(childPID(p.pid("infra"))), "MB-clickhouse")
		ch.Close()
		cancel()
		p.stopAll()
	}
}

// freshness sends records at about rate events/s in NDJSON batches of 50 and
// returns the p50 and p99, in ms, of 202 → queryable in ClickHouse.
func freshness(ctx context.Context, b *testing.B, ch *clickhouse.Client, ingest string, records []gen.Record, rate int) (float64, float64) {
	var ackMu sync.Mutex // guards acked
	acked := map[string]time.Time{}
	done := make(chan struct{})
	var sendErr error
	go func() {
		defer close(done)
		const batch = 50
		tick := time.NewTicker(time.Duration(batch) * time.Second / time.Duration(rate))
		defer tick.Stop()
		byChannel := map[string][]gen.Record{}
		flush := func(channel string) {
			recs := byChannel[channel]
			byChannel[channel] = nil
			var body bytes.Buffer
			for _, r := range recs {
				body.Write(r.Body)
				body.WriteByte('\n')
			}
			resp, err := http.Post(ingest+"/v1/"+channel+"/events", "application/x-ndjson", &body)
			if err != nil {
				sendErr = err
				return
			}
			resp.Body.Close()
			now := time.Now()
			for _, r := range recs {
				if r.EventID != "" && !r.Duplicate {
					ackMu.Lock()
					acked[r.EventID] = now
					ackMu.Unlock()
				}
			}
		}
		for _, r := range records {
			byChannel[r.Channel] = append(byChannel[r.Channel], r)
			if len(byChannel[r.Channel]) == batch {
				<-tick.C
				flush(r.Channel)
			}
		}
		for channel := range byChannel {
			flush(channel)
		}
	}()
	var lat []float64
	seen := map[string]bool{}
	since := time.Now().UnixMilli()
	for {
		select {
		case <-done:
		default:
		}
		time.Sleep(20 * time.Millisecond)
		rows, err := ch.Query(ctx, "SELECT event_id FROM cx360.journey_events WHERE received_ts_ms >= ?", since)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				b.Fatal(err)
			}
			ackMu.Lock()
			at, ok := acked[id]
			ackMu.Unlock()
			if ok && !seen[id] {
				seen[id] = true
				lat = append(lat, float64(now.Sub(at).Microseconds())/1000)
			}
		}
		rows.Close()
		select {
		case <-done:
			ackMu.Lock()
			all := len(seen) == len(acked)
			ackMu.Unlock()
			if all {
				if sendErr != nil {
					b.Fatal(sendErr)
				}
				sort.Float64s(lat)
				return lat[len(lat)/2], lat[len(lat)*99/100]
			}
		default:
		}
		if ctx.Err() != nil {
			b.Fatalf("freshness: %d of %d events seen in ClickHouse", len(seen), len(acked))
		}
	}
}

// pid is a running part's process id.
func (p *processes) pid(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cmd := p.running[name]; cmd != nil {
		return cmd.Process.Pid
	}
	return 0
}

// peakRSSMB reads a process's peak resident set (VmHWM) in MB.
func peakRSSMB(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// childPID is the first child of pid (the infrastructure's ClickHouse
// server), found by the parent id in /proc/*/stat.
func childPID(pid int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			return n
		}
	}
	return 0
}
