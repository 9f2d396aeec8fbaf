// Package ingest turns channel payloads into cx.Event records on Kafka: it splits
// bodies into items, validates and normalises each one, dead-letters what it
// rejects and produces the rest, answering only after Kafka acknowledged.
// The HTTP server and the file importer share it.
package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	kafkago "github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/pkg/deadletter"
	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/kafka"
)

// Producer writes messages and returns once the broker acknowledged all of them.
type Producer interface {
	Produce(ctx context.Context, msgs ...kafkago.Message) error
}

// Channel is a source of events: a built-in channel or one defined by a mapping file.
type Channel struct {
	Name   string
	Blocks event.Blocks
	// Decode turns one item's bytes into an Input (event.Decode for built-in channels).
	Decode func(raw []byte) (*event.Input, *event.Rejection)
}

// BuiltinChannels returns the four built-in channels.
func BuiltinChannels() []Channel {
	out := make([]Channel, 0, len(event.BuiltinBlocks))
	for _, name := range []string{event.ChannelStore, event.ChannelWeb, event.ChannelApp, event.ChannelPhone} {
		out = append(out, Channel{Name: name, Blocks: event.BuiltinBlocks[name], Decode: event.Decode})
	}
	return out
}

// ItemError describes one rejected item in the API answer.
type ItemError struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Result is the outcome of one batch: the body of a 202 answer.
type Result struct {
	Accepted   int         `json:"accepted"`
	Rejected   int         `json:"rejected"`
	Duplicates int         `json:"duplicates"` // accepted, but already produced within the dedup window
	Errors     []ItemError `json:"errors"`
	// ErrorsOmitted counts the rejected items past the first ones that an
	// HTTP answer lists (Process itself lists them all).
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
}

// ErrUnknownChannel is returned for a channel that is neither built in nor mapped.
var ErrUnknownChannel = errors.New("unknown channel")

// ProcessorConfig configures a Processor.
type ProcessorConfig struct {
	EventsTopic string
	DLQTopic    string
	Stage       string // "ingest" or "import": recorded on dead letters
	// MaxRecordBytes is the largest record (key and value) the producer is
	// sure to send: kafka.Producer.MaxMessageBytes. A larger one would be
	// refused for good and fail the whole batch, so an item whose event would
	// be larger is rejected (too_large) and a dead letter keeps only the head
	// of raw bytes that do not fit. Zero takes the default producer's limit.
	MaxRecordBytes int
}

// Processor validates, normalises, encodes and produces batches of items.
// Safe for concurrent use.
type Processor struct {
	cfg        ProcessorConfig
	channels   map[string]Channel
	normalizer *event.Normalizer
	eventCodec *avro.Codec
	dlqCodec   *avro.Codec
	producer   Producer
	dedup      *Dedup
	metrics    *Metrics
	logger     *zap.Logger
	now        func() time.Time
}

// NewProcessor wires a Processor. metrics may be nil.
func NewProcessor(cfg ProcessorConfig, channels []Channel, normalizer *event.Normalizer, eventCodec, dlqCodec *avro.Codec, producer Producer, dedup *Dedup, metrics *Metrics, logger *zap.Logger) (*Processor, error) {
	byName := make(map[string]Channel, len(channels))
	for _, c := range channels {
		if _, dup := byName[c.Name]; dup {
			return nil, fmt.Errorf("ingest: channel %q defined twice", c.Name)
		}
		byName[c.Name] = c
	}
	if cfg.Stage == "" {
		cfg.Stage = "ingest"
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = kafka.WriterConfig{}.MaxMessageBytes()
	}
	return &Processor{
		cfg: cfg, channels: byName, normalizer: normalizer, eventCodec: eventCodec, dlqCodec: dlqCodec,
		producer: producer, dedup: dedup, metrics: metrics, logger: logger, now: time.Now,
	}, nil
}

// HasChannel reports whether name is a known channel.
func (p *Processor) HasChannel(name string) bool {
	_, ok := p.channels[name]
	return ok
}

// Channels returns the names of every known channel.
func (p *Processor) Channels() []string {
	out := make([]string, 0, len(p.channels))
	for n := range p.channels {
		out = append(out, n)
	}
	return out
}

// Process handles one batch of items from channel. It returns after Kafka
// acknowledged every accepted event and every dead letter; an error means
// nothing can be assumed durable and the caller must retry the whole batch
// (dedup and downstream idempotency make that safe).
func (p *Processor) Process(ctx context.Context, channelName string, items [][]byte) (Result, error) {
	return p.ProcessIndexed(ctx, channelName, items, nil)
}

