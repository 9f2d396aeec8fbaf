package clickhouse

import (
	"regexp"
	"strings"
	"testing"
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
