package kafka_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/config"
	"github.com/cx360/cx360/pkg/kafka"
	"github.com/cx360/cx360/pkg/tlstest"
)

// secureBroker starts kfake with mutual TLS and SCRAM-SHA-512 user cx360.
func secureBroker(t *testing.T, certs *tlstest.Certs) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(true)),
		kfake.EnableSASL(), kfake.Superuser(config.SASLScramSHA512, "cx360", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func secureConfig(t *testing.T, brokers []string, certs *tlstest.Certs, password string) config.Kafka {
	t.Helper()
	passFile := filepath.Join(t.TempDir(), "sasl-password")
	if err := os.WriteFile(passFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Kafka{
		Brokers: brokers, TLS: true, TLSFiles: config.TLSFiles{CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey},
		SASLMechanism: config.SASLScramSHA512, SASLUsername: "cx360", SASLPasswordFile: passFile,
	}
}

// TestTLSAndSCRAMEndToEnd creates topics, produces, reads back and consumes
// in a group over mutual TLS with SCRAM-SHA-512, every path cx360 uses.
func TestTLSAndSCRAMEndToEnd(t *testing.T) {
	certs := tlstest.New(t)
	brokers := secureBroker(t, certs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster, err := kafka.NewCluster(secureConfig(t, brokers, certs, "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Ping(ctx); err != nil {
		t.Fatalf("ping over TLS + SCRAM: %v", err)
	}
	if err := cluster.EnsureTopics(ctx, []kafka.TopicSpec{{Name: "secure", Partitions: 2, ReplicationFactor: 1}}); err != nil {
		t.Fatal(err)
	}
	prod := cluster.NewProducer(kafka.WriterConfig{}, zap.NewNop())
	defer prod.Close()
	for i := range 10 {
		if err := prod.Produce(ctx, kafkago.Message{Topic: "secure", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
			t.Fatalf("produce over TLS + SCRAM: %v", err)
		}
	}
	got, err := cluster.Snapshot(ctx, "secure", 0)
	if err != nil || len(got) != 10 {
		t.Fatalf("snapshot over TLS + SCRAM: %d records, %v; want 10", len(got), err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: cluster.Brokers, Dialer: cluster.Dialer(), GroupID: "g", Topic: "secure",
		StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	seen := map[string]bool{}
	for len(seen) < 10 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("group consumer over TLS + SCRAM after %d records: %v", len(seen), err)
		}
		seen[string(m.Value)] = true
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWrongCredentialsAndPlaintextAreRefused(t *testing.T) {
	certs := tlstest.New(t)
	brokers := secureBroker(t, certs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	wrong, err := kafka.NewCluster(secureConfig(t, brokers, certs, "not-the-password"))
	if err != nil {
		t.Fatal(err)
	}
	err = wrong.Ping(ctx)
	if err == nil {
		t.Fatal("ping with a wrong SASL password succeeded")
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error shows the password: %v", err)
	}

	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if err := kafka.Ping(pctx, brokers); err == nil {
		t.Fatal("plaintext ping to a TLS listener succeeded")
	}
}

func TestNewClusterReportsBadFiles(t *testing.T) {
	certs := tlstest.New(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]config.Kafka{
		"missing CA":       {TLS: true, TLSFiles: config.TLSFiles{CAFile: filepath.Join(t.TempDir(), "nope.pem")}},
		"CA without PEM":   {TLS: true, TLSFiles: config.TLSFiles{CAFile: notPEM}},
		"key of no cert":   {TLS: true, TLSFiles: config.TLSFiles{CertFile: certs.ClientCert, KeyFile: certs.ServerKey}},
		"missing password": {SASLMechanism: config.SASLScramSHA512, SASLUsername: "u", SASLPasswordFile: filepath.Join(t.TempDir(), "none")},
	} {
		if _, err := kafka.NewCluster(cfg); err == nil {
			t.Errorf("%s: err = nil", name)
		}
	}
}
