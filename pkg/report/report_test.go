package report_test

import (
	"bytes"
	"context"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/report"
	"github.com/cx360/cx360/pkg/report/reporttest"
	"github.com/cx360/cx360/pkg/sink"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// The sections of the page, in order.
var sections = []string{"overview", "phases", "satisfaction", "contact-centre", "friction", "journey", "identity"}

var generatedAt = time.Date(2024, 7, 1, 8, 0, 0, 0, time.UTC)

// TestReport builds the report on a real ClickHouse (18.16 here) twice: on
// the migrated, empty database, where every section says there is nothing
// yet, and on pkg/marts' fixture with its identity changes, where every chart
// carries the exact numbers worked out by hand in pkg/marts and reporttest.
// Then headless Chromium draws the page (report_chromium_test.go).
func TestReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := chtest.Shared(t)
	c, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := sink.Migrate(ctx, c); err != nil {
		t.Fatal(err)
	}
	opts := report.Options{Now: func() time.Time { return generatedAt }}

	t.Run("empty", func(t *testing.T) {
		r, err := report.Build(ctx, c, opts)
		if err != nil {
			t.Fatal(err)
		}
		wantLines := []string{
			"events:         none yet (send some with `cx360 gen` or the ingest API; the sink writes them to ClickHouse)",
			"identity:       0 merges, 0 splits, 0 links, 0 erasures",
			"satisfaction:   no surveys yet",
			"contact centre: no inbound calls yet",
			"top friction:   no friction yet",
		}
		if got := r.Summary().Lines(); !reflect.DeepEqual(got, wantLines) {
			t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
		}
		page := render(t, r)
		checkSections(t, page)
		for _, want := range []string{"No events yet", "No surveys yet", "No inbound calls yet", "No friction recorded yet",
			"No customer journeys yet", "No identity changes yet"} {
			if !strings.Contains(page, want) {
				t.Errorf("the empty report does not say %q", want)
			}
		}
		if n := len(svgData(page)); n != 0 {
			t.Errorf("the empty report draws %d chart elements with data, want none", n)
		}
		file := filepath.Join(t.TempDir(), "report-empty.html")
		if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		keepArtifacts(t, file)
	})

	if err := reporttest.Load(ctx, c); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := report.Build(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	start = time.Now()
	page := render(t, r)
	t.Logf("built in %v (%v of queries), rendered %d bytes in %v", built, r.QueryTime, len(page), time.Since(start))

	t.Run("summary", func(t *testing.T) {
		if got := r.Summary().Lines(); !reflect.DeepEqual(got, reporttest.SummaryLines) {
			t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(reporttest.SummaryLines, "\n"))
		}
	})

	t.Run("html", func(t *testing.T) { checkFixturePage(t, page) })

	t.Run("asked-for customer", func(t *testing.T) {
		// Any id the customer ever had draws the live customer's journey.
		r, err := report.Build(ctx, c, report.Options{CustomerID: "bob-app", Now: opts.Now})
		if err != nil {
			t.Fatal(err)
		}
		if r.Journey.CustomerID != "cust-bob" || len(r.Journey.Events) != 9 || r.Journey.Picked != "asked for" {
			t.Errorf("journey of bob-app: %s, %d events, %q; want cust-bob, 9, asked for", r.Journey.CustomerID, len(r.Journey.Events), r.Journey.Picked)
		}
		r, err = report.Build(ctx, c, report.Options{CustomerID: "cust-dan", Now: opts.Now})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Journey.Events) != 0 || !strings.Contains(render(t, r), "No customer journeys yet") {
			t.Errorf("an erased customer's journey has %d events, want none and the empty note", len(r.Journey.Events))
		}
	})

	t.Run("chromium", func(t *testing.T) { checkInChromium(t, page) })
}

func render(t *testing.T, r *report.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// Self-contained: nothing is fetched from anywhere.
	for _, bad := range []string{"<script", "<link", "src=", "@import", "url(", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it must need no network and no script", bad)
		}
	}
	return page
}

func checkSections(t *testing.T, page string) {
	t.Helper()
	last := -1
	for _, id := range sections {
		i := strings.Index(page, `<section id="`+id+`"`)
		if i < 0 {
			t.Errorf("section %s is missing", id)
			continue
		}
		if i < last {
			t.Errorf("section %s is out of order", id)
		}
		last = i
	}
}

// datum is an element that carries data: its tag and data-* attributes.
type datum struct{ Tag, Value, Label, Series string }

var (
	dataTag = regexp.MustCompile(`<(rect|circle|div|tr)\b([^>]*\sdata-value="[^"]*"[^>]*)>`)
	attr    = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	svgElem = regexp.MustCompile(`(?s)<svg\b[^>]*>.*?</svg>`)
)

