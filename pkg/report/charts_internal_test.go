package report

import (
	"strconv"
	"testing"
	"time"
)

// TestReportCallsChartByWeek: over more than 120 days the calls chart draws
// weeks starting on Monday, each with exactly the calls of its days.
func TestReportCallsChartByWeek(t *testing.T) {
	start := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC) // a Wednesday
	var days []CallDay
	var answered, abandoned int64
	for i := 0; i < 200; i += 3 {
		d := CallDay{Day: start.AddDate(0, 0, i), Offered: int64(i%7 + 2), Abandoned: int64(i % 2)}
		d.Answered = d.Offered - d.Abandoned
		answered, abandoned = answered+d.Answered, abandoned+d.Abandoned
		days = append(days, d)
	}
	c := callsChart(days)
	if c.Label != "Inbound calls per week, answered and abandoned" {
		t.Errorf("label %q", c.Label)
	}
	sums := map[string]int64{}
	for _, s := range c.Shapes {
		if s.Value == "" {
			continue
		}
		n, err := strconv.ParseInt(s.Value, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		sums[s.Series] += n
		week, err := time.Parse("2006-01-02", s.Label)
		if err != nil || week.Weekday() != time.Monday {
			t.Errorf("bar %q does not start on a Monday", s.Label)
		}
	}
	if sums["answered"] != answered || sums["abandoned"] != abandoned {
		t.Errorf("bars add up to %v, want answered %d abandoned %d", sums, answered, abandoned)
	}
}

// TestReportTimeTicks: the journey's time axis has a handful of round,
// ascending ticks inside the span, whatever its length.
func TestReportTimeTicks(t *testing.T) {
	t0 := time.Date(2024, 3, 10, 12, 7, 0, 0, time.UTC)
	for _, span := range []time.Duration{2 * time.Hour, 30 * time.Hour, 17 * 24 * time.Hour, 100 * 24 * time.Hour, 3 * 365 * 24 * time.Hour} {
		ticks := timeTicks(t0, t0.Add(span))
		if len(ticks) < 2 || len(ticks) > 11 {
			t.Errorf("span %v: %d ticks", span, len(ticks))
		}
		for i, tk := range ticks {
			if tk.at.Before(t0) || tk.at.After(t0.Add(span)) || (i > 0 && !tk.at.After(ticks[i-1].at)) || tk.label == "" {
				t.Errorf("span %v: tick %d %v %q out of order or range", span, i, tk.at, tk.label)
			}
			if tk.at.Minute() != 0 || tk.at.Second() != 0 {
				t.Errorf("span %v: tick %v is not round", span, tk.at)
			}
		}
	}
}
