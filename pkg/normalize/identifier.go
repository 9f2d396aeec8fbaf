package normalize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxIdentifierBytes bounds identifiers of types without a dedicated normaliser.
const maxIdentifierBytes = 256

// Identifier normalises one identifier by type: "email" with Email, "phone" with Phone
// and defaultRegion; any other type (user_id, loyalty_id, device_id, custom types of
// custom channels) is trimmed of surrounding whitespace and rejected with Code
// "invalid_identifier" when empty, over 256 bytes, not valid UTF-8 (Avro strings must
// be), or containing control characters. Its case is kept: ids are opaque.
func Identifier(idType, raw, defaultRegion string) (string, error) {
	switch idType {
	case TypeEmail:
		return Email(raw)
	case TypePhone:
		return Phone(raw, defaultRegion)
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", identifierError(idType, "is empty")
	}
	if len(s) > maxIdentifierBytes {
		return "", identifierError(idType, "is longer than 256 bytes")
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return "", identifierError(idType, "contains a control character")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "", identifierError(idType, "is not valid UTF-8")
		}
		if unicode.IsControl(r) {
			return "", identifierError(idType, "contains a control character")
		}
		i += size
	}
	return s, nil
}

// identifierError names the identifier type in the message, so a client sending
// several identifiers can tell which one failed.
func identifierError(idType, problem string) *Error {
	name := idType
	if name == "" {
		name = "identifier"
	}
	return newError(CodeInvalidIdentifier, idType, name+" "+problem)
}
