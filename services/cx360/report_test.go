package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/report/reporttest"
	"github.com/cx360/cx360/pkg/sink"
)

// TestReportCommand runs `cx360 report` against a real ClickHouse holding
// pkg/marts' fixture: it writes the page where --out says, creating the
// directory, and prints its path and the fixture's exact summary.
func TestReportCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := chtest.NewServer(t)
	c, err := clickhouse.Open(ctx, clickhouse.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := sink.Migrate(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Load(ctx, c); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "reports", "cx.html")
	code, stdout, stderr := cli("report", "--clickhouse-addr", srv.Addr(), "--out", out)
	if code != 0 {
		t.Fatalf("report exit %d: %s %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "report: "+out+" (") {
		t.Errorf("first line %q does not name %s", lines[0], out)
	}
	want := make([]string, len(reporttest.SummaryLines))
	for i, l := range reporttest.SummaryLines {
		want[i] = "  " + l
	}
	if got := lines[1:]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`<section id="phases">`, `<section id="identity">`, `id="chart-journey"`, `data-value="9" data-label="post_visit" data-series="web"`} {
		if !strings.Contains(string(page), s) {
			t.Errorf("the page lacks %s", s)
		}
	}

	// The journey of a customer asked for by a merged id is the live one's.
	code, stdout, stderr = cli("report", "--clickhouse-addr", srv.Addr(), "--out", out, "--customer", "bob-app")
	if code != 0 || !strings.Contains(stdout, "journey shown:  cust-bob, 9 events on 4 channels") {
		t.Errorf("report --customer bob-app: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestReportCommandErrors: mistakes on the command line exit 2, an
// unreachable ClickHouse exits 1 with a hint, and nothing is written.
func TestReportCommandErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.html")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "--out", out, "extra.html"}, 2, `unexpected argument "extra.html"`},
		{[]string{"report", "--out", out, "--clickhouse-addr", "localhost"}, 2, `--clickhouse-addr "localhost" is not host:port`},
		{[]string{"report", "--out", out, "--clickhouse-addr", "127.0.0.1:1", "--timeout", "5s"}, 1, "is ClickHouse running?"},
	} {
		code, _, stderr := cli(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed report wrote %s (%v)", out, err)
	}
}
