// Package embedded runs the dev stack's in-process Kafka-protocol broker:
// franz-go's kfake, a real Kafka wire-protocol server (produce, fetch,
// consumer groups, admin APIs) that any client, kafka-go included, reaches
// over TCP. With a data dir it keeps topics, records and committed group
// offsets across restarts.
package embedded

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults for Config's zero values.
const (
	DefaultAddr       = "127.0.0.1:9092"
	DefaultPartitions = 3
)

// Config configures the embedded broker.
type Config struct {
	// Addr is the listen address, "127.0.0.1:9092" by default. Port 0
	// picks a free port. Only 127.0.0.1 (or localhost) is accepted: kfake
	// always binds and advertises 127.0.0.1, and the dev stack must not be
	// reachable from the network.
	Addr string
	// DataDir persists the broker's state; "" keeps everything in memory.
	DataDir string
	// Partitions is the partition count of auto-created topics and of
	// CreateTopics requests that leave it to the broker. kfake saves an
	// auto-created topic to DataDir only on Close (a created one at once),
	// so cx360 creates its topics explicitly (kafka.EnsureTopics).
	Partitions int
	// SyncWrites fsyncs every produced batch. Without it, as in Kafka's
	// default, records survive a process kill but not a machine crash.
	SyncWrites bool
}

// Broker is the dev stack's in-process Kafka-protocol broker (kfake),
// persisted under a data dir.
type Broker struct {
	cluster *kfake.Cluster
	reaper  *memberReaper
	addrs   []string
	logger  *zap.Logger
}

// Start starts a single-node broker and returns once it is listening.
func Start(cfg Config, logger *zap.Logger) (*Broker, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = DefaultPartitions
	}
	port, err := loopbackPort(cfg.Addr)
	if err != nil {
		return nil, err
	}

	opts := []kfake.Opt{
		kfake.Ports(port), // one port = one broker
		kfake.ClusterID("cx360-dev"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.WithLogger(zapLogger{logger}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: start on %s (data dir %q): %w", cfg.Addr, cfg.DataDir, err)
	}
	b := &Broker{cluster: cluster, addrs: cluster.ListenAddrs(), logger: logger}
	b.reaper = newMemberReaper(cluster, b.addrs, time.Second, logger)
	b.reaper.start()
	logger.Info("embedded kafka started", zap.Strings("addrs", b.addrs), zap.String("data_dir", cfg.DataDir))
	return b, nil
}

// loopbackPort validates addr and returns its port.
func loopbackPort(addr string) (int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("embedded kafka: address %q: %w", addr, err)
	}
	if host != "127.0.0.1" && host != "localhost" {
		return 0, fmt.Errorf("embedded kafka: address %q: only 127.0.0.1 is supported", addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("embedded kafka: address %q: invalid port", addr)
	}
	return port, nil
}

// Addrs returns the broker's bootstrap addresses ("127.0.0.1:port").
func (b *Broker) Addrs() []string {
	return append([]string(nil), b.addrs...)
}

// Close stops the broker, closing client connections, and with a data dir
// saves its state to disk before returning. Idempotent.
func (b *Broker) Close() {
	// Both closes are idempotent.
	b.reaper.close()
	b.cluster.Close()
	b.logger.Debug("embedded kafka stopped", zap.Strings("addrs", b.addrs))
}

// zapLogger routes kfake's logs to zap. kfake logs every request at info;
// that is debug detail for cx360.
type zapLogger struct{ l *zap.Logger }

func (z zapLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lvl zapcore.Level
	switch level {
	case kfake.LogLevelError:
		lvl = zapcore.ErrorLevel
	case kfake.LogLevelWarn:
		lvl = zapcore.WarnLevel
	case kfake.LogLevelInfo, kfake.LogLevelDebug:
		lvl = zapcore.DebugLevel
	default:
		return
	}
	if !z.l.Core().Enabled(lvl) {
		return // skip the formatting
	}
	if ce := z.l.Check(lvl, "kfake: "+fmt.Sprintf(msg, args...)); ce != nil {
		ce.Write()
	}
}
