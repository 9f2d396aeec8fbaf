package normalize

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		name, in string
		want     time.Time // zero: invalid_timestamp expected
	}{
		{"RFC3339 Z", "2026-11-02T10:15:00Z", utc(2026, 11, 2, 10, 15, 0, 0)},
		{"RFC3339 millis", "2026-11-02T10:15:00.123Z", utc(2026, 11, 2, 10, 15, 0, 123e6)},
		{"RFC3339Nano", "2026-11-02T10:15:00.123456789Z", utc(2026, 11, 2, 10, 15, 0, 123456789)},
		{"RFC3339 offset to UTC", "2026-11-02T11:15:00+01:00", utc(2026, 11, 2, 10, 15, 0, 0)},
		{"RFC3339 negative offset", "2026-11-02T05:15:00.5-05:00", utc(2026, 11, 2, 10, 15, 0, 5e8)},
		{"space form is UTC", "2026-11-02 10:15:00", utc(2026, 11, 2, 10, 15, 0, 0)},
		{"space form with fraction", "2026-11-02 10:15:00.250", utc(2026, 11, 2, 10, 15, 0, 250e6)},
		{"T form without zone is UTC", "2026-11-02T10:15:00", utc(2026, 11, 2, 10, 15, 0, 0)},
		{"epoch millis", "1793614500123", time.UnixMilli(1793614500123).UTC()},
		{"epoch millis with fraction", "1793614500123.5", time.UnixMilli(1793614500123).Add(500 * time.Microsecond).UTC()},
		{"epoch millis exponent", "1.7936145e12", time.UnixMilli(1793614500000).UTC()},
		{"surrounding spaces", " 2026-11-02T10:15:00Z ", utc(2026, 11, 2, 10, 15, 0, 0)},
		{"1970 lower bound", "1970-01-01T00:00:00Z", utc(1970, 1, 1, 0, 0, 0, 0)},
		{"2200 upper bound", "2200-12-31T23:59:59.999Z", utc(2200, 12, 31, 23, 59, 59, 999e6)},
		{"1999 call centre", "1999-02-01 07:02:47", utc(1999, 2, 1, 7, 2, 47, 0)},
		{"empty", "", time.Time{}},
		{"garbage", "yesterday", time.Time{}},
		{"date only", "2026-11-02", time.Time{}},
		{"1969", "1969-12-31T23:59:59Z", time.Time{}},
		{"1969 after offset", "1970-01-01T00:30:00+01:00", time.Time{}},
		{"2201", "2201-01-01T00:00:00Z", time.Time{}},
		{"epoch seconds rejected", "1793614500", time.Time{}},
		{"epoch zero", "0", time.Time{}},
		{"negative epoch", "-1793614500123", time.Time{}},
		{"epoch beyond 2200", "7289654400000", time.Time{}},
		{"epoch overflow", "99999999999999999999999", time.Time{}},
		{"huge exponent", "1e400", time.Time{}},
		{"NaN", "NaN", time.Time{}},
		{"Infinity", "Infinity", time.Time{}},
		{"hex number", "0x1A", time.Time{}},
		{"leading plus", "+1793614500123", time.Time{}},
		{"too long", "2026-11-02T10:15:00.123456789012345678901234567890123456789012345Z", time.Time{}},
		{"bad month", "2026-13-02T10:15:00Z", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if tt.want.IsZero() {
				ne := requireCode(t, err, CodeInvalidTimestamp)
				if !got.IsZero() {
					t.Errorf("got %v with error %v", got, ne)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("ParseTime(%q) = %v, want %v (UTC)", tt.in, got, tt.want)
			}
		})
	}
}

func TestSkewCorrect(t *testing.T) {
	ts := time.Date(2026, 11, 2, 10, 15, 0, 0, time.UTC)
	received := time.Date(2026, 11, 2, 10, 20, 0, 0, time.UTC)
	tests := []struct {
		name               string
		sentAt, receivedAt time.Time
		want               time.Time
	}{
		{"client clock 4m slow", received.Add(-4 * time.Minute), received, ts.Add(4 * time.Minute)},
		{"client clock 1h fast", received.Add(time.Hour), received, ts.Add(-time.Hour)},
		{"clocks agree", received, received, ts},
		{"offline device replays a queue: only transport delay shifts", ts.Add(2 * time.Hour), ts.Add(2*time.Hour + 300*time.Millisecond), ts.Add(300 * time.Millisecond)},
		{"no sent_at", time.Time{}, received, ts},
		{"no received_at", received, time.Time{}, ts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SkewCorrect(ts, tt.sentAt, tt.receivedAt); !got.Equal(tt.want) {
				t.Fatalf("SkewCorrect = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInTimeRange(t *testing.T) {
	tests := []struct {
		t    time.Time
		want bool
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), false},
		{time.Date(1800, 1, 3, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2200, 12, 31, 23, 59, 59, 999999999, time.UTC), true},
		{time.Date(2201, 1, 1, 0, 0, 0, 0, time.UTC), false},
		// The bound is an instant: a zone does not move it.
		{time.Date(1970, 1, 1, 0, 30, 0, 0, time.FixedZone("+01", 3600)), false},
	}
	for _, tt := range tests {
		if got := InTimeRange(tt.t); got != tt.want {
			t.Errorf("InTimeRange(%s) = %v, want %v", tt.t, got, tt.want)
		}
	}
}