// data lists the elements of s that carry data, in document order.
func data(s string) []datum {
	var out []datum
	for _, m := range dataTag.FindAllStringSubmatch(s, -1) {
		d := datum{Tag: m[1]}
		for _, a := range attr.FindAllStringSubmatch(m[2], -1) {
			v := html.UnescapeString(a[2])
			switch a[1] {
			case "data-value":
				d.Value = v
			case "data-label":
				d.Label = v
			case "data-series":
				d.Series = v
			}
		}
		out = append(out, d)
	}
	return out
}

// svgData lists the SVG elements with data in s.
func svgData(s string) []datum {
	var out []datum
	for _, svg := range svgElem.FindAllString(s, -1) {
		out = append(out, data(svg)...)
	}
	return out
}

// chartData lists the data of the SVG chart with the given id.
func chartData(t *testing.T, page, id string) []datum {
	t.Helper()
	m := regexp.MustCompile(`(?s)<svg\b[^>]*\bid="` + id + `"[^>]*>.*?</svg>`).FindString(page)
	if m == "" {
		t.Fatalf("chart %s is missing", id)
	}
	return data(m)
}

// section returns the inside of one <section>.
func section(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section id="` + id + `"[^>]*>(.*?)</section>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("section %s is missing", id)
	}
	return m[1]
}

func sorted(ds []datum) []datum {
	out := append([]datum(nil), ds...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.Series < b.Series
	})
	return out
}

func sameData(t *testing.T, what string, got, want []datum) {
	t.Helper()
	if !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Errorf("%s:\n got %v\nwant %v", what, sorted(got), sorted(want))
	}
}

