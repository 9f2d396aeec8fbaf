// Package deadletter builds cx360's dead letters (cx.DeadLetter, on
// cx.events.dlq): what a stage could not take, with its raw bytes, so that
// nothing is dropped silently.
package deadletter

import (
	"encoding/binary"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/cx360/cx360/pkg/avro"
)

// OfRecord returns the dead letter (goavro native form) of a record that
// stage consumed from Kafka and could not take, for reason code and cause.
// Its id names the record, so a replay produces the same dead letter.
func OfRecord(stage, code string, m kafkago.Message, cause error, at time.Time) map[string]any {
	return map[string]any{
		"id":          fmt.Sprintf("%s-%s-%d-%d", stage, m.Topic, m.Partition, m.Offset),
		"stage":       stage,
		"source":      m.Topic,
		"reason_code": code,
		"error":       cause.Error(),
		"raw":         m.Value,
		"index":       nil,
		"received_at": at.UnixMilli(),
		"topic":       map[string]any{"string": m.Topic},
		"partition":   map[string]any{"int": int32(m.Partition)},
		"offset":      map[string]any{"long": m.Offset},
	}
}

// Encode returns the wire form of dl (native cx.DeadLetter) such that, with
// a key of keyLen bytes, the record fits in limit bytes: when it would not,
// only the head of its raw bytes is kept (dl is changed so), and its error
// says so. A dead letter the producer refused would fail its whole batch,
// again on every retry.
func Encode(codec *avro.Codec, dl map[string]any, keyLen, limit int) ([]byte, error) {
	b, err := codec.Append(nil, dl)
	if err != nil {
		return nil, fmt.Errorf("encoding dead letter: %w", err)
	}
	over := keyLen + len(b) - limit
	if over <= 0 {
		return b, nil
	}
	raw, _ := dl["raw"].([]byte)
	msg, _ := dl["error"].(string)
	note := func(keep int) string {
		return fmt.Sprintf(" [raw truncated: the first %d of %d bytes kept]", keep, len(raw))
	}
	// The longer error text's length prefix (a varint) may grow by a few
	// bytes; 2*MaxVarintLen64 is ample for that.
	keep := max(0, len(raw)-over-len(note(len(raw)))-2*binary.MaxVarintLen64)
	dl["raw"], dl["error"] = raw[:keep], msg+note(keep)
	if b, err = codec.Append(b[:0], dl); err != nil {
		return nil, fmt.Errorf("encoding dead letter: %w", err)
	}
	return b, nil
}
