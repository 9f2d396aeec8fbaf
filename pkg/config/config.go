package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults. Ports follow DESIGN.md: ingest 8080, registry 8081, identity 8082,
// admin/metrics 9100+, Kafka 9092.
const (
	DefaultBrokers           = "127.0.0.1:9092"
	DefaultTopicPrefix       = "cx."
	DefaultPartitions        = 3
	DefaultReplication       = 1
	DefaultBatchTimeout      = 2 * time.Millisecond
	DefaultRegistryURL       = "http://127.0.0.1:8081"
	DefaultIngestAddr        = "127.0.0.1:8080"
	DefaultIngestAdminAddr   = "127.0.0.1:9100"
	DefaultMaxBodyBytes      = 10 << 20
	DefaultMaxItems          = 10_000
	DefaultRegion            = "GB"
	DefaultDedupWindow       = 10 * time.Minute
	DefaultDedupMaxEntries   = 1_000_000
	DefaultMaxFutureSkew     = 24 * time.Hour
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultProduceTimeout    = 10 * time.Second
	DefaultIdentityAddr      = "127.0.0.1:8082"
	DefaultIdentityAdminAddr = "127.0.0.1:9101"
	DefaultIdentityDataDir   = "./data/identity"
	DefaultSnapshotInterval  = 5 * time.Second
	DefaultProfileInterval   = time.Second
	DefaultIdentityBatch     = 2000
	DefaultIdentityGroup     = "cx360-identity"
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
	DefaultMappingsDir       = ""
	DefaultBlocklistFile     = ""
	DefaultAPIKeysFile       = ""
	DefaultRegistryUser      = ""
	DefaultRegistryPassword  = ""
	DefaultRegistryPassFile  = ""
	DefaultStartupTimeout    = 30 * time.Second
)

// Kafka configures the connection to the cluster and the topics.
type Kafka struct {
	Brokers           []string
	TopicPrefix       string
	Partitions        int
	ReplicationFactor int
	BatchTimeout      time.Duration

	// TLS to the brokers.
	TLS      bool
	TLSFiles TLSFiles

	// SASL: "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism    string
	SASLUsername     string
	SASLPassword     string
	SASLPasswordFile string
}

// SASL mechanisms cx360 speaks to Kafka.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Bind registers Kafka's flags.
func (k *Kafka) Bind(fs *FlagSet) {
	fs.List(&k.Brokers, "kafka-brokers", []string{DefaultBrokers}, "Kafka bootstrap brokers")
	fs.String(&k.TopicPrefix, "topic-prefix", DefaultTopicPrefix, "prefix of every cx360 topic")
	fs.Int(&k.Partitions, "topic-partitions", DefaultPartitions, "partitions of topics created at start")
	fs.Int(&k.ReplicationFactor, "topic-replication", DefaultReplication, "replication factor of topics created at start")
	fs.Duration(&k.BatchTimeout, "kafka-batch-timeout", DefaultBatchTimeout, "how long a producer waits to fill a batch")
	bindTLS(fs, "kafka", "the Kafka brokers", &k.TLS, &k.TLSFiles)
	fs.String(&k.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.String(&k.SASLUsername, "kafka-sasl-username", "", "SASL user")
	fs.String(&k.SASLPassword, "kafka-sasl-password", "", "SASL password (prefer the file)")
	fs.String(&k.SASLPasswordFile, "kafka-sasl-password-file", "", "file holding the SASL password (mounted secret)")
}

// SASLSecret returns the SASL password from the file when one is named.
func (k *Kafka) SASLSecret() (string, error) { return secret(k.SASLPassword, k.SASLPasswordFile) }

func (k *Kafka) validate() []error {
	var errs []error
	if len(k.Brokers) == 0 {
		errs = append(errs, errors.New("kafka-brokers: at least one broker is required"))
	}
	for _, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("kafka-brokers: %q is not host:port", b))
		}
	}
	if k.Partitions < 1 {
		errs = append(errs, errors.New("topic-partitions must be at least 1"))
	}
	if k.ReplicationFactor < 1 {
		errs = append(errs, errors.New("topic-replication must be at least 1"))
	}
	if k.BatchTimeout <= 0 {
		errs = append(errs, errors.New("kafka-batch-timeout must be positive"))
	}
	switch k.SASLMechanism {
	case "":
		if k.SASLUsername != "" {
			errs = append(errs, errors.New("kafka-sasl-username is set but kafka-sasl-mechanism is not"))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if k.SASLUsername == "" {
			errs = append(errs, fmt.Errorf("kafka-sasl-mechanism %s needs kafka-sasl-username", k.SASLMechanism))
		}
		if k.SASLPassword != "" && k.SASLPasswordFile != "" {
			errs = append(errs, errors.New("set kafka-sasl-password or kafka-sasl-password-file, not both"))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka-sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.SASLMechanism))
	}
	errs = append(errs, k.TLSFiles.validate("kafka", k.TLS)...)
	return errs
}

