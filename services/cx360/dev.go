package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/devstack"
	"github.com/cx360/cx360/pkg/health"
)

// Defaults of the dev stack.
const (
	DefaultDataDir      = ".cx360"
	DefaultKafkaAddr    = "127.0.0.1:9092"
	DefaultRegistryAddr = "127.0.0.1:8081"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg   devstack.Config
		ready string
	)
	fs := config.NewFlagSet("cx360 dev", os.LookupEnv)
	fs.SetOutput(stderr)
	fs.String(&cfg.DataDir, "data-dir", DefaultDataDir, "directory holding all dev-stack data (broker, registry)")
	fs.String(&cfg.KafkaAddr, "kafka-addr", DefaultKafkaAddr, "embedded Kafka broker listen address (127.0.0.1 only)")
	fs.String(&cfg.RegistryAddr, "registry-addr", DefaultRegistryAddr, "embedded schema registry listen address")
	fs.String(&ready, "ready-file", "", "write the endpoints as JSON to this file once everything listens (for scripts)")
	cfg.Ingest.Bind(fs)
	bindIdentityDev(fs, &cfg.Identity)
	fs.Bool(&cfg.ClickHouse, "clickhouse", true, "start a local ClickHouse server (installed by scripts/setup.sh) and the sink")
	fs.Int(&cfg.ClickHouseTCPPort, "clickhouse-tcp-port", 9000, "local ClickHouse native port")
	fs.Int(&cfg.ClickHouseHTTPPort, "clickhouse-http-port", 8123, "local ClickHouse HTTP port")
	fs.Bool(&cfg.InfraOnly, "infra-only", false, "run only the broker, the registry and ClickHouse; start the ingest, identity and sink binaries yourself")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cx360 dev [flags]\n\nRuns the embedded cx360 stack in this process: a Kafka-protocol broker, a schema\nregistry, ingest, identity, a local ClickHouse and the sink, with their data under --data-dir. Ctrl-C stops it cleanly;\nrunning it again resumes with the data intact.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Ingest.Validate(); err != nil {
		return usageError{err}
	}
	if cfg.Ingest.Log.Format == config.DefaultLogFormat && !isFlagSet(fs, "log-format") {
		cfg.Ingest.Log.Format = "console" // a person is watching
	}
	logger, err := cfg.Ingest.Log.Logger("cx360-dev")
	if err != nil {
		return usageError{err}
	}
	defer func() { _ = logger.Sync() }()
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return err
	}

	stack, err := devstack.Start(ctx, cfg, health.NewRegistry(), logger)
	if err != nil {
		return err
	}
	ep := stack.Endpoints()
	if cfg.InfraOnly {
		fmt.Fprintf(stdout, `cx360 dev infrastructure is up (data in %s)
  schema registry   %s
  kafka             %s
  clickhouse        %s (native), http://%s (database cx360)
Start services/ingest, services/identity and services/sink against them. Press Ctrl-C to stop.
`, cfg.DataDir, ep.Registry, ep.Kafka, orNone(ep.ClickHouse), orNone(ep.ClickHouseHTTP))
	} else {
		fmt.Fprintf(stdout, `cx360 dev stack is up (data in %s)
  ingest API        %s/v1/{store|web|app|phone}/events
  health, metrics   http://%s/healthz  /readyz  /metrics
  identity API      %s/v1/customers/{id}   /v1/customers/lookup?type=email&value=...
  schema registry   %s
  kafka             %s
  clickhouse        %s (native), http://%s (database cx360)
Press Ctrl-C to stop.
`, cfg.DataDir, ep.Ingest, ep.IngestAdmin, ep.Identity, ep.Registry, ep.Kafka, orNone(ep.ClickHouse), orNone(ep.ClickHouseHTTP))
	}
	if ready != "" {
		if err := writeEndpoints(ready, ep); err != nil {
			logger.Warn("writing ready file", zap.Error(err))
		}
	}

	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: ingest (flushing), registry, broker ...")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Ingest.ShutdownTimeout)
	defer cancel()
	if err := stack.Shutdown(sctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped cleanly")
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not started)"
	}
	return s
}
