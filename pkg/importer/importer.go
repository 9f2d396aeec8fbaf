// Package importer backfills files (POS exports, call logs) through the same
// processor as the HTTP API: CSV, TSV or NDJSON, optionally gzipped, read as a
// stream in batches, with progress and a summary; rejects go to the DLQ.
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
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cx360/cx360/pkg/ingest"
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
	// Progress, when set, is called after every batch with the running totals.
	Progress func(Summary)
}

// Summary counts what an import did.
type Summary struct {
	Read       int           `json:"read"`
	Accepted   int           `json:"accepted"`
	Rejected   int           `json:"rejected"`
	Duplicates int           `json:"duplicates"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Codes      map[string]int
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
	var next func() ([]byte, error)
	switch opts.Format {
	case FormatCSV, FormatTSV:
		next, err = csvItems(r, opts.Format == FormatTSV)
	case FormatNDJSON:
		next = lineItems(r)
	default:
		return Summary{}, fmt.Errorf("import: unknown format %q (want csv, tsv or ndjson)", opts.Format)
	}
	if err != nil {
		return Summary{}, err
	}

	sum := Summary{Codes: map[string]int{}}
	batch := make([][]byte, 0, opts.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := proc.Process(ctx, opts.Channel, batch)
		if err != nil {
			return fmt.Errorf("import: after %d durable items: %w", sum.Accepted+sum.Rejected, err)
		}
		sum.Read += len(batch)
		sum.Accepted += res.Accepted
		sum.Rejected += res.Rejected
		sum.Duplicates += res.Duplicates
		for _, e := range res.Errors {
			sum.Codes[e.Code]++
		}
		sum.Elapsed = time.Since(start)
		batch = batch[:0]
		if opts.Progress != nil {
			opts.Progress(sum)
		}
		return nil
	}
	for {
		item, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, err
		}
		batch = append(batch, item)
		if len(batch) == opts.BatchSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := flush(); err != nil {
		return sum, err
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
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

// lineItems yields each non-blank line; a bad line becomes one rejected item.
func lineItems(r io.Reader) func() ([]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	return func() ([]byte, error) {
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) > 0 {
				return append([]byte(nil), line...), nil
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("import: reading lines: %w", err)
		}
		return nil, io.EOF
	}
}

// numericColumns are input-event fields that are numbers in JSON. Other cells
// stay strings: "007" is an identifier, not seven.
var numericColumns = map[string]bool{
	"order.total": true, "call.wait_seconds": true, "call.handle_seconds": true,
	"survey.score": true, "survey.scale_max": true,
}

// csvItems turns each row into a JSON object: a column named "a.b" becomes
// {"a":{"b":...}}, so a header of input-event paths (type, timestamp,
// identifiers.email, order.total, ...) yields input events, and any other header
// yields objects a mapping file can address. Empty cells are absent.
func csvItems(r io.Reader, tsv bool) (func() ([]byte, error), error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // a short row is one rejected item, not a failed import
	if tsv {
		cr.Comma = '\t'
		cr.LazyQuotes = true
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return func() ([]byte, error) { return nil, io.EOF }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("import: reading header: %w", err)
	}
	cols := make([][]string, len(header))
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		cols[i] = strings.Split(h, ".")
		header[i] = h
	}
	names := append([]string(nil), header...)
	return func() ([]byte, error) {
		rec, err := cr.Read()
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				// Keep the broken line as an item so it is rejected and dead-lettered.
				return []byte(fmt.Sprintf("%q", "unparseable CSV row: "+perr.Error())), nil
			}
			return nil, err
		}
		obj := map[string]any{}
		for i, cell := range rec {
			if i >= len(cols) || cell == "" {
				continue
			}
			var v any = cell
			if numericColumns[names[i]] {
				if f, err := strconv.ParseFloat(strings.TrimSpace(cell), 64); err == nil {
					v = f
				}
			}
			setPath(obj, cols[i], v)
		}
		return json.Marshal(obj)
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
