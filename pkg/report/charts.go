package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// chart is an inline SVG drawing: its geometry is computed here and written
// by the page template, which escapes every value. Shapes are drawn in order.
type chart struct {
	ID            string
	Width, Height float64
	Label         string // what the chart shows, for screen readers
	Shapes        []shape
}

// shape is one SVG element. A shape with a Value carries data: it is written
// with data-value (the number it stands for), data-label (its category) and
// data-series (its series), so tests and scripts can read the chart back.
type shape struct {
	Kind                  string // rect, circle, line, path or text
	X, Y, W, H, R, X2, Y2 float64
	Rx                    float64
	D                     string // path data
	Fill, Stroke, Dash    string
	StrokeWidth           float64
	Class                 string
	Anchor                string // text-anchor of a text
	Text                  string
	Title                 string // the tooltip
	Value, Label, Series  string
}

func (c *chart) add(s shape) { c.Shapes = append(c.Shapes, s) }

func (c *chart) text(x, y float64, anchor, class, text string) {
	c.add(shape{Kind: "text", X: x, Y: y, Anchor: anchor, Class: class, Text: text})
}

func (c *chart) line(x1, y1, x2, y2 float64, class string) {
	c.add(shape{Kind: "line", X: x1, Y: y1, X2: x2, Y2: y2, Class: class})
}

// niceTicks returns about n round tick values from lo to at least hi
// (steps of 1, 2 or 5 times a power of ten).
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for v := math.Floor(lo/step) * step; ; v += step {
		ticks = append(ticks, round2(v))
		if v >= hi-1e-9 {
			break
		}
	}
	return ticks
}

// Width of the charts: the page's content column.
const chartWidth = 1040

// phasesChart draws one horizontal bar per journey phase, split into its
// channels (events).
func phasesChart(phases []PhaseChannel) chart {
	type bar struct {
		phase string
		total int64
		segs  []PhaseChannel
	}
	var bars []*bar
	byPhase := map[string]*bar{}
	for _, p := range phases {
		b := byPhase[p.Phase]
		if b == nil {
			b = &bar{phase: p.Phase}
			byPhase[p.Phase] = b
			bars = append(bars, b)
		}
		b.total += p.Events
		b.segs = append(b.segs, p)
	}
	sort.SliceStable(bars, func(i, j int) bool { return phaseLess(bars[i].phase, bars[j].phase) })
	var max int64
	for _, b := range bars {
		sort.SliceStable(b.segs, func(i, j int) bool { return channelLess(b.segs[i].Channel, b.segs[j].Channel) })
		if b.total > max {
			max = b.total
		}
	}
	const (
		left, right, top = 110.0, 90.0, 10.0
		barH, gap        = 38.0, 16.0
	)
	ticks := niceTicks(0, float64(max), 5)
	scale := (chartWidth - left - right) / ticks[len(ticks)-1]
	height := top + float64(len(bars))*(barH+gap) + 24
	c := chart{ID: "chart-phases", Width: chartWidth, Height: height, Label: "Events per journey phase, split by channel"}
	axisY := top + float64(len(bars))*(barH+gap) - gap/2
	for _, t := range ticks {
		x := left + t*scale
		c.line(x, top-4, x, axisY, "grid")
		c.text(x, axisY+16, "middle", "tick", thousands(int64(t)))
	}
	for i, b := range bars {
		y := top + float64(i)*(barH+gap)
		c.text(left-12, y+barH/2+5, "end", "label", phaseLabel(b.phase))
		x := left
		for _, s := range b.segs {
			w := float64(s.Events) * scale
			c.add(shape{Kind: "rect", X: x, Y: y, W: w, H: barH, Fill: channelColor(s.Channel), Class: "seg",
				Value: fmt.Sprint(s.Events), Label: s.Phase, Series: s.Channel,
				Title: fmt.Sprintf("%s · %s: %s events by %s (%s%% of the phase)", s.Channel, phaseLabel(s.Phase),
					thousands(s.Events), plural(s.Customers, "customer", "customers"), num(s.ShareOfPhasePct))})
			if w >= 30 {
				c.text(x+w/2, y+barH/2+5, "middle", "inbar", thousands(s.Events))
			}
			x += w
		}
		c.text(x+8, y+barH/2+5, "start", "total", thousands(b.total)+" events")
	}
	return c
}

