package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/gen"
	"github.com/cx360/cx360/pkg/importer"
)

// Defaults of cx360 gen.
const (
	defaultIngestURL = "http://127.0.0.1:8080"
	defaultGenSeed   = 1
)

// genChannels is the order channels are listed in.
var genChannels = []string{"store", "web", "app", "phone"}

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg                 gen.Config
		seed                int64
		start               string
		ingestURL, apiKey   string
		outDir, truthFile   string
		batchSize, inFlight int
		retryFor            time.Duration
	)
	fs := config.NewFlagSet("cx360 gen", os.LookupEnv)
	fs.SetOutput(stderr)
	fs.Int(&cfg.Customers, "customers", gen.DefaultCustomers, "simulated customers (persons)")
	fs.Int(&cfg.Days, "days", gen.DefaultDays, "days of customer life to simulate")
	fs.Int64(&seed, "seed", defaultGenSeed, "random seed: the same seed gives the same events and truth")
	fs.String(&start, "start", gen.DefaultStart.Format(time.DateOnly), "first day of the period (YYYY-MM-DD or RFC 3339, UTC); it must end before tomorrow, as ingest rejects future events")
	fs.Int(&cfg.Stores, "stores", gen.DefaultStores, "stores of the retailer (1-12)")
	rates := []rateFlag{
		{&cfg.BadRate, "bad-rate", gen.DefaultBadRate, "bad records per valid event (rejected into cx.events.dlq)", ""},
		{&cfg.DuplicateRate, "duplicate-rate", gen.DefaultDuplicateRate, "share of events sent twice (acknowledged as duplicates)", ""},
		{&cfg.HouseholdRate, "household-rate", gen.DefaultHouseholdRate, "share of customers in two-person households sharing a family tablet", ""},
		{&cfg.WalkInRate, "walk-in-rate", gen.DefaultWalkInRate, "share of loyalty purchases where the till records the shop's own number", ""},
		{&cfg.LateRate, "late-rate", gen.DefaultLateRate, "share of store visits a till uploads hours late", ""},
	}
	for i := range rates {
		r := &rates[i]
		fs.String(&r.text, r.name, strconv.FormatFloat(r.def, 'g', -1, 64), r.help+", 0 to 1; 0 for none")
	}
	fs.String(&ingestURL, "ingest-url", defaultIngestURL, "ingest's base URL")
	fs.String(&apiKey, "api-key", "", "ingest API key, sent as a Bearer token")
	fs.Int(&batchSize, "batch-size", gen.DefaultBatchSize, "events per request (one NDJSON body)")
	fs.Int(&inFlight, "concurrency", gen.DefaultConcurrency, "requests in flight")
	fs.Duration(&retryFor, "retry-for", gen.DefaultMaxElapsed, "how long to retry a batch ingest answers 503 (honouring Retry-After) or cannot be reached")
	fs.String(&outDir, "out", "", "write one NDJSON file per channel into this directory (for cx360 import) instead of sending")
	fs.String(&truthFile, "truth", "", "write the ground truth (JSON) to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: cx360 gen [flags]

Simulates a retailer's customers across store, web, app and phone — research
online, store visits with loyalty scans, orders, calls with waits, transfers
and abandons, returns, surveys — with anonymous browsing that later logs in,
shared family tablets, the shops' walk-in numbers and some bad records. Sends
the events through ingest's HTTP API (or writes files for cx360 import) and
prints what ingest answered next to what the ground truth expects. The same
seed always gives the same events.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	st, err := parseStart(start)
	if err != nil {
		return usageError{err}
	}
	cfg.Seed, cfg.Start = uint64(seed), st
	for _, r := range rates {
		if err := r.parse(); err != nil {
			return usageError{err}
		}
	}
	if cfg.Customers < 1 || cfg.Days < 1 {
		return usageError{errors.New("--customers and --days must be at least 1")}
	}
	// Ingest rejects events more than a day ahead of its clock.
	if end := cfg.End(); end.After(time.Now().Add(config.DefaultMaxFutureSkew)) {
		return usageError{fmt.Errorf("the period ends %s, in the future: ingest would reject its last events; pick an earlier --start", end.Format(time.DateOnly))}
	}

	began := time.Now()
	ds, err := gen.Generate(cfg)
	if err != nil {
		return usageError{err}
	}
	took := time.Since(began)
	c := ds.Truth.Counts
	fmt.Fprintf(stdout, "generated %d records in %s (%.0f records/s): %d events, %d duplicates, %d bad records\n",
		c.Records, took.Round(time.Millisecond), float64(c.Records)/max(took.Seconds(), 1e-9), c.Events, c.Duplicates, c.Bad)
	fmt.Fprintf(stdout, "  %d customers over %d days from %s, %d stores, seed %d\n",
		ds.Config.Customers, ds.Config.Days, ds.Config.Start.Format(time.DateOnly), ds.Config.Stores, ds.Config.Seed)
	if outDir != "" {
		if err := writeGenFiles(stdout, outDir, ds); err != nil {
			return err
		}
	}
	if truthFile != "" { // before sending, for whoever waits on the pipeline
		if err := writeTruth(truthFile, ds.Truth); err != nil {
			return err
		}
	}
	var sendErr error
	if outDir == "" {
		sendErr = sendGen(ctx, stdout, stderr, ds, gen.SendConfig{
			URL: ingestURL, APIKey: apiKey, BatchSize: batchSize, Concurrency: inFlight, MaxElapsed: retryFor,
		})
	}
	printTruth(stdout, ds.Truth)
	if truthFile != "" {
		fmt.Fprintf(stdout, "truth written to %s\n", truthFile)
	}
	return sendErr
}

