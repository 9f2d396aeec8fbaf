package clickhouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// retryableCodes are ClickHouse exception codes for failures that do not lie with
// the rows written: the server is overloaded, short of memory or disk, restarting,
// or not yet set up (a table or user a migration or an operator will create).
// Retrying later may succeed, and a caller that keeps retrying applies
// back-pressure instead of discarding rows that did nothing wrong.
//
// Every other code (syntax, type mismatch, value out of range, …) is permanent.
var retryableCodes = map[int32]string{
	16:   "NO_SUCH_COLUMN_IN_TABLE",
	60:   "UNKNOWN_TABLE",
	81:   "UNKNOWN_DATABASE",
	159:  "TIMEOUT_EXCEEDED",
	164:  "READONLY",
	173:  "CANNOT_ALLOCATE_MEMORY",
	192:  "UNKNOWN_USER",
	193:  "WRONG_PASSWORD",
	194:  "REQUIRED_PASSWORD",
	195:  "IP_ADDRESS_NOT_ALLOWED",
	201:  "QUOTA_EXPIRED",
	202:  "TOO_MANY_SIMULTANEOUS_QUERIES",
	203:  "NO_FREE_CONNECTION",
	204:  "CANNOT_FSYNC",
	209:  "SOCKET_TIMEOUT",
	210:  "NETWORK_ERROR",
	216:  "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING",
	218:  "TABLE_IS_DROPPED",
	225:  "NO_ZOOKEEPER",
	236:  "ABORTED",
	241:  "MEMORY_LIMIT_EXCEEDED",
	242:  "TABLE_IS_READ_ONLY",
	243:  "NOT_ENOUGH_SPACE",
	244:  "UNEXPECTED_ZOOKEEPER_ERROR",
	252:  "TOO_MANY_PARTS",
	254:  "NO_ACTIVE_REPLICAS",
	285:  "TOO_FEW_LIVE_REPLICAS",
	286:  "UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE",
	289:  "REPLICA_IS_NOT_IN_QUORUM",
	291:  "DATABASE_ACCESS_DENIED",
	319:  "UNKNOWN_STATUS_OF_INSERT",
	394:  "QUERY_WAS_CANCELLED",
	425:  "SYSTEM_ERROR",
	439:  "CANNOT_SCHEDULE_TASK",
	473:  "DEADLOCK_AVOIDED",
	497:  "ACCESS_DENIED",
	516:  "AUTHENTICATION_FAILED",
	999:  "KEEPER_EXCEPTION",
	1000: "POCO_EXCEPTION", // network failures between servers surface as this
}

// tooManyPartitions is the TOO_MANY_PARTS message of a batch that spans more
// partitions than max_partitions_per_insert_block allows (modern servers). The
// same batch fails every time; smaller batches succeed, so it is not retryable.
const tooManyPartitions = "Too many partitions for single INSERT block"

// IsRetryable reports whether the operation that failed with err may succeed if
// tried again unchanged: the network failed (refused, reset, closed, timed out,
// EOF), the context ended, or the server answered with an exception listed in
// retryableCodes. It is false for nil, for a *RowError, for ErrInlineInsert, and
// for every other server exception: those are what a bad row or a bad query
// produces, and retrying them cannot help.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var rowErr *RowError
	if errors.As(err, &rowErr) || errors.Is(err, ErrInlineInsert) {
		return false
	}
	if ex, ok := exception(err); ok {
		if ex.Code == 252 && strings.Contains(ex.Message, tooManyPartitions) {
			return false
		}
		_, retry := retryableCodes[ex.Code]
		return retry
	}
	return anyCause(err, isTransient)
}

// ExceptionCode returns the ClickHouse exception code carried by err, if any.
func ExceptionCode(err error) (int32, bool) {
	ex, ok := exception(err)
	if !ok {
		return 0, false
	}
	return ex.Code, true
}

func exception(err error) (*ch.Exception, bool) {
	var found *ch.Exception
	anyCause(err, func(e error) bool {
		if ex, ok := e.(*ch.Exception); ok {
			found = ex
			return true
		}
		return false
	})
	return found, found != nil
}

// isTransient reports whether e, one link of an error chain, is a network or
// connection failure.
func isTransient(e error) bool {
	switch e {
	case io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, os.ErrDeadlineExceeded,
		context.Canceled, context.DeadlineExceeded,
		driver.ErrBadConn, ch.ErrAcquireConnTimeout, ch.ErrConnectionClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN:
		return true
	}
	ne, ok := e.(net.Error)
	return ok && ne.Timeout()
}

// anyCause walks err's chain, including the Err of clickhouse-go's *OpError (which
// has no Unwrap), and reports whether match holds for any link.
func anyCause(err error, match func(error) bool) bool {
	for err != nil {
		if match(err) {
			return true
		}
		switch e := err.(type) {
		case *ch.OpError:
			err = e.Err
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				if anyCause(inner, match) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return false
		}
	}
	return false
}

// IsDuplicateColumn reports whether err is ClickHouse refusing ALTER … ADD
// COLUMN for a name the table already has. 18.16 has no ADD COLUMN IF NOT
// EXISTS; callers that add columns concurrently treat this as done.
func IsDuplicateColumn(err error) bool {
	ex, ok := exception(err)
	return ok && (ex.Code == 44 || ex.Code == 15) && strings.Contains(ex.Message, "already exists")
}
