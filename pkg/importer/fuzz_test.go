package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

var recordSeeds = []string{
	"a,b\n1,2\n", "a,\"b\nc\",d\n\n1\n", "x,\"u1\n2,3\n4,\"5\"\n", "\"a\"\"b\",c\r\n\r\n", "\"open", "t\t\"x\"y\tz\n", "\"a\"b,\"c\n",
}

// FuzzRecords: the records of any input account for every line of it, in
// order: each record is the input's lines from its first line on, the lines
// between records are blank, a record whose quote never closed is one line,
// and so is every TSV record. Never a panic.
func FuzzRecords(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, tsv bool) {
		comma := byte(',')
		if tsv {
			comma = '\t'
		}
		lines := bytes.SplitAfter(in, []byte{'\n'})
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		blank := func(from, to int) {
			for _, l := range lines[from:to] {
				if len(bytes.TrimRight(l, "\r\n")) > 0 {
					t.Fatalf("line %q of %q is in no record", l, in)
				}
			}
		}
		r := newRecords(bytes.NewReader(in), comma, tsv)
		done := 0 // lines accounted for
		for {
			text, line, closed, err := r.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if line <= done || line > len(lines) {
				t.Fatalf("record at line %d after %d of %d lines", line, done, len(lines))
			}
			blank(done, line-1)
			n := bytes.Count(text, []byte{'\n'})
			if !bytes.HasSuffix(text, []byte{'\n'}) {
				n++ // the last line, without its line break
			}
			if n == 0 || line-1+n > len(lines) {
				t.Fatalf("record %q at line %d of %d", text, line, len(lines))
			}
			want := bytes.Join(lines[line-1:line-1+n], nil)
			if !bytes.Equal(text, want) && !bytes.Equal(text, append(want, '\n')) {
				t.Fatalf("record at line %d is %q, want the lines %q", line, text, want)
			}
			if (!closed || tsv) && n != 1 {
				t.Fatalf("record %q (closed %v, tsv %v) spans %d lines", text, closed, tsv, n)
			}
			done = line - 1 + n
		}
		blank(done, len(lines))
	})
}

// FuzzCSVRows: any CSV or TSV body under a header reads to its end, never
// panics, and gives at most one row per line, each a JSON object or the JSON
// string of an unparseable row.
func FuzzCSVRows(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, tsv bool) {
		header := "event_id,type,properties.note\n"
		if tsv {
			header = "event_id\ttype\tproperties.note\n"
		}
		next, err := csvRows(bytes.NewReader(append([]byte(header), body...)), tsv, true)
		if err != nil {
			t.Fatal(err)
		}
		maxRows := bytes.Count(body, []byte{'\n'}) + 1
		for n := 0; ; n++ {
			rw, err := next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == maxRows {
				t.Fatalf("more rows than the %d lines of %q", maxRows, body)
			}
			var v any
			if err := json.Unmarshal(rw.raw, &v); err != nil {
				t.Fatalf("row %d is not JSON: %q", n+1, rw.raw)
			}
			switch v.(type) {
			case map[string]any, string:
			default:
				t.Fatalf("row %d is %q", n+1, rw.raw)
			}
		}
	})
}
