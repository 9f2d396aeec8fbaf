package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrEmptyBody is returned for a body with no events in it.
var ErrEmptyBody = errors.New("body holds no events")

// ErrTooManyItems is returned for a body with more items than the caller allows.
var ErrTooManyItems = errors.New("body holds too many items")

// SplitBody splits a request body into its items without decoding them: one JSON
// object, a JSON array of items, or NDJSON (one item per line, blank lines
// ignored). Items keep their exact bytes, for the dead-letter queue and for the
// deterministic event id. index[i] is items[i]'s index in answers and dead
// letters: its place in the array (0 for a lone object), or for NDJSON its line
// number minus one, blank lines counted, so that a client finds the line. A
// body that is none of these is an error: the caller answers 400 and
// dead-letters the whole body.
//
// NDJSON is detected by content type (a bad line is then one rejected item, not
// a rejected body), or when the body is not a single JSON value but every
// non-blank line is one.
//
// A body of more than maxItems items (when maxItems > 0) is refused with
// ErrTooManyItems as soon as the item past the limit is found: a batch costs
// memory and work per item, which tiny items make cheap to send.
func SplitBody(body []byte, ndjson bool, maxItems int) (items [][]byte, index []int, err error) {
	if maxItems <= 0 {
		maxItems = math.MaxInt
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil, ErrEmptyBody
	}
	if !ndjson {
		switch trimmed[0] {
		case '[':
			if items, err = splitArray(trimmed, maxItems); err != nil {
				return nil, nil, err
			}
			return items, positions(len(items)), nil
		case '{':
			if json.Valid(trimmed) {
				return [][]byte{trimmed}, []int{0}, nil
			}
			// NDJSON without its content type only if every line is JSON:
			// a broken pretty-printed object must not become items of its
			// lines, each rejected on its own, and be answered 202.
			if !linesAreJSON(trimmed) {
				return nil, nil, fmt.Errorf("body is not valid JSON: %w", syntaxError(trimmed))
			}
		default:
			return nil, nil, fmt.Errorf("body must be a JSON object, a JSON array or NDJSON; it starts with %q", firstRune(trimmed))
		}
	}
	// The untrimmed body: leading blank lines count in line numbers.
	return splitLines(body, maxItems)
}

func positions(n int) []int {
	index := make([]int, n)
	for i := range index {
		index[i] = i
	}
	return index
}

// linesAreJSON reports whether every non-blank line of b is one JSON value.
func linesAreJSON(b []byte) bool {
	for line := range bytes.Lines(b) {
		if line = bytes.TrimSpace(line); len(line) > 0 && !json.Valid(line) {
			return false
		}
	}
	return true
}

// splitArray splits a JSON array into its elements' exact bytes, slices of b:
// nothing is copied, and nothing is kept for elements past maxItems.
func splitArray(b []byte, maxItems int) ([][]byte, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("body is not a valid JSON array: %w", syntaxError(b))
	}
	// b is a valid array: between its brackets, elements are separated by the
	// commas outside strings at nesting depth 0.
	inner := b[1 : len(b)-1]
	if len(bytes.TrimSpace(inner)) == 0 {
		return nil, ErrEmptyBody
	}
	var items [][]byte
	depth, inString, escaped, start := 0, false, false, 0
	for i, c := range inner {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			if items = append(items, bytes.TrimSpace(inner[start:i])); len(items) > maxItems {
				return nil, tooMany(maxItems)
			}
			start = i + 1
		}
	}
	if items = append(items, bytes.TrimSpace(inner[start:])); len(items) > maxItems {
		return nil, tooMany(maxItems)
	}
	return items, nil
}

// splitLines returns the non-blank lines of b, trimmed, and their line
// numbers minus one.
func splitLines(b []byte, maxItems int) ([][]byte, []int, error) {
	n := min(bytes.Count(b, []byte{'\n'})+1, maxItems)
	items, index := make([][]byte, 0, n), make([]int, 0, n)
	for lineIndex := 0; len(b) > 0; lineIndex++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(items) == maxItems {
			return nil, nil, tooMany(maxItems)
		}
		items, index = append(items, line), append(index, lineIndex)
	}
	if len(items) == 0 {
		return nil, nil, ErrEmptyBody
	}
	return items, index, nil
}

func tooMany(maxItems int) error {
	return fmt.Errorf("%w: more than %d; split it into smaller batches", ErrTooManyItems, maxItems)
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
