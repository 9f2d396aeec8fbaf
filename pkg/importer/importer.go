// Package importer backfills files (POS exports, call logs) through the same
// processor as the HTTP API: CSV, TSV or NDJSON, optionally gzipped, read as a
// stream in batches, with progress and a summary; rejects go to the DLQ.
//
// With a channel's mapping (Options.Mapping) every item carries its file row
// number (mapping.Envelope) and, when the mapping groups rows, consecutive rows
// with the same key become one item: an invoice's lines, one event.
package importer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	segjson "github.com/segmentio/encoding/json"

	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/mapping"
)

// DefaultBatchSize is the number of items handed to the processor at once.
const DefaultBatchSize = 2000

// Formats the importer reads.
const (
	FormatCSV    = "csv"
	FormatTSV    = "tsv"
	FormatNDJSON = "ndjson"
)

// Options configures one import.
type Options struct {
	Channel   string
	Format    string // "" picks by file name
	BatchSize int
	// Mapping is the channel's mapping, when it has one: rows are then sent in
	// envelopes with their row numbers, and grouped as the mapping says.
	Mapping *mapping.Mapping
	// Progress, when set, is called after every batch with the running totals.
	Progress func(Summary)
}

// Summary counts what an import did.
type Summary struct {
	Rows          int           `json:"rows"`           // source rows (or lines) read
	Read          int           `json:"read"`           // items handed to ingest: rows, or groups of rows
	Accepted      int           `json:"accepted"`       // items that became events
	Rejected      int           `json:"rejected"`       // items dead-lettered
	Duplicates    int           `json:"duplicates"`     // accepted, but their event_id was already produced
	DuplicateRows int           `json:"duplicate_rows"` // rows dropped as copies of an earlier row of their group
	Elapsed       time.Duration `json:"elapsed_ns"`
	Codes         map[string]int
	// Reasons counts rule rejections (mapping.CodeRejectedByRule) by reason.
	Reasons map[string]int
}

// Processor is the part of ingest.Processor the importer uses.
type Processor interface {
	Process(ctx context.Context, channel string, items [][]byte) (ingest.Result, error)
}

var _ Processor = (*ingest.Processor)(nil)

// FormatFor guesses the format from a file name (".csv", ".tsv", ".ndjson",
// ".jsonl", ".json", each optionally followed by ".gz").
func FormatFor(name string) (string, error) {
	base := strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch filepath.Ext(base) {
	case ".csv":
		return FormatCSV, nil
	case ".tsv", ".tab":
		return FormatTSV, nil
	case ".ndjson", ".jsonl", ".json":
		return FormatNDJSON, nil
	}
	return "", fmt.Errorf("cannot tell the format of %q from its name; pass --format csv, tsv or ndjson", name)
}

