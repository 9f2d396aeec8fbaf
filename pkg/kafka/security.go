package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
)

// Cluster is how cx360 reaches a Kafka cluster: its bootstrap brokers and,
// in production, TLS and SASL. The zero Security is plaintext, as the dev
// stack's embedded broker speaks.
type Cluster struct {
	Brokers  []string
	Security Security
}

// Security is the TLS and SASL every connection to the cluster uses.
type Security struct {
	TLS  *tls.Config    // nil: plaintext
	SASL sasl.Mechanism // nil: no SASL
}

// NewCluster builds a Cluster from configuration, reading the CA, the client
// certificate and the SASL password from their files. Secrets never appear
// in its errors.
func NewCluster(cfg config.Kafka) (Cluster, error) {
	c := Cluster{Brokers: cfg.Brokers}
	if cfg.TLS {
		tc, err := cfg.TLSFiles.ClientConfig()
		if err != nil {
			return Cluster{}, fmt.Errorf("kafka: %w", err)
		}
		c.Security.TLS = tc
	}
	if cfg.SASLMechanism != "" {
		pass, err := cfg.SASLSecret()
		if err != nil {
			return Cluster{}, fmt.Errorf("kafka SASL password: %w", err)
		}
		switch cfg.SASLMechanism {
		case config.SASLPlain:
			c.Security.SASL = plain.Mechanism{Username: cfg.SASLUsername, Password: pass}
		case config.SASLScramSHA256, config.SASLScramSHA512:
			algo := scram.SHA512
			if cfg.SASLMechanism == config.SASLScramSHA256 {
				algo = scram.SHA256
			}
			m, err := scram.Mechanism(algo, cfg.SASLUsername, pass)
			if err != nil {
				return Cluster{}, fmt.Errorf("kafka SASL %s: %w", cfg.SASLMechanism, err)
			}
			c.Security.SASL = m
		default:
			return Cluster{}, fmt.Errorf("kafka SASL mechanism %q is not supported", cfg.SASLMechanism)
		}
	}
	return c, nil
}

// Dialer returns a dialer for kafka-go readers (consumer groups).
func (c Cluster) Dialer() *kafkago.Dialer {
	return &kafkago.Dialer{
		Timeout:       10 * time.Second,
		DualStack:     true,
		TLS:           c.Security.TLS,
		SASLMechanism: c.Security.SASL,
	}
}

// Transport returns a new transport (writers and admin clients); the caller
// closes its idle connections when done.
func (c Cluster) Transport(clientID string, metadataTTL time.Duration) *kafkago.Transport {
	return &kafkago.Transport{ClientID: clientID, MetadataTTL: metadataTTL, TLS: c.Security.TLS, SASL: c.Security.SASL}
}

// EnsureTopics creates the topics that do not exist; see the package function.
func (c Cluster) EnsureTopics(ctx context.Context, specs []TopicSpec) error {
	return ensureTopics(ctx, c, specs)
}

// Ping checks that the cluster answers a metadata request, bounded by ctx.
func (c Cluster) Ping(ctx context.Context) error {
	if len(c.Brokers) == 0 {
		return ErrNoBrokers
	}
	client, closeClient := c.adminClient()
	defer closeClient()
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{}); err != nil {
		return unreachable(c.Brokers, err)
	}
	return nil
}

// Snapshot reads a topic without a consumer group; see the package function.
func (c Cluster) Snapshot(ctx context.Context, topic string, limit int) ([]kafkago.Message, error) {
	transport := c.Transport("cx360-snapshot", 50*time.Millisecond)
	defer transport.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Transport: transport}
	next := map[int]int64{}
	byPartition := map[int][]kafkago.Message{}
	if err := FetchNew(ctx, client, topic, next, func(m kafkago.Message) bool {
		byPartition[m.Partition] = append(byPartition[m.Partition], m)
		return limit <= 0 || countAll(byPartition) < limit
	}); err != nil {
		return nil, err
	}
	return flatten(byPartition), nil
}

// NewProducer returns a producer on the cluster; see the package function.
func (c Cluster) NewProducer(cfg WriterConfig, logger *zap.Logger) *Producer {
	return newProducer(c, cfg, logger)
}

// Client returns a client for single requests (metadata, offsets, produce
// without a writer) on its own transport; call the returned func when done.
// A fresh transport per call matters: kafka-go transports cache a failed
// metadata lookup until their next refresh, so a shared one would keep
// reporting a broker that has since come up as unreachable.
func (c Cluster) Client(clientID string) (*kafkago.Client, func()) {
	transport := c.Transport(clientID, 0)
	client := &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Transport: transport}
	return client, transport.CloseIdleConnections
}

func (c Cluster) adminClient() (*kafkago.Client, func()) { return c.Client("cx360-admin") }
