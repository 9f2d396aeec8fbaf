package normalize

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// AnyType as a rule's Type applies the rule to every identifier type (so does "").
const AnyType = "*"

// BlocklistRule blocks identifier values: either one exact value or every value a
// regular expression matches, for one identifier type or for all of them.
//
// Exact values are compared case-insensitively after trimming; for "email" and
// "phone" rules the value is also normalised like an identifier, so
// {type: phone, exact: "+44 20 7946 0958"} blocks "+442079460958". Regexes use RE2
// syntax (linear time, no backtracking, so no ReDoS), are case-insensitive and must
// match somewhere in the value: anchor them (^...$) to match whole values.
type BlocklistRule struct {
	// Type is the identifier type, or "" / "*" for every type.
	Type string `yaml:"type"`
	// Exact is a value to block. Set Exact or Regex, not both.
	Exact string `yaml:"exact"`
	// Regex is a pattern of values to block.
	Regex string `yaml:"regex"`
}

// DefaultBlocklistRules returns the placeholders that forms, SDKs and exports put in
// identifier fields when the real value is missing. Linking on them would merge
// unrelated customers into one giant profile. The regex ^[0-]*$ also covers "", "0",
// "-" and "000-000"; for phones it is tried on the digits and the national number too
// (see Blocked), as is the rule for national numbers of one repeated digit.
// A fresh slice is returned each time, so callers may append their own rules.
func DefaultBlocklistRules() []BlocklistRule {
	return []BlocklistRule{
		{Regex: `^[0-]*$`},
		{Exact: "null"},
		{Exact: "nil"},
		{Exact: "none"},
		{Exact: "n/a"},
		{Exact: "na"},
		{Exact: "nan"},
		{Exact: "unknown"},
		{Exact: "anonymous"},
		{Exact: "undefined"},
		{Exact: "[object object]"},
		{Exact: "test@test.com"},
		{Exact: "example@example.com"},
		{Exact: "noemail@noemail.com"},
		{Exact: "none@none.com"},
		{Type: TypePhone, Regex: `^(?:0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$`},
	}
}

// Blocklist decides which identifier values must never link profiles. It is only a
// predicate: callers keep blocked identifiers on the event and leave them out of
// linking. It is immutable after NewBlocklist and safe for concurrent use.
type Blocklist struct {
	// byType holds, per identifier type that has rules of its own, a matcher for
	// those rules plus the any-type rules.
	byType map[string]*valueMatcher
	// anyType holds the any-type rules alone, for every other type.
	anyType *valueMatcher
}

// valueMatcher is the compiled form of a set of rules. The regexes stay separate
// rather than joined into one alternation: alone, an anchored pattern such as
// ^[0-]*$ runs on RE2's one-pass matcher, about three times faster than the
// alternation, which cannot.
type valueMatcher struct {
	exact map[string]struct{}
	res   []*regexp.Regexp
}

// NewBlocklist compiles rules. It fails, naming the rule by index, when a rule sets
// neither or both of Exact and Regex, or when its regex does not compile.
func NewBlocklist(rules []BlocklistRule) (*Blocklist, error) {
	anyType := newValueMatcher()
	typed := map[string]*valueMatcher{}
	for i, r := range rules {
		typ := typeKey(r.Type)
		m := anyType
		if typ != "" {
			if typed[typ] == nil {
				typed[typ] = newValueMatcher()
			}
			m = typed[typ]
		}
		switch {
		case r.Exact == "" && r.Regex == "":
			return nil, fmt.Errorf("blocklist rule %d (type %q): set exact or regex", i, r.Type)
		case r.Exact != "" && r.Regex != "":
			return nil, fmt.Errorf("blocklist rule %d (type %q): set exact or regex, not both", i, r.Type)
		case r.Exact != "":
			for _, k := range exactKeys(typ, r.Exact) {
				m.exact[k] = struct{}{}
			}
		default:
			re, err := regexp.Compile("(?i)" + r.Regex)
			if err != nil {
				return nil, fmt.Errorf("blocklist rule %d (type %q, regex %q): %w", i, r.Type, r.Regex, err)
			}
			m.res = append(m.res, re)
		}
	}
	// Types with rules of their own also get every any-type rule.
	for _, m := range typed {
		for k := range anyType.exact {
			m.exact[k] = struct{}{}
		}
		m.res = append(m.res, anyType.res...)
	}
	return &Blocklist{byType: typed, anyType: anyType}, nil
}

// exactKeys returns the lookup keys for an exact rule value: trimmed and lower-cased,
// plus the normalised form when the type has a normaliser and the value passes it.
func exactKeys(typ, value string) []string {
	keys := []string{strings.ToLower(strings.TrimSpace(value))}
	if typ == TypeEmail || typ == TypePhone {
		if n, err := Identifier(typ, value, ""); err == nil && strings.ToLower(n) != keys[0] {
			keys = append(keys, strings.ToLower(n))
		}
	}
	return keys
}

func newValueMatcher() *valueMatcher {
	return &valueMatcher{exact: map[string]struct{}{}}
}

func (m *valueMatcher) match(v string) bool {
	if len(m.exact) > 0 {
		// ToLower does not allocate for values that are already lower case, which
		// normalised emails always are.
		if _, ok := m.exact[strings.ToLower(v)]; ok {
			return true
		}
	}
	for _, re := range m.res {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// Blocked reports whether an identifier value, already normalised, is blocked for
// linking: it equals an exact rule (ignoring case) or matches a regex rule of its type
// or of every type. For phone identifiers the rules are tried on the E.164 value, its
// digits without '+', and its national significant number (digits without the country
// code), so "^[0-]*$" catches +44 000000 and exact "5555555555" catches +15555555555.
// A nil Blocklist blocks nothing.
func (b *Blocklist) Blocked(idType, value string) bool {
	if b == nil {
		return false
	}
	typ := typeKey(idType)
	m, ok := b.byType[typ]
	if !ok {
		m = b.anyType
	}
	v := strings.TrimSpace(value)
	if m.match(v) {
		return true
	}
	if typ != TypePhone || len(v) < 2 || v[0] != '+' {
		return false
	}
	digits := v[1:]
	if m.match(digits) {
		return true
	}
	nsn, ok := nationalNumber(digits)
	return ok && m.match(nsn)
}

// typeKey is how rules and lookups name an identifier type: trimmed, lower case, and
// "" for any type. Rules and Blocked must agree on it exactly. It does not allocate
// for the usual lower-case type names.
func typeKey(idType string) string {
	t := strings.ToLower(strings.TrimSpace(idType))
	if t == AnyType {
		return ""
	}
	return t
}

// nationalNumber strips the country calling code from the digits of an E.164 number.
// Calling codes are prefix-free and 1 to 3 digits long, so at most one prefix matches.
func nationalNumber(digits string) (string, bool) {
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	codes := phonenumbers.GetSupportedCallingCodes()
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc, err := strconv.Atoi(digits[:n])
		if err == nil && codes[cc] {
			return digits[n:], true
		}
	}
	return "", false
}
