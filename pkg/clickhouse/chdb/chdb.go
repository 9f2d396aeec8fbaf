// Package chdb gives tests a modern ClickHouse engine: chDB (ClickHouse as a
// library, from the npm package chdb) in a Node process that tools/chdb/server.mjs
// runs, with one session on one data directory. cx360's SQL must run on the
// ClickHouse 18.16 that Debian installs (pkg/clickhouse/chtest) and on modern
// ClickHouse alike; this package is how tests prove the second half without a
// modern server on the machine.
//
// scripts/setup.sh installs the npm packages (npm ci in tools/chdb).
//
// Values in a Result are decoded from ClickHouse's JSONCompact output with
// json.Decoder.UseNumber:
//   - every number (Int*, UInt*, Float*, Decimal) is a json.Number holding the
//     engine's exact text, so UInt64 and Int64 never lose digits (64-bit integers
//     are pinned unquoted); NaN and ±Inf come back as nil;
//   - String, FixedString, UUID, Date and DateTime are string (DateTime as
//     "2006-01-02 15:04:05" in UTC: the engine runs with TZ=UTC);
//   - Bool is bool, Array(T) is []any of the above, Nullable NULL is nil.
package chdb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotInstalled is returned by Start when node or tools/chdb's npm packages are
// missing.
var ErrNotInstalled = errors.New("chDB is not installed (run scripts/setup.sh)")

const (
	// startTimeout bounds Start: loading the ~550 MB engine library and opening
	// the session takes well under a second from a warm page cache.
	startTimeout = 2 * time.Minute
	// stopTimeout is how long Close waits for the session to close and the
	// process to exit after its requests end, before killing it.
	stopTimeout = 10 * time.Second
	// outputTailBytes is how much of the process's stdout and stderr is kept for
	// error messages.
	outputTailBytes = 8 << 10
)

// Engine is one chDB session in a Node child process. Requests are serialized:
// it is safe for concurrent use, and the engine sees one statement at a time.
type Engine struct {
	cmd     *exec.Cmd
	req     *os.File      // requests to the process (its fd 3)
	resp    *os.File      // answers from the process (its fd 4)
	reader  *bufio.Reader // over resp
	output  *tailBuffer   // the process's stdout and stderr
	exited  chan struct{} // closed once the process has exited and been reaped
	waitErr error         // cmd.Wait's result, readable after exited is closed

	mu     sync.Mutex // serializes requests
	nextID int64
	broken error // set when the protocol can no longer be trusted

	closeOnce sync.Once
	closeErr  error
}

// ErrClosed is returned by requests made after Close.
var ErrClosed = errors.New("chdb: engine is closed")

// Error is an error the engine reported for a statement.
type Error struct {
	// Code is ClickHouse's error code (62 is SYNTAX_ERROR, 60 UNKNOWN_TABLE, ...),
	// or 0 when the message carries none (a request the server refused).
	Code    int
	Message string
}

func (e *Error) Error() string { return "chdb: " + e.Message }

var errorCode = regexp.MustCompile(`^Code: (\d+)\.`)

func newError(message string) *Error {
	e := &Error{Message: message}
	if m := errorCode.FindStringSubmatch(message); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	}
	return e
}

// Result is what a query returned.
type Result struct {
	Columns []string // column names, in order
	Types   []string // ClickHouse type of each column, e.g. "Array(String)"
	Rows    [][]any  // one slice per row, values decoded as the package doc says
}

