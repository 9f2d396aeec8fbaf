package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrEmptyBody is returned for a body with no events in it.
var ErrEmptyBody = errors.New("body holds no events")

// SplitBody splits a request body into its items without decoding them: one JSON
// object, a JSON array of items, or NDJSON (one item per line, blank lines
// ignored). Items keep their exact bytes, for the dead-letter queue and for the
// deterministic event id. A body that is none of these is an error: the caller
// answers 400 and dead-letters the whole body.
//
// NDJSON is detected by content type, or when the body is not a single JSON value
// but its lines are: a bad line is then one rejected item, not a rejected body.
func SplitBody(body []byte, ndjson bool) ([][]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, ErrEmptyBody
	}
	if !ndjson {
		switch trimmed[0] {
		case '[':
			return splitArray(trimmed)
		case '{':
			if json.Valid(trimmed) {
				return [][]byte{trimmed}, nil
			}
		default:
			return nil, fmt.Errorf("body must be a JSON object, a JSON array or NDJSON; it starts with %q", firstRune(trimmed))
		}
	}
	items := splitLines(trimmed)
	if len(items) == 0 {
		return nil, ErrEmptyBody
	}
	if !ndjson && len(items) == 1 {
		// One line that is not valid JSON, and no NDJSON content type: the body is
		// simply broken.
		return nil, fmt.Errorf("body is not valid JSON: %w", syntaxError(trimmed))
	}
	return items, nil
}

func splitArray(b []byte) ([][]byte, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("body is not a valid JSON array: %w", err)
	}
	if len(raw) == 0 {
		return nil, ErrEmptyBody
	}
	items := make([][]byte, len(raw))
	for i, r := range raw {
		items[i] = r
	}
	return items, nil
}

func splitLines(b []byte) [][]byte {
	n := bytes.Count(b, []byte{'\n'}) + 1
	items := make([][]byte, 0, n)
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			items = append(items, line)
		}
	}
	return items
}

func syntaxError(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return errors.New("unexpected content")
}

func firstRune(b []byte) string {
	r := []rune(string(b[:min(len(b), 4)]))
	if len(r) == 0 {
		return ""
	}
	return string(r[0])
}