// Topics are the names of cx360's topics under a prefix (DESIGN.md "Kafka topics").
type Topics struct {
	Events, DLQ, Journeys, Customers, IdentityChanges string
	// IdentityLease is a one-partition topic whose consumer-group assignment
	// elects the one identity instance that works.
	IdentityLease string
}

// Topics returns the topic names for the configured prefix.
func (k *Kafka) Topics() Topics {
	p := k.TopicPrefix
	return Topics{
		Events: p + "events", DLQ: p + "events.dlq", Journeys: p + "journeys",
		Customers: p + "customers", IdentityChanges: p + "identity.changes", IdentityLease: p + "identity.lease",
	}
}

// Registry configures the Confluent-compatible schema registry client.
type Registry struct {
	URL          string
	Username     string
	Password     string
	PasswordFile string
}

// Bind registers the registry's flags.
func (r *Registry) Bind(fs *FlagSet) {
	fs.String(&r.URL, "registry-url", DefaultRegistryURL, "schema registry URL (Confluent, Redpanda, Karapace or Apicurio ccompat)")
	fs.String(&r.Username, "registry-username", DefaultRegistryUser, "schema registry basic-auth user")
	fs.String(&r.Password, "registry-password", DefaultRegistryPassword, "schema registry basic-auth password")
	fs.String(&r.PasswordFile, "registry-password-file", DefaultRegistryPassFile, "file holding the registry password (mounted secret)")
}

func (r *Registry) validate() []error {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []error{fmt.Errorf("registry-url: %q is not an http(s) URL", r.URL)}
	}
	return nil
}

// Secret returns the registry password from the file when one is named.
func (r *Registry) Secret() (string, error) {
	return secret(r.Password, r.PasswordFile)
}

// Log configures logging.
type Log struct {
	Level  string
	Format string
}

// Bind registers logging flags.
func (l *Log) Bind(fs *FlagSet) {
	fs.String(&l.Level, "log-level", DefaultLogLevel, "debug, info, warn or error")
	fs.String(&l.Format, "log-format", DefaultLogFormat, "json or console")
}

func (l *Log) validate() []error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level: %q is not debug, info, warn or error", l.Level))
	}
	switch l.Format {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log-format: %q is not json or console", l.Format))
	}
	return errs
}

// Ingest configures the ingest service.
type Ingest struct {
	Log      Log
	Kafka    Kafka
	Registry Registry

	Addr            string
	AdminAddr       string
	MaxBodyBytes    int64
	MaxItems        int
	APIKeys         []string // "source:key" pairs
	APIKeysFile     string   // one "source:key" per line
	DefaultRegion   string
	MappingsDir     string
	BlocklistFile   string
	DedupWindow     time.Duration
	DedupMaxEntries int
	MaxFutureSkew   time.Duration
	ShutdownTimeout time.Duration
	StartupTimeout  time.Duration
	ProduceTimeout  time.Duration
}