// Start runs tools/chdb/server.mjs on dataDir (created if missing) and waits
// until its session is open. Close must be called to stop the process; it also
// dies with the process that started it (Linux).
func Start(dataDir string) (*Engine, error) {
	if dataDir == "" {
		return nil, errors.New("chdb: data dir is required")
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("chdb: data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("chdb: data dir: %w", err)
	}
	toolDir, err := findToolDir()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node is not on PATH", ErrNotInstalled)
	}

	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("chdb: pipe: %w", err)
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("chdb: pipe: %w", err)
	}
	output := &tailBuffer{limit: outputTailBytes}
	cmd := exec.Command(node, filepath.Join(toolDir, "server.mjs"), dataDir, "--in-fd", "3", "--out-fd", "4")
	cmd.Dir = toolDir
	// Requests travel on fds 3 and 4, and stdin is /dev/null, because the engine
	// reads its host process's stdin as data for every INSERT.
	cmd.ExtraFiles = []*os.File{reqR, respW}
	cmd.Stdout = output
	cmd.Stderr = output
	// UTC keeps DateTime text the same on every machine.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.SysProcAttr = childProcAttr()
	err = cmd.Start()
	// The child has its copies; the parent keeps only its own ends, so the
	// child's exit shows up as EOF on resp.
	reqR.Close()
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		return nil, fmt.Errorf("chdb: start node: %w", err)
	}
	e := &Engine{
		cmd:    cmd,
		req:    reqW,
		resp:   respR,
		reader: bufio.NewReader(respR),
		output: output,
		exited: make(chan struct{}),
	}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	e.mu.Lock()
	// The greeting (id 0) says the session is open, or why it could not open.
	_, err = e.roundTripLocked(ctx, nil, 0)
	e.mu.Unlock()
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("chdb: start: %w", err)
	}
	return e, nil
}

// findToolDir finds tools/chdb in the cx360 checkout: under $CX360_ROOT (which
// scripts/lib.sh sets), next to this source file, or above the working
// directory (go test runs in the package's directory).
func findToolDir() (string, error) {
	var roots []string
	if r := os.Getenv("CX360_ROOT"); r != "" {
		roots = append(roots, r)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		roots = append(roots, filepath.Join(filepath.Dir(file), "..", "..", ".."))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, r := range roots {
		dir := filepath.Join(r, "tools", "chdb")
		if _, err := os.Stat(filepath.Join(dir, "server.mjs")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "chdb", "package.json")); err != nil {
			return "", fmt.Errorf("%w: %s has no node_modules/chdb", ErrNotInstalled, dir)
		}
		return filepath.Clean(dir), nil
	}
	return "", fmt.Errorf("%w: tools/chdb/server.mjs not found (set CX360_ROOT to the cx360 checkout)", ErrNotInstalled)
}

// PID is the Node process's id.
func (e *Engine) PID() int { return e.cmd.Process.Pid }

// Version is the engine's ClickHouse version, as version() returns it
// ("26.7.2.1").
func (e *Engine) Version(ctx context.Context) (string, error) {
	r, err := e.Query(ctx, "SELECT version()")
	if err != nil {
		return "", err
	}
	if len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		return "", fmt.Errorf("chdb: version(): unexpected result %v", r.Rows)
	}
	v, ok := r.Rows[0][0].(string)
	if !ok {
		return "", fmt.Errorf("chdb: version(): not a string: %v", r.Rows[0][0])
	}
	return v, nil
}

// Exec runs one statement and discards what it returns.
func (e *Engine) Exec(ctx context.Context, sql string) error {
	_, err := e.do(ctx, request{SQL: sql, Format: "TabSeparated"})
	return err
}

// Query runs one statement and returns its columns and rows. A statement that
// returns nothing (DDL, INSERT) gives an empty Result.
func (e *Engine) Query(ctx context.Context, sql string) (*Result, error) {
	return e.query(ctx, request{SQL: sql})
}

// QueryWithParams runs one statement whose {name:Type} placeholders the engine
// binds from params. Each value is the text ClickHouse takes for the query
// parameter param_<name>: "42", "2026-01-02 03:04:05", "['a','b']", or a bare
// string (not quoted).
func (e *Engine) QueryWithParams(ctx context.Context, sql string, params map[string]string) (*Result, error) {
	if params == nil {
		params = map[string]string{}
	}
	return e.query(ctx, request{SQL: sql, Params: params})
}

func (e *Engine) query(ctx context.Context, req request) (*Result, error) {
	req.Format = "JSONCompact"
	data, err := e.do(ctx, req)
	if err != nil {
		return nil, err
	}
	return parseJSONCompact(data)
}