// scoresChart draws satisfaction by channel and phase: one row per channel
// and phase with answers, and three panels sharing the rows — CSAT % (0–100),
// NPS (−100–100, bars grow from 0) and CES (1–7, lower is better).
func scoresChart(cells []ScoreCell) chart {
	const (
		left, top, rowH, gap = 150.0, 44.0, 26.0, 8.0
		panelGap             = 30.0
	)
	panelW := (chartWidth - left - 2*panelGap) / 3
	height := top + float64(len(cells))*(rowH+gap) + 10
	c := chart{ID: "chart-satisfaction", Width: chartWidth, Height: height, Label: "CSAT, NPS and CES by channel and journey phase"}
	type panel struct {
		key, title string
		lo, hi     float64
		ticks      []float64
		n          func(Scores) int64
		v          func(Scores) *float64
		suffix     string
	}
	panels := []panel{
		{"csat", "CSAT — % satisfied", 0, 100, []float64{0, 25, 50, 75, 100},
			func(s Scores) int64 { return s.CSATResponses }, func(s Scores) *float64 { return s.CSATPct }, "%"},
		{"nps", "NPS — promoters − detractors", -100, 100, []float64{-100, -50, 0, 50, 100},
			func(s Scores) int64 { return s.NPSResponses }, func(s Scores) *float64 { return s.NPS }, ""},
		{"ces", "CES — effort, 1–7 (lower is better)", 0, 7, []float64{0, 1, 2, 3, 4, 5, 6, 7},
			func(s Scores) int64 { return s.CESResponses }, func(s Scores) *float64 { return s.CESAvg }, ""},
	}
	bottom := top + float64(len(cells))*(rowH+gap) - gap/2
	for i, cell := range cells {
		y := top + float64(i)*(rowH+gap)
		c.add(shape{Kind: "rect", X: 4, Y: y + rowH/2 - 5, W: 10, H: 10, Rx: 2, Fill: channelColor(cell.Channel)})
		c.text(20, y+rowH/2+5, "start", "label", cell.Channel+" · "+phaseLabel(cell.Phase))
	}
	for p, pn := range panels {
		x0 := left + float64(p)*(panelW+panelGap)
		valueW := 56.0 // room for the value after the bar
		scale := (panelW - valueW) / (pn.hi - pn.lo)
		xOf := func(v float64) float64 { return x0 + (v-pn.lo)*scale }
		c.text(x0, 16, "start", "panel", pn.title)
		for _, t := range pn.ticks {
			c.line(xOf(t), top-8, xOf(t), bottom, "grid")
			c.text(xOf(t), top-12, "middle", "tick", num(t))
		}
		zero := xOf(math.Max(pn.lo, 0))
		if pn.lo < 0 {
			c.line(zero, top-8, zero, bottom, "zero")
		}
		for i, cell := range cells {
			y := top + float64(i)*(rowH+gap)
			v := pn.v(cell.Scores)
			if v == nil {
				c.text(zero+6, y+rowH/2+5, "start", "none", "no answers")
				continue
			}
			x1, x2 := zero, xOf(*v)
			if x2 < x1 {
				x1, x2 = x2, x1
			}
			n := pn.n(cell.Scores)
			c.add(shape{Kind: "rect", X: x1, Y: y, W: math.Max(x2-x1, 1.5), H: rowH, Fill: channelColor(cell.Channel), Class: "seg",
				Value: num(*v), Label: cell.Channel + "/" + cell.Phase, Series: pn.key,
				Title: fmt.Sprintf("%s · %s: %s %s%s from %s", cell.Channel, phaseLabel(cell.Phase),
					strings.ToUpper(pn.key), num(*v), pn.suffix, plural(n, "answer", "answers"))})
			tx, anchor := xOf(math.Max(*v, 0))+5, "start"
			c.text(tx, y+rowH/2+5, anchor, "value", fmt.Sprintf("%s%s (%d)", num(*v), pn.suffix, n))
		}
	}
	return c
}

// callBucket is one bar of the calls chart: a day, or a week on long spans.
type callBucket struct {
	start                        time.Time
	offered, answered, abandoned int64
}

