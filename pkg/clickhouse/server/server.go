// Package server runs a local ClickHouse server as a child process, for tests and
// for `cx360 dev`: its own config, data and logs under one directory, listening
// on 127.0.0.1 only, and never outliving the process that started it.
//
// It runs the server the OS packages install (Debian's clickhouse-server 18.16, put
// there by scripts/setup.sh) or a modern single `clickhouse` binary.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.uber.org/zap"
)

// ErrNotInstalled is returned by Start when no ClickHouse server binary is found.
var ErrNotInstalled = errors.New("clickhouse server is not installed (run scripts/setup.sh)")

const (
	// DefaultStartTimeout bounds how long Start waits for a new server to answer
	// when its context has no earlier deadline. 18.16 answers in under a second on
	// an empty data dir; loading many parts takes longer.
	DefaultStartTimeout = 60 * time.Second

	readyPollInterval = 25 * time.Millisecond
	pingTimeout       = time.Second
	// freePortAttempts is how often Start picks new ports when a port it picked
	// was taken by someone else before the server could bind it.
	freePortAttempts = 3
)

// Config says where a server keeps its files and which ports it listens on.
type Config struct {
	// DataDir holds config.xml, users.xml, data/, tmp/ and logs/. Starting a
	// server again on the same DataDir keeps its databases.
	DataDir string
	// TCPPort is the native protocol port; 0 picks a free one.
	TCPPort int
	// HTTPPort is the HTTP interface port; 0 picks a free one.
	HTTPPort int
	// Binary is the server executable: a clickhouse-server, or a single
	// `clickhouse` binary (run as `clickhouse server`). Empty finds one on PATH,
	// then in /usr/sbin and /usr/bin.
	Binary string
	// TLSCertFile and TLSKeyFile (PEM), when set, open the secure native port
	// too: SecurePort, 0 picking a free one.
	TLSCertFile, TLSKeyFile string
	SecurePort              int
	// Password is the default user's password; empty is none.
	Password string
}

// Server is a ClickHouse server process started by Start. Its ports are fixed at
// the first start, so Stop or Kill followed by Start brings it back on the same
// address with the same data. Methods are safe for concurrent use.
type Server struct {
	logger  *zap.Logger
	layout  layout
	command []string // binary and the arguments before --config-file

	mu   sync.Mutex
	cfg  Config   // ports resolved
	proc *process // nil when not started, stopped or killed
}

// process is one run of the server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result, readable after done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start writes the server's config under cfg.DataDir, starts the server and waits
// until it answers a native-protocol ping. The server is a child that dies with
// its parent (Pdeathsig), so a killed test or dev stack never leaves one behind.
func Start(ctx context.Context, cfg Config, logger *zap.Logger) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("clickhouse server: DataDir is required")
	}
	root, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("clickhouse server: data dir: %w", err)
	}
	cfg.DataDir = root
	command, err := findBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Server{
		logger:  logger.With(zap.String("component", "clickhouse-server")),
		layout:  layout{root: root},
		command: command,
		cfg:     cfg,
	}
	if err := s.startFirst(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// startFirst starts the server for the first time. Ports the caller left at 0 are
// picked here; when both were, and another process grabs one before the server
// binds it, it picks again (ports the caller asked for are never changed).
func (s *Server) startFirst(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wantTCP, wantHTTP, wantSecure := s.cfg.TCPPort, s.cfg.HTTPPort, s.cfg.SecurePort
	if s.cfg.TLSCertFile == "" {
		wantSecure = -1 // no secure port
	}
	var err error
	for attempt := 1; attempt <= freePortAttempts; attempt++ {
		ports, err := pickPorts(wantTCP, wantHTTP, wantSecure)
		if err != nil {
			return err
		}
		s.cfg.TCPPort, s.cfg.HTTPPort, s.cfg.SecurePort = ports[0], ports[1], max(ports[2], 0)
		err = s.startLocked(ctx)
		if err == nil || !errors.Is(err, errPortInUse) || wantTCP != 0 || wantHTTP != 0 || wantSecure > 0 {
			return err
		}
		s.logger.Info("picked port was taken; picking again", zap.Error(err))
	}
	return err
}

// Start starts a stopped or killed server again, on the same ports and data dir.
// It does nothing if the server is running.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return nil
	}
	return s.startLocked(ctx)
}

var errPortInUse = errors.New("port already in use")

