package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/importer"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/mapping"
	"github.com/cx360/cx360/pkg/marts"
	"github.com/cx360/cx360/schemas"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg         config.Ingest
		chCfg       config.ClickHouse
		channel     string
		mappingFile string
		format      string
		batchSize   int
		report      string
		reportArgs  []string
		reportWait  time.Duration
	)
	fs := config.NewFlagSet("cx360 import", os.LookupEnv)
	fs.SetOutput(stderr)
	fs.String(&channel, "channel", "", "channel of the events: store, web, app, phone or a mapped channel")
	fs.String(&mappingFile, "mapping", "", "a mapping file (YAML) defining the channel the files are read through (instead of --channel)")
	fs.String(&format, "format", "", "csv, tsv or ndjson (default: from the file name)")
	fs.Int(&batchSize, "batch-size", importer.DefaultBatchSize, "items per produce batch")
	fs.String(&report, "report", "", "after the import, wait until ClickHouse holds its events and print this query of schemas/clickhouse/queries (e.g. revenue_by_month)")
	fs.List(&reportArgs, "report-param", nil, "name=value for a parameter of the --report query (default: the query's example)")
	fs.Duration(&reportWait, "report-timeout", 3*time.Minute, "how long --report waits for the events to reach ClickHouse")
	cfg.Bind(fs)
	chCfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: cx360 import (--channel CHANNEL | --mapping FILE) [flags] FILE...

Imports files through ingest's validation and normalisation into cx.events.
CSV/TSV headers name input-event fields by path (type, timestamp,
identifiers.email, order.total, call.wait_seconds, properties.country, ...), or
any columns when the channel is mapped: by --mapping FILE, or by a file in
--mappings-dir. NDJSON lines are input events (or source objects of a mapped
channel). Files may be gzipped. Rejected rows go to cx.events.dlq with their
reason; a summary is printed at the end. With --report, the import then waits
for its events to reach ClickHouse (the dev stack's sink) and prints a report.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (channel == "" && mappingFile == "") || fs.NArg() == 0 {
		fs.Usage()
		return usageError{errors.New("--channel (or --mapping) and at least one FILE are required")}
	}
	var m *mapping.Mapping
	if mappingFile != "" {
		var err error
		if m, err = mapping.Load(mappingFile); err != nil {
			return usageError{err}
		}
		if channel != "" && channel != m.Channel {
			return usageError{fmt.Errorf("--channel %q, but %s defines channel %q", channel, mappingFile, m.Channel)}
		}
		channel = m.Channel
		// Ingest learns the channel like any mapped channel: from its mapping paths.
		cfg.MappingsDir = strings.Join(slices.DeleteFunc([]string{cfg.MappingsDir, mappingFile}, func(s string) bool { return s == "" }),
			string(filepath.ListSeparator))
	}
	q, reportParams, err := reportQuery(report, reportArgs)
	if err != nil {
		return usageError{err}
	}
	cfg.Log.Format = "console"
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	if m == nil {
		// A channel mapped in --mappings-dir groups rows as its mapping says too.
		maps, err := mapping.LoadDir(cfg.MappingsDir)
		if err != nil {
			return usageError{err}
		}
		for _, candidate := range maps {
			if candidate.Channel == channel {
				m = candidate
			}
		}
	}
	logger, err := cfg.Log.Logger("cx360-import")
	if err != nil {
		return usageError{err}
	}
	defer func() { _ = logger.Sync() }()

	svc, err := ingest.NewService(ctx, cfg, "import", nil, logger)
	if err != nil {
		return err
	}
	defer svc.Shutdown(context.Background()) //nolint:errcheck // only the producer, already flushed per batch
	if !svc.Processor().HasChannel(channel) {
		return usageError{fmt.Errorf("unknown channel %q (known: %v)", channel, svc.Processor().Channels())}
	}

	started := time.Now()
	progress := newProgress(stderr)
	total := importer.Summary{Codes: map[string]int{}, Reasons: map[string]int{}}
	for _, file := range fs.Args() {
		f := format
		if f == "" {
			if f, err = importer.FormatFor(file); err != nil {
				return usageError{err}
			}
		}
		fh, err := os.Open(file)
		if err != nil {
			return err
		}
		sum, err := importer.Run(ctx, svc.Processor(), fh, importer.Options{
			Channel: channel, Format: f, BatchSize: batchSize, Mapping: m,
			Progress: func(s importer.Summary) { progress.update(file, s) },
		})
		fh.Close()
		progress.done()
		add(&total, sum)
		if err != nil {
			printSummary(stdout, total)
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	printSummary(stdout, total)
	if q == nil {
		return nil
	}
	return printReport(ctx, stdout, stderr, chCfg, *q, reportParams, channel, started, total.Accepted-total.Duplicates, reportWait)
}

func add(t *importer.Summary, s importer.Summary) {
	t.Rows += s.Rows
	t.Read += s.Read
	t.Accepted += s.Accepted
	t.Rejected += s.Rejected
	t.Duplicates += s.Duplicates
	t.DuplicateRows += s.DuplicateRows
	t.Elapsed += s.Elapsed
	for k, v := range s.Codes {
		t.Codes[k] += v
	}
	for k, v := range s.Reasons {
		t.Reasons[k] += v
	}
}

func printSummary(w io.Writer, s importer.Summary) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Rows) / s.Elapsed.Seconds()
	}
	read := strconv.Itoa(s.Read)
	if s.Rows != s.Read {
		read = fmt.Sprintf("%d rows as %d events", s.Rows, s.Read)
	}
	fmt.Fprintf(w, "read %s, accepted %d (%d duplicates), rejected %d in %s (%.0f rows/s)\n",
		read, s.Accepted, s.Duplicates, s.Rejected, s.Elapsed.Round(time.Millisecond), rate)
	if s.DuplicateRows > 0 {
		fmt.Fprintf(w, "  dropped %d rows identical to an earlier row of their group (group.distinct_rows)\n", s.DuplicateRows)
	}
	codes := make([]string, 0, len(s.Codes))
	for c := range s.Codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  rejected %-22s %d (in cx.events.dlq)\n", c, s.Codes[c])
		if c != mapping.CodeRejectedByRule {
			continue
		}
		reasons := make([]string, 0, len(s.Reasons))
		for r := range s.Reasons {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool { return s.Reasons[reasons[i]] > s.Reasons[reasons[j]] })
		for _, r := range reasons {
			fmt.Fprintf(w, "    %8d  %s\n", s.Reasons[r], r)
		}
	}
}

