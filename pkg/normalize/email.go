package normalize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxEmailBytes is the longest address SMTP can carry (RFC 5321 path limit minus
// the angle brackets).
const maxEmailBytes = 254

// Email trims and lower-cases an email address and checks that it is plausible:
// exactly one '@', non-empty local part, a domain with an inner dot (not first, not
// last, never two in a row), valid UTF-8, no whitespace or control characters, none
// of the RFC 5322 specials ( ) < > [ ] , ; : \ " that only appear in display names,
// lists, "mailto:" links or quoted local parts (never in addresses customers type),
// and at most 254 bytes. It returns a *Error with Code "invalid_email" otherwise.
//
// The whole address is lower-cased, local part included: strictly the local part is
// case-sensitive, but no mail provider treats it so, and identity linking needs
// "Ann@x.com" and "ann@x.com" to be one identifier. No regexp: this is the hot path.
func Email(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", emailError("is empty")
	}
	// Lower-casing can grow a string by at most half (2-byte runes that lower to 3
	// bytes), so anything longer than this cannot end up within the limit; rejecting
	// it first avoids lower-casing megabytes of junk.
	if len(s) > maxEmailBytes*3/2 {
		return "", emailError("is longer than 254 bytes")
	}
	at := -1
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch emailASCII[c] {
			case asciiAllowed:
			case asciiAt:
				if at >= 0 {
					return "", emailError("has more than one '@'")
				}
				at = i
			case asciiSpaceOrControl:
				return "", emailError("contains whitespace or a control character")
			case asciiSpecial:
				return "", emailError("contains a character not allowed in an address")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "", emailError("is not valid UTF-8")
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", emailError("contains whitespace or a control character")
		}
		i += size
	}
	switch {
	case at < 0:
		return "", emailError("has no '@'")
	case at == 0:
		return "", emailError("has an empty local part")
	case at == len(s)-1:
		return "", emailError("has an empty domain")
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || domain[0] == '.' || domain[len(domain)-1] == '.' ||
		strings.Contains(domain, "..") {
		return "", emailError("has no valid domain (it needs a dot between labels)")
	}
	// ToLower does not allocate when nothing changes (the common case). It maps
	// letters to letters, so the checks above still hold; only the length can change.
	s = strings.ToLower(s)
	if len(s) > maxEmailBytes {
		return "", emailError("is longer than 254 bytes")
	}
	return s, nil
}

// ASCII byte classes for Email's scan; a table keeps the per-byte check to one load.
const (
	asciiAllowed = iota
	asciiAt
	asciiSpaceOrControl
	asciiSpecial
)

var emailASCII = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c <= ' ' || c == 0x7f:
			t[c] = asciiSpaceOrControl
		case c == '@':
			t[c] = asciiAt
		case strings.IndexByte(`()<>[],;:\"`, byte(c)) >= 0:
			t[c] = asciiSpecial
		}
	}
	return t
}()

func emailError(msg string) *Error {
	return newError(CodeInvalidEmail, TypeEmail, "email "+msg)
}
