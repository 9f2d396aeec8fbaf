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
func csvRows(r io.Reader, tsv, parse bool) (func() (row, error), error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // a short row is one rejected item, not a failed import
	if tsv {
		cr.Comma = '\t'
		cr.LazyQuotes = true
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return func() (row, error) { return row{}, io.EOF }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import: reading header: %w", err)
	}
	cols := make([][]string, len(header))
	nested := false
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		cols[i] = strings.Split(h, ".")
		nested = nested || len(cols[i]) > 1
		header[i] = h
	}
	names := append([]string(nil), header...)
	return func() (row, error) {
		rec, err := cr.Read()
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				// Keep the broken line as an item so it is rejected and dead-lettered.
				b, _ := json.Marshal("unparseable CSV row: " + perr.Error()) // a string always marshals
				return row{raw: b}, nil
			}
			return row{}, err
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