// reportQuery finds the --report query and its parameter values (the query's
// example values, overridden by --report-param), before anything is imported.
func reportQuery(name string, args []string) (*schemas.Query, map[string]string, error) {
	if name == "" {
		if len(args) > 0 {
			return nil, nil, errors.New("--report-param needs --report")
		}
		return nil, nil, nil
	}
	queries, err := schemas.Queries()
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, q := range queries {
		if q.Name == strings.TrimSuffix(name, ".sql") {
			params := map[string]string{}
			for k, v := range q.Example {
				params[k] = v
			}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return nil, nil, fmt.Errorf("--report-param %q is not name=value", a)
				}
				params[k] = v
			}
			if _, err := q.Bind(params); err != nil {
				return nil, nil, err
			}
			return &q, params, nil
		}
		names = append(names, q.Name)
	}
	return nil, nil, fmt.Errorf("--report %q: no such query (known: %s)", name, strings.Join(names, ", "))
}

// printReport waits until ClickHouse holds the events this import produced
// (identity resolves them and the sink writes them after Kafka acknowledged
// them), then prints the query's answer as a table.
func printReport(ctx context.Context, stdout, stderr io.Writer, cfg config.ClickHouse, q schemas.Query, params map[string]string,
	channel string, since time.Time, produced int, wait time.Duration) error {
	pass, err := cfg.Secret()
	if err != nil {
		return err
	}
	tlsConfig, err := cfg.TLSConfig()
	if err != nil {
		return err
	}
	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: cfg.Addr, Username: cfg.Username, Password: pass, TLS: tlsConfig})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer ch.Close()

	// Rows this run wrote carry a received time after its start; a channel name
	// is [a-z0-9_-] (mapping.Parse checks it), safe inside quotes.
	landed := fmt.Sprintf("SELECT uniqExact(event_id) FROM cx360.journey_events WHERE channel = '%s' AND received_ts_ms >= %d",
		channel, since.UnixMilli())
	deadline := time.Now().Add(wait)
	var got uint64
	for {
		err := ch.QueryRow(ctx, landed).Scan(&got)
		if err == nil && got >= uint64(produced) {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "report: %d of %d events in ClickHouse after %s; the report may be partial (last error: %v)\n", got, produced, wait, err)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	sql, err := q.Bind(params)
	if err != nil {
		return err
	}
	rows, err := ch.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("report %s: %w", q.Name, err)
	}
	cols, values, err := marts.Render(rows)
	if err != nil {
		return fmt.Errorf("report %s: %w", q.Name, err)
	}
	fmt.Fprintf(stdout, "\n%s\n\n", q.Question)
	printTable(stdout, cols, values)
	return nil
}

// printTable aligns columns; numbers are right-aligned.
func printTable(w io.Writer, cols []string, rows [][]string) {
	widths := make([]int, len(cols))
	numeric := make([]bool, len(cols))
	for i, c := range cols {
		widths[i] = len(c)
		numeric[i] = len(rows) > 0
	}
	for _, r := range rows {
		for i, v := range r {
			widths[i] = max(widths[i], len([]rune(v)))
			if _, err := strconv.ParseFloat(v, 64); err != nil && v != "NULL" {
				numeric[i] = false
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, v := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-len([]rune(v)))
			if numeric[i] {
				b.WriteString(pad + v)
			} else {
				b.WriteString(v + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(cols)
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintf(w, "(%d rows)\n", len(rows))
}

// progress redraws one status line on a terminal and stays silent otherwise,
// so logs and CI output are not flooded.
type progress struct {
	w    io.Writer
	tty  bool
	last time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(file string, s importer.Summary) {
	if !p.tty || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	rows := s.Rows
	if rows == 0 { // a caller counting items only (cx360 gen)
		rows = s.Read
	}
	rate := float64(rows) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s: read %d rows  accepted %d  rejected %d  %.0f rows/s ", file, rows, s.Accepted, s.Rejected, rate)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