// request is one line to server.mjs.
type request struct {
	ID     int64             `json:"id"`
	SQL    string            `json:"sql"`
	Format string            `json:"format,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// response is one line from server.mjs.
type response struct {
	ID    *int64 `json:"id"`
	OK    bool   `json:"ok"`
	Data  string `json:"data"`
	Error string `json:"error"`
}

func (e *Engine) do(ctx context.Context, req request) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.broken != nil {
		return "", e.broken
	}
	e.nextID++
	req.ID = e.nextID
	line, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("chdb: encode request: %w", err)
	}
	return e.roundTripLocked(ctx, append(line, '\n'), req.ID)
}

type lineResult struct {
	line []byte
	err  error
}

// roundTripLocked writes line (when not nil) and reads the answer with id want.
// The engine cannot be interrupted mid-statement, so when ctx ends first the
// process is killed and the Engine refuses every later request. e.mu is held.
func (e *Engine) roundTripLocked(ctx context.Context, line []byte, want int64) (string, error) {
	done := make(chan lineResult, 1)
	go func() {
		if line != nil {
			if _, err := e.req.Write(line); err != nil {
				done <- lineResult{err: fmt.Errorf("write request: %w", err)}
				return
			}
		}
		l, err := e.reader.ReadBytes('\n')
		done <- lineResult{line: l, err: err}
	}()
	var r lineResult
	select {
	case r = <-done:
	case <-ctx.Done():
		e.kill()
		<-done // the process is gone, so the read ends
		e.broken = fmt.Errorf("chdb: engine killed after a request was abandoned: %w", ctx.Err())
		return "", fmt.Errorf("chdb: %w", ctx.Err())
	}
	if r.err != nil {
		e.broken = fmt.Errorf("chdb: server process failed: %w%s", r.err, e.outputNote())
		return "", e.broken
	}
	var resp response
	if err := json.Unmarshal(r.line, &resp); err != nil {
		e.broken = fmt.Errorf("chdb: unreadable answer %q: %w", truncate(r.line, 200), err)
		return "", e.broken
	}
	if resp.ID == nil || *resp.ID != want {
		e.broken = fmt.Errorf("chdb: answer %s does not match request %d", truncate(r.line, 200), want)
		return "", e.broken
	}
	if !resp.OK {
		return "", newError(resp.Error)
	}
	return resp.Data, nil
}

func (e *Engine) outputNote() string {
	if out := strings.TrimSpace(e.output.String()); out != "" {
		return "; its output: " + out
	}
	return ""
}

// kill ends the process at once; Close still reaps it.
func (e *Engine) kill() {
	select {
	case <-e.exited:
	default:
		_ = e.cmd.Process.Kill() // fails only when it already exited
	}
}

// Close ends the session: the process sees its requests end, closes the session
// and exits; one that has not exited within stopTimeout is killed. It waits for
// the process to be reaped, so none is left behind. Calling it again returns the
// first call's result.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.req.Close()
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		killed := false
		select {
		case <-e.exited:
		case <-timer.C:
			e.kill()
			killed = true
			<-e.exited
		}
		e.resp.Close()
		e.mu.Lock()
		broken := e.broken
		if e.broken == nil {
			e.broken = ErrClosed
		}
		e.mu.Unlock()
		switch {
		case killed:
			e.closeErr = fmt.Errorf("chdb: the engine did not stop within %s and was killed%s", stopTimeout, e.outputNote())
		case e.waitErr != nil && broken == nil:
			e.closeErr = fmt.Errorf("chdb: the engine exited badly: %w%s", e.waitErr, e.outputNote())
		}
	})
	return e.closeErr
}

// parseJSONCompact decodes the engine's JSONCompact text.
func parseJSONCompact(data string) (*Result, error) {
	if strings.TrimSpace(data) == "" {
		return &Result{}, nil
	}
	var doc struct {
		Meta []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"meta"`
		Data [][]any `json:"data"`
	}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("chdb: decode JSONCompact: %w", err)
	}
	r := &Result{Rows: doc.Data}
	for _, m := range doc.Meta {
		r.Columns = append(r.Columns, m.Name)
		r.Types = append(r.Types, m.Type)
	}
	if r.Rows == nil {
		r.Rows = [][]any{}
	}
	return r, nil
}

func truncate(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
