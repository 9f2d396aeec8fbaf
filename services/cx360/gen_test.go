package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/gen"
	"github.com/cx360/cx360/pkg/kafka/kafkatest"
)

func readTruth(t *testing.T, path string) *gen.Truth {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := gen.ReadTruth(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestGenSendsThroughIngest runs `cx360 gen` against a running stack: the
// summary shows ingest's answers agreeing with the truth it writes, and the
// topics hold exactly the truth's events and bad records.
func TestGenSendsThroughIngest(t *testing.T) {
	ep := startStack(t)
	truthFile := filepath.Join(t.TempDir(), "truth.json")
	code, out, errOut := cli("gen", "--customers", "250", "--seed", "9", "--ingest-url", ep.Ingest, "--truth", truthFile, "--batch-size", "300")
	if code != 0 {
		t.Fatalf("gen exit %d: %s %s", code, out, errOut)
	}
	tr := readTruth(t, truthFile)
	c := tr.Counts
	if tr.Config.Seed != 9 || tr.Config.Customers != 250 || c.Bad == 0 || c.Duplicates == 0 {
		t.Fatalf("truth %+v", tr.Config)
	}
	for _, want := range []string{
		fmt.Sprintf("sent %d records to %s", c.Records, ep.Ingest),
		fmt.Sprintf("  %-8s %9d %9d %11d %9d", "total", c.Records, c.Events+c.Duplicates, c.Duplicates, c.Bad),
		fmt.Sprintf("expected: %d events on cx.events, %d records on cx.events.dlq", c.Events, c.Bad),
		fmt.Sprintf("%d persons -> %d customers, %d merges", c.Persons, c.Customers, c.Merges),
		"rejected missing_identifier",
		"truth written to " + truthFile,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	t.Log("\n" + out)
	brokers := []string{ep.Kafka}
	kafkatest.ReadN(t, brokers, "cx.events", c.Events, time.Minute)
	kafkatest.ReadN(t, brokers, "cx.events.dlq", c.Bad, time.Minute)

	// The same run again: every event is a duplicate within ingest's window,
	// which the summary notes; nothing new reaches the topic.
	code, out, errOut = cli("gen", "--customers", "250", "--seed", "9", "--ingest-url", ep.Ingest)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("  %-8s %9d %9d %11d %9d", "total", c.Records, c.Events+c.Duplicates, c.Events+c.Duplicates, c.Bad)) {
		t.Fatalf("second run exit %d: %s %s", code, out, errOut)
	}
	kafkatest.ReadN(t, brokers, "cx.events", c.Events, time.Minute)
}

// TestGenFilesForImport writes files with `cx360 gen --out` and imports them
// with `cx360 import`: each channel's summary matches the truth.
func TestGenFilesForImport(t *testing.T) {
	ep := startStack(t)
	dir := t.TempDir()
	truthFile := filepath.Join(dir, "truth.json")
	code, out, errOut := cli("gen", "--customers", "150", "--seed", "4", "--out", dir, "--truth", truthFile)
	if code != 0 {
		t.Fatalf("gen exit %d: %s %s", code, out, errOut)
	}
	tr := readTruth(t, truthFile)
	for _, ch := range genChannels {
		file := filepath.Join(dir, ch+".ndjson")
		if !strings.Contains(out, "cx360 import --channel "+ch+" "+file) {
			t.Errorf("no import hint for %s:\n%s", ch, out)
		}
		code, iout, ierr := cli("import", "--channel", ch, "--kafka-brokers", ep.Kafka, "--registry-url", ep.Registry, file)
		if code != 0 {
			t.Fatalf("import %s exit %d: %s %s", ch, code, iout, ierr)
		}
		cc := tr.Counts.ByChannel[ch]
		want := fmt.Sprintf("read %d, accepted %d (%d duplicates), rejected %d", cc.Records, cc.Events+cc.Duplicates, cc.Duplicates, cc.Bad)
		if !strings.Contains(iout, want) {
			t.Errorf("import %s: %q, want %q", ch, iout, want)
		}
	}
	kafkatest.ReadN(t, []string{ep.Kafka}, "cx.events", tr.Counts.Events, time.Minute)
	kafkatest.ReadN(t, []string{ep.Kafka}, "cx.events.dlq", tr.Counts.Bad, time.Minute)
}

func TestGenIsReproducibleAndChecksItsFlags(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if code, out, errOut := cli("gen", "--customers", "80", "--out", dir); code != 0 {
			t.Fatalf("gen exit %d: %s %s", code, out, errOut)
		}
	}
	for _, ch := range genChannels {
		x, err := os.ReadFile(filepath.Join(a, ch+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, ch+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("%s: two runs with the default seed differ (%d and %d bytes)", ch, len(x), len(y))
		}
	}

	future := time.Now().UTC().AddDate(0, 0, -3).Format(time.DateOnly)
	for _, args := range [][]string{
		{"gen", "--start", future},
		{"gen", "--start", "yesterday"},
		{"gen", "--bad-rate", "1.5"},
		{"gen", "--customers", "0"},
		{"gen", "--stores", "40"},
		{"gen", "extra"},
	} {
		if code, _, errOut := cli(args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
	if code, _, errOut := cli("gen", "-h"); code != 0 || !strings.Contains(errOut, "--ingest-url") && !strings.Contains(errOut, "-ingest-url") {
		t.Errorf("gen -h: exit %d %q", code, errOut)
	}
	if code, out, _ := cli("help"); code != 0 || !strings.Contains(out, "cx360 gen") {
		t.Errorf("help does not list gen: %q", out)
	}
	// Nothing listens on port 1: the send fails after its retries, clearly.
	t.Setenv("CX360_BAD_RATE", "0")
	done := make(chan struct{})
	var code int
	var errOut string
	go func() {
		defer close(done)
		code, _, errOut = cli("gen", "--customers", "5", "--ingest-url", "http://127.0.0.1:1", "--concurrency", "1", "--retry-for", "1s")
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("gen against an unreachable ingest did not give up")
	}
	if code != 1 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("unreachable ingest: exit %d, %q", code, errOut)
	}
}
