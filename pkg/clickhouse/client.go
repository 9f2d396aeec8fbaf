// Package clickhouse is cx360's ClickHouse client: a clickhouse-go/v2 native
// connection pool with batch inserts that work on ClickHouse 18.16 (what Debian
// installs for the embedded dev stack) and on modern ClickHouse alike, and an error
// classification that tells a retryable failure from a row that can never be
// written.
package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Defaults for Options fields left zero.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultUsername     = "default"
	DefaultMaxOpenConns = 8
)

// Options says how to reach a ClickHouse server over the native protocol.
type Options struct {
	// Addr is the native protocol address, host:port (9000, or 9440 with TLS).
	Addr string
	// Database is the default database of every connection; empty is the
	// server's default.
	Database string
	Username string // empty is DefaultUsername
	Password string
	// TLS, when set, encrypts the connection (the server's secure native port).
	TLS         *tls.Config
	DialTimeout time.Duration // empty is DefaultDialTimeout
	// MaxOpenConns bounds the pool; empty is DefaultMaxOpenConns.
	MaxOpenConns int
	// Compress sends and receives blocks LZ4-compressed: less network for remote
	// servers at some CPU cost.
	Compress bool
	// Settings are ClickHouse settings sent with every query.
	Settings map[string]any
}

// Client is a pool of native connections to one ClickHouse server. It is safe for
// concurrent use.
type Client struct {
	conn    driver.Conn
	version driver.ServerVersion
}

// Open connects to the server, checks that it answers, and learns its version.
func Open(ctx context.Context, opts Options) (*Client, error) {
	if opts.Addr == "" {
		return nil, errors.New("clickhouse: Options.Addr is required")
	}
	conn, err := open(opts, nil)
	if err != nil {
		return nil, err
	}
	version, err := handshake(ctx, conn, opts.Addr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if extra := legacySettings(version); extra != nil {
		// The version is only known after connecting; reconnect with the settings
		// an old server needs.
		conn.Close()
		if conn, err = open(opts, extra); err != nil {
			return nil, err
		}
		if version, err = handshake(ctx, conn, opts.Addr); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return &Client{conn: conn, version: version}, nil
}

func open(opts Options, extra map[string]any) (driver.Conn, error) {
	o := &ch.Options{
		Addr: []string{opts.Addr},
		Auth: ch.Auth{
			Database: opts.Database,
			Username: opts.Username,
			Password: opts.Password,
		},
		TLS:          opts.TLS,
		DialTimeout:  opts.DialTimeout,
		MaxOpenConns: opts.MaxOpenConns,
		MaxIdleConns: opts.MaxOpenConns,
	}
	if o.Auth.Username == "" {
		o.Auth.Username = DefaultUsername
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns, o.MaxIdleConns = DefaultMaxOpenConns, DefaultMaxOpenConns
	}
	if opts.Compress {
		o.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	if len(opts.Settings)+len(extra) > 0 {
		o.Settings = ch.Settings{}
		for k, v := range extra {
			o.Settings[k] = v
		}
		// The caller's settings win over the defaults added for old servers.
		for k, v := range opts.Settings {
			o.Settings[k] = v
		}
	}
	conn, err := ch.Open(o)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %w", opts.Addr, err)
	}
	return conn, nil
}

func handshake(ctx context.Context, conn driver.Conn, addr string) (driver.ServerVersion, error) {
	if err := conn.Ping(ctx); err != nil {
		return driver.ServerVersion{}, fmt.Errorf("clickhouse: connect %s: %w", addr, err)
	}
	v, err := conn.ServerVersion()
	if err != nil {
		return driver.ServerVersion{}, fmt.Errorf("clickhouse: server version of %s: %w", addr, err)
	}
	return *v, nil
}

// ServerVersion is the version the server reported when the client connected.
func (c *Client) ServerVersion() driver.ServerVersion {
	return c.version
}

// Exec runs a statement that returns no rows. Args bind to ? placeholders on the
// client (see clickhouse-go's bind). Write rows with InsertBatch: on servers older
// than 19.x an INSERT with inline VALUES fails with ErrInlineInsert.
func (c *Client) Exec(ctx context.Context, query string, args ...any) error {
	if err := checkExec(c.version, query); err != nil {
		return err
	}
	if err := c.conn.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("clickhouse: exec: %w", err)
	}
	return nil
}

// Query runs a query and returns its rows, which the caller must close.
func (c *Client) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	rows, err := c.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: query: %w", err)
	}
	return rows, nil
}

// QueryRow runs a query expected to return at most one row; errors surface from
// the row's Scan.
func (c *Client) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	return c.conn.QueryRow(ctx, query, args...)
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("clickhouse: close: %w", err)
	}
	return nil
}