// Bind registers ingest's flags.
func (c *Ingest) Bind(fs *FlagSet) {
	c.Log.Bind(fs)
	c.Kafka.Bind(fs)
	c.Registry.Bind(fs)
	fs.String(&c.Addr, "ingest-addr", DefaultIngestAddr, "HTTP API listen address")
	fs.String(&c.AdminAddr, "ingest-admin-addr", DefaultIngestAdminAddr, "health and metrics listen address (empty: only on the API address)")
	fs.Int64(&c.MaxBodyBytes, "ingest-max-body-bytes", DefaultMaxBodyBytes, "largest accepted request body; larger ones get 413")
	fs.Int(&c.MaxItems, "ingest-max-items", DefaultMaxItems, "most events (array elements or NDJSON lines) in one request; more get 413")
	fs.List(&c.APIKeys, "ingest-api-keys", nil, "accepted Bearer keys as source:key pairs; none = open API")
	fs.String(&c.APIKeysFile, "ingest-api-keys-file", DefaultAPIKeysFile, "file of source:key lines (mounted secret)")
	fs.String(&c.DefaultRegion, "default-region", DefaultRegion, "ISO 3166 region for phone numbers without a country code")
	fs.String(&c.MappingsDir, "mappings-dir", DefaultMappingsDir, "directory of custom channel mapping files (*.yaml)")
	fs.String(&c.BlocklistFile, "blocklist-file", DefaultBlocklistFile, "YAML list of identifier blocklist rules, replacing the defaults")
	fs.Duration(&c.DedupWindow, "dedup-window", DefaultDedupWindow, "window in which a repeated event_id is acknowledged but not produced again (0 disables)")
	fs.Int(&c.DedupMaxEntries, "dedup-max-entries", DefaultDedupMaxEntries, "most event ids remembered for dedup")
	fs.Duration(&c.MaxFutureSkew, "max-future-skew", DefaultMaxFutureSkew, "events further in the future than this are rejected")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "bound on a graceful shutdown")
	fs.Duration(&c.ProduceTimeout, "ingest-produce-timeout", DefaultProduceTimeout, "how long a request waits for Kafka (with retries) before answering 503")
	fs.Duration(&c.StartupTimeout, "startup-timeout", DefaultStartupTimeout, "how long start-up retries Kafka and the registry before giving up")
}

// Validate reports every configuration error at once.
func (c *Ingest) Validate() error {
	errs := append(c.Log.validate(), c.Kafka.validate()...)
	errs = append(errs, c.Registry.validate()...)
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ingest-addr: %q is not host:port", c.Addr))
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			errs = append(errs, fmt.Errorf("ingest-admin-addr: %q is not host:port", c.AdminAddr))
		}
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("ingest-max-body-bytes must be at least 1024"))
	}
	if c.MaxItems < 1 {
		errs = append(errs, errors.New("ingest-max-items must be at least 1"))
	}
	if len(c.DefaultRegion) != 2 {
		errs = append(errs, fmt.Errorf("default-region: %q is not a two-letter region code", c.DefaultRegion))
	}
	if _, err := c.Keys(); err != nil {
		errs = append(errs, err)
	}
	if c.DedupWindow < 0 || c.DedupMaxEntries < 0 {
		errs = append(errs, errors.New("dedup-window and dedup-max-entries must not be negative"))
	}
	if c.ShutdownTimeout <= 0 || c.StartupTimeout <= 0 || c.ProduceTimeout <= 0 {
		errs = append(errs, errors.New("shutdown-timeout, startup-timeout and ingest-produce-timeout must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
	}
	return nil
}

// Keys returns the API keys as key → source, from the flag and the file.
func (c *Ingest) Keys() (map[string]string, error) {
	pairs := append([]string(nil), c.APIKeys...)
	if c.APIKeysFile != "" {
		b, err := os.ReadFile(c.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("ingest-api-keys-file: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				pairs = append(pairs, line)
			}
		}
	}
	keys := make(map[string]string, len(pairs))
	for i, p := range pairs {
		source, key, ok := strings.Cut(p, ":")
		if !ok || source == "" || len(key) < 16 {
			// Never echo the key itself: it is a secret.
			return nil, fmt.Errorf("ingest-api-keys: entry %d must be source:key with a key of at least 16 characters", i+1)
		}
		keys[key] = source
	}
	return keys, nil
}

func secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

type indented []error

func (e indented) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "\n  ")
}