// ProcessIndexed is Process for items numbered by index (index[i] is items[i]'s
// index in the answer and its dead letter) rather than by their position in
// items: the lines of an NDJSON body, which skips blank lines but counts them
// (event.SplitBody). A nil index numbers items by position.
func (p *Processor) ProcessIndexed(ctx context.Context, channelName string, items [][]byte, index []int) (Result, error) {
	ch, ok := p.channels[channelName]
	if !ok {
		return Result{}, fmt.Errorf("%w %q", ErrUnknownChannel, channelName)
	}
	if index != nil && len(index) != len(items) {
		return Result{}, fmt.Errorf("ingest: %d indexes for %d items", len(index), len(items))
	}
	receivedAt := p.now()
	res := Result{Errors: []ItemError{}}
	msgs := make([]kafkago.Message, 0, len(items))
	ids := make([]string, 0, len(items))
	eventMsgs := make([]kafkago.Message, 0, len(items))
	// Records are about as long as their JSON: sized from the items, the
	// buffer rarely grows, and a batch of tiny items reserves little.
	size := 0
	for _, raw := range items {
		size += len(raw)
	}
	buf := make([]byte, 0, size)

	for i, raw := range items {
		e, rej := p.normalize(ch, raw, receivedAt)
		if rej == nil {
			start := len(buf)
			var err error
			buf, err = p.eventCodec.Append(buf, e.Native())
			key := e.RoutingKey()
			switch {
			case err != nil:
				// Validation should make this impossible; never lose the item silently.
				rej = &event.Rejection{Code: event.CodeInternal, Message: err.Error()}
			case len(key)+len(buf)-start > p.cfg.MaxRecordBytes:
				rej = &event.Rejection{Code: event.CodeTooLarge, Message: fmt.Sprintf(
					"the event is %d bytes as a record, over the limit of %d; send smaller properties or split the order", len(key)+len(buf)-start, p.cfg.MaxRecordBytes)}
				buf = buf[:start]
			default:
				ids = append(ids, e.EventID)
				eventMsgs = append(eventMsgs, kafkago.Message{Topic: p.cfg.EventsTopic, Key: []byte(key), Value: buf[start:len(buf):len(buf)]})
				continue
			}
		}
		at := i
		if index != nil {
			at = index[i]
		}
		res.Rejected++
		msg := truncateText(rej.Message, maxErrorTextBytes)
		res.Errors = append(res.Errors, ItemError{Index: at, Code: rej.Code, Field: truncateText(rej.Field, maxErrorTextBytes), Message: msg})
		dl, err := p.deadLetter(ch.Name, rej.Code, msg, raw, at, receivedAt)
		if err != nil {
			return Result{}, err
		}
		msgs = append(msgs, dl)
	}

	fresh := p.dedup.Reserve(ids, receivedAt)
	var produced []string
	for i, ok := range fresh {
		if ok {
			msgs = append(msgs, eventMsgs[i])
			produced = append(produced, ids[i])
		} else {
			res.Duplicates++
		}
	}
	res.Accepted = len(ids)

	start := time.Now()
	if err := p.producer.Produce(ctx, msgs...); err != nil {
		p.dedup.Release(produced)
		p.metrics.produceFailed()
		return Result{}, fmt.Errorf("ingest: producing %d records: %w", len(msgs), err)
	}
	p.dedup.Commit(produced, p.now())
	p.metrics.batchDone(ch.Name, res, len(produced), time.Since(start))
	return res, nil
}

func (p *Processor) normalize(ch Channel, raw []byte, receivedAt time.Time) (event.Event, *event.Rejection) {
	in, rej := ch.Decode(raw)
	if rej != nil {
		return event.Event{}, rej
	}
	return p.normalizer.Normalize(ch.Name, ch.Blocks, in, raw, receivedAt)
}

// RejectBody dead-letters a whole body that could not be split into items
// (only its head when the whole would not fit in a record).
func (p *Processor) RejectBody(ctx context.Context, channelName string, body []byte, cause error) error {
	dl, err := p.deadLetter(channelName, event.CodeUnparseableBody, truncateText(cause.Error(), maxErrorTextBytes), body, -1, p.now())
	if err != nil {
		return err
	}
	if err := p.producer.Produce(ctx, dl); err != nil {
		return fmt.Errorf("ingest: producing dead letter: %w", err)
	}
	p.metrics.bodyRejected(channelName)
	return nil
}

// maxErrorTextBytes bounds the error texts of answers and dead letters: a
// message can quote the input (an unknown field's name), which is the
// client's to size.
const maxErrorTextBytes = 1024

// deadLetter encodes a cx.DeadLetter keyed by source. msg must be at most
// maxErrorTextBytes long. When raw is too long for the record to fit in
// MaxRecordBytes, only its head is kept and the error text says so: a dead
// letter the producer refused would fail the whole request, again on every retry.
func (p *Processor) deadLetter(source, code, msg string, raw []byte, index int, at time.Time) (kafkago.Message, error) {
	var idx any
	if index >= 0 {
		idx = map[string]any{"int": int32(index)}
	}
	native := map[string]any{
		"id":          newID(),
		"stage":       p.cfg.Stage,
		"source":      source,
		"reason_code": code,
		"error":       msg,
		"raw":         raw,
		"index":       idx,
		"received_at": at.UnixMilli(),
		"topic":       nil,
		"partition":   nil,
		"offset":      nil,
	}
	b, err := deadletter.Encode(p.dlqCodec, native, len(source), p.cfg.MaxRecordBytes)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("ingest: %w", err)
	}
	return kafkago.Message{Topic: p.cfg.DLQTopic, Key: []byte(source), Value: b}, nil
}

// truncateText cuts s to at most n bytes, on a UTF-8 boundary, marking the cut.
func truncateText(s string, n int) string {
	const mark = "…"
	if len(s) <= n {
		return s
	}
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}
