package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/mapping"
	"github.com/cx360/cx360/pkg/normalize"
	"github.com/cx360/cx360/schemas"
)

// Service is the whole ingest stage: topics and schemas ensured at start, the
// producer, the processor and the HTTP API (plus an admin server when configured).
type Service struct {
	cfg      config.Ingest
	logger   *zap.Logger
	producer *kafka.Producer
	proc     *Processor
	server   *Server
	admin    *health.AdminServer
	keys     *APIKeys
}

// NewService prepares ingest: it validates the channel mappings and the
// blocklist, reaches the registry and Kafka (retrying until ctx ends), creates
// the topics and registers the schemas. Nothing listens until Start.
func NewService(ctx context.Context, cfg config.Ingest, stage string, reg *prometheus.Registry, logger *zap.Logger) (*Service, error) {
	keys, err := cfg.Keys()
	if err != nil {
		return nil, err
	}
	blocklist, err := LoadBlocklist(cfg.BlocklistFile)
	if err != nil {
		return nil, err
	}
	channels, err := Channels(cfg.MappingsDir)
	if err != nil {
		return nil, err
	}

	// Start-up waits for Kafka and the registry (they may start after us in a
	// compose file), but not forever: an unreachable cluster is a clear error.
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	topics := cfg.Kafka.Topics()
	specs := []kafka.TopicSpec{
		{Name: topics.Events, Partitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor},
		{Name: topics.DLQ, Partitions: cfg.Kafka.Partitions, ReplicationFactor: cfg.Kafka.ReplicationFactor},
	}
	cluster, err := kafka.NewCluster(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	if err := cluster.EnsureTopics(ctx, specs); err != nil {
		return nil, err
	}
	client, err := avro.NewRegistryClient(cfg.Registry)
	if err != nil {
		return nil, err
	}
	serde := avro.NewSerde(client)
	eventCodec, err := serde.RegisterTopic(ctx, topics.Events, schemas.Event)
	if err != nil {
		return nil, err
	}
	dlqCodec, err := serde.RegisterTopic(ctx, topics.DLQ, schemas.DeadLetter)
	if err != nil {
		return nil, err
	}

	var metrics *Metrics
	var gatherer prometheus.Gatherer
	if reg != nil {
		metrics, gatherer = NewMetrics(reg), reg
	}
	producer := cluster.NewProducer(kafka.WriterConfig{BatchTimeout: cfg.Kafka.BatchTimeout}, logger)
	normalizer := event.NewNormalizer(event.NormalizerConfig{
		DefaultRegion: cfg.DefaultRegion, Blocklist: blocklist, MaxFutureSkew: cfg.MaxFutureSkew,
	})
	proc, err := NewProcessor(ProcessorConfig{EventsTopic: topics.Events, DLQTopic: topics.DLQ, Stage: stage, MaxRecordBytes: producer.MaxMessageBytes()},
		channels, normalizer, eventCodec, dlqCodec, producer, NewDedup(cfg.DedupWindow, cfg.DedupMaxEntries), metrics, logger)
	if err != nil {
		return nil, errors.Join(err, producer.Close())
	}

	checker := health.NewChecker()
	checker.Add("kafka", cluster.Ping)
	checker.Add("schema_registry", func(ctx context.Context) error { return avro.Ping(ctx, client) })

	s := &Service{cfg: cfg, logger: logger, producer: producer, proc: proc, keys: NewAPIKeys(keys)}
	s.server = NewServer(ServerConfig{Addr: cfg.Addr, MaxBodyBytes: cfg.MaxBodyBytes, MaxItems: cfg.MaxItems, Keys: s.keys, ProduceTimeout: cfg.ProduceTimeout}, proc, checker, gatherer, metrics, logger)
	if cfg.AdminAddr != "" {
		s.admin = health.NewAdminServer(checker, gatherer)
	}
	return s, nil
}

// Processor is the batch processor (the importer uses it without HTTP).
func (s *Service) Processor() *Processor { return s.proc }

// Keys is the live API key set; Set on it rotates keys without a restart.
func (s *Service) Keys() *APIKeys { return s.keys }

// Start starts listening; it returns quickly.
func (s *Service) Start() error {
	if s.admin != nil {
		if err := s.admin.Start(s.cfg.AdminAddr); err != nil {
			return err
		}
	}
	if err := s.server.Start(); err != nil {
		return err
	}
	s.logger.Info("ingest listening", zap.String("addr", s.server.Addr()), zap.Strings("channels", s.proc.Channels()))
	return nil
}

// Routes lists every pattern the API answers (see Server.Routes).
func (s *Service) Routes() []string { return s.server.Routes() }

// Addr is the API's listening address after Start.
func (s *Service) Addr() string { return s.server.Addr() }

// Shutdown stops accepting, waits for requests in flight (each answers after
// Kafka's acknowledgement), flushes and closes the producer, then the admin
// server. Bounded by ctx; idempotent.
func (s *Service) Shutdown(ctx context.Context) error {
	errs := []error{s.server.Shutdown(ctx), s.producer.Close()}
	if s.admin != nil {
		errs = append(errs, s.admin.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Channels returns the built-in channels plus every mapped channel in dir.
func Channels(dir string) ([]Channel, error) {
	maps, err := mapping.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	channels := BuiltinChannels()
	for _, m := range maps {
		channels = append(channels, Channel{Name: m.Channel, Blocks: m.EventBlocks(), Decode: m.Decode})
	}
	return channels, nil
}

// LoadBlocklist reads blocklist rules from a YAML file (a list of {type, exact,
// regex}); with no file it returns the default rules.
func LoadBlocklist(file string) (*normalize.Blocklist, error) {
	rules := normalize.DefaultBlocklistRules()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("blocklist: %w", err)
		}
		rules = nil
		if err := yaml.Unmarshal(b, &rules); err != nil {
			return nil, fmt.Errorf("blocklist %s: %w", file, err)
		}
	}
	bl, err := normalize.NewBlocklist(rules)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	return bl, nil
}
