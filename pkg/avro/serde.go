// Package avro encodes and decodes cx360's records in the Confluent wire format
// (magic byte 0, 4-byte big-endian schema id, Avro binary) with goavro, and keeps
// the schema ids of a Confluent-compatible registry in a local cache.
package avro

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cenkalti/backoff/v4"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// unavailableError marks a registry that could not be asked or did not
// answer (unreachable, timed out, a 5xx): the record may be fine.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "schema registry unavailable: " + e.err.Error() }

func (e *unavailableError) Unwrap() error { return e.err }

// IsRegistryUnavailable reports whether err came from a schema registry that
// could not be reached or failed (not from the record or a schema the
// registry says does not exist). Such a record is not bad: a consumer should
// retry it, pausing, rather than dead-letter it.
func IsRegistryUnavailable(err error) bool {
	var u *unavailableError
	return errors.As(err, &u)
}

// ErrNotWireFormat is returned for bytes that do not start with the Confluent header.
var ErrNotWireFormat = errors.New("avro: not Confluent wire format (want magic byte 0 and a 4-byte schema id)")

var header sr.ConfluentHeader

// Codec encodes one registered schema. It is safe for concurrent use.
type Codec struct {
	id     int
	codec  *goavro.Codec
	prefix [5]byte
}

// ID is the registry's schema id written into every record.
func (c *Codec) ID() int { return c.id }

// Goavro exposes the underlying codec (for textual encoding in tools and tests).
func (c *Codec) Goavro() *goavro.Codec { return c.codec }

// AppendHeader appends the wire-format header (magic byte, schema id) alone,
// for callers that splice an already encoded Avro body after it.
func (c *Codec) AppendHeader(dst []byte) []byte { return append(dst, c.prefix[:]...) }

// Append appends the wire-format encoding of native (goavro's native form) to
// dst. On error it returns dst as it was, so a caller batching records in one
// buffer keeps the records already encoded.
func (c *Codec) Append(dst []byte, native any) ([]byte, error) {
	start := len(dst)
	out, err := c.codec.BinaryFromNative(append(dst, c.prefix[:]...), native)
	if err != nil {
		return dst[:start], fmt.Errorf("avro: encoding with schema %d: %w", c.id, err)
	}
	return out, nil
}

// Registry is the part of a schema registry client cx360 needs; *sr.Client satisfies it.
type Registry interface {
	CreateSchema(ctx context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error)
	SchemaByID(ctx context.Context, id int) (sr.Schema, error)
}

var _ Registry = (*sr.Client)(nil)

// Serde registers schemas and resolves ids through a registry, caching both
// directions: the registry is asked once per subject and once per unknown id.
type Serde struct {
	reg Registry

	mu        sync.RWMutex
	byID      map[int]*goavro.Codec
	bySubject map[string]*Codec // by subject + "\x00" + schema text
}

// NewSerde returns a Serde backed by reg.
func NewSerde(reg Registry) *Serde {
	return &Serde{reg: reg, byID: map[int]*goavro.Codec{}, bySubject: map[string]*Codec{}}
}

// Register registers schema under subject (idempotent at the registry) and returns
// its codec. A registry that refuses the schema (for example 409 incompatible) is a
// permanent error; an unreachable one is retried with backoff until ctx ends.
func (s *Serde) Register(ctx context.Context, subject, schema string) (*Codec, error) {
	key := subject + "\x00" + schema
	s.mu.RLock()
	c, ok := s.bySubject[key]
	s.mu.RUnlock()
	if ok {
		return c, nil
	}
	gc, err := goavro.NewCodec(schema)
	if err != nil {
		return nil, fmt.Errorf("avro: parsing schema for %s: %w", subject, err)
	}
	var ss sr.SubjectSchema
	op := func() error {
		var err error
		ss, err = s.reg.CreateSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
			return backoff.Permanent(err)
		}
		return err
	}
	if err := backoff.Retry(op, backoff.WithContext(backoff.NewExponentialBackOff(), ctx)); err != nil {
		return nil, fmt.Errorf("avro: registering %s: %w", subject, err)
	}
	c = &Codec{id: ss.ID, codec: gc}
	c.prefix = [5]byte(mustHeader(ss.ID))
	s.mu.Lock()
	s.bySubject[key] = c
	s.byID[ss.ID] = gc
	s.mu.Unlock()
	return c, nil
}

// Decode decodes one wire-format record into goavro's native form, fetching the
// writer schema by id on first sight. It returns the schema id too.
func (s *Serde) Decode(ctx context.Context, b []byte) (native any, id int, err error) {
	id, body, err := header.DecodeID(b)
	if err != nil {
		return nil, 0, ErrNotWireFormat
	}
	gc, err := s.codecByID(ctx, id)
	if err != nil {
		return nil, id, err
	}
	native, rest, err := gc.NativeFromBinary(body)
	if err != nil {
		return nil, id, fmt.Errorf("avro: decoding with schema %d: %w", id, err)
	}
	if len(rest) != 0 {
		return nil, id, fmt.Errorf("avro: %d trailing bytes after record with schema %d", len(rest), id)
	}
	return native, id, nil
}

// Schema returns the text of the schema registered under id (goavro's
// canonical form), fetching it on first sight.
func (s *Serde) Schema(ctx context.Context, id int) (string, error) {
	gc, err := s.codecByID(ctx, id)
	if err != nil {
		return "", err
	}
	return gc.Schema(), nil
}

func (s *Serde) codecByID(ctx context.Context, id int) (*goavro.Codec, error) {
	s.mu.RLock()
	gc, ok := s.byID[id]
	s.mu.RUnlock()
	if ok {
		return gc, nil
	}
	schema, err := s.reg.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode/100 == 4 {
			return nil, fmt.Errorf("avro: fetching schema %d: %w", id, err) // the registry answered: no such schema
		}
		return nil, fmt.Errorf("avro: fetching schema %d: %w", id, &unavailableError{err})
	}
	gc, err = goavro.NewCodec(schema.Schema)
	if err != nil {
		return nil, fmt.Errorf("avro: parsing schema %d: %w", id, err)
	}
	s.mu.Lock()
	s.byID[id] = gc
	s.mu.Unlock()
	return gc, nil
}

func mustHeader(id int) []byte {
	b, _ := header.AppendEncode(nil, id, nil) // documented to never fail
	return b
}