// callsChart draws inbound calls per day (per week over more than 120 days),
// answered and abandoned stacked; days without calls are gaps.
func callsChart(days []CallDay) chart {
	var buckets []callBucket
	step, unit := 24*time.Hour, "day"
	if n := len(days); n > 0 && days[n-1].Day.Sub(days[0].Day) > 120*24*time.Hour {
		step, unit = 7*24*time.Hour, "week"
	}
	start := func(t time.Time) time.Time {
		t = t.UTC().Truncate(24 * time.Hour)
		if unit == "week" { // weeks start on Monday
			t = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		}
		return t
	}
	if len(days) > 0 {
		first, last := start(days[0].Day), start(days[len(days)-1].Day)
		for t := first; !t.After(last); t = t.Add(step) {
			buckets = append(buckets, callBucket{start: t})
		}
		for _, d := range days {
			i := int(start(d.Day).Sub(first) / step)
			buckets[i].offered += d.Offered
			buckets[i].answered += d.Answered
			buckets[i].abandoned += d.Abandoned
		}
	}
	var max int64
	for _, b := range buckets {
		if b.offered > max {
			max = b.offered
		}
	}
	const (
		left, right, top, bottom = 50.0, 20.0, 14.0, 40.0
		plotH                    = 200.0
	)
	ticks := niceTicks(0, float64(max), 4)
	if ticks[len(ticks)-1] < 1 {
		ticks = []float64{0, 1}
	}
	c := chart{ID: "chart-calls", Width: chartWidth, Height: top + plotH + bottom, Label: "Inbound calls per " + unit + ", answered and abandoned"}
	yOf := func(v float64) float64 { return top + plotH - v/ticks[len(ticks)-1]*plotH }
	for _, t := range ticks {
		if t != math.Trunc(t) {
			continue
		}
		c.line(left, yOf(t), chartWidth-right, yOf(t), "grid")
		c.text(left-8, yOf(t)+4, "end", "tick", thousands(int64(t)))
	}
	slot := (chartWidth - left - right) / math.Max(float64(len(buckets)), 1)
	barW := math.Max(math.Min(slot*0.7, 48), 1)
	labelEvery := int(math.Ceil(float64(len(buckets)) / 12))
	for i, b := range buckets {
		x := left + float64(i)*slot + (slot-barW)/2
		label := day(b.start)
		what := label
		if unit == "week" {
			what = "week of " + label
		}
		y := yOf(0)
		// Every inbound call is answered or abandoned (the calls view's rules).
		for _, s := range []struct {
			series, color string
			n             int64
		}{{"answered", callAnsweredColor, b.answered}, {"abandoned", callAbandonedColor, b.abandoned}} {
			if s.n <= 0 {
				continue
			}
			h := yOf(0) - yOf(float64(s.n))
			y -= h
			c.add(shape{Kind: "rect", X: x, Y: y, W: barW, H: h, Fill: s.color, Class: "seg",
				Value: fmt.Sprint(s.n), Label: label, Series: s.series,
				Title: fmt.Sprintf("%s: %s offered, %s answered, %s abandoned", what, thousands(b.offered), thousands(b.answered), thousands(b.abandoned))})
		}
		if i%labelEvery == 0 {
			c.text(x+barW/2, top+plotH+18, "middle", "tick", b.start.Format("Jan 2"))
		}
	}
	c.line(left, yOf(0), chartWidth-right, yOf(0), "axis")
	return c
}

// frictionBar draws one customer's friction score as a bar whose parts are
// the weighted moments; full width is the highest score in the table.
func frictionBar(f FrictionCustomer, max float64) chart {
	const w, h = 200.0, 18.0
	c := chart{ID: "", Width: w, Height: h, Label: "friction score " + num(f.Score) + " of " + f.CustomerID}
	x := 0.0
	for _, p := range frictionParts {
		n := p.count(f)
		if n == 0 {
			continue
		}
		points := float64(n) * p.Weight
		sw := points / max * w
		c.add(shape{Kind: "rect", X: x, Y: 0, W: sw, H: h, Fill: p.Color, Class: "seg",
			Value: num(points), Label: f.CustomerID, Series: p.Key,
			Title: fmt.Sprintf("%s: %d × %s (weight %s) = %s points", f.CustomerID, n, p.Label, num(p.Weight), num(points))})
		x += sw
	}
	return c
}

