package clickhouse

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// validInsert is every query insertQuery may build: back-quoted plain identifiers.
var validInsert = regexp.MustCompile("^INSERT INTO `[A-Za-z_][A-Za-z0-9_]*`(\\.`[A-Za-z_][A-Za-z0-9_]*`)? \\(`[A-Za-z_][A-Za-z0-9_.]*`(, `[A-Za-z_][A-Za-z0-9_.]*`)*\\)$")

func TestInsertQuery(t *testing.T) {
	q, err := insertQuery("cx360.journey_events", []string{"event_id", "props.key", "Type2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "INSERT INTO `cx360`.`journey_events` (`event_id`, `props.key`, `Type2`)"; q != want {
		t.Fatalf("insertQuery = %q, want %q", q, want)
	}
}

// FuzzInsertQuery checks that no table or column name can make insertQuery build
// anything but a plain INSERT of back-quoted identifiers.
func FuzzInsertQuery(f *testing.F) {
	for _, seed := range [][2]string{
		{"events", "id"}, {"db.events", "props.key"}, {"a.b.c", "x"}, {"t", "x`y"},
		{"t", "x) VALUES (1"}, {"t`", "x"}, {"", ""}, {"t", "."}, {"t", "a."}, {".t", "x"},
		{"t", "1x"}, {"t", "ü"}, {"t", "x\x00"}, {"t", "x\ny"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, table, col string) {
		q, err := insertQuery(table, []string{col, "ok"})
		if err != nil {
			return
		}
		if !validInsert.MatchString(q) {
			t.Fatalf("insertQuery(%q, %q) = %q", table, col, q)
		}
		if strings.Count(q, "`") != 2*(strings.Count(table, ".")+1)+4 {
			t.Fatalf("insertQuery(%q, %q) = %q: unbalanced quoting", table, col, q)
		}
	})
}

func TestCheckTimes(t *testing.T) {
	checks := []timeCheck{{0, dateTimeRange}, {1, dateRange}}
	ok := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	lastSecond := time.Unix(1<<32-1, 999_999_999)
	for _, tc := range []struct {
		row  []any
		fail bool
	}{
		{[]any{ok, ok}, false},
		{[]any{&ok, nil}, false},
		{[]any{(*time.Time)(nil), "2025-06-01"}, false},
		{[]any{time.Unix(0, 0), time.Unix(0, 0)}, false},
		{[]any{lastSecond, ok}, false},
		{[]any{lastSecond.Add(time.Nanosecond), ok}, true},
		{[]any{time.Unix(-1, 0), ok}, true},
		{[]any{time.Time{}, ok}, true},
		{[]any{ok, time.Date(2149, 6, 6, 23, 59, 59, 0, time.UTC)}, false},
		{[]any{ok, time.Date(2149, 6, 7, 0, 0, 0, 0, time.UTC)}, true},
	} {
		err := checkTimes(tc.row, checks)
		if (err != nil) != tc.fail {
			t.Errorf("checkTimes(%v) = %v; want failure %v", tc.row, err, tc.fail)
		}
	}
}
