package kafka

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	kafkago "github.com/segmentio/kafka-go"
)

// isTemporaryKafkaError reports whether err carries a Kafka error code that a
// later attempt may not get (leader moving, broker starting, too few in-sync
// replicas, request timed out...).
func isTemporaryKafkaError(err error) bool {
	var kerr kafkago.Error
	if !errors.As(err, &kerr) {
		return false
	}
	// BrokerNotAvailable is what kafka-go answers when the cached layout has
	// no connection for a partition leader yet; Kafka marks it retriable.
	return kerr.Temporary() || kerr == kafkago.BrokerNotAvailable
}

// retryable reports whether a failed produce is worth another attempt: Kafka
// error codes that are temporary, and network failures (refused, reset, EOF,
// timeouts), which is what a restarting broker looks like. Anything else,
// such as MessageSizeTooLarge or InvalidTopic, fails the same way every time.
func retryable(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return isTemporaryKafkaError(kerr)
	}
	switch {
	case errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.ErrClosedPipe), // a pooled connection closed by the broker
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		// The writer bounds each produce request with its own WriteTimeout;
		// the caller's ctx is checked separately before we get here.
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr)
}
