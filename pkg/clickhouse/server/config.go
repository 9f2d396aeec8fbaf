package server

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// Sizes for a server on a small machine (2 cores): ClickHouse's defaults assume a
// dedicated host (5 GiB mark cache, 8 GiB uncompressed cache, 10 GB per query).
const (
	markCacheBytes         = 64 << 20
	uncompressedCacheBytes = 64 << 20
	// maxServerMemoryBytes caps the whole server on modern ClickHouse; 18.16 has no
	// such setting and ignores it, so maxQueryMemoryBytes bounds each query there.
	maxServerMemoryBytes = 4 << 30
	maxQueryMemoryBytes  = 2 << 30
	maxConcurrentQueries = 64
)

// A server told to stop waits shutdownWaitSeconds for queries still running; an
// idle native connection notices the stop within pollIntervalSeconds and an idle
// HTTP keep-alive connection within keepAliveSeconds. With ClickHouse's defaults
// (5, 10 and 3 s) every stop of a server that has pooled clients takes ~10 s.
const (
	shutdownWaitSeconds = 2
	pollIntervalSeconds = 1
	keepAliveSeconds    = 1
)

// layout names the files and directories a server keeps under its data dir.
type layout struct {
	root string
}

func (l layout) configFile() string { return filepath.Join(l.root, "config.xml") }
func (l layout) usersFile() string  { return filepath.Join(l.root, "users.xml") }
func (l layout) dataDir() string    { return filepath.Join(l.root, "data") + "/" }
func (l layout) tmpDir() string     { return filepath.Join(l.root, "tmp") + "/" }
func (l layout) logDir() string     { return filepath.Join(l.root, "logs") }
func (l layout) serverLog() string  { return filepath.Join(l.logDir(), "clickhouse-server.log") }
func (l layout) errorLog() string   { return filepath.Join(l.logDir(), "clickhouse-server.err.log") }
func (l layout) stdoutLog() string  { return filepath.Join(l.logDir(), "stdout.log") }

// configTemplate is valid for ClickHouse 18.16 and modern releases alike: both
// accept the <yandex> root, and each ignores the keys it does not know. No
// interserver port is configured, so none is opened (cx360 runs no replicas).
var configTemplate = template.Must(template.New("config.xml").Parse(`<?xml version="1.0"?>
<!-- Written by cx360 (pkg/clickhouse/server) on every start; edits are overwritten. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{{.Layout.ServerLog}}</log>
        <errorlog>{{.Layout.ErrorLog}}</errorlog>
        <size>10M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
{{- if .TLSCertFile}}
    <tcp_port_secure>{{.SecurePort}}</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>{{.TLSCertFile}}</certificateFile>
            <privateKeyFile>{{.TLSKeyFile}}</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>
{{- end}}
    <http_port>{{.HTTPPort}}</http_port>
    <path>{{.Layout.DataDir}}</path>
    <tmp_path>{{.Layout.TmpDir}}</tmp_path>
    <user_files_path>{{.Layout.DataDir}}user_files/</user_files_path>
    <format_schema_path>{{.Layout.DataDir}}format_schemas/</format_schema_path>
    <users_config>{{.Layout.UsersFile}}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>{{.MarkCache}}</mark_cache_size>
    <uncompressed_cache_size>{{.UncompressedCache}}</uncompressed_cache_size>
    <max_server_memory_usage>{{.MaxServerMemory}}</max_server_memory_usage>
    <max_concurrent_queries>{{.MaxConcurrentQueries}}</max_concurrent_queries>
    <mlock_executable>false</mlock_executable>
    <shutdown_wait_unfinished>{{.ShutdownWait}}</shutdown_wait_unfinished>
    <keep_alive_timeout>{{.KeepAlive}}</keep_alive_timeout>
</yandex>
`))

// usersTemplate defines one user, default, with Config.Password (none by default), reachable only from
// the loopback addresses the server listens on.
var usersTemplate = template.Must(template.New("users.xml").Parse(`<?xml version="1.0"?>
<!-- Written by cx360 (pkg/clickhouse/server) on every start; edits are overwritten. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>{{.MaxQueryMemory}}</max_memory_usage>
            <poll_interval>{{.PollInterval}}</poll_interval>
        </default>
    </profiles>
    <users>
        <default>
            <password>{{.Password}}</password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`))

// templateLayout exposes layout paths to the templates, XML-escaped.
type templateLayout struct{ l layout }

func (t templateLayout) ServerLog() string { return xmlEscape(t.l.serverLog()) }
func (t templateLayout) ErrorLog() string  { return xmlEscape(t.l.errorLog()) }
func (t templateLayout) DataDir() string   { return xmlEscape(t.l.dataDir()) }
func (t templateLayout) TmpDir() string    { return xmlEscape(t.l.tmpDir()) }
func (t templateLayout) UsersFile() string { return xmlEscape(t.l.usersFile()) }

type templateData struct {
	Layout               templateLayout
	TCPPort, HTTPPort    int
	SecurePort           int
	TLSCertFile          string
	TLSKeyFile           string
	Password             string
	MarkCache            int64
	UncompressedCache    int64
	MaxServerMemory      int64
	MaxQueryMemory       int64
	MaxConcurrentQueries int
	ShutdownWait         int
	PollInterval         int
	KeepAlive            int
}

// writeConfig writes config.xml and users.xml for cfg (its ports resolved), and
// creates the directories the server expects to exist.
func writeConfig(l layout, cfg Config) error {
	for _, dir := range []string{l.root, l.dataDir(), l.tmpDir(), l.logDir()} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	data := templateData{
		Layout:               templateLayout{l},
		TCPPort:              cfg.TCPPort,
		HTTPPort:             cfg.HTTPPort,
		SecurePort:           cfg.SecurePort,
		TLSCertFile:          xmlEscape(cfg.TLSCertFile),
		TLSKeyFile:           xmlEscape(cfg.TLSKeyFile),
		Password:             xmlEscape(cfg.Password),
		MarkCache:            markCacheBytes,
		UncompressedCache:    uncompressedCacheBytes,
		MaxServerMemory:      maxServerMemoryBytes,
		MaxQueryMemory:       maxQueryMemoryBytes,
		MaxConcurrentQueries: maxConcurrentQueries,
		ShutdownWait:         shutdownWaitSeconds,
		PollInterval:         pollIntervalSeconds,
		KeepAlive:            keepAliveSeconds,
	}
	files := []struct {
		path string
		tmpl *template.Template
	}{
		{l.configFile(), configTemplate},
		{l.usersFile(), usersTemplate},
	}
	for _, f := range files {
		var buf bytes.Buffer
		if err := f.tmpl.Execute(&buf, data); err != nil {
			return fmt.Errorf("render %s: %w", filepath.Base(f.path), err)
		}
		if err := os.WriteFile(f.path, buf.Bytes(), 0o640); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

func xmlEscape(s string) string {
	var buf bytes.Buffer
	// EscapeText fails only when its writer does, and a bytes.Buffer does not.
	_ = xml.EscapeText(&buf, []byte(s))
	return buf.String()
}