// Run imports everything r holds. It stops at the first batch Kafka could not
// take (after the producer's retries); everything counted before is durable.
func Run(ctx context.Context, proc Processor, r io.Reader, opts Options) (Summary, error) {
	start := time.Now()
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	r, err := maybeGunzip(r)
	if err != nil {
		return Summary{}, err
	}
	var next func() (row, error)
	switch opts.Format {
	case FormatCSV, FormatTSV:
		next, err = csvRows(r, opts.Format == FormatTSV, opts.Mapping != nil)
	case FormatNDJSON:
		next = lineRows(r, opts.Mapping != nil)
	default:
		return Summary{}, fmt.Errorf("import: unknown format %q (want csv, tsv or ndjson)", opts.Format)
	}
	if err != nil {
		return Summary{}, err
	}

	sum := Summary{Codes: map[string]int{}, Reasons: map[string]int{}}
	var g *grouper
	if opts.Mapping != nil {
		g = newGrouper(opts.Mapping)
	}
	batch := make([][]byte, 0, opts.BatchSize)
	rowsInBatch := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := proc.Process(ctx, opts.Channel, batch)
		if err != nil {
			return fmt.Errorf("import: after %d durable items: %w", sum.Accepted+sum.Rejected, err)
		}
		sum.Rows += rowsInBatch
		sum.Read += len(batch)
		sum.Accepted += res.Accepted
		sum.Rejected += res.Rejected
		sum.Duplicates += res.Duplicates
		for _, e := range res.Errors {
			sum.Codes[e.Code]++
			if e.Code == mapping.CodeRejectedByRule {
				sum.Reasons[e.Message]++
			}
		}
		if g != nil {
			sum.DuplicateRows = g.duplicateRows
		}
		sum.Elapsed = time.Since(start)
		batch, rowsInBatch = batch[:0], 0
		if opts.Progress != nil {
			opts.Progress(sum)
		}
		return nil
	}
	add := func(items ...item) error {
		for _, it := range items {
			batch = append(batch, it.raw)
			rowsInBatch += it.rows
			if len(batch) == opts.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for n := 1; ; n++ {
		rw, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, err
		}
		rw.number = n
		if g == nil {
			err = add(item{raw: rw.raw, rows: 1})
		} else {
			err = add(g.add(rw)...)
		}
		if err != nil {
			return sum, err
		}
	}
	if g != nil {
		if err := add(g.flush()...); err != nil {
			return sum, err
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// RunFile imports one file; an empty Options.Format is taken from its name.
func RunFile(ctx context.Context, proc Processor, path string, opts Options) (Summary, error) {
	if opts.Format == "" {
		var err error
		if opts.Format, err = FormatFor(path); err != nil {
			return Summary{}, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	return Run(ctx, proc, f, opts)
}

// row is one source row: its JSON object (or, for a line or record that
// could not be read, the bytes to dead-letter) and its object form when it
// parsed.
type row struct {
	raw    []byte
	obj    map[string]any // nil when the row is not a JSON object
	number int            // 1-based, the header not counted
}

// item is what the processor receives, and how many source rows it holds.
type item struct {
	raw  []byte
	rows int
}

func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("import: reading gzip: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// lineRows yields each non-blank line; a bad line becomes one rejected item.
// With parse set (a mapped channel) each line is also decoded, for grouping.
func lineRows(r io.Reader, parse bool) func() (row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	return func() (row, error) {
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			rw := row{raw: append([]byte(nil), line...)}
			if parse {
				dec := json.NewDecoder(bytes.NewReader(rw.raw))
				dec.UseNumber()
				if err := dec.Decode(&rw.obj); err != nil || dec.More() {
					rw.obj = nil
				}
			}
			return rw, nil
		}
		if err := sc.Err(); err != nil {
			return row{}, fmt.Errorf("import: reading lines: %w", err)
		}
		return row{}, io.EOF
	}
}

// numericColumns are input-event fields that are numbers in JSON. Other cells
// stay strings: "007" is an identifier, not seven.
var numericColumns = map[string]bool{
	"order.total": true, "call.wait_seconds": true, "call.handle_seconds": true,
	"survey.score": true, "survey.scale_max": true,
}

// csvRows turns each row into a JSON object: a column named "a.b" becomes
// {"a":{"b":...}}, so a header of input-event paths (type, timestamp,
// identifiers.email, order.total, ...) yields input events, and any other header
// yields objects a mapping file can address. Empty cells are absent. With
// parse set (a mapped channel) each row's object form is kept for grouping.
//
// A row that cannot be read becomes an item holding its row and line numbers
// and its text, which ingest rejects and dead-letters; reading goes on at the
// next line (see records).
func csvRows(r io.Reader, tsv, parse bool) (func() (row, error), error) {
	format, comma := "CSV", byte(',')
	if tsv {
		format, comma = "TSV", '\t'
	}
	recs := newRecords(r, comma, tsv)
	var feed bytes.Reader
	newReader := func() *csv.Reader {
		cr := csv.NewReader(&feed)
		cr.ReuseRecord = true
		cr.FieldsPerRecord = -1 // a short row is one rejected item, not a failed import
		cr.Comma = rune(comma)
		cr.LazyQuotes = tsv
		return cr
	}
	cr := newReader()
	fed := int64(0)
	// read parses the next record; broken is set, with rec nil, for a record
	// that is not one well-formed row.
	read := func() (rec []string, text []byte, line int, broken string, err error) {
		text, line, closed, err := recs.next()
		if err != nil {
			return nil, nil, 0, "", err
		}
		if !closed {
			return nil, text, line, "unclosed quote", nil
		}
		feed.Reset(text)
		fed += int64(len(text))
		rec, err = cr.Read()
		if err == nil && cr.InputOffset() == fed {
			return rec, text, line, "", nil
		}
		// csv.Reader cannot be told to drop what it read ahead: a new one
		// starts clean at the next record.
		cr, fed = newReader(), 0
		var perr *csv.ParseError
		switch {
		case errors.As(err, &perr):
			broken = perr.Err.Error()
		case err != nil:
			broken = err.Error()
		default:
			broken = "the row ends inside a quoted cell"
		}
		return nil, recs.reject(), line, broken, nil
	}

	header, _, _, broken, err := read()
	if errors.Is(err, io.EOF) {
		return func() (row, error) { return row{}, io.EOF }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import: reading header: %w", err)
	}
	if broken != "" {
		return nil, fmt.Errorf("import: reading header: %s", broken)
	}
	header = slices.Clone(header)
	cols := make([][]string, len(header))
	nested := false
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		cols[i] = strings.Split(h, ".")
		nested = nested || len(cols[i]) > 1
		header[i] = h
	}
	names := append([]string(nil), header...)
	rows := 0
	return func() (row, error) {
		rec, text, line, broken, err := read()
		if err != nil {
			return row{}, err
		}
		rows++
		if broken != "" {
			// Keep the broken row's text as an item, so it is rejected and
			// dead-lettered with where it was.
			b, _ := json.Marshal(fmt.Sprintf("unparseable %s row %d (line %d): %s: %s", format, rows, line, broken, bytes.TrimRight(text, "\r\n"))) // a string always marshals
			return row{raw: b}, nil
		}
		obj := make(map[string]any, len(rec))
		// A mapped channel's rows are written straight to JSON in column order:
		// a large file's rows are encoded here once each, where a map would be
		// sorted and walked by reflection. Other rows keep encoding/json's form
		// (sorted keys), which the derived ids of id-less events hash.
		direct := parse && !nested
		b := make([]byte, 0, 64+len(rec)*24)
		b = append(b, '{')
		for i, cell := range rec {
			// encoding/csv drops the \r of CRLF lines; cells are otherwise as written.
			if i >= len(cols) || cell == "" {
				continue
			}
			var v any = cell
			if numericColumns[names[i]] {
				if f, err := strconv.ParseFloat(strings.TrimSpace(cell), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
					v = f
				}
			}
			setPath(obj, cols[i], v)
			if !direct {
				continue
			}
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = segjson.AppendEscape(b, names[i], 0)
			b = append(b, ':')
			if f, ok := v.(float64); ok {
				b = strconv.AppendFloat(b, f, 'f', -1, 64)
			} else {
				b = segjson.AppendEscape(b, cell, 0)
			}
		}
		b = append(b, '}')
		if !direct {
			if b, err = json.Marshal(obj); err != nil {
				return row{}, fmt.Errorf("import: encoding row: %w", err)
			}
		}
		return row{raw: b, obj: obj}, nil
	}, nil
}

// A quoted CSV cell may hold line breaks, so one record may span lines; these
// bound how many. Without a bound, one unclosed quote makes the rest of the
// file a single cell.
const (
	maxRecordLines = 100
	maxRecordBytes = 1 << 20
)

// records splits CSV or TSV text into records' text, line by line, following
// quotes as encoding/csv does, so that a row that cannot be read is rejected
// with its own text and line number while the rows after it are read. A
// record whose quote is still open at the end of the file, or past the
// bounds above, is taken to be its first line alone; the lines after it are
// read again as records of their own. A TSV record is one line: TSV cells
// hold no line breaks, and a quote left open at the end of a line is an
// error rather than a cell running on into the next rows.
type records struct {
	br    *bufio.Reader
	comma byte
	tsv   bool
	text  []byte   // the latest record's text, reused
	ends  []int    // where each of its lines ends in text
	back  [][]byte // lines read and given back, to read again first
	line  int      // the number of the latest line read
}

func newRecords(r io.Reader, comma byte, tsv bool) *records {
	return &records{br: bufio.NewReaderSize(r, 64<<10), comma: comma, tsv: tsv}
}

// next returns the next record's text, ending in a line break, and the number
// of its first line; closed is false when its quote never closed (the text is
// then its first line alone). Blank lines are skipped, as encoding/csv does.
// The text is valid until the next call.
func (r *records) next() (text []byte, line int, closed bool, err error) {
	for {
		r.text, r.ends = r.text[:0], r.ends[:0]
		if err := r.appendLine(); err != nil {
			return nil, 0, false, err
		}
		if len(bytes.TrimRight(r.text, "\r\n")) > 0 {
			break
		}
	}
	line = r.line
	open := quoteOpenAfter(r.text, false, r.comma, r.tsv)
	for open && !r.tsv && len(r.ends) < maxRecordLines && len(r.text) < maxRecordBytes {
		start := len(r.text)
		if err := r.appendLine(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, 0, false, err
		}
		open = quoteOpenAfter(r.text[start:], true, r.comma, r.tsv)
	}
	if open {
		return r.reject(), line, false, nil
	}
	if r.text[len(r.text)-1] != '\n' {
		r.text = append(r.text, '\n') // the last line: csv.Reader then never reads past the record
	}
	return r.text, line, true, nil
}

// reject shortens the latest record to its first line, which it returns, and
// gives the lines after it back to be read again.
func (r *records) reject() []byte {
	var again [][]byte
	for i := 1; i < len(r.ends); i++ {
		again = append(again, bytes.Clone(r.text[r.ends[i-1]:r.ends[i]]))
	}
	r.back = append(again, r.back...)
	r.line -= len(again)
	r.text, r.ends = r.text[:r.ends[0]], r.ends[:1]
	return r.text
}

// appendLine appends the next line, with its line break, to text.
func (r *records) appendLine() error {
	if len(r.back) > 0 {
		r.text = append(r.text, r.back[0]...)
		r.back = r.back[1:]
	} else {
		start := len(r.text)
		for {
			s, err := r.br.ReadSlice('\n')
			r.text = append(r.text, s...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (!errors.Is(err, io.EOF) || len(r.text) == start) {
				if !errors.Is(err, io.EOF) {
					err = fmt.Errorf("import: reading: %w", err)
				}
				return err
			}
			break
		}
	}
	r.line++
	r.ends = append(r.ends, len(r.text))
	return nil
}

// quoteOpenAfter reports whether a quoted cell is still open at the end of
// line, given whether one was open at its start, by encoding/csv's rules: a
// quote opens a cell only at the cell's start; in a quoted cell "" is a quote,
// and a quote closes it when followed by the separator or the line end (or,
// without lazy quotes, by anything: encoding/csv then reports an error).
func quoteOpenAfter(line []byte, open bool, comma byte, lazy bool) bool {
	cellStart := !open
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case open:
			if c != '"' {
				continue
			}
			if i+1 < len(line) && line[i+1] == '"' {
				i++
				continue
			}
			if i+1 == len(line) || !lazy {
				open = false
				continue
			}
			if next := line[i+1]; next == comma || next == '\n' || next == '\r' {
				open = false
			}
		case c == comma:
			cellStart = true
		case c == '"' && cellStart:
			open, cellStart = true, false
		default:
			cellStart = false
		}
	}
	return open
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
