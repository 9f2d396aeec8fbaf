package normalize

import (
	"crypto/sha256"
	"encoding/hex"
)

// eventIDHashBytes is how much of the SHA-256 digest the id keeps: 128 bits make an
// accidental collision between distinct events practically impossible.
const eventIDHashBytes = 16

// EventID returns a deterministic id for an event that arrived without one:
// "h-" + the hex of the first 16 bytes of SHA-256 over channel + "\x00" + body.
// The same input always gives the same id, so a client's retry of an id-less event is
// deduplicated like any other. body must be the event's canonical bytes (the caller
// decides the canonical form, e.g. re-marshalled JSON), so that insignificant
// differences such as whitespace do not change the id. Channel names never contain
// NUL, so the separator keeps channel and body apart.
func EventID(channel string, body []byte) string {
	h := sha256.New()
	// hash.Hash writes never fail.
	_, _ = h.Write([]byte(channel))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var id [2 + 2*eventIDHashBytes]byte
	id[0], id[1] = 'h', '-'
	hex.Encode(id[2:], sum[:eventIDHashBytes])
	return string(id[:])
}