func (s *Server) startLocked(ctx context.Context) error {
	if err := writeConfig(s.layout, s.cfg); err != nil {
		return fmt.Errorf("clickhouse server: %w", err)
	}
	stdout, err := os.OpenFile(s.layout.stdoutLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("clickhouse server: %w", err)
	}
	// The child keeps its own copy of the descriptor.
	defer stdout.Close()

	args := append(append([]string{}, s.command[1:]...), "--config-file="+s.layout.configFile())
	cmd := exec.Command(s.command[0], args...)
	cmd.Dir = s.layout.root
	cmd.Stdout = stdout
	cmd.Stderr = stdout
	// Modern ClickHouse forks a watchdog parent by default; the server must be our
	// direct child for Pdeathsig and signals to reach it.
	cmd.Env = append(os.Environ(), "CLICKHOUSE_WATCHDOG_ENABLE=0")
	cmd.SysProcAttr = childProcAttr()

	began := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clickhouse server: start %s: %w", s.command[0], err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	// Reaps the process; every path that ends the process (Stop, Kill, a failed
	// start) waits for done, and a crash closes it on its own.
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	if err := s.waitReady(ctx, p); err != nil {
		if !p.exited() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		detail := s.logTail()
		if strings.Contains(detail, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("clickhouse server on %s did not start: %w\n%s", s.addrLocked(), err, detail)
	}
	s.proc = p
	s.logger.Info("clickhouse server started",
		zap.String("addr", s.addrLocked()),
		zap.Int("http_port", s.cfg.HTTPPort),
		zap.Int("pid", cmd.Process.Pid),
		zap.String("data_dir", s.layout.root),
		zap.Duration("took", time.Since(began)))
	return nil
}

// waitReady pings the server until it answers, the process exits, or the start
// deadline passes.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:         []string{s.addrLocked()},
		Auth:         clickhouse.Auth{Username: "default", Password: s.cfg.Password},
		DialTimeout:  pingTimeout,
		MaxOpenConns: 1,
	})
	if err != nil {
		return fmt.Errorf("open client: %w", err)
	}
	defer conn.Close()

	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
		lastErr = conn.Ping(pingCtx)
		cancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last ping: %v)", ctx.Err(), lastErr)
		case <-ticker.C:
		}
	}
}

// Stop ends the server gracefully: SIGTERM, then SIGKILL once ctx is done. It
// waits until the process is gone, and does nothing if it already is.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("clickhouse server: signal: %w", err)
	}
	select {
	case <-p.done:
		s.logger.Info("clickhouse server stopped", zap.String("addr", s.addrLocked()))
		return nil
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("clickhouse server did not stop gracefully and was killed: %w", ctx.Err())
}

// Kill ends the server at once with SIGKILL, as a crash would, and waits until the
// process is gone. It does nothing if the server is not running.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("clickhouse server: kill: %w", err)
	}
	<-p.done
	s.logger.Info("clickhouse server killed", zap.String("addr", s.addrLocked()))
	return nil
}

// Addr is the native protocol address, "127.0.0.1:port".
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrLocked()
}

func (s *Server) addrLocked() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.TCPPort))
}

// SecureAddr is the TLS native protocol address, "127.0.0.1:port", or "" when
// the server has no certificate.
func (s *Server) SecureAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.SecurePort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.SecurePort))
}

// HTTPAddr is the HTTP interface address, "127.0.0.1:port".
func (s *Server) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.HTTPPort))
}

// Config is the server's configuration with the ports it actually uses.
func (s *Server) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// PID is the server's process id, or 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// logTail returns the end of the server's error log and stdout, which say why a
// start failed.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, path := range []string{s.layout.errorLog(), s.layout.stdoutLog()} {
		data, err := os.ReadFile(path)
		if err != nil || len(data) == 0 {
			continue
		}
		const keep = 2048
		if len(data) > keep {
			data = data[len(data)-keep:]
		}
		fmt.Fprintf(&b, "--- %s (end) ---\n%s\n", path, strings.TrimSpace(string(data)))
	}
	return b.String()
}

// findBinary returns the server command: the binary and the arguments that make it
// run a server.
func findBinary(explicit string) ([]string, error) {
	withArgs := func(path string) []string {
		if filepath.Base(path) == "clickhouse" {
			return []string{path, "server"}
		}
		return []string{path}
	}
	if explicit != "" {
		path, err := exec.LookPath(explicit)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotInstalled, explicit, err)
		}
		return withArgs(path), nil
	}
	for _, candidate := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "clickhouse"} {
		if path, err := exec.LookPath(candidate); err == nil {
			return withArgs(path), nil
		}
	}
	return nil, ErrNotInstalled
}

// pickPorts returns the wanted ports, replacing zeros with distinct free ports
// (a negative one stays as it is: a port not wanted).
func pickPorts(want ...int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	pick := func(want int) (int, error) {
		if want != 0 {
			return want, nil
		}
		// Held open until all are picked, so they differ.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("clickhouse server: pick a free port: %w", err)
		}
		listeners = append(listeners, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	ports := make([]int, len(want))
	for i, w := range want {
		p, err := pick(w)
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}