// rateFlag is a scenario rate, bound as text so that its CX360_* variable
// works like every other flag's.
type rateFlag struct {
	p          *float64
	name       string
	def        float64
	help, text string
}

// parse sets the rate. The flag's 0 means none, which gen.Config spells as a
// negative rate (its zero means the default, which the flag's default is).
func (r rateFlag) parse() error {
	v, err := strconv.ParseFloat(strings.TrimSpace(r.text), 64)
	if err != nil || v < 0 || v > 1 {
		return fmt.Errorf("--%s %q: want a number from 0 to 1", r.name, r.text)
	}
	if v == 0 {
		v = -1
	}
	*r.p = v
	return nil
}

func parseStart(s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--start %q: want YYYY-MM-DD or RFC 3339", s)
}

func writeTruth(path string, t *gen.Truth) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("truth file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("truth file: %w", cerr)
		}
	}()
	return t.WriteJSON(f)
}

func writeGenFiles(stdout io.Writer, dir string, ds *gen.Dataset) error {
	files, err := gen.WriteFiles(dir, ds.Records)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d records to %s:\n", len(ds.Records), dir)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %-40s %7d records\n", f.Path, f.Records)
	}
	fmt.Fprintln(stdout, "import them with:")
	for _, f := range files {
		fmt.Fprintf(stdout, "  cx360 import --channel %s %s\n", f.Channel, filepath.Clean(f.Path))
	}
	return nil
}

func sendGen(ctx context.Context, stdout, stderr io.Writer, ds *gen.Dataset, sc gen.SendConfig) error {
	progress := newProgress(stderr) // import's status line, silent unless stderr is a terminal
	total := len(ds.Records)
	sc.Progress = func(s gen.SendStats) {
		const width = 24
		done := s.Records * width / max(total, 1)
		bar := fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", done), strings.Repeat(".", width-done), s.Records*100/max(total, 1))
		progress.update(bar, importer.Summary{Read: s.Records, Accepted: s.Accepted, Rejected: s.Rejected, Duplicates: s.Duplicates, Elapsed: s.Elapsed})
	}
	stats, err := gen.Send(ctx, ds.Records, sc)
	progress.done()
	fmt.Fprintf(stdout, "sent %d records to %s in %s (%.0f records/s), %d requests, %d retries\n",
		stats.Records, sc.URL, stats.Elapsed.Round(time.Millisecond), stats.Rate(), stats.Requests, stats.Retries)
	c := ds.Truth.Counts
	fmt.Fprintf(stdout, "  %-8s %9s %9s %11s %9s\n", "channel", "sent", "accepted", "duplicates", "rejected")
	for _, ch := range channelsOf(c.ByChannel) {
		s := stats.ByChannel[ch]
		fmt.Fprintf(stdout, "  %-8s %9d %9d %11d %9d\n", ch, s.Records, s.Accepted, s.Duplicates, s.Rejected)
	}
	fmt.Fprintf(stdout, "  %-8s %9d %9d %11d %9d\n", "total", stats.Records, stats.Accepted, stats.Duplicates, stats.Rejected)
	codes := make([]string, 0, len(stats.Codes))
	for code := range stats.Codes {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		fmt.Fprintf(stdout, "  rejected %-22s %d (in cx.events.dlq)\n", code, stats.Codes[code])
	}
	if err != nil {
		return err
	}
	if stats.UnexpectedCount > 0 {
		for _, u := range stats.Unexpected {
			fmt.Fprintf(stderr, "  unexpected: %s\n", u)
		}
		return fmt.Errorf("%d of ingest's answers differ from the truth (is ingest running with non-default rules, blocklist or region?)", stats.UnexpectedCount)
	}
	if stats.Accepted != c.Events+c.Duplicates || stats.Rejected != c.Bad {
		return fmt.Errorf("ingest accepted %d and rejected %d; the truth expects %d and %d", stats.Accepted, stats.Rejected, c.Events+c.Duplicates, c.Bad)
	}
	if stats.Duplicates != c.Duplicates {
		fmt.Fprintf(stdout, "  note: %d duplicates recognised, %d sent (ingest's dedup window is off or was restarted)\n", stats.Duplicates, c.Duplicates)
	}
	return nil
}

func printTruth(w io.Writer, t *gen.Truth) {
	c := t.Counts
	fmt.Fprintf(w, "expected: %d events on cx.events, %d records on cx.events.dlq\n", c.Events, c.Bad)
	byType := make([]string, 0, len(c.ByType))
	for _, ch := range channelsOf(c.ByChannel) {
		types := make([]string, 0, len(c.ByType[ch]))
		for typ := range c.ByType[ch] {
			types = append(types, typ)
		}
		slices.Sort(types)
		parts := make([]string, len(types))
		for i, typ := range types {
			parts[i] = fmt.Sprintf("%s %d", typ, c.ByType[ch][typ])
		}
		byType = append(byType, fmt.Sprintf("  %-6s %s", ch, strings.Join(parts, ", ")))
	}
	fmt.Fprintln(w, strings.Join(byType, "\n"))
	fmt.Fprintf(w, "expected after identity resolution: %d persons -> %d customers, %d merges, %d hubs quarantined (walk-in numbers, %d splits)\n",
		c.Persons, c.Customers, c.Merges, c.Hubs, c.Splits)
}

// channelsOf lists the channels present, in their usual order.
func channelsOf[V any](m map[string]V) []string {
	var out []string
	for _, ch := range genChannels {
		if _, ok := m[ch]; ok {
			out = append(out, ch)
		}
	}
	return out
}
