package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Producer defaults. kafka-go's own BatchTimeout default (1s) would make every
// synchronous write wait a second for its batch to fill.
const (
	DefaultBatchTimeout    = 2 * time.Millisecond
	DefaultBatchSize       = 1000
	DefaultBatchBytes      = 1 << 20 // kafka-go's and Kafka's default request size
	DefaultWriteTimeout    = 10 * time.Second
	DefaultMetadataTTL     = 2 * time.Second
	DefaultRetryBackoffMin = 50 * time.Millisecond
	DefaultRetryBackoffMax = 2 * time.Second
)

var _ io.Closer = (*Producer)(nil)

// ErrClosed is returned by Produce once the producer is closed.
var ErrClosed = errors.New("kafka: producer closed")

// WriterConfig tunes a Producer. Zero values take the defaults above. Acks
// are not configurable: the producer always waits for all in-sync replicas,
// because callers treat a nil Produce as "durable".
type WriterConfig struct {
	// BatchTimeout is how long a partition batch waits to fill before it is
	// sent. It is the floor of Produce latency.
	BatchTimeout time.Duration
	// BatchSize is the most messages per partition batch.
	BatchSize int
	// BatchBytes is the most bytes per produce request; a larger single
	// message fails with MessageSizeTooLarge without being sent.
	BatchBytes int64
	// Compression codec; none by default.
	Compression kafkago.Compression
	// WriteTimeout bounds one produce request; a timed-out request is retried.
	WriteTimeout time.Duration
	// MetadataTTL is how often cached cluster metadata is refreshed, which is
	// how soon a topic created after start becomes writable.
	MetadataTTL time.Duration
	// RetryBackoffMin and RetryBackoffMax bound the exponential backoff
	// between attempts of one Produce call.
	RetryBackoffMin time.Duration
	RetryBackoffMax time.Duration
	// ClientID is sent to the brokers; "cx360" by default.
	ClientID string
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MetadataTTL <= 0 {
		c.MetadataTTL = DefaultMetadataTTL
	}
	if c.RetryBackoffMin <= 0 {
		c.RetryBackoffMin = DefaultRetryBackoffMin
	}
	if c.RetryBackoffMax < c.RetryBackoffMin {
		c.RetryBackoffMax = max(DefaultRetryBackoffMax, c.RetryBackoffMin)
	}
	if c.ClientID == "" {
		c.ClientID = "cx360"
	}
	return c
}

