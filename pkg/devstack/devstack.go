// Package devstack runs cx360's embedded default on one machine, in one process:
// a Kafka-protocol broker (kfake) and a Confluent-compatible schema registry,
// both persisted under a data dir, and the pipeline's stages against them.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	chserver "github.com/cx360/cx360/pkg/clickhouse/server"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/identity/stage"
	"github.com/cx360/cx360/pkg/ingest"
	"github.com/cx360/cx360/pkg/kafka/embedded"
	"github.com/cx360/cx360/pkg/registry"
	"github.com/cx360/cx360/pkg/sink"
)

// Config configures the dev stack. Ingest carries the ingest settings; its Kafka
// brokers and registry URL are overridden by the embedded ones.
type Config struct {
	DataDir      string
	KafkaAddr    string
	RegistryAddr string
	Ingest       config.Ingest
	Identity     config.Identity // DataDir is set under the stack's data dir
	// ClickHouse starts a local ClickHouse server (Debian's clickhouse-server,
	// installed by scripts/setup.sh) with its data under the data dir, and the sink.
	ClickHouse         bool
	ClickHouseTCPPort  int // 0: a free port
	ClickHouseHTTPPort int
	Sink               config.Sink
	// InfraOnly runs the broker, the registry and ClickHouse alone: the
	// stages then run as their own processes (the chaos test and the
	// whole-pipeline benchmark kill and measure them one by one).
	InfraOnly bool
}

// Endpoints says where each part listens.
type Endpoints struct {
	Kafka          string
	Registry       string
	Ingest         string
	IngestAdmin    string
	Identity       string
	ClickHouse     string // native protocol address, when started
	ClickHouseHTTP string
}

// Stack is a running dev stack.
type Stack struct {
	broker    *embedded.Broker
	registry  *registry.Server
	ingest    *ingest.Service
	identity  *stage.Service
	ch        *chserver.Server
	sink      *sink.Service
	endpoints Endpoints
}

// Start starts every part in dependency order: broker, registry, ingest. On a
// failure it stops what it started.
func Start(ctx context.Context, cfg Config, reg *prometheus.Registry, logger *zap.Logger) (s *Stack, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("devstack: a data dir is required")
	}
	s = &Stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Shutdown(context.Background()))
			s = nil
		}
	}()

	s.broker, err = embedded.Start(embedded.Config{
		Addr: cfg.KafkaAddr, DataDir: filepath.Join(cfg.DataDir, "kafka"), Partitions: cfg.Ingest.Kafka.Partitions,
	}, logger.Named("kafka"))
	if err != nil {
		return s, fmt.Errorf("devstack: starting broker on %s: %w", cfg.KafkaAddr, err)
	}
	s.registry, err = registry.New(filepath.Join(cfg.DataDir, "registry"), logger.Named("registry"))
	if err != nil {
		return s, fmt.Errorf("devstack: opening registry: %w", err)
	}
	if err = s.registry.Start(cfg.RegistryAddr); err != nil {
		return s, fmt.Errorf("devstack: starting registry on %s: %w", cfg.RegistryAddr, err)
	}

	ic := cfg.Ingest
	ic.Kafka.Brokers = s.broker.Addrs()
	ic.Registry = config.Registry{URL: s.registry.URL()}
	s.endpoints = Endpoints{Kafka: s.broker.Addrs()[0], Registry: s.registry.URL()}
	if cfg.InfraOnly {
		return s, s.startClickHouse(ctx, cfg, logger)
	}
	s.ingest, err = ingest.NewService(ctx, ic, "ingest", reg, logger.Named("ingest"))
	if err != nil {
		return s, fmt.Errorf("devstack: ingest: %w", err)
	}
	if err = s.ingest.Start(); err != nil {
		return s, fmt.Errorf("devstack: ingest: %w", err)
	}
	idc := cfg.Identity.WithDefaults()
	if idc.Addr == "" {
		idc.Addr = "127.0.0.1:0"
	}
	idc.DefaultRegion = ic.DefaultRegion
	idc.Log = ic.Log
	idc.Kafka = ic.Kafka
	idc.Registry = ic.Registry
	idc.DataDir = filepath.Join(cfg.DataDir, "identity")
	s.identity, err = stage.NewService(ctx, idc, reg, logger.Named("identity"))
	if err != nil {
		return s, fmt.Errorf("devstack: identity: %w", err)
	}
	if err = s.identity.Start(); err != nil {
		return s, fmt.Errorf("devstack: identity: %w", err)
	}
	s.endpoints.Ingest, s.endpoints.IngestAdmin, s.endpoints.Identity = "http://"+s.ingest.Addr(), ic.AdminAddr, "http://"+s.identity.Addr()
	if !cfg.ClickHouse {
		return s, nil
	}
	if err = s.startClickHouse(ctx, cfg, logger); err != nil {
		return s, err
	}
	sc := cfg.Sink.WithDefaults()
	sc.Log, sc.Kafka, sc.Registry = ic.Log, ic.Kafka, ic.Registry
	sc.ClickHouse.Addr = s.ch.Addr()
	s.sink, err = sink.NewService(ctx, sc, reg, logger.Named("sink"))
	if err != nil {
		return s, fmt.Errorf("devstack: sink: %w", err)
	}
	if err = s.sink.Start(); err != nil {
		return s, fmt.Errorf("devstack: sink: %w", err)
	}
	return s, nil
}

// startClickHouse starts the local ClickHouse server when the config asks for it.
func (s *Stack) startClickHouse(ctx context.Context, cfg Config, logger *zap.Logger) error {
	if !cfg.ClickHouse {
		return nil
	}
	var err error
	s.ch, err = chserver.Start(ctx, chserver.Config{
		DataDir: filepath.Join(cfg.DataDir, "clickhouse"), TCPPort: cfg.ClickHouseTCPPort, HTTPPort: cfg.ClickHouseHTTPPort,
	}, logger.Named("clickhouse"))
	if err != nil {
		return fmt.Errorf("devstack: clickhouse: %w", err)
	}
	s.endpoints.ClickHouse, s.endpoints.ClickHouseHTTP = s.ch.Addr(), s.ch.HTTPAddr()
	return nil
}

// Endpoints says where each part listens.
func (s *Stack) Endpoints() Endpoints { return s.endpoints }

// Shutdown stops the parts in pipeline order — ingest first (stop accepting,
// answer requests in flight, flush the producer), then identity (finish the
// batch, snapshot), then the sink and ClickHouse, then the registry, then the
// broker, which persists its data — bounded by ctx. Idempotent.
func (s *Stack) Shutdown(ctx context.Context) error {
	var errs []error
	if s.ingest != nil {
		errs = append(errs, s.ingest.Shutdown(ctx))
	}
	if s.identity != nil {
		errs = append(errs, s.identity.Shutdown(ctx))
	}
	if s.sink != nil {
		errs = append(errs, s.sink.Shutdown(ctx))
	}
	if s.ch != nil {
		errs = append(errs, s.ch.Stop(ctx))
	}
	if s.registry != nil {
		errs = append(errs, s.registry.Shutdown(ctx))
	}
	if s.broker != nil {
		s.broker.Close()
	}
	return errors.Join(errs...)
}