func checkFixturePage(t *testing.T, page string) {
	checkSections(t, page)

	// Journey phases (pkg/marts Expected journey_phases): events by phase and channel.
	sameData(t, "journey phases", chartData(t, page, "chart-phases"), []datum{
		{"rect", "1", "pre_visit", "app"}, {"rect", "6", "pre_visit", "web"},
		{"rect", "8", "visit", "store"}, {"rect", "1", "visit", "web"}, {"rect", "7", "visit", "phone"},
		{"rect", "1", "post_visit", "store"}, {"rect", "9", "post_visit", "web"}, {"rect", "2", "post_visit", "app"},
		{"rect", "1", "post_visit", "phone"},
	})

	// Satisfaction: cx_scores rolled up by channel and phase, weighted by answers.
	//   CSAT phone/visit c6 0 (1); store/visit a4, c7 → 50 (2).
	//   NPS  phone/visit 100 (1), −100 (1), 50 (2) → 100 / 4 = 25; store/visit a6 100.
	//   CES  phone/visit 2 and 4.2 → 3.1; store/post_visit b8 6.
	sameData(t, "satisfaction", chartData(t, page, "chart-satisfaction"), []datum{
		{"rect", "0", "phone/visit", "csat"}, {"rect", "50", "store/visit", "csat"},
		{"rect", "25", "phone/visit", "nps"}, {"rect", "100", "store/visit", "nps"},
		{"rect", "3.1", "phone/visit", "ces"}, {"rect", "6", "store/post_visit", "ces"},
	})

	// Contact centre: the KPI tiles and the calls per day.
	sameData(t, "contact-centre tiles", data(regexp.MustCompile(`(?s)<div class="tiles">.*?</div>\s*</div>\s*(<h3|<p)`).
		FindString(section(t, page, "contact-centre"))), []datum{
		{"div", "7", "", ""}, {"div", "158", "", ""}, {"div", "28.57", "", ""}, {"div", "330", "", ""}, {"div", "80", "", ""},
	})
	sameData(t, "calls per day", chartData(t, page, "chart-calls"), []datum{
		{"rect", "1", "2024-03-04", "answered"}, {"rect", "1", "2024-03-15", "answered"}, {"rect", "1", "2024-03-21", "answered"},
		{"rect", "1", "2024-03-23", "abandoned"}, {"rect", "2", "2024-04-06", "answered"}, {"rect", "1", "2024-04-06", "abandoned"},
	})
	if queues := section(t, page, "contact-centre"); !strings.Contains(queues, "<td>orders</td><td class=\"r\">5</td><td class=\"r\">3</td><td class=\"r\">40%</td><td class=\"r\">163.33 s</td>") ||
		!strings.Contains(queues, "<td>billing</td><td class=\"r\">2</td><td class=\"r\">2</td><td class=\"r\">0%</td><td class=\"r\">150 s</td>") {
		// orders: b4, b5, g4, g5, a7: 2 abandoned of 5; ASA (200 + 2 × 145) / 3 = 163.33.
		// billing: c3, c5: ASA (60 + 240) / 2 = 150.
		t.Errorf("queue table:\n%s", queues)
	}

	// Friction: the rows' scores, and cust-bob's bar in weighted parts.
	fr := data(section(t, page, "friction"))
	var scores []string
	var bob []datum
	for _, d := range fr {
		if d.Tag == "tr" {
			scores = append(scores, d.Value)
		} else if d.Label == "cust-bob" {
			bob = append(bob, d)
		}
	}
	if want := []string{"11", "6", "4", "1"}; !reflect.DeepEqual(scores, want) {
		t.Errorf("friction scores %v, want %v", scores, want)
	}
	sameData(t, "cust-bob's friction", bob, []datum{
		{"rect", "6", "cust-bob", "low_score"}, {"rect", "2", "cust-bob", "abandoned_call"},
		{"rect", "2", "cust-bob", "return"}, {"rect", "1", "cust-bob", "long_wait"},
	})

	// One customer's journey: cust-bob's 9 events in time order, on their lanes;
	// b1 and b2 arrived as bob-web and bob-app and carry the merged ring.
	var got []string
	for _, d := range chartData(t, page, "chart-journey") {
		got = append(got, d.Value+":"+d.Label+"@"+d.Series)
	}
	want := []string{"1:b1@web", "2:b2@app", "3:b3@store", "4:b4@phone", "5:b6@web", "6:b5@phone", "7:b7@store", "8:b8@web", "9:b9@phone"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("journey dots %v, want %v", got, want)
	}
	journey := section(t, page, "journey")
	if n := strings.Count(journey, `class="merged"`); n != 2 {
		t.Errorf("%d merged rings, want 2 (b1, b2)", n)
	}
	if !strings.Contains(journey, "Customer <b>cust-bob</b>: 9 events") {
		t.Errorf("the journey does not name cust-bob")
	}

	// Identity: changes by kind (a redelivered merge counted once), and the
	// latest merges without the erased customer's.
	sameData(t, "identity changes", chartData(t, page, "chart-identity"), []datum{
		{"rect", "3", "merge", "changes"}, {"rect", "1", "split", "changes"},
		{"rect", "2", "link", "changes"}, {"rect", "1", "erase", "changes"},
	})
	merges := regexp.MustCompile(`(?s)<table id="merges-table">.*?</table>`).FindString(section(t, page, "identity"))
	var mergeRows []string
	for _, row := range regexp.MustCompile(`(?s)<tr data-value="(\d+)">(.*?)</tr>`).FindAllStringSubmatch(merges, -1) {
		cells := []string{row[1]}
		for _, cell := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row[2], -1) {
			cells = append(cells, strings.Join(strings.Fields(html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(cell[1], " "))), " "))
		}
		mergeRows = append(mergeRows, strings.Join(cells, " | "))
	}
	wantMerges := []string{
		"1 | 2024-03-20 11:00 | cust-bob | 1 | bob-web | store",
		"1 | 2024-03-10 12:30 | bob-web now part of cust-bob | 1 | bob-app | app",
	}
	if !reflect.DeepEqual(mergeRows, wantMerges) {
		t.Errorf("latest merges:\n%s\nwant:\n%s", strings.Join(mergeRows, "\n"), strings.Join(wantMerges, "\n"))
	}

	// The headline tiles.
	sameData(t, "headline tiles", data(section(t, page, "overview")), []datum{
		{"div", "36", "", ""}, {"div", "6", "", ""}, {"div", "4", "", ""}, {"div", "3", "", ""}, {"div", "33.33", "", ""}, {"div", "40", "", ""},
	})
	for _, want := range []string{"2024-02-10", "2024-06-25", "generated 2024-07-01 08:00 UTC"} {
		if !strings.Contains(section(t, page, "overview")+page[:strings.Index(page, "<main>")], want) {
			t.Errorf("the header does not say %q", want)
		}
	}

	// Every data element has a tooltip.
	for _, svg := range svgElem.FindAllString(page, -1) {
		for _, m := range regexp.MustCompile(`(?s)<(rect|circle)\b[^>]*data-value[^>]*>(.*?)</(rect|circle)>`).FindAllStringSubmatch(svg, -1) {
			if !strings.HasPrefix(m[2], "<title>") {
				t.Errorf("a %s with data has no tooltip: %.120s", m[1], m[0])
			}
		}
	}
}

// keepArtifacts copies a file into $CX360_REPORT_ARTIFACTS, when set, so a
// person (or CI) can look at what the test rendered.
func keepArtifacts(t *testing.T, path string) {
	dir := os.Getenv("CX360_REPORT_ARTIFACTS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kept %s", dst)
}
