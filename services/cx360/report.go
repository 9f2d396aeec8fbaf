package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/report"
)

// defaultReportOut is where the report goes: beside the dev stack's data
// (its default --data-dir is .cx360).
var defaultReportOut = filepath.Join(".cx360", "report.html")

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cc       config.ClickHouse
		out      string
		customer string
		timeout  time.Duration
	)
	fs := config.NewFlagSet("cx360 report", os.LookupEnv)
	fs.SetOutput(stderr)
	cc.Bind(fs)
	fs.String(&out, "out", defaultReportOut, "HTML file to write (its directory is created)")
	fs.String(&customer, "customer", "", "customer whose journey is drawn, by any id it ever had (default: the one with the most channels, then the most events)")
	fs.Duration(&timeout, "timeout", 2*time.Minute, "bound on connecting to ClickHouse and running the report's queries")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: cx360 report [flags]

Writes the customer-experience report of the ClickHouse database cx360 as one
self-contained HTML page with charts (no network needed to view it): journey
phases, satisfaction by channel and phase, contact-centre KPIs, the customers
with the most friction, one customer's cross-channel journey and identity
merges. Prints the page's path and a short summary.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Errorf("unexpected argument %q (the output file is --out)", fs.Arg(0))}
	}
	if _, _, err := net.SplitHostPort(cc.Addr); err != nil {
		return usageError{fmt.Errorf("--clickhouse-addr %q is not host:port", cc.Addr)}
	}
	if out == "" || timeout <= 0 {
		return usageError{errors.New("--out must name a file and --timeout must be positive")}
	}
	password, err := cc.Secret()
	if err != nil {
		return usageError{err}
	}
	tlsConfig, err := cc.TLSConfig()
	if err != nil {
		return usageError{err}
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	c, err := clickhouse.Open(ctx, clickhouse.Options{Addr: cc.Addr, Username: cc.Username, Password: password, TLS: tlsConfig})
	if err != nil {
		return fmt.Errorf("%w (is ClickHouse running? `cx360 dev` starts one)", err)
	}
	defer c.Close()
	r, err := report.Build(ctx, c, report.Options{CustomerID: customer})
	if err != nil {
		return err
	}
	if err := r.WriteFile(out); err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		abs = out
	}
	info, err := os.Stat(out)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stdout, "report: %s (%d KB, %v)\n", abs, (info.Size()+1023)/1024, time.Since(start).Round(time.Millisecond))
	for _, line := range r.Summary().Lines() {
		fmt.Fprintln(stdout, "  "+line)
	}
	return nil
}
