package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/importer"
	"github.com/cx360/cx360/pkg/ingest"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg       config.Ingest
		channel   string
		format    string
		batchSize int
	)
	fs := config.NewFlagSet("cx360 import", os.LookupEnv)
	fs.SetOutput(stderr)
	fs.String(&channel, "channel", "", "channel of the events: store, web, app, phone or a mapped channel (required)")
	fs.String(&format, "format", "", "csv, tsv or ndjson (default: from the file name)")
	fs.Int(&batchSize, "batch-size", importer.DefaultBatchSize, "items per produce batch")
	cfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: cx360 import --channel CHANNEL [flags] FILE...

Imports files through ingest's validation and normalisation into cx.events.
CSV/TSV headers name input-event fields by path (type, timestamp,
identifiers.email, order.total, call.wait_seconds, properties.country, ...), or
any columns when the channel is mapped by a file in --mappings-dir. NDJSON lines
are input events. Files may be gzipped. Rejected rows go to cx.events.dlq with
their reason; a summary is printed at the end.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if channel == "" || fs.NArg() == 0 {
		fs.Usage()
		return usageError{errors.New("--channel and at least one FILE are required")}
	}
	cfg.Log.Format = "console"
	if err := cfg.Validate(); err != nil {
		return usageError{err}
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

	progress := newProgress(stderr)
	var total importer.Summary
	total.Codes = map[string]int{}
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
			Channel: channel, Format: f, BatchSize: batchSize,
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
	return nil
}

func add(t *importer.Summary, s importer.Summary) {
	t.Read += s.Read
	t.Accepted += s.Accepted
	t.Rejected += s.Rejected
	t.Duplicates += s.Duplicates
	t.Elapsed += s.Elapsed
	for k, v := range s.Codes {
		t.Codes[k] += v
	}
}

func printSummary(w io.Writer, s importer.Summary) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Read) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "read %d, accepted %d (%d duplicates), rejected %d in %s (%.0f rows/s)\n",
		s.Read, s.Accepted, s.Duplicates, s.Rejected, s.Elapsed.Round(time.Millisecond), rate)
	codes := make([]string, 0, len(s.Codes))
	for c := range s.Codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  rejected %-22s %d (in cx.events.dlq)\n", c, s.Codes[c])
	}
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
	rate := float64(s.Read) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s: read %d  accepted %d  rejected %d  %.0f rows/s ", file, s.Read, s.Accepted, s.Rejected, rate)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
