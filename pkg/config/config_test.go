package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, env map[string]string, args ...string) (Ingest, error) {
	t.Helper()
	var c Ingest
	fs := NewFlagSet("t", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	c.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestPrecedenceDefaultsEnvFlags(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Brokers[0] != DefaultBrokers || c.DedupWindow != DefaultDedupWindow || c.Kafka.Topics().DLQ != "cx.events.dlq" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	env := map[string]string{"CX360_KAFKA_BROKERS": "k1:9092, k2:9092", "CX360_DEDUP_WINDOW": "1m", "CX360_TOPIC_PREFIX": "acme."}
	c, err = parse(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || c.Kafka.Brokers[1] != "k2:9092" || c.DedupWindow != time.Minute || c.Kafka.Topics().Events != "acme.events" {
		t.Fatalf("env not applied: %+v", c)
	}
	c, err = parse(t, env, "--dedup-window=5s", "--kafka-brokers=k3:9092")
	if err != nil {
		t.Fatal(err)
	}
	if c.DedupWindow != 5*time.Second || len(c.Kafka.Brokers) != 1 || c.Kafka.Brokers[0] != "k3:9092" {
		t.Fatalf("flags do not override env: %+v", c)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	_, err := parse(t, map[string]string{"CX360_SHUTDOWN_TIMEOUT": "soon"}, "--kafka-brokers=nohost", "--default-region=GBR", "--log-level=loud", "--registry-url=ftp://x")
	if err == nil {
		t.Fatal("bad env accepted")
	}
	if !strings.Contains(err.Error(), "CX360_SHUTDOWN_TIMEOUT") {
		t.Fatalf("env error does not name the variable: %v", err)
	}
	_, err = parse(t, nil, "--kafka-brokers=nohost", "--default-region=GBR", "--log-level=loud", "--registry-url=ftp://x")
	for _, want := range []string{"kafka-brokers", "default-region", "log-level", "registry-url"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestKafkaSecurityOptions(t *testing.T) {
	c, err := parse(t, map[string]string{"CX360_KAFKA_TLS": "true", "CX360_KAFKA_TLS_CA_FILE": "/run/secrets/ca.pem",
		"CX360_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "CX360_KAFKA_SASL_USERNAME": "cx360", "CX360_KAFKA_SASL_PASSWORD_FILE": "/run/secrets/kafka"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Kafka.TLS || c.Kafka.TLSFiles.CAFile != "/run/secrets/ca.pem" || c.Kafka.SASLMechanism != SASLScramSHA512 || c.Kafka.SASLPasswordFile != "/run/secrets/kafka" {
		t.Fatalf("kafka security from env = %+v", c.Kafka)
	}
	for _, bad := range [][]string{
		{"--kafka-sasl-mechanism=GSSAPI", "--kafka-sasl-username=u"},
		{"--kafka-sasl-mechanism=SCRAM-SHA-512"},
		{"--kafka-sasl-username=u"},
		{"--kafka-tls-ca-file=/ca.pem"},
		{"--kafka-tls", "--kafka-tls-cert-file=/c.pem"},
		{"--kafka-sasl-mechanism=PLAIN", "--kafka-sasl-username=u", "--kafka-sasl-password=p1", "--kafka-sasl-password-file=/p"},
	} {
		_, err := parse(t, nil, bad...)
		if err == nil || !strings.Contains(err.Error(), "kafka-") {
			t.Errorf("%v: err = %v; want a kafka-* complaint", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "p1") {
			t.Errorf("%v: the error shows the password: %v", bad, err)
		}
	}
}

func TestAPIKeysFromFlagAndFileNeverEchoed(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# comment\nweb:0123456789abcdef-web\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, nil, "--ingest-api-keys=pos:0123456789abcdef-pos", "--ingest-api-keys-file="+file)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := c.Keys()
	if keys["0123456789abcdef-pos"] != "pos" || keys["0123456789abcdef-web"] != "web" {
		t.Fatalf("keys = %v", keys)
	}
	_, err = parse(t, nil, "--ingest-api-keys=pos:short-secret")
	if err == nil || strings.Contains(err.Error(), "short-secret") {
		t.Fatalf("short key: err %v must exist and not echo the key", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("ingest-api-keys-file"); got != "CX360_INGEST_API_KEYS_FILE" {
		t.Fatal(got)
	}
}

// TestIdentityAdvertiseURL: the URL standbys forward to is a scheme and a
// host, nothing else; empty (derived from the listener) is the default.
func TestIdentityAdvertiseURL(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"http://cx360-identity-0.cx360-identity-headless:8082", true},
		{"https://identity.example:8443/", true},
		{"cx360-identity-0:8082", false},
		{"ftp://identity:21", false},
		{"http://identity:8082/v1", false},
		{"http://identity:8082/?x=1", false},
		{"http://user:pw@identity:8082", false},
		{"http://", false},
	} {
		var cfg Identity
		fs := NewFlagSet("t", func(string) (string, bool) { return "", false })
		cfg.Bind(fs)
		if err := fs.Parse([]string{"--identity-advertise-url=" + c.url}); err != nil {
			t.Fatal(err)
		}
		err := cfg.Validate()
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "identity-advertise-url")) {
			t.Errorf("%q: %v", c.url, err)
		}
	}
}