func (e indented) Unwrap() []error { return e }

func joinIndented(errs []error) error { return indented(errs) }

// Identity configures the identity service.
type Identity struct {
	Log      Log
	Kafka    Kafka
	Registry Registry

	Addr      string
	AdminAddr string
	// AdvertiseURL is where other instances forward API requests while this
	// one holds the lease (empty: derived from Addr when it listens).
	AdvertiseURL     string
	DataDir          string
	RulesFile        string
	SnapshotInterval time.Duration
	ProfileInterval  time.Duration
	BatchSize        int
	DefaultRegion    string
	GroupID          string
	StartupTimeout   time.Duration
	ShutdownTimeout  time.Duration
}

// Bind registers identity's flags.
func (c *Identity) Bind(fs *FlagSet) {
	c.Log.Bind(fs)
	c.Kafka.Bind(fs)
	c.Registry.Bind(fs)
	fs.String(&c.Addr, "identity-addr", DefaultIdentityAddr, "profile API listen address")
	fs.String(&c.AdminAddr, "identity-admin-addr", DefaultIdentityAdminAddr, "health and metrics listen address (empty: only on the API address)")
	fs.String(&c.AdvertiseURL, "identity-advertise-url", "", "URL at which the other identity instances reach this one's API, to forward requests while it is active (empty: http://host:port of identity-addr, with the hostname when it listens on every interface)")
	fs.String(&c.DataDir, "identity-data-dir", DefaultIdentityDataDir, "directory of the graph snapshots")
	fs.String(&c.RulesFile, "identity-rules-file", "", "YAML overriding identifier priorities and limits, hub detection, blocklist and journey phases")
	fs.Duration(&c.SnapshotInterval, "identity-snapshot-interval", DefaultSnapshotInterval, "how often the graph and its input offsets are saved (a restart replays at most this much)")
	fs.Int(&c.BatchSize, "identity-batch-size", DefaultIdentityBatch, "most events resolved per produce")
	fs.Duration(&c.ProfileInterval, "identity-profile-interval", DefaultProfileInterval, "changed profiles are published at most this often (one record per customer per interval)")
	fs.String(&c.DefaultRegion, "default-region", DefaultRegion, "ISO 3166 region for phone numbers without a country code (profile lookups)")
	fs.String(&c.GroupID, "identity-group", DefaultIdentityGroup, "consumer group that elects the active identity instance and holds its committed offsets")
	fs.Duration(&c.StartupTimeout, "startup-timeout", DefaultStartupTimeout, "how long start-up retries Kafka and the registry before giving up")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "bound on a graceful shutdown")
}

// Validate reports every configuration error at once.
func (c *Identity) Validate() error {
	errs := append(c.Log.validate(), c.Kafka.validate()...)
	errs = append(errs, c.Registry.validate()...)
	for name, addr := range map[string]string{"identity-addr": c.Addr, "identity-admin-addr": c.AdminAddr} {
		if addr == "" && name == "identity-admin-addr" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
		}
	}
	if c.AdvertiseURL != "" {
		if u, err := url.Parse(c.AdvertiseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("identity-advertise-url: %q is not an http(s) URL of a host (scheme://host:port)", c.AdvertiseURL))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("identity-data-dir is required"))
	}
	if c.SnapshotInterval <= 0 || c.ProfileInterval <= 0 || c.BatchSize < 1 || c.StartupTimeout <= 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("identity-snapshot-interval, identity-batch-size, startup-timeout and shutdown-timeout must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
	}
	return nil
}

// WithDefaults fills zero-valued settings with their defaults (for callers,
// like the dev stack, that build the config in code rather than from flags).
func (c Identity) WithDefaults() Identity {
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultIdentityBatch
	}
	if c.ProfileInterval <= 0 {
		c.ProfileInterval = DefaultProfileInterval
	}
	if c.GroupID == "" {
		c.GroupID = DefaultIdentityGroup
	}
	if c.StartupTimeout <= 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.DefaultRegion == "" {
		c.DefaultRegion = DefaultRegion
	}
	return c
}

