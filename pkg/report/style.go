package report

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
)

// The four built-in channels keep one colour everywhere on the page; a
// custom channel gets one of the extra colours, always the same for its name.
var (
	channelOrder  = []string{"store", "web", "app", "phone"}
	channelColors = map[string]string{"store": "#2563eb", "web": "#059669", "app": "#7c3aed", "phone": "#ea580c"}
	extraColors   = []string{"#0891b2", "#be185d", "#65a30d", "#a16207", "#475569"}

	phaseOrder  = []string{"pre_visit", "visit", "post_visit"}
	phaseColors = map[string]string{"pre_visit": "#38bdf8", "visit": "#e11d48", "post_visit": "#facc15"}
	phaseLabels = map[string]string{"pre_visit": "pre-visit", "visit": "visit", "post_visit": "post-visit"}

	kindColors = map[string]string{"merge": "#0f766e", "split": "#b45309", "link": "#4f46e5", "erase": "#6b7280"}
)

// frictionParts are the friction moments with the profile's weights, in
// the order their bars are stacked.
var frictionParts = []struct {
	Key, Label, Plural string
	Weight             float64
	Color              string
	count              func(FrictionCustomer) int64
}{
	{"low_score", "low survey score", "low survey scores", 3, "#9f1239", func(f FrictionCustomer) int64 { return f.LowScores }},
	{"abandoned_call", "abandoned call", "abandoned calls", 2, "#e11d48", func(f FrictionCustomer) int64 { return f.AbandonedCalls }},
	{"return", "return", "returns", 2, "#7c2d12", func(f FrictionCustomer) int64 { return f.Returns }},
	{"long_wait", "long wait", "long waits", 1, "#fda4af", func(f FrictionCustomer) int64 { return f.LongWaits }},
}

const (
	callAnsweredColor  = "#ea580c"
	callAbandonedColor = "#7f1d1d"
	otherColor         = "#94a3b8"
)

func channelColor(ch string) string {
	if c, ok := channelColors[ch]; ok {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(ch))
	return extraColors[h.Sum32()%uint32(len(extraColors))]
}

func phaseColor(p string) string {
	if c, ok := phaseColors[p]; ok {
		return c
	}
	return otherColor
}

func phaseLabel(p string) string {
	if l, ok := phaseLabels[p]; ok {
		return l
	}
	if p == "" {
		return "no phase"
	}
	return p
}

func kindColor(k string) string {
	if c, ok := kindColors[k]; ok {
		return c
	}
	return otherColor
}

// rank is s's place in order; names not in it come after.
func rank(order []string, s string) int {
	for i, x := range order {
		if x == s {
			return i
		}
	}
	return len(order)
}

// orderedLess orders the names in order first, in that order, then the
// others by name.
func orderedLess(order []string, a, b string) bool {
	ra, rb := rank(order, a), rank(order, b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

func channelLess(a, b string) bool { return orderedLess(channelOrder, a, b) }
func phaseLess(a, b string) bool   { return orderedLess(phaseOrder, a, b) }

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// num writes a number in its shortest form after rounding to 2 decimals
// (33.33, 40, 4.2), as the shipped queries round.
func num(v float64) string { return strconv.FormatFloat(round2(v), 'f', -1, 64) }

// optNum writes an optional number with its unit, "–" when there is none.
func optNum(v *float64, suffix string) string {
	if v == nil {
		return "–"
	}
	return num(*v) + suffix
}

// thousands writes an integer with thousands separators: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String()
}

// plural writes "1 merge", "3 merges".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

func day(t time.Time) string    { return t.UTC().Format("2006-01-02") }
func minute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// coord writes an SVG coordinate to a tenth of a pixel.
func coord(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }
