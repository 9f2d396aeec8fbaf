package normalize

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz invariants shared by every normaliser: no panic; on failure a *Error with the
// function's code and an empty result; on success a result that normalises to itself.
// Seeds live in testdata/fuzz/<FuzzName>/ as well as in f.Add.

func requireFuzzError(t *testing.T, err error, code string) {
	t.Helper()
	var ne *Error
	if !errors.As(err, &ne) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	if ne.Code == "" || ne.Code != code || ne.Message == "" {
		t.Fatalf("error %+v: want code %q and a message", ne, code)
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"Ann@Example.com", " a@b.co ", "a@@b.co", "@b.co", "a@b", "a@b..c", "ÅSA@Bücher.DE", "a\x00@b.co", "\u212a@b.co", "\u0130@b.co", "a@b.c\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := Email(raw)
		if err != nil {
			requireFuzzError(t, err, CodeInvalidEmail)
			if out != "" {
				t.Fatalf("result %q returned with an error", out)
			}
			return
		}
		if len(out) > maxEmailBytes || strings.Count(out, "@") != 1 || !utf8.ValidString(out) {
			t.Fatalf("Email(%q) = %q is not a plausible address", raw, out)
		}
		if strings.ToLower(out) != out || strings.TrimSpace(out) != out {
			t.Fatalf("Email(%q) = %q is not trimmed and lower case", raw, out)
		}
		again, err := Email(out)
		if err != nil || again != out {
			t.Fatalf("Email(%q) = %q but Email(%q) = %q, %v", raw, out, out, again, err)
		}
	})
}

func FuzzPhone(f *testing.F) {
	for _, s := range [][2]string{
		{"+44 20 7946 0958", "GB"}, {"020 7946 0958", "gb"}, {"(415) 555-2671", "US"},
		{"1-800-FLOWERS", "US"}, {"tel:+44-20-7946-0958;ext=1", ""}, {"+39 06 6988 4444", ""},
		{"011 44 20 7946 0958", "US"}, {"0000000", "GB"}, {"+", ""}, {"٠٢٠٧٩٤٦٠٩٥٨", "GB"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		out, err := Phone(raw, region)
		if err != nil {
			requireFuzzError(t, err, CodeInvalidPhone)
			if out != "" {
				t.Fatalf("result %q returned with an error", out)
			}
			return
		}
		if !isE164(out) {
			t.Fatalf("Phone(%q, %q) = %q is not '+' and digits", raw, region, out)
		}
		// E.164 carries its country, so the default region no longer matters.
		for _, r := range []string{region, "", "US"} {
			again, err := Phone(out, r)
			if err != nil || again != out {
				t.Fatalf("Phone(%q, %q) = %q but Phone(%q, %q) = %q, %v", raw, region, out, out, r, again, err)
			}
		}
	})
}

func FuzzIdentifier(f *testing.F) {
	for _, s := range [][3]string{
		{"email", " Ann@Example.com", ""}, {"phone", "020 7946 0958", "GB"}, {"user_id", " U-9 ", ""},
		{"loyalty_id", "\t", ""}, {"device_id", "a\x7fb", ""}, {"custom", "\u00a0x\u00a0", ""}, {"", "x", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, idType, raw, region string) {
		out, err := Identifier(idType, raw, region)
		if err != nil {
			var ne *Error
			if !errors.As(err, &ne) || ne.Code == "" || ne.Message == "" {
				t.Fatalf("error %v (%T) is not a *Error with code and message", err, err)
			}
			return
		}
		if out == "" || !utf8.ValidString(out) || strings.TrimSpace(out) != out {
			t.Fatalf("Identifier(%q, %q) = %q is not a trimmed, non-empty UTF-8 value", idType, raw, out)
		}
		if idType != TypeEmail && idType != TypePhone && len(out) > maxIdentifierBytes {
			t.Fatalf("Identifier(%q, %q) = %q is over %d bytes", idType, raw, out, maxIdentifierBytes)
		}
		again, err := Identifier(idType, out, region)
		if err != nil || again != out {
			t.Fatalf("Identifier(%q, %q) = %q but again = %q, %v", idType, raw, out, again, err)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-02T10:15:00.123Z", "2026-11-02T11:15:00+01:00", "2026-11-02 10:15:00",
		"1793614500123", "1.7936145e12", "1793614500123.999999", "1e400", "-0", "1970-01-01T00:30:00+01:00", "2200-12-31T23:59:59.999999999Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ts, err := ParseTime(raw)
		if err != nil {
			requireFuzzError(t, err, CodeInvalidTimestamp)
			if !ts.IsZero() {
				t.Fatalf("time %v returned with an error", ts)
			}
			return
		}
		if ts.Location() != time.UTC || ts.Year() < minYear || ts.Year() > maxYear {
			t.Fatalf("ParseTime(%q) = %v is not UTC within %d..%d", raw, ts, minYear, maxYear)
		}
		again, err := ParseTime(ts.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(ts) {
			t.Fatalf("ParseTime(%q) = %v but its RFC 3339 form parses to %v, %v", raw, ts, again, err)
		}
	})
}

func FuzzBlocklist(f *testing.F) {
	f.Add("phone", "+440000000000", "", `^[0-]*$`)
	f.Add("email", "Test@Test.com", "test@test.com", "")
	f.Add("*", "null", "NULL", `(?i)^nu(ll)?$`)
	f.Add("user_id", "x", "y", `(unclosed`)
	f.Add("phone", "+44 20 7946 0958", "+442079460958", `\d{3,}`)
	f.Add("", "İ", "i", `[[:upper:]]`)
	f.Fuzz(func(t *testing.T, idType, value, exact, pattern string) {
		var rules []BlocklistRule
		if exact != "" {
			rules = append(rules, BlocklistRule{Type: idType, Exact: exact})
		}
		if pattern != "" {
			rules = append(rules, BlocklistRule{Type: idType, Regex: pattern})
		}
		b, err := NewBlocklist(rules)
		if _, compileErr := regexp.Compile(pattern); compileErr != nil {
			if err == nil || !strings.Contains(err.Error(), "rule") {
				t.Fatalf("bad regex %q: NewBlocklist error %v does not name the rule", pattern, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("NewBlocklist(%+v): %v", rules, err)
		}
		blocked := b.Blocked(idType, value) // must not panic on any input
		if exact != "" && !b.Blocked(idType, exact) {
			t.Fatalf("exact rule %q does not block itself for type %q", exact, idType)
		}
		if exact != "" && isASCII(exact) && !b.Blocked(idType, strings.ToUpper(exact)) {
			t.Fatalf("exact rule %q does not block its upper-case form", exact)
		}
		if pattern != "" && regexp.MustCompile(pattern).MatchString(strings.TrimSpace(value)) && !blocked {
			t.Fatalf("regex %q matches %q but Blocked(%q) is false", pattern, value, idType)
		}
		if len(rules) == 0 && blocked {
			t.Fatalf("empty blocklist blocked %q", value)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