// kindsChart draws identity changes per kind.
func kindsChart(kinds []KindCount) chart {
	const (
		left, right, top = 90.0, 80.0, 6.0
		barH, gap        = 24.0, 10.0
	)
	var max int64
	for _, k := range kinds {
		if k.Count > max {
			max = k.Count
		}
	}
	ticks := niceTicks(0, math.Max(float64(max), 1), 4)
	const width = 440.0
	scale := (width - left - right) / ticks[len(ticks)-1]
	height := top + float64(len(kinds))*(barH+gap) + 20
	c := chart{ID: "chart-identity", Width: width, Height: height, Label: "Identity changes by kind"}
	axisY := top + float64(len(kinds))*(barH+gap) - gap/2
	for _, t := range ticks {
		if t != math.Trunc(t) {
			continue
		}
		c.line(left+t*scale, top-4, left+t*scale, axisY, "grid")
		c.text(left+t*scale, axisY+15, "middle", "tick", thousands(int64(t)))
	}
	for i, k := range kinds {
		y := top + float64(i)*(barH+gap)
		c.text(left-10, y+barH/2+5, "end", "label", k.Kind)
		w := float64(k.Count) * scale
		c.add(shape{Kind: "rect", X: left, Y: y, W: math.Max(w, 0), H: barH, Fill: kindColor(k.Kind), Class: "seg",
			Value: fmt.Sprint(k.Count), Label: k.Kind, Series: "changes",
			Title: fmt.Sprintf("%s: %s", k.Kind, plural(k.Count, "change", "changes"))})
		c.text(left+w+6, y+barH/2+5, "start", "total", thousands(k.Count))
	}
	return c
}

// timelineChart draws one customer's journey: a lane per channel, a dot per
// event at its time, coloured by journey phase, joined in time order. An
// event that arrived under an id merged into the customer later has a dashed
// ring.
func timelineChart(j Journey) chart {
	var lanes []string
	for _, e := range j.Events {
		if !contains(lanes, e.Channel) {
			lanes = append(lanes, e.Channel)
		}
	}
	sort.SliceStable(lanes, func(a, b int) bool { return channelLess(lanes[a], lanes[b]) })
	const (
		left, right, top = 90.0, 30.0, 10.0
		laneH            = 56.0
	)
	height := top + float64(len(lanes))*laneH + 40
	c := chart{ID: "chart-journey", Width: chartWidth, Height: height, Label: "The journey of " + j.CustomerID + " across channels"}
	if len(j.Events) == 0 {
		return c
	}
	t0, t1 := j.Events[0].At, j.Events[len(j.Events)-1].At
	span := t1.Sub(t0)
	if span < time.Hour {
		span = time.Hour
	}
	pad := span / 25
	t0, t1 = t0.Add(-pad), t0.Add(span+pad)
	plotW := chartWidth - left - right
	xOf := func(t time.Time) float64 { return left + float64(t.Sub(t0))/float64(t1.Sub(t0))*plotW }
	laneY := func(ch string) float64 { return top + float64(rank(lanes, ch))*laneH + laneH/2 }
	bottom := top + float64(len(lanes))*laneH
	for i, ch := range lanes {
		y := top + float64(i)*laneH
		c.add(shape{Kind: "rect", X: left, Y: y + 4, W: plotW, H: laneH - 8, Rx: 6, Fill: channelColor(ch), Class: "lane"})
		c.add(shape{Kind: "rect", X: 6, Y: y + laneH/2 - 6, W: 12, H: 12, Rx: 3, Fill: channelColor(ch)})
		c.text(24, y+laneH/2+5, "start", "label", ch)
	}
	for _, tk := range timeTicks(t0, t1) {
		x := xOf(tk.at)
		c.line(x, top, x, bottom, "grid")
		c.text(x, bottom+18, "middle", "tick", tk.label)
	}
	// Where each event is drawn: events close together in one lane are
	// nudged up and down so every dot stays visible.
	type spot struct{ x, y float64 }
	spots := make([]spot, len(j.Events))
	r, step := 7.0, 12.0 // dot radius, and how far a crowded dot moves
	if len(j.Events) > 30 {
		r, step = 5, 9
	}
	lastX := map[string]float64{}
	nudge := map[string]int{}
	for i, e := range j.Events {
		x, y := xOf(e.At), laneY(e.Channel)
		if px, ok := lastX[e.Channel]; ok && x-px < 2*r {
			nudge[e.Channel]++
			y += []float64{0, -step, step}[nudge[e.Channel]%3]
		} else {
			nudge[e.Channel] = 0
		}
		lastX[e.Channel] = x
		spots[i] = spot{x, y}
	}
	var path strings.Builder
	for i, s := range spots {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%s %s ", cmd, coord(s.x), coord(s.y))
	}
	c.add(shape{Kind: "path", D: strings.TrimSpace(path.String()), Class: "route"})
	for i, e := range j.Events {
		s := spots[i]
		merged := e.ResolvedID != "" && e.ResolvedID != j.CustomerID
		if merged {
			c.add(shape{Kind: "circle", X: s.x, Y: s.y, R: r + 3, Class: "merged"})
		}
		c.add(shape{Kind: "circle", X: s.x, Y: s.y, R: r, Fill: phaseColor(e.Phase), Class: "dot",
			Value: fmt.Sprint(i + 1), Label: e.EventID, Series: e.Channel, Title: eventTitle(i+1, e, merged)})
	}
	return c
}

