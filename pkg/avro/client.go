package avro

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/schemas"
)

// NewRegistryClient returns a client for any Confluent-compatible registry.
func NewRegistryClient(cfg config.Registry) (*sr.Client, error) {
	opts := []sr.ClientOpt{
		sr.URLs(cfg.URL),
		sr.HTTPClient(&http.Client{Timeout: 10 * time.Second}),
		sr.UserAgent("cx360"),
	}
	pass, err := cfg.Secret()
	if err != nil {
		return nil, fmt.Errorf("registry password: %w", err)
	}
	if cfg.Username != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, pass))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return cl, nil
}

// Subject is the TopicNameStrategy subject of a topic's values.
func Subject(topic string) string { return topic + "-value" }

// RegisterTopic registers the named embedded schema (schemas.Event, ...) as the
// value schema of topic and returns its codec.
func (s *Serde) RegisterTopic(ctx context.Context, topic, schemaName string) (*Codec, error) {
	text, err := schemas.Avro(schemaName)
	if err != nil {
		return nil, err
	}
	return s.Register(ctx, Subject(topic), text)
}

// Ping checks that the registry answers (for /readyz).
func Ping(ctx context.Context, cl *sr.Client) error {
	if _, err := cl.Subjects(ctx); err != nil {
		return fmt.Errorf("schema registry: %w", err)
	}
	return nil
}
