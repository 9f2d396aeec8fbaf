package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"c":         coord,
	"num":       num,
	"opt":       optNum,
	"thousands": thousands,
	"day":       day,
	"minute":    minute,
	"phase":     phaseLabel,
	"detail":    eventDetail,
	"dur":       func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).Parse(pageTemplate))

// view is what the template draws: the report and its charts.
type view struct {
	R       *Report
	Summary Summary
	Tiles   []tile

	Channels []legendItem // every channel on the page, in colour order

	Phases *chart
	Scores *chart

	CallTiles  []tile
	Calls      *chart
	CallLegend []legendItem

	Friction       []frictionRow
	FrictionLegend []legendItem

	Timeline    *chart
	JourneyRows []journeyRow
	MoreEvents  int
	PhaseLegend []legendItem
	MergedInto  bool // some journey events arrived under a merged id

	Kinds *chart
}

type tile struct {
	ID, Label, Value, Note string
	Data                   string // data-value: the number, "" when there is none
}

type legendItem struct{ Label, Color string }

type frictionRow struct {
	Rank    int
	F       FrictionCustomer
	Bar     chart
	Moments string // "2 low survey scores, 1 return"
}

type journeyRow struct {
	N      int
	E      JourneyEvent
	Color  string // the phase's
	Merged bool
}

// maxJourneyRows bounds the event table under the timeline; the timeline
// itself draws every event.
const maxJourneyRows = 25

func optData(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func newView(r *Report) view {
	v := view{R: r, Summary: r.Summary()}
	s := v.Summary
	v.Tiles = []tile{
		{"tile-events", "events", thousands(s.Events), "in the unified journey", fmt.Sprint(s.Events)},
		{"tile-customers", "customers", thousands(s.Customers), "live, merges followed", fmt.Sprint(s.Customers)},
		{"tile-channels", "channels", fmt.Sprint(len(s.Channels)), joinOr(s.Channels, "none yet"), fmt.Sprint(len(s.Channels))},
		{"tile-merges", "identity merges", thousands(s.Merges), plural(s.Links, "link", "links") + ", " + plural(s.Erasures, "erasure", "erasures"), fmt.Sprint(s.Merges)},
		{"tile-csat", "CSAT", optNum(s.Scores.CSATPct, "%"), plural(s.Scores.CSATResponses, "answer", "answers"), optData(s.Scores.CSATPct)},
		{"tile-nps", "NPS", optNum(s.Scores.NPS, ""), plural(s.Scores.NPSResponses, "answer", "answers"), optData(s.Scores.NPS)},
	}

	seen := map[string]bool{}
	var channels []string
	addChannel := func(ch string) {
		if !seen[ch] {
			seen[ch] = true
			channels = append(channels, ch)
		}
	}
	for _, ch := range r.Headline.Channels {
		addChannel(ch)
	}
	for _, p := range r.Phases {
		addChannel(p.Channel)
	}
	for _, c := range r.Satisfaction.Cells {
		addChannel(c.Channel)
	}
	sort.SliceStable(channels, func(i, j int) bool { return channelLess(channels[i], channels[j]) })
	for _, ch := range channels {
		v.Channels = append(v.Channels, legendItem{ch, channelColor(ch)})
	}

	if len(r.Phases) > 0 {
		c := phasesChart(r.Phases)
		v.Phases = &c
	}
	if len(r.Satisfaction.Cells) > 0 {
		c := scoresChart(r.Satisfaction.Cells)
		v.Scores = &c
	}

	t := r.Calls.Total
	v.CallTiles = []tile{
		{"tile-offered", "inbound calls", thousands(t.Offered), thousands(t.Answered) + " answered", fmt.Sprint(t.Offered)},
		{"tile-asa", "average speed of answer", optNum(t.ASASeconds, " s"), "mean wait of answered calls", optData(t.ASASeconds)},
		{"tile-abandonment", "abandonment", optNum(t.AbandonmentPct, "%"), thousands(t.Abandoned) + " abandoned", optData(t.AbandonmentPct)},
		{"tile-aht", "average handle time", optNum(t.AHTSeconds, " s"), "of answered calls", optData(t.AHTSeconds)},
		{"tile-fcr", "first-contact resolution", optNum(t.FCRPct, "%"), "no repeat call within 7 days", optData(t.FCRPct)},
	}
	if len(r.Calls.Days) > 0 {
		c := callsChart(r.Calls.Days)
		v.Calls = &c
		v.CallLegend = []legendItem{{"answered", callAnsweredColor}, {"abandoned", callAbandonedColor}}
	}

	var maxScore float64
	for _, f := range r.Friction {
		maxScore = max(maxScore, f.Score)
	}
	for i, f := range r.Friction {
		v.Friction = append(v.Friction, frictionRow{Rank: i + 1, F: f, Bar: frictionBar(f, max(maxScore, 1)), Moments: momentList(f)})
	}
	for _, p := range frictionParts {
		v.FrictionLegend = append(v.FrictionLegend, legendItem{fmt.Sprintf("%s (%s)", p.Label, num(p.Weight)), p.Color})
	}

	if len(r.Journey.Events) > 0 {
		c := timelineChart(r.Journey)
		v.Timeline = &c
	}
	phases := map[string]bool{}
	for i, e := range r.Journey.Events {
		merged := e.ResolvedID != "" && e.ResolvedID != r.Journey.CustomerID
		v.MergedInto = v.MergedInto || merged
		phases[e.Phase] = true
		if i < maxJourneyRows {
			v.JourneyRows = append(v.JourneyRows, journeyRow{N: i + 1, E: e, Color: phaseColor(e.Phase), Merged: merged})
		}
	}
	v.MoreEvents = len(r.Journey.Events) - len(v.JourneyRows)
	for _, p := range append(append([]string{}, phaseOrder...), sortedKeys(phases)...) {
		if phases[p] && !containsLegend(v.PhaseLegend, phaseLabel(p)) {
			v.PhaseLegend = append(v.PhaseLegend, legendItem{phaseLabel(p), phaseColor(p)})
		}
	}

	var changes int64
	for _, k := range r.Identity.Changes {
		changes += k.Count
	}
	if changes > 0 {
		c := kindsChart(r.Identity.Changes)
		v.Kinds = &c
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func containsLegend(items []legendItem, label string) bool {
	for _, it := range items {
		if it.Label == label {
			return true
		}
	}
	return false
}

func joinOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}

// Render writes the report as one self-contained HTML page.
func (r *Report) Render(w io.Writer) error {
	if err := page.Execute(w, newView(r)); err != nil {
		return fmt.Errorf("report: rendering: %w", err)
	}
	return nil
}

// WriteFile renders the report into path atomically (a temporary file in the
// same directory, then a rename), creating the directory when missing, so a
// browser reloading the page never reads half of it.
func (r *Report) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