// eventTitle is the tooltip of one journey event.
func eventTitle(n int, e JourneyEvent, merged bool) string {
	parts := []string{fmt.Sprintf("#%d %s UTC · %s · %s · %s", n, minute(e.At), e.Channel, phaseLabel(e.Phase), e.Type)}
	if d := eventDetail(e); d != "" {
		parts = append(parts, d)
	}
	if merged {
		parts = append(parts, "arrived as "+e.ResolvedID+", merged into this customer later")
	}
	return strings.Join(parts, "\n")
}

// eventDetail is an event's main fact: an order, a call, a survey answer.
func eventDetail(e JourneyEvent) string {
	var d []string
	if e.StoreID != "" {
		d = append(d, "store "+e.StoreID)
	}
	if e.OrderTotal != nil {
		d = append(d, "order total "+num(*e.OrderTotal))
	}
	if e.CallOutcome != "" {
		d = append(d, "call "+e.CallOutcome)
	}
	if e.WaitSeconds != nil {
		d = append(d, "waited "+num(*e.WaitSeconds)+" s")
	}
	if e.SurveyKind != "" && e.SurveyScore != nil {
		d = append(d, strings.ToUpper(e.SurveyKind)+" "+num(*e.SurveyScore))
	}
	return strings.Join(d, ", ")
}

type timeTick struct {
	at    time.Time
	label string
}

// timeTicks returns at most about 10 round times between t0 and t1: hours,
// days, weeks or months, depending on the span.
func timeTicks(t0, t1 time.Time) []timeTick {
	span := t1.Sub(t0)
	day := 24 * time.Hour
	type unit struct {
		step   time.Duration
		months int
		format string
	}
	units := []unit{
		{time.Hour, 0, "Jan 2 15:04"}, {3 * time.Hour, 0, "Jan 2 15:04"}, {6 * time.Hour, 0, "Jan 2 15:04"},
		{12 * time.Hour, 0, "Jan 2 15:04"}, {day, 0, "Jan 2"}, {2 * day, 0, "Jan 2"}, {7 * day, 0, "Jan 2"},
		{14 * day, 0, "Jan 2"}, {0, 1, "Jan 2006"}, {0, 3, "Jan 2006"}, {0, 6, "Jan 2006"}, {0, 12, "2006"},
	}
	u := units[len(units)-1]
	for _, cand := range units {
		size := cand.step
		if cand.months > 0 {
			size = time.Duration(cand.months) * 30 * day
		}
		if span/size <= 10 {
			u = cand
			break
		}
	}
	var out []timeTick
	if u.months > 0 {
		t := time.Date(t0.Year(), t0.Month(), 1, 0, 0, 0, 0, time.UTC)
		for ; !t.After(t1); t = t.AddDate(0, u.months, 0) {
			if !t.Before(t0) {
				out = append(out, timeTick{t, t.Format(u.format)})
			}
		}
		return out
	}
	t := t0.UTC().Truncate(u.step)
	if u.step == 7*day || u.step == 14*day { // weeks start on Monday
		t = t0.UTC().Truncate(day)
		t = t.AddDate(0, 0, (8-int(t.Weekday()))%7)
	}
	for ; !t.After(t1); t = t.Add(u.step) {
		if !t.Before(t0) {
			out = append(out, timeTick{t, t.Format(u.format)})
		}
	}
	return out
}
