// Command cx360 is cx360's command-line tool: the embedded dev stack, file import and topic inspection.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `cx360 — customer-360 event pipeline

Usage:
  cx360 dev     [flags]          run the embedded stack (Kafka, schema registry, ingest) on this machine
  cx360 import  [flags] FILE...  import CSV, TSV or NDJSON files (optionally .gz) into cx.events
  cx360 gen     [flags]          simulate a retailer's customers and send their events to ingest (or write files)
  cx360 tail    [flags]          print a topic's records decoded from Avro (e.g. --topic events.dlq)
  cx360 report  [flags]          write the customer-experience report (HTML with charts) from ClickHouse
  cx360 help                     show this help

Run "cx360 COMMAND -h" for a command's flags. Every flag can also be set with the
CX360_* environment variable shown in its help.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], stdout, stderr)
	case "import":
		err = runImport(ctx, args[1:], stdout, stderr)
	case "tail":
		err = runTail(ctx, args[1:], stdout, stderr)
	case "gen":
		err = runGen(ctx, args[1:], stdout, stderr)
	case "report":
		err = runReport(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cx360: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "cx360 %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "cx360 %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
