package normalize

import (
	"math"
	"strconv"
	"strings"
	"time"
)

const (
	// minYear and maxYear bound accepted event times (UTC). Anything outside is a
	// zero value, a unit mistake or garbage, never a real customer event.
	minYear = 1970
	maxYear = 2200
	// maxTimeInputBytes is longer than any accepted format ("2006-01-02T15:04:05.999999999-07:00"
	// is 35 bytes); longer input is rejected before parsing.
	maxTimeInputBytes = 64
	// minEpochMillis is 1973-03-03T09:46:40Z as epoch milliseconds. A smaller number is
	// almost certainly epoch seconds (or 0) sent by mistake; read as milliseconds it
	// would silently place the event in early 1970, so it is rejected instead.
	minEpochMillis = 100_000_000_000
)

// timeLayouts are the accepted text forms, tried in order. RFC3339Nano also accepts
// RFC 3339 without fractional seconds. The zone-less forms are read as UTC.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// minTime and maxTime are the first instant of the accepted range and the
// first after it.
var (
	minTime = time.Date(minYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(maxYear+1, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// InTimeRange reports whether t lies within the years ParseTime accepts
// (1970 to 2200, UTC). A time computed from accepted ones, as SkewCorrect's
// is, can fall outside them and must be checked again.
func InTimeRange(t time.Time) bool {
	return !t.Before(minTime) && t.Before(maxTime)
}

// ParseTime parses an event time and returns it in UTC. Accepted: RFC 3339 with or
// without fractional seconds ("2026-11-02T10:15:00.123Z", "2026-11-02T11:15:00+01:00"),
// "2006-01-02 15:04:05" and "2006-01-02T15:04:05" (both UTC, optional fractional
// seconds), and epoch milliseconds given as the text of a JSON number
// ("1793614500123", "1793614500123.5", "1.7936145e12"). Years outside 1970..2200 and
// epoch numbers below 1e11 (which are seconds, not milliseconds) are rejected. Errors
// are *Error with Code "invalid_timestamp".
func ParseTime(raw string) (time.Time, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return time.Time{}, timeError("timestamp is empty")
	}
	if len(s) > maxTimeInputBytes {
		return time.Time{}, timeError("timestamp is too long")
	}
	if isJSONNumber(s) {
		return parseEpochMillis(s)
	}
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		if y := t.Year(); y < minYear || y > maxYear {
			return time.Time{}, timeError("timestamp is outside the years 1970 to 2200")
		}
		return t, nil
	}
	return time.Time{}, timeError(`timestamp is not RFC 3339, "2006-01-02 15:04:05" or epoch milliseconds`)
}

// parseEpochMillis reads a JSON number as epoch milliseconds. Integers are parsed
// exactly; fractions and exponents go through float64, which is exact to well under a
// microsecond in the accepted range.
func parseEpochMillis(s string) (time.Time, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i < minEpochMillis {
			return time.Time{}, epochSecondsError()
		}
		if i >= maxTime.UnixMilli() {
			return time.Time{}, timeError("timestamp is outside the years 1970 to 2200")
		}
		return time.UnixMilli(i).UTC(), nil
	}
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) {
		return time.Time{}, timeError("timestamp is not a usable epoch-milliseconds number")
	}
	if ms < minEpochMillis {
		return time.Time{}, epochSecondsError()
	}
	if ms >= float64(maxTime.UnixMilli()) {
		return time.Time{}, timeError("timestamp is outside the years 1970 to 2200")
	}
	// Whole milliseconds plus the rounded sub-millisecond rest, in nanoseconds.
	whole := math.Floor(ms)
	nanos := int64(math.Round((ms - whole) * 1e6))
	return time.UnixMilli(int64(whole)).Add(time.Duration(nanos)).UTC(), nil
}

func epochSecondsError() *Error {
	return timeError("epoch timestamp is before 1973 as milliseconds; send epoch milliseconds, not seconds")
}

// isJSONNumber reports whether s follows the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// SkewCorrect moves a client timestamp onto the server clock: it returns
// timestamp + (receivedAt - sentAt) when the client said when it sent the event
// (sentAt non-zero), else timestamp unchanged. Client clocks are often wrong (phones
// set by hand, offline devices replaying a queue); the server clock is trusted, and
// the client's own clock is consistent between when the event happened and when it was
// sent. A zero receivedAt also leaves timestamp unchanged: there is nothing to
// correct against.
func SkewCorrect(timestamp, sentAt, receivedAt time.Time) time.Time {
	if sentAt.IsZero() || receivedAt.IsZero() {
		return timestamp
	}
	return timestamp.Add(receivedAt.Sub(sentAt))
}

func timeError(msg string) *Error {
	return newError(CodeInvalidTimestamp, "timestamp", msg)
}
