package sink_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/clickhouse"
	"github.com/cx360/cx360/pkg/clickhouse/chtest"
	"github.com/cx360/cx360/pkg/clickhouse/server"
	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/identity"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/registry/registrytest"
	"github.com/cx360/cx360/pkg/sink"
	"github.com/cx360/cx360/pkg/tlstest"
	"github.com/cx360/cx360/schemas"
)

// TestServiceOverTLS runs the sink service configured only through its flags
// against Kafka with mutual TLS and SCRAM-SHA-512 (kfake) and ClickHouse's
// secure native port with a password (the real 18.16 server): a journey
// produced over TLS lands as a row read back over TLS. Plaintext and a wrong
// password are refused.
func TestServiceOverTLS(t *testing.T) {
	certs := tlstest.New(t)
	dir := t.TempDir()
	secretFile := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(true)),
		kfake.EnableSASL(), kfake.Superuser(config.SASLScramSHA512, "cx360-sink", "kafka-s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	ch := chtest.NewServerWith(t, server.Config{TLSCertFile: certs.ServerCert, TLSKeyFile: certs.ServerKey, Password: "ch-s3cret"})
	reg := registrytest.Start(t)

	var cfg config.Sink
	fs := config.NewFlagSet("sink", func(string) (string, bool) { return "", false })
	cfg.Bind(fs)
	if err := fs.Parse([]string{
		"--kafka-brokers=" + broker.ListenAddrs()[0], "--kafka-tls", "--kafka-tls-ca-file=" + certs.CAFile,
		"--kafka-tls-cert-file=" + certs.ClientCert, "--kafka-tls-key-file=" + certs.ClientKey,
		"--kafka-sasl-mechanism=SCRAM-SHA-512", "--kafka-sasl-username=cx360-sink", "--kafka-sasl-password-file=" + secretFile("kafka", "kafka-s3cret"),
		"--registry-url=" + reg.URL(),
		"--clickhouse-addr=" + ch.SecureAddr(), "--clickhouse-tls", "--clickhouse-tls-ca-file=" + certs.CAFile,
		"--clickhouse-password-file=" + secretFile("clickhouse", "ch-s3cret"),
		"--sink-admin-addr=", "--sink-flush-interval=100ms",
	}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc, err := sink.NewService(ctx, cfg, prometheus.NewRegistry(), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("sink service over TLS: %v", err)
	}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })

	// A journey, produced over TLS + SCRAM with the same configuration.
	cluster, err := kafka.NewCluster(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := sr.NewClient(sr.URLs(reg.URL()))
	codec, err := avro.NewSerde(cl).RegisterTopic(ctx, "cx.journeys", schemas.JourneyEvent)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	e := &event.Event{EventID: "tls-1", Channel: event.ChannelWeb, Type: "page_view", EventTime: at, ClientTime: at, ReceivedAt: at,
		Identifiers: []event.Identifier{{Type: "anonymous_id", Value: "a-1"}}}
	value, err := codec.Append(nil, identity.JourneyNative("c-1", identity.PhasePreVisit, e))
	if err != nil {
		t.Fatal(err)
	}
	prod := cluster.NewProducer(kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	if err := prod.Produce(ctx, kafkago.Message{Topic: "cx.journeys", Key: []byte("c-1"), Value: value}); err != nil {
		t.Fatal(err)
	}

	tlsConfig, err := cfg.ClickHouse.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	client, err := clickhouse.Open(ctx, clickhouse.Options{Addr: ch.SecureAddr(), Password: "ch-s3cret", TLS: tlsConfig})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for {
		var n uint64
		if err := client.QueryRow(ctx, "SELECT count() FROM cx360.journey_events FINAL WHERE event_id = 'tls-1' AND customer_id = 'c-1'").Scan(&n); err == nil && n == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the journey never landed over TLS")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The same server refuses a wrong password, and the secure port refuses plaintext.
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	for name, opts := range map[string]clickhouse.Options{
		"wrong password":            {Addr: ch.SecureAddr(), Password: "guess", TLS: tlsConfig},
		"plaintext on the TLS port": {Addr: ch.SecureAddr(), Password: "ch-s3cret"},
	} {
		if c, err := clickhouse.Open(short, opts); err == nil {
			err = c.Ping(short)
			c.Close()
			if err == nil {
				t.Errorf("%s: connected", name)
			}
		}
	}
}
