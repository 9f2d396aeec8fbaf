package normalize

import (
	"strconv"
	"testing"
	"time"
)

func BenchmarkEmail(b *testing.B) {
	for _, in := range []string{"ann.lee@example.com", " Ann.Lee@Example.com "} {
		b.Run(strconv.Quote(in), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Email(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPhone(b *testing.B) {
	// cached: the steady state, a known customer's number recurring on their events.
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Phone("+44 20 7946 0958", "GB"); err != nil {
				b.Fatal(err)
			}
		}
	})
	// uncached: what every call would cost without the cache (first sight of a number).
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := parsePhone("+44 20 7946 0958", "GB"); r.problem != "" {
				b.Fatal(r.problem)
			}
		}
	})
	b.Run("uncached national", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := parsePhone("(415) 555-2671", "US"); r.problem != "" {
				b.Fatal(r.problem)
			}
		}
	})
	b.Run("cached parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := Phone("020 7946 0958", "GB"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkIdentifier(b *testing.B) {
	for _, c := range []struct{ idType, in string }{
		{"user_id", " u-123456789 "},
		{"email", "Ann@Example.com"},
		{"phone", "+44 20 7946 0958"},
	} {
		b.Run(c.idType, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Identifier(c.idType, c.in, "GB"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBlocked(b *testing.B) {
	bl, err := NewBlocklist(DefaultBlocklistRules())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ idType, value string }{
		{"email", "ann.lee@example.com"},
		{"phone", "+442079460958"},
		{"user_id", "u-123456789"},
	} {
		b.Run(c.idType, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bl.Blocked(c.idType, c.value) {
					b.Fatal("blocked")
				}
			}
		})
	}
}

func BenchmarkParseTime(b *testing.B) {
	for _, in := range []string{"2026-11-02T10:15:00.123Z", "1793614500123"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseTime(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSkewCorrect(b *testing.B) {
	ts := time.Date(2026, 11, 2, 10, 15, 0, 0, time.UTC)
	sent, recv := ts.Add(time.Second), ts.Add(2*time.Second)
	b.ReportAllocs()
	for b.Loop() {
		_ = SkewCorrect(ts, sent, recv)
	}
}

func BenchmarkEventID(b *testing.B) {
	body := []byte(`{"type":"purchase","timestamp":"2026-11-02T10:15:00.123Z","identifiers":{"email":"ann@example.com"},"order":{"order_id":"o-1","total":42.5}}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = EventID("store", body)
	}
}