// Defaults of the sink.
const (
	DefaultClickHouseAddr = "127.0.0.1:9000"
	DefaultSinkBatchRows  = 50_000
	DefaultSinkFlush      = time.Second
	DefaultSinkGroup      = "cx360-sink"
	DefaultSinkAdminAddr  = "127.0.0.1:9102"
)

// ClickHouse configures the connection to ClickHouse (native protocol).
type ClickHouse struct {
	Addr         string
	Username     string
	Password     string
	PasswordFile string
	TLS          bool // the server's secure native port (9440)
	TLSFiles     TLSFiles
}

// Bind registers ClickHouse's flags.
func (c *ClickHouse) Bind(fs *FlagSet) {
	fs.String(&c.Addr, "clickhouse-addr", DefaultClickHouseAddr, "ClickHouse native-protocol address")
	fs.String(&c.Username, "clickhouse-username", "default", "ClickHouse user")
	fs.String(&c.Password, "clickhouse-password", "", "ClickHouse password")
	fs.String(&c.PasswordFile, "clickhouse-password-file", "", "file holding the ClickHouse password (mounted secret)")
	bindTLS(fs, "clickhouse", "ClickHouse", &c.TLS, &c.TLSFiles)
}

// TLSConfig returns the client TLS configuration, or nil without TLS.
func (c *ClickHouse) TLSConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	return c.TLSFiles.ClientConfig()
}

// Secret returns the ClickHouse password from the file when one is named.
func (c *ClickHouse) Secret() (string, error) { return secret(c.Password, c.PasswordFile) }

// Sink configures the sink service.
type Sink struct {
	Log        Log
	Kafka      Kafka
	Registry   Registry
	ClickHouse ClickHouse

	AdminAddr       string
	GroupID         string
	BatchRows       int
	FlushInterval   time.Duration
	StartupTimeout  time.Duration
	ShutdownTimeout time.Duration
}

// Bind registers the sink's flags.
func (c *Sink) Bind(fs *FlagSet) {
	c.Log.Bind(fs)
	c.Kafka.Bind(fs)
	c.Registry.Bind(fs)
	c.ClickHouse.Bind(fs)
	fs.String(&c.AdminAddr, "sink-admin-addr", DefaultSinkAdminAddr, "health and metrics listen address")
	fs.String(&c.GroupID, "sink-group", DefaultSinkGroup, "consumer group of the sink")
	fs.Int(&c.BatchRows, "sink-batch-rows", DefaultSinkBatchRows, "rows per ClickHouse insert (10k–100k)")
	fs.Duration(&c.FlushInterval, "sink-flush-interval", DefaultSinkFlush, "insert at least this often")
	fs.Duration(&c.StartupTimeout, "startup-timeout", DefaultStartupTimeout, "how long start-up retries its dependencies before giving up")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "bound on a graceful shutdown")
}

// Validate reports every configuration error at once.
func (c *Sink) Validate() error {
	errs := append(c.Log.validate(), c.Kafka.validate()...)
	errs = append(errs, c.Registry.validate()...)
	if _, _, err := net.SplitHostPort(c.ClickHouse.Addr); err != nil {
		errs = append(errs, fmt.Errorf("clickhouse-addr: %q is not host:port", c.ClickHouse.Addr))
	}
	if c.BatchRows < 1 || c.FlushInterval <= 0 || c.StartupTimeout <= 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("sink-batch-rows, sink-flush-interval, startup-timeout and shutdown-timeout must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
	}
	return nil
}

// WithDefaults fills zero-valued sink settings with their defaults.
func (c Sink) WithDefaults() Sink {
	if c.GroupID == "" {
		c.GroupID = DefaultSinkGroup
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultSinkBatchRows
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultSinkFlush
	}
	if c.StartupTimeout <= 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.ClickHouse.Username == "" {
		c.ClickHouse.Username = "default"
	}
	return c
}
