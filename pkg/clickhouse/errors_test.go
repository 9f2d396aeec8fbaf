package clickhouse_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cx360/cx360/pkg/clickhouse"
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestIsRetryable(t *testing.T) {
	exception := func(code int32, msg string) error { return &ch.Exception{Code: code, Message: msg} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("something else"), false},
		{"connection refused", fmt.Errorf("clickhouse: connect: %w", refused), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"broken pipe", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{"EOF", fmt.Errorf("read packet: %w", io.EOF), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"closed connection", net.ErrClosed, true},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutError{}}, true},
		{"deadline", fmt.Errorf("x: %w", os.ErrDeadlineExceeded), true},
		{"context canceled", context.Canceled, true},
		{"context deadline", fmt.Errorf("ping: %w", context.DeadlineExceeded), true},
		{"bad conn", driver.ErrBadConn, true},
		{"pool exhausted", ch.ErrAcquireConnTimeout, true},
		{"TOO_MANY_PARTS", exception(252, "Too many parts (300). Merges are processing significantly slower than inserts"), true},
		{"too many partitions in one block", exception(252, "Too many partitions for single INSERT block (more than 100)."), false},
		{"TIMEOUT_EXCEEDED", exception(159, "Timeout exceeded"), true},
		{"MEMORY_LIMIT_EXCEEDED", exception(241, "Memory limit (for query) exceeded"), true},
		{"TABLE_IS_READ_ONLY", exception(242, "Table is in readonly mode"), true},
		{"NETWORK_ERROR", exception(210, "Connection refused"), true},
		{"SOCKET_TIMEOUT", exception(209, "Timeout"), true},
		{"UNKNOWN_TABLE", exception(60, "Table x doesn't exist"), true},
		{"SYNTAX_ERROR", exception(62, "Syntax error"), false},
		{"TYPE_MISMATCH", exception(53, "Type mismatch"), false},
		{"CANNOT_PARSE_TEXT", exception(6, "Cannot parse string 'abc' as Int64"), false},
		{"unlisted code", exception(49, "Logical error"), false},
		{"exception inside OpError", &ch.OpError{Op: "send", Err: exception(252, "Too many parts")}, true},
		{"exception wrapped", fmt.Errorf("insert: %w", exception(62, "Syntax error")), false},
		{"row error", &clickhouse.RowError{Row: 3, Err: errors.New("bad type")}, false},
		{"row error around a network error", &clickhouse.RowError{Row: 3, Err: io.EOF}, false},
		{"inline insert", fmt.Errorf("x: %w", clickhouse.ErrInlineInsert), false},
		{"joined, one transient", errors.Join(errors.New("a"), io.EOF), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := clickhouse.IsRetryable(tc.err); got != tc.want {
				t.Fatalf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestExceptionCode(t *testing.T) {
	err := fmt.Errorf("clickhouse: insert: %w", &ch.OpError{Op: "send", Err: &ch.Exception{Code: 241}})
	if code, ok := clickhouse.ExceptionCode(err); !ok || code != 241 {
		t.Fatalf("ExceptionCode = %d, %v; want 241, true", code, ok)
	}
	if _, ok := clickhouse.ExceptionCode(io.EOF); ok {
		t.Fatal("ExceptionCode(io.EOF) found a code")
	}
}
