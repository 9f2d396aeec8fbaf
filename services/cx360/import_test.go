package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/devstack/devstacktest"
	"github.com/cx360/cx360/pkg/realdata"
)

// headOf copies the header and the first n rows of a data file into a temp file.
func headOf(t *testing.T, src string, n int) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sc := bufio.NewScanner(in)
	for i := 0; i <= n && sc.Scan(); i++ {
		fmt.Fprintf(out, "%s\n", sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestImportMappingThenReport is the README's "try it on real data": the dev
// stack with ClickHouse, then one `cx360 import --mapping … --report …` of the
// bank's calls (the first 2,000 rows), whose report must equal the figures
// computed from the same rows.
func TestImportMappingThenReport(t *testing.T) {
	dataDir, err := realdata.Dir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := realdata.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := headOf(t, filepath.Join(dataDir, realdata.BankCallsFile), 2000)
	rows, err := realdata.ReadCalls(file)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := realdata.ImportCalls(rows)
	if err != nil {
		t.Fatal(err)
	}

	ic := devstacktest.Ingest(t)
	ep := devstacktest.Start(t, devstack.Config{Ingest: ic, ClickHouse: true}, nil, nil).Endpoints()

	code, out, errOut := cli("import", "--mapping", filepath.Join(root, "schemas", "mappings", "bank-calls.yaml"),
		"--report", "calls_by_hour", "--kafka-brokers", ep.Kafka, "--registry-url", ep.Registry, "--clickhouse-addr", ep.ClickHouse, file)
	if code != 0 {
		t.Fatalf("import exit %d:\n%s\n%s", code, out, errOut)
	}
	summary := fmt.Sprintf("read 2000, accepted %d (0 duplicates), rejected %d", len(calls.Calls), calls.Phantom)
	reason := fmt.Sprintf("%8d  PHANTOM call (the source marks it as not a real call)", calls.Phantom)
	if !strings.Contains(out, summary) || !strings.Contains(out, "rejected rejected_by_rule") || !strings.Contains(out, reason) {
		t.Errorf("summary: want %q and %q in\n%s", summary, reason, out)
	}
	// The report: calls_by_hour's question, its header, one line per hour.
	want := []string{"At what time of day do customers call"}
	for _, h := range calls.ByHour() {
		asa := "NULL"
		if h.ASA != nil {
			asa = realdata.Num(*h.ASA)
		}
		want = append(want, strings.Join([]string{fmt.Sprint(h.Hour), fmt.Sprint(h.Offered), fmt.Sprint(h.Answered), fmt.Sprint(h.Abandoned),
			realdata.Num(h.AbandonmentPct), asa, realdata.Num(h.SharePct)}, " "))
	}
	want = append(want, fmt.Sprintf("(%d rows)", len(calls.ByHour())))
	flat := strings.Join(strings.Fields(out), " ")
	for _, w := range want {
		if !strings.Contains(flat, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}

	// A mapping file may also go with its own channel name, and not with another.
	if code, _, errOut := cli("import", "--mapping", filepath.Join(root, "schemas", "mappings", "bank-calls.yaml"), "--channel", "store", file); code != 2 ||
		!strings.Contains(errOut, `defines channel "bank-calls"`) {
		t.Errorf("channel mismatch: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli("import", "--mapping", "missing.yaml", file); code != 2 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing mapping: exit %d %q", code, errOut)
	}
	if code, _, errOut := cli("import", "--channel", "store", "--report", "nosuch", file); code != 2 || !strings.Contains(errOut, "revenue_by_month") {
		t.Errorf("unknown report: exit %d %q", code, errOut)
	}
}
