package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/schemas"
)

// Service is the sink service: migrations at start, the sink, an admin server.
type Service struct {
	cfg    config.Sink
	logger *zap.Logger
	ch     *clickhouse.Client
	prod   *kafka.Producer
	sink   *Sink
	admin  *health.AdminServer

	cancel   context.CancelFunc
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
	stopErr  error
}

// NewService connects to ClickHouse, applies the migrations, and prepares the
// sink (bounded by the start-up timeout). Nothing is consumed until Start.
func NewService(ctx context.Context, cfg config.Sink, reg *prometheus.Registry, logger *zap.Logger) (*Service, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	pass, err := cfg.ClickHouse.Secret()
	if err != nil {
		return nil, fmt.Errorf("clickhouse password: %w", err)
	}
	tlsConfig, err := cfg.ClickHouse.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	ch, err := clickhouse.Open(ctx, clickhouse.Options{Addr: cfg.ClickHouse.Addr, Username: cfg.ClickHouse.Username, Password: pass, TLS: tlsConfig})
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, ch); err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	topics := cfg.Kafka.Topics()
	cluster, err := kafka.NewCluster(cfg.Kafka)
	if err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	// The inputs too, not only the DLQ: a group member that joins before its
	// topics exist gets no partitions, and kafka-go does not rejoin when they
	// appear (segmentio/kafka-go#1314). Same specs as the identity stage's.
	p, r := cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor
	if err := cluster.EnsureTopics(ctx, []kafka.TopicSpec{
		{Name: topics.Journeys, Partitions: p, ReplicationFactor: r},
		{Name: topics.Customers, Partitions: p, ReplicationFactor: r, Compacted: true},
		{Name: topics.IdentityChanges, Partitions: p, ReplicationFactor: r},
		{Name: topics.DLQ, Partitions: p, ReplicationFactor: r},
	}); err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	client, err := avro.NewRegistryClient(cfg.Registry)
	if err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	serde := avro.NewSerde(client)
	dlq, err := serde.RegisterTopic(ctx, topics.DLQ, schemas.DeadLetter)
	if err != nil {
		return nil, errors.Join(err, ch.Close())
	}
	prod := cluster.NewProducer(kafka.WriterConfig{BatchTimeout: cfg.Kafka.BatchTimeout}, logger)
	var metrics *Metrics
	if reg != nil {
		metrics = NewMetrics(reg)
	}
	s := New(Config{
		Brokers: cfg.Kafka.Brokers, Dialer: cluster.Dialer(), GroupID: cfg.GroupID, JourneysTopic: topics.Journeys, CustomersTopic: topics.Customers,
		ChangesTopic: topics.IdentityChanges, DLQTopic: topics.DLQ, BatchRows: cfg.BatchRows, FlushInterval: cfg.FlushInterval,
		IsRetryable: clickhouse.IsRetryable, Metrics: metrics,
	}, ch, serde, dlq, prod, logger)
	svc := &Service{cfg: cfg, logger: logger, ch: ch, prod: prod, sink: s}
	if cfg.AdminAddr != "" {
		checker := health.NewChecker()
		checker.Add("kafka", cluster.Ping)
		checker.Add("schema_registry", func(ctx context.Context) error { return avro.Ping(ctx, client) })
		checker.Add("clickhouse", ch.Ping)
		var gatherer prometheus.Gatherer
		if reg != nil {
			gatherer = reg
		}
		svc.admin = health.NewAdminServer(checker, gatherer)
	}
	return svc, nil
}

// Sink is the running sink.
func (s *Service) Sink() *Sink { return s.sink }

// Start starts consuming; it returns quickly.
func (s *Service) Start() error {
	if s.admin != nil {
		if err := s.admin.Start(s.cfg.AdminAddr); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.runErr = s.sink.Run(ctx)
	}()
	return nil
}

// Done is closed when the sink stops; Err then says why.
func (s *Service) Done() <-chan struct{} { return s.done }

// Err is the sink's error once Done is closed.
func (s *Service) Err() error { return s.runErr }

// Shutdown stops consuming (the batch in hand is not committed and will be
// re-read: inserts are idempotent after FINAL), then closes the producer, the
// ClickHouse client and the admin server. Bounded by ctx; idempotent.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.cancel != nil {
			s.cancel()
			select {
			case <-s.done:
				errs = append(errs, s.runErr)
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("sink: did not stop in time: %w", ctx.Err()))
			}
		}
		errs = append(errs, s.prod.Close(), s.ch.Close())
		if s.admin != nil {
			errs = append(errs, s.admin.Shutdown(ctx))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
