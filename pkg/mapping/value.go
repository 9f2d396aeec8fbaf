package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// text is a scalar source value as written: a string as is, a number as its
// JSON text. present is false for an absent value, null, an object or an array.
func text(v any) (s string, present bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// sourcePath splits a source path: dots nest, numbers index arrays; a leading
// "$." is allowed.
func sourcePath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "$."), ".")
}

func lookup(v any, path []string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// template is a parsed `template:` value: literal text and {column} references.
type template struct {
	parts []templatePart
}

type templatePart struct {
	literal string
	column  []string // nil for a literal
}

var placeholderPattern = regexp.MustCompile(`\{([^{}]+)\}`)

func parseTemplate(s string) (*template, error) {
	t := &template{}
	last := 0
	for _, m := range placeholderPattern.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			t.parts = append(t.parts, templatePart{literal: s[last:m[0]]})
		}
		t.parts = append(t.parts, templatePart{column: sourcePath(strings.TrimSpace(s[m[2]:m[3]]))})
		last = m[1]
	}
	if last < len(s) {
		t.parts = append(t.parts, templatePart{literal: s[last:]})
	}
	for _, p := range t.parts {
		if p.column == nil && strings.ContainsAny(p.literal, "{}") {
			return nil, fmt.Errorf("template %q has an unbalanced brace", s)
		}
	}
	return t, nil
}

// render fills the template from row; nil when a referenced column is absent
// or blank, so that "walk-in-{InvoiceNo}" never yields "walk-in-".
func (t *template) render(row map[string]any) any {
	var b strings.Builder
	for _, p := range t.parts {
		if p.column == nil {
			b.WriteString(p.literal)
			continue
		}
		s, ok := text(lookup(row, p.column))
		if !ok || strings.TrimSpace(s) == "" {
			return nil
		}
		b.WriteString(s)
	}
	return b.String()
}

// clock builds a time from a date column and a clock-time column (call logs
// that write 990201 and 7:02:47 in separate columns).
type clock struct {
	date, time, after []string
	layout            string // Go layout of the date
	nullIf            []string
}

// rollover: a clock time this much earlier than `after`'s is on the next day.
// A call cannot last 12 hours, while sources do write small negative gaps
// (a VRU exit a minute before its entry) that must stay on the same day.
const rollover = 12 * time.Hour

func (c *clock) compose(row map[string]any) (any, error) {
	ds, okDate := text(lookup(row, c.date))
	ts, okTime := text(lookup(row, c.time))
	ds, ts = strings.TrimSpace(ds), strings.TrimSpace(ts)
	if !okDate || !okTime || ds == "" || ts == "" {
		return nil, nil
	}
	for _, n := range c.nullIf {
		if ts == n {
			return nil, nil
		}
	}
	day, err := time.Parse(c.layout, ds)
	if err != nil {
		return nil, fmt.Errorf("date %q does not match date_format", ds)
	}
	at, err := clockTime(ts)
	if err != nil {
		return nil, err
	}
	t := day.Add(at)
	if c.after != nil {
		if as, ok := text(lookup(row, c.after)); ok {
			if ref, err := clockTime(strings.TrimSpace(as)); err == nil && at < ref-rollover {
				t = t.AddDate(0, 0, 1) // the call crossed midnight
			}
		}
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

// clockTime reads H:MM or H:MM:SS (hours 0-23) as a duration since midnight.
func clockTime(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("time %q is not H:MM[:SS]", s)
	}
	limits := []int{23, 59, 59}
	var d time.Duration
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > limits[i] || len(p) > 2 || (i > 0 && len(p) != 2) {
			return 0, fmt.Errorf("time %q is not H:MM[:SS]", s)
		}
		d += time.Duration(n) * []time.Duration{time.Hour, time.Minute, time.Second}[i]
	}
	return d, nil
}

// layoutTokens turn a readable date/time pattern into a Go layout, longest
// token first. Hours read one or two digits (8:26 and 08:26).
var layoutTokens = strings.NewReplacer(
	"YYYY", "2006", "YY", "06", "MM", "01", "M", "1", "DD", "02", "D", "2",
	"hh", "15", "h", "15", "mm", "04", "ss", "05",
)

// goLayout converts a pattern such as YYMMDD or DD/MM/YYYY hh:mm and checks
// that it reads back what it writes.
func goLayout(pattern string) (string, error) {
	layout := layoutTokens.Replace(pattern)
	if layout == pattern {
		return "", fmt.Errorf("%q has no date or time token (YYYY, YY, MM, M, DD, D, hh, h, mm, ss)", pattern)
	}
	ref := time.Date(2011, time.December, 9, 12, 50, 30, 0, time.UTC)
	back, err := time.Parse(layout, ref.Format(layout))
	if err != nil || back.Format(layout) != ref.Format(layout) {
		return "", fmt.Errorf("%q is not a usable date pattern", pattern)
	}
	return layout, nil
}

// normalizers change a value before it is mapped; each takes and returns a
// scalar and leaves an absent value absent.
var normalizers = map[string]func(any) (any, error){
	"trim":    stringOp(strings.TrimSpace),
	"lower":   stringOp(strings.ToLower),
	"upper":   stringOp(strings.ToUpper),
	"integer": integer,
}

func stringOp(f func(string) string) func(any) (any, error) {
	return func(v any) (any, error) {
		if s, ok := v.(string); ok {
			return f(s), nil
		}
		return v, nil
	}
}

var wholeNumberText = regexp.MustCompile(`^[-+]?[0-9]+(\.0*)?$`)

// integer writes a whole number without a fraction: an id exported as a float
// ("17850.0") becomes "17850". Digits are kept as text, so long ids stay exact.
func integer(v any) (any, error) {
	s, ok := text(v)
	if !ok {
		return nil, fmt.Errorf("want a number, got %T", v)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if wholeNumberText.MatchString(s) {
		s, _, _ = strings.Cut(s, ".")
		return strings.TrimPrefix(s, "+"), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return nil, fmt.Errorf("%q is not a whole number", s)
	}
	return strconv.FormatInt(int64(f), 10), nil
}

// number turns a numeric string into a JSON number (CSV cells are strings;
// order totals, quantities and durations are numbers in the input event).
// Anything else is left for the event's validation to name.
func number(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return v
	}
	return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
}

func asFloat(v any) (float64, bool) {
	s, ok := text(v)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

// formatTime converts a timestamp: unix_s and unix_ms to epoch milliseconds,
// a pattern (layout) to RFC 3339.
func formatTime(v any, format, layout string) (any, error) {
	if layout != "" {
		s, ok := text(v)
		if !ok {
			return nil, fmt.Errorf("want a date and time, got %T", v)
		}
		t, err := time.Parse(layout, strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q does not match format %q", s, format)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	return epochMillis(v, format)
}

func epochMillis(v any, format string) (json.Number, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return "", fmt.Errorf("want a number, got %T", v)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return "", fmt.Errorf("%q is not a number", s)
	}
	if format == "unix_s" {
		f *= 1000
	}
	return json.Number(strconv.FormatInt(int64(f), 10)), nil
}
