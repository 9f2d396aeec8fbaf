package realdata

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/importer"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/mapping"
	"github.com/cx360/cx360/pkg/marts"
	"github.com/cx360/cx360/schemas"
)

// pipeline is the whole of cx360 on this machine: the embedded broker and
// registry, ingest, identity, a real ClickHouse server and the sink (the dev
// stack), plus an import-stage ingest that reads files through the shipped
// mappings, as `cx360 import --mapping` does.
type pipeline struct {
	stack    *devstack.Stack
	proc     *ingest.Processor
	ch       *clickhouse.Client
	mappings map[string]*mapping.Mapping
}

func startPipeline(t testing.TB) *pipeline {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ic := devstacktest.Ingest(t)
	logger := devstacktest.Logger(t, zap.WarnLevel, 60)
	stack := devstacktest.Start(t, devstack.Config{Ingest: ic, ClickHouse: true,
		Identity: config.Identity{SnapshotInterval: time.Second, ProfileInterval: time.Second}}, nil, logger)
	ep := stack.Endpoints()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The importer's own ingest, with the shipped mappings: the path of
	// `cx360 import --mapping schemas/mappings/<name>.yaml`.
	ic.Kafka.Brokers = []string{ep.Kafka}
	ic.Registry.URL = ep.Registry
	ic.MappingsDir = filepath.Join(root, "schemas", "mappings")
	svc, err := ingest.NewService(ctx, ic, "import", nil, logger.Named("import"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	maps, err := mapping.LoadDir(ic.MappingsDir)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{stack: stack, proc: svc.Processor(), mappings: map[string]*mapping.Mapping{}}
	for _, m := range maps {
		p.mappings[m.Channel] = m
	}
	if p.ch, err = clickhouse.Open(ctx, clickhouse.Options{Addr: ep.ClickHouse}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.ch.Close() })
	return p
}

// importFile runs one file through the channel's mapping, as cx360 import does.
func (p *pipeline) importFile(t testing.TB, channel, path string) importer.Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format, err := importer.FormatFor(path)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := importer.Run(context.Background(), p.proc, f, importer.Options{Channel: channel, Format: format, Mapping: p.mappings[channel]})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// waitLanded waits until ClickHouse holds want distinct events of each channel.
func (p *pipeline) waitLanded(t testing.TB, want map[string]int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]int{}
		rows, err := p.ch.Query(context.Background(), "SELECT channel, toInt64(uniqExact(event_id)) FROM cx360.journey_events GROUP BY channel")
		if err == nil {
			for rows.Next() {
				var c string
				var n int64
				if err = rows.Scan(&c, &n); err != nil {
					break
				}
				got[c] = int(n)
			}
			rows.Close()
		}
		done := err == nil
		for c, n := range want {
			done = done && got[c] == n
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s ClickHouse holds %v events per channel, want %v (%v)", timeout, got, want, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query runs a shipped query (schemas/clickhouse/queries) and returns its
// rendered answer.
func (p *pipeline) query(t testing.TB, name string, params map[string]string) ([]string, [][]string) {
	t.Helper()
	queries, err := schemas.Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		if q.Name != name {
			continue
		}
		sql, err := q.Bind(params)
		if err != nil {
			t.Fatal(err)
		}
		return p.sql(t, sql)
	}
	t.Fatalf("no query %s", name)
	return nil, nil
}

func (p *pipeline) sql(t testing.TB, sql string) ([]string, [][]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rows, err := p.ch.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	cols, values, err := marts.Render(rows)
	if err != nil {
		t.Fatal(err)
	}
	return cols, values
}

// byColumn turns rows into maps keyed by column name.
func byColumn(cols []string, rows [][]string) []map[string]string {
	out := make([]map[string]string, len(rows))
	for i, r := range rows {
		out[i] = map[string]string{}
		for j, c := range cols {
			out[i][c] = r[j]
		}
	}
	return out
}

func optNum(f *float64) string {
	if f == nil {
		return "NULL"
	}
	return Num(*f)
}

// money reports whether ClickHouse's rounded float sum got equals the exact
// amount rounded to cents. Float sums in any order are within a micro-unit of
// the exact one, so only an exact half cent may round either way.
func money(got string, exact Milli) bool {
	if got == Num(Round2(exact.Float())) {
		return true
	}
	f, err := strconv.ParseFloat(got, 64)
	return err == nil && abs(exact)%10 == 5 && math.Abs(f-exact.Float()) <= 0.005+1e-6
}

// TestRealPipelineFigures imports both datasets in full through the whole
// pipeline and checks every figure of the issue against its computation from
// the raw files: distinct customers, revenue and returns per month, RFM
// segments, and the contact centre's abandonment, speed of answer, handle
// time, repeat callers and calls by hour, plus the answer times of calls
// that crossed midnight.
func TestRealPipelineFigures(t *testing.T) {
	dir := dataDir(t)
	retailRows, err := ReadRetail(filepath.Join(dir, OnlineRetailFile))
	if err != nil {
		t.Fatal(err)
	}
	retail, err := ImportRetail(retailRows)
	if err != nil {
		t.Fatal(err)
	}
	callRows, err := ReadCalls(filepath.Join(dir, BankCallsFile))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := ImportCalls(callRows)
	if err != nil {
		t.Fatal(err)
	}

	p := startPipeline(t)
	start := time.Now()
	bank := p.importFile(t, "bank-calls", filepath.Join(dir, BankCallsFile))
	shop := p.importFile(t, "online-retail", filepath.Join(dir, OnlineRetailFile))
	imported := time.Since(start)
	p.waitLanded(t, map[string]int{"bank-calls": len(calls.Calls), "online-retail": len(retail.Invoices)}, 5*time.Minute)
	t.Logf("imported %d + %d rows in %s; all %d events in ClickHouse after %s",
		bank.Rows, shop.Rows, imported.Round(time.Millisecond), len(calls.Calls)+len(retail.Invoices), time.Since(start).Round(time.Millisecond))

	t.Run("import summaries", func(t *testing.T) {
		rejectedRetail := retail.BadDebtRows + retail.StockRows
		if shop.Rows != retail.Rows || shop.Accepted != len(retail.Invoices) || shop.Rejected != rejectedRetail || shop.Duplicates != 0 ||
			shop.DuplicateRows != retail.DuplicateRows || shop.Read != len(retail.Invoices)+rejectedRetail ||
			shop.Codes[mapping.CodeRejectedByRule] != rejectedRetail || len(shop.Codes) != 1 ||
			shop.Reasons["stock adjustment (price 0 and no customer), not a sale"] != retail.StockRows ||
			shop.Reasons["bad-debt adjustment (InvoiceNo A...), an accounting entry, not a sale"] != retail.BadDebtRows {
			t.Errorf("online retail summary %+v; want %d rows, %d events, %d + %d rejected, %d duplicate rows",
				shop, retail.Rows, len(retail.Invoices), retail.StockRows, retail.BadDebtRows, retail.DuplicateRows)
		}
		if bank.Rows != calls.Rows || bank.Accepted != len(calls.Calls) || bank.Rejected != calls.Phantom ||
			bank.Reasons["PHANTOM call (the source marks it as not a real call)"] != calls.Phantom || len(bank.Codes) != 1 {
			t.Errorf("bank summary %+v; want %d rows, %d calls, %d PHANTOM rejected", bank, calls.Rows, len(calls.Calls), calls.Phantom)
		}
	})

	t.Run("distinct customers", func(t *testing.T) {
		anonymousWalkIns := 0
		for _, inv := range retail.Invoices {
			if strings.HasPrefix(inv.Customer, "anonymous_id:") {
				anonymousWalkIns++
			}
		}
		cc := calls.RepeatCallers()
		want := map[string][]string{
			"bank-calls":    {strconv.Itoa(len(calls.Calls)), strconv.Itoa(cc.Callers + cc.AnonymousCalls), strconv.Itoa(cc.Callers), strconv.Itoa(cc.AnonymousCalls)},
			"online-retail": {strconv.Itoa(len(retail.Invoices)), strconv.Itoa(retail.IdentifiedCust + anonymousWalkIns), strconv.Itoa(retail.IdentifiedCust), strconv.Itoa(anonymousWalkIns)},
		}
		cols, rows := p.query(t, "customers_by_channel", nil)
		got := map[string][]string{}
		for _, r := range byColumn(cols, rows) {
			got[r["channel"]] = []string{r["events"], r["customers"], r["identified_customers"], r["anonymous_customers"]}
		}
		for ch, w := range want {
			if strings.Join(got[ch], " ") != strings.Join(w, " ") {
				t.Errorf("%s: events, customers, identified, anonymous = %v; computed from the file %v", ch, got[ch], w)
			}
		}
		t.Logf("online retail: %d customers (SOURCE.md: 4,372) and %d anonymous walk-ins; bank: %d identified callers", retail.IdentifiedCust, anonymousWalkIns, cc.Callers)
	})

	t.Run("revenue and returns per month", func(t *testing.T) {
		want := retail.RevenueByMonth()
		cols, rows := p.query(t, "revenue_by_month", nil)
		got := byColumn(cols, rows)
		if len(got) != len(want) {
			t.Fatalf("%d months, want %d: %v", len(got), len(want), rows)
		}
		for i, w := range want {
			g := got[i]
			if g["month"] != w.Month || g["channel"] != "online-retail" || g["purchases"] != strconv.Itoa(w.Purchases) || g["buyers"] != strconv.Itoa(w.Buyers) ||
				g["returns"] != strconv.Itoa(w.Returns) || !money(g["revenue"], w.Revenue) || !money(g["returned"], w.Returned) ||
				!money(g["net_revenue"], w.Revenue-w.Returned) {
				t.Errorf("ClickHouse %v;\n computed %s: purchases %d, buyers %d, revenue %.3f, returns %d, returned %.3f, net %.3f",
					g, w.Month, w.Purchases, w.Buyers, w.Revenue.Float(), w.Returns, w.Returned.Float(), (w.Revenue - w.Returned).Float())
			}
		}
		var revenue, returned Milli
		for _, w := range want {
			revenue += w.Revenue
			returned += w.Returned
		}
		t.Logf("%d months, revenue %.2f, returned %.2f", len(want), revenue.Float(), returned.Float())
	})

	t.Run("RFM segments", func(t *testing.T) {
		const asOf = "2011-12-09"
		day, _ := time.Parse(time.DateOnly, asOf)
		want := retail.RFMAsOf(day)
		keys := p.customerKeys(t, "online-retail")
		cols, rows := p.query(t, "rfm_segments", map[string]string{"as_of": asOf})
		got := byColumn(cols, rows)
		if len(got) != len(want) {
			t.Errorf("%d customers scored, want %d", len(got), len(want))
		}
		segments := map[string]int{}
		bad := 0
		for _, g := range got {
			key := keys[g["customer_id"]]
			w, ok := want[key]
			segments[g["segment"]]++
			if !ok {
				t.Errorf("ClickHouse scores %s (%s), which has no purchase in the file", g["customer_id"], key)
				continue
			}
			if g["last_purchase"] != w.LastPurchase || g["recency_days"] != strconv.Itoa(w.RecencyDays) || g["frequency"] != strconv.Itoa(w.Frequency) ||
				!money(g["monetary"], w.Monetary) || g["r"] != strconv.Itoa(w.R) || g["f"] != strconv.Itoa(w.F) || g["m"] != strconv.Itoa(w.M) ||
				g["rfm"] != fmt.Sprintf("%d%d%d", w.R, w.F, w.M) || g["segment"] != w.Segment {
				if bad++; bad <= 10 {
					t.Errorf("%s: ClickHouse %v; computed %+v (monetary %.3f)", key, g, w, w.Monetary.Float())
				}
			}
		}
		wantSegments := map[string]int{}
		for _, w := range want {
			wantSegments[w.Segment]++
		}
		if fmt.Sprint(segments) != fmt.Sprint(wantSegments) {
			t.Errorf("segments %v, computed %v", segments, wantSegments)
		}
		t.Logf("RFM as of %s, %d customers: %v", asOf, len(want), wantSegments)
	})

	t.Run("contact centre KPIs", func(t *testing.T) {
		want := calls.KPIs()
		cols, rows := p.query(t, "contact_centre_kpis", nil)
		got := byColumn(cols, rows)
		if len(got) != len(want) {
			t.Fatalf("%d day/queue rows, want %d", len(got), len(want))
		}
		var offered, abandoned, answered int
		for i, w := range want {
			g := got[i]
			wantRow := []string{w.Day, w.Queue, strconv.Itoa(w.Offered), strconv.Itoa(w.Answered), strconv.Itoa(w.Abandoned), Num(w.AbandonmentPct),
				optNum(w.ASA), optNum(w.AHT), strconv.Itoa(w.FCR), optNum(w.FCRPct)}
			gotRow := []string{g["day"], g["queue"], g["offered"], g["answered_calls"], g["abandoned_calls"], g["abandonment_pct"],
				g["asa_seconds"], g["aht_seconds"], g["fcr_calls"], g["fcr_pct"]}
			if strings.Join(gotRow, " ") != strings.Join(wantRow, " ") {
				t.Errorf("day, queue, offered, answered, abandoned, abandonment %%, ASA, AHT, FCR, FCR %%:\n ClickHouse %v\n computed   %v", gotRow, wantRow)
			}
			offered += w.Offered
			abandoned += w.Abandoned
			answered += w.Answered
		}
		// The month's headline figures, from the same rows.
		var waitSum, handleSum float64
		handles := 0
		for _, c := range calls.Calls {
			if c.Answered {
				waitSum += c.Wait
				if c.Handle != nil {
					handleSum += *c.Handle
					handles++
				}
			}
		}
		_, total := p.sql(t, `SELECT round(100 * sum(abandoned) / count(), 2), round(sumIf(assumeNotNull(wait_seconds), answered = 1) / sum(answered), 2),
			round(sumIf(assumeNotNull(handle_seconds), answered = 1 AND isNotNull(handle_seconds)) / countIf(answered = 1 AND isNotNull(handle_seconds)), 2)
			FROM cx360.calls WHERE inbound = 1`)
		wantTotal := []string{Num(Round2(float64(100*abandoned) / float64(offered))), Num(Round2(waitSum / float64(answered))), Num(Round2(handleSum / float64(handles)))}
		if strings.Join(total[0], " ") != strings.Join(wantTotal, " ") {
			t.Errorf("month: abandonment %%, ASA, AHT = %v; computed %v", total[0], wantTotal)
		}
		t.Logf("%d calls: abandonment %s%%, ASA %s s, AHT %s s", offered, wantTotal[0], wantTotal[1], wantTotal[2])
	})

	t.Run("repeat callers", func(t *testing.T) {
		w := calls.RepeatCallers()
		cols, rows := p.query(t, "repeat_callers", nil)
		g := byColumn(cols, rows)[0]
		wantRow := []string{strconv.Itoa(w.Callers), strconv.Itoa(w.Repeat), Num(w.RepeatPct), Num(w.CallsPerCaller), strconv.Itoa(w.AnonymousCalls)}
		gotRow := []string{g["callers"], g["repeat_callers"], g["repeat_caller_pct"], g["calls_per_caller"], g["anonymous_calls"]}
		if strings.Join(gotRow, " ") != strings.Join(wantRow, " ") {
			t.Errorf("callers, repeat, %%, calls per caller, anonymous calls = %v; computed %v", gotRow, wantRow)
		}
		t.Logf("repeat callers: %d of %d (%s%%)", w.Repeat, w.Callers, Num(w.RepeatPct))
	})

	t.Run("calls by hour", func(t *testing.T) {
		want := calls.ByHour()
		cols, rows := p.query(t, "calls_by_hour", nil)
		got := byColumn(cols, rows)
		if len(got) != len(want) {
			t.Fatalf("%d hours, want %d", len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			wantRow := []string{strconv.Itoa(w.Hour), strconv.Itoa(w.Offered), strconv.Itoa(w.Answered), strconv.Itoa(w.Abandoned), Num(w.AbandonmentPct), optNum(w.ASA), Num(w.SharePct)}
			gotRow := []string{g["hour"], g["offered"], g["answered_calls"], g["abandoned_calls"], g["abandonment_pct"], g["asa_seconds"], g["share_of_calls_pct"]}
			if strings.Join(gotRow, " ") != strings.Join(wantRow, " ") {
				t.Errorf("hour, offered, answered, abandoned, abandonment %%, ASA, share %%:\n ClickHouse %v\n computed   %v", gotRow, wantRow)
			}
		}
	})

	t.Run("call times across midnight", func(t *testing.T) {
		_, rows := p.sql(t, `SELECT event_id, toString(event_time), property_values[indexOf(property_keys, 'answered_at')]
			FROM cx360.journey WHERE channel = 'bank-calls'`)
		got := map[string][2]string{}
		for _, r := range rows {
			got[r[0]] = [2]string{r[1], r[2]}
		}
		bad, crossed := 0, 0
		for _, c := range calls.Calls {
			want := [2]string{c.Time.Format(time.DateTime), ""}
			if c.AnsweredAt != nil {
				want[1] = c.AnsweredAt.Format(time.RFC3339)
				if c.AnsweredAt.Day() != c.Time.Day() {
					crossed++
				}
			}
			if got[c.EventID] != want {
				if bad++; bad <= 10 {
					t.Errorf("%s: event time and answered_at %v, computed %v", c.EventID, got[c.EventID], want)
				}
			}
		}
		if crossed != calls.Midnight || crossed == 0 {
			t.Errorf("%d calls answered on the day after they came in, want %d", crossed, calls.Midnight)
		}
	})
}

// customerKeys maps each live customer of a channel to its identifier
// ("loyalty_id:17850"), checking that identity resolution kept one identifier
// per customer: the datasets link nothing, so nothing may be merged.
func (p *pipeline) customerKeys(t testing.TB, channel string) map[string]string {
	t.Helper()
	_, rows := p.sql(t, fmt.Sprintf(`SELECT customer_id, groupUniqArray(concat(identifier_types[1], ':', identifier_values[1])) AS ids
		FROM cx360.journey WHERE channel = '%s' GROUP BY customer_id`, channel))
	out := map[string]string{}
	var merged []string
	for _, r := range rows {
		ids := strings.Split(strings.Trim(r[1], "[]"), ",")
		if len(ids) != 1 {
			merged = append(merged, r[0]+"="+r[1])
		}
		out[r[0]] = ids[0]
	}
	if len(merged) > 0 {
		sort.Strings(merged)
		t.Fatalf("customers with several identifiers: %v", merged[:min(5, len(merged))])
	}
	return out
}
