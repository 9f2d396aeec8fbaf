// Package kafka is cx360's Kafka plumbing on top of segmentio/kafka-go: topic
// creation at start, a readiness ping, and a synchronous acks=all producer
// that retries transient failures until its context ends.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cenkalti/backoff/v4"
	kafkago "github.com/segmentio/kafka-go"
)

// ErrNoBrokers is returned when an operation is given an empty broker list.
var ErrNoBrokers = errors.New("kafka: no brokers configured")

// CleanupPolicyCompact is the cleanup.policy value of a compacted topic.
const CleanupPolicyCompact = "compact"

// Retry bounds for admin operations (EnsureTopics); the caller's context
// decides how long to keep trying.
const (
	adminRetryMin = 100 * time.Millisecond
	adminRetryMax = 2 * time.Second
)

// TopicSpec describes one topic to ensure at start.
type TopicSpec struct {
	// Name of the topic.
	Name string
	// Partitions is the partition count; 0 or less uses the broker default.
	Partitions int
	// ReplicationFactor is the replica count; 0 or less uses the broker
	// default.
	ReplicationFactor int
	// Compacted sets cleanup.policy=compact (it wins over Configs).
	Compacted bool
	// Configs are extra topic configs (retention.ms, min.insync.replicas...).
	Configs map[string]string
}

// topicConfig turns the spec into kafka-go's request form; -1 asks the broker
// for its default (CreateTopics v4+, KIP-464).
func (s TopicSpec) topicConfig() kafkago.TopicConfig {
	tc := kafkago.TopicConfig{
		Topic:             s.Name,
		NumPartitions:     s.Partitions,
		ReplicationFactor: s.ReplicationFactor,
	}
	if tc.NumPartitions <= 0 {
		tc.NumPartitions = -1
	}
	if tc.ReplicationFactor <= 0 {
		tc.ReplicationFactor = -1
	}
	for name, value := range s.Configs {
		if s.Compacted && name == "cleanup.policy" {
			continue
		}
		tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: name, ConfigValue: value})
	}
	if s.Compacted {
		tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: CleanupPolicyCompact})
	}
	return tc
}

// EnsureTopics creates the topics in specs that do not exist yet. Existing
// topics are left as they are (their partitions and configs are not compared
// or changed). Transient failures, including an unreachable cluster, are
// retried with exponential backoff until ctx ends; invalid specs fail at once.
// When the cluster never answers, the error names the brokers, e.g.
// "kafka: cannot reach brokers [127.0.0.1:9092]: dial tcp ...: connection refused".
// It speaks plaintext; Cluster.EnsureTopics uses the cluster's security.
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec) error {
	return ensureTopics(ctx, Cluster{Brokers: brokers}, specs)
}

func ensureTopics(ctx context.Context, c Cluster, specs []TopicSpec) error {
	if len(c.Brokers) == 0 {
		return ErrNoBrokers
	}
	for i, s := range specs {
		if err := ValidateTopicName(s.Name); err != nil {
			return fmt.Errorf("kafka: topic spec %d: %w", i, err)
		}
	}
	if len(specs) == 0 {
		return nil
	}

	b := backoff.NewExponentialBackOff()
	b.InitialInterval = adminRetryMin
	b.MaxInterval = adminRetryMax
	b.MaxElapsedTime = 0 // ctx bounds the retries

	var lastErr error
	err := backoff.Retry(func() error {
		lastErr = createTopics(ctx, c, specs)
		return lastErr
	}, backoff.WithContext(b, ctx))
	if err == nil || ctx.Err() == nil || lastErr == nil {
		return err
	}
	// ctx ended: backoff reports only ctx.Err(), the last attempt says why.
	if errors.Is(lastErr, ctx.Err()) {
		return lastErr
	}
	return fmt.Errorf("%w (gave up: %w)", lastErr, ctx.Err())
}

// createTopics makes one attempt. Errors wrapped in backoff.Permanent stop the
// retries.
func createTopics(ctx context.Context, c Cluster, specs []TopicSpec) error {
	client, closeClient := c.adminClient()
	defer closeClient()

	// Metadata first: it tells "cluster unreachable" apart from a failed
	// create, which needs the controller's answer.
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{}); err != nil {
		return unreachable(c.Brokers, err)
	}

	topics := make([]kafkago.TopicConfig, len(specs))
	for i, s := range specs {
		topics[i] = s.topicConfig()
	}
	resp, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("kafka: create topics: %w", err)
	}

	var errs []error
	permanent := false
	for _, s := range specs {
		terr, ok := resp.Errors[s.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("kafka: create topic %q: no answer from broker", s.Name))
			continue
		}
		if terr == nil || errors.Is(terr, kafkago.TopicAlreadyExists) {
			continue
		}
		if !isTemporaryKafkaError(terr) {
			permanent = true
		}
		errs = append(errs, fmt.Errorf("kafka: create topic %q: %w", s.Name, terr))
	}
	if err := errors.Join(errs...); err != nil {
		if permanent {
			return backoff.Permanent(err)
		}
		return err
	}
	return nil
}

// Ping checks over plaintext that the cluster answers a metadata request,
// bounded by ctx; Cluster.Ping uses the cluster's security.
func Ping(ctx context.Context, brokers []string) error {
	return Cluster{Brokers: brokers}.Ping(ctx)
}

// unreachable wraps err, preferring the network or context error inside it
// (without kafka-go's call-site prefix) so the message reads as the cause.
func unreachable(brokers []string, err error) error {
	var opErr *net.OpError
	switch {
	case errors.As(err, &opErr):
		err = opErr
	case errors.Is(err, context.DeadlineExceeded):
		err = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		err = context.Canceled
	}
	return fmt.Errorf("kafka: cannot reach brokers %v: %w", brokers, err)
}
