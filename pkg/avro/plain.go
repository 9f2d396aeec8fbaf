package avro

import (
	"strings"
	"time"
)

// Plain turns goavro's native form into plain JSON-ready values for people and
// tools: unions lose their type wrapper ({"string":"x"} → "x") and timestamps
// become RFC 3339 strings.
func Plain(native any) any {
	switch v := native.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, x := range v {
				if isTypeName(k) {
					return Plain(x)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = Plain(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = Plain(x)
		}
		return out
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(v)
	default:
		return v
	}
}

// isTypeName reports whether a key is how goavro names a union branch: a
// primitive, a logical type ("long.timestamp-millis") or a named type ("cx.Web").
func isTypeName(k string) bool {
	switch k {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string", "map", "array":
		return true
	}
	return strings.Contains(k, ".")
}