// Producer writes messages to any topic (each message names its own) with
// acks=all. Produce is synchronous and retries retryable failures until its
// context ends. Delivery is at-least-once: a request that timed out may have
// been written, and its retry then writes it again. Safe for concurrent use;
// concurrent callers share batches, which is how throughput is reached.
type Producer struct {
	writer    *kafkago.Writer
	transport *kafkago.Transport
	cfg       WriterConfig
	logger    *zap.Logger

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewProducer returns a plaintext producer for brokers (Cluster.NewProducer
// uses the cluster's security). It connects lazily, on the first Produce. A
// nil logger disables logging.
func NewProducer(brokers []string, cfg WriterConfig, logger *zap.Logger) *Producer {
	return newProducer(Cluster{Brokers: brokers}, cfg, logger)
}

// MaxMessageBytes is the most key and value bytes one message may carry and
// still be sure to be sent: BatchBytes less a sixteenth, kept for what kafka-go
// and the broker count besides key and value (message, record and batch
// headers). A larger message fails with MessageSizeTooLarge, which no retry
// cures, so producers of input of any size check their records against this.
func (c WriterConfig) MaxMessageBytes() int {
	c = c.withDefaults()
	return int(c.BatchBytes - c.BatchBytes/16)
}

func newProducer(c Cluster, cfg WriterConfig, logger *zap.Logger) *Producer {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = zap.NewNop()
	}
	// An own transport, not kafka-go's shared DefaultTransport: Close can
	// then release its connections and metadata goroutine.
	transport := c.Transport(cfg.ClientID, cfg.MetadataTTL)
	writer := &kafkago.Writer{
		Addr: kafkago.TCP(c.Brokers...),
		// Murmur2 with positive-hash modulo, as the Java client and
		// franz-go do, so a key lands on the same partition whichever
		// client wrote it. Messages without key are spread randomly.
		Balancer:     kafkago.Murmur2Balancer{},
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: cfg.BatchTimeout,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   cfg.BatchBytes,
		Compression:  cfg.Compression,
		WriteTimeout: cfg.WriteTimeout,
		// One attempt per WriteMessages: the retry loop lives in Produce,
		// where it is bounded by the caller's ctx. kafka-go's own loop
		// sleeps without looking at any context.
		MaxAttempts:            1,
		AllowAutoTopicCreation: false,
		Transport:              transport,
	}
	return &Producer{
		writer:    writer,
		transport: transport,
		cfg:       cfg,
		logger:    logger,
	}
}

// MaxMessageBytes is WriterConfig.MaxMessageBytes of the producer's configuration.
func (p *Producer) MaxMessageBytes() int { return p.cfg.MaxMessageBytes() }

// Produce writes msgs and returns once the brokers acknowledged every one of
// them. Retryable failures (temporary Kafka errors, network errors) are
// retried for the failed messages only, with exponential backoff, until ctx
// ends; other failures return at once, wrapping the Kafka error (errors.Is
// works with kafka-go's error codes). A topic that does not exist counts as
// retryable (it may be being created), so ctx bounds that wait too.
//
// On an error, some messages may have been written; when ctx ends mid-request
// a message may still be written afterwards. The byte slices of msgs must not
// be modified until Produce returns, or at all after a ctx error.
func (p *Producer) Produce(ctx context.Context, msgs ...kafkago.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if p.closed.Load() {
		return ErrClosed
	}
	for i := range msgs {
		if err := ValidateTopicName(msgs[i].Topic); err != nil {
			return fmt.Errorf("kafka: produce: message %d: %w", i, err)
		}
	}

	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.cfg.RetryBackoffMin
	b.MaxInterval = p.cfg.RetryBackoffMax
	b.MaxElapsedTime = 0 // ctx bounds the retries
	var timer *time.Timer

	pending := msgs
	var lastErr error // of the latest failed attempt, for when ctx ends
	gaveUp := func(attempt int, ctxErr error) error {
		if lastErr == nil || errors.Is(lastErr, ctxErr) {
			return fmt.Errorf("kafka: produce: %d of %d messages unacknowledged after %d attempts: %w", len(pending), len(msgs), attempt, ctxErr)
		}
		return fmt.Errorf("kafka: produce: %d of %d messages unacknowledged after %d attempts: %w (gave up: %w)", len(pending), len(msgs), attempt, lastErr, ctxErr)
	}
	for attempt := 1; ; attempt++ {
		err := p.writer.WriteMessages(ctx, pending...)
		if err == nil {
			return nil
		}
		if p.closed.Load() {
			return ErrClosed
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if !errors.Is(err, ctxErr) {
				lastErr = err
			}
			return gaveUp(attempt, ctxErr)
		}

		var retry bool
		pending, retry, err = failed(pending, err)
		if err == nil { // a WriteErrors naming no failed message
			return nil
		}
		if !retry {
			return fmt.Errorf("kafka: produce: %d of %d messages failed: %w", len(pending), len(msgs), err)
		}
		lastErr = err

		delay := b.NextBackOff()
		p.logger.Warn("kafka produce failed, retrying",
			zap.Int("attempt", attempt),
			zap.Int("pending", len(pending)),
			zap.Duration("backoff", delay),
			zap.Error(err))
		if timer == nil {
			timer = time.NewTimer(delay)
			defer timer.Stop()
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return gaveUp(attempt, ctx.Err())
		case <-timer.C:
		}
	}
}

// ValidateTopicName applies Kafka's topic naming rules: 1 to 249 characters
// from [a-zA-Z0-9._-], and not "." or "..". kafka-go answers a metadata
// lookup for an unknown name from its cache, so without this check an
// invalid name would look like a topic not created yet and be retried.
// The error wraps kafka-go's InvalidTopic.
func ValidateTopicName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty topic name", kafkago.InvalidTopic)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: topic name %q is not allowed", kafkago.InvalidTopic, name)
	}
	if len(name) > maxTopicNameLen {
		return fmt.Errorf("%w: topic name %q is longer than %d characters", kafkago.InvalidTopic, name, maxTopicNameLen)
	}
	for _, r := range name {
		valid := r == '.' || r == '_' || r == '-' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !valid {
			return fmt.Errorf("%w: topic name %q has character %q outside [a-zA-Z0-9._-]", kafkago.InvalidTopic, name, r)
		}
	}
	return nil
}

// maxTopicNameLen is Kafka's limit on topic name length.
const maxTopicNameLen = 249

// failed narrows pending to the messages err says were not written, and
// reports whether they are worth retrying. kafka-go reports partial failures
// as WriteErrors, one entry per message; any other error concerns them all.
// The returned cause is the first non-retryable error if any, else the first.
func failed(pending []kafkago.Message, err error) ([]kafkago.Message, bool, error) {
	var werrs kafkago.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(pending) {
		return pending, retryable(err), err
	}
	var (
		rest     []kafkago.Message
		first    error
		terminal error
	)
	for i, e := range werrs {
		if e == nil {
			continue
		}
		rest = append(rest, pending[i])
		if first == nil {
			first = e
		}
		if terminal == nil && !retryable(e) {
			terminal = e
		}
	}
	if terminal != nil {
		return rest, false, terminal
	}
	return rest, first != nil, first
}

// Close flushes buffered messages, waits for in-flight writes and releases
// the connections. Later Produce calls return ErrClosed. Idempotent.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if err := p.writer.Close(); err != nil {
			p.closeErr = fmt.Errorf("kafka: close producer: %w", err)
		}
		p.transport.CloseIdleConnections()
	})
	return p.closeErr
}
