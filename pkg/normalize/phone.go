package normalize

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneInputBytes mirrors phonenumbers.MAX_INPUT_STRING_LENGTH: the library
// refuses longer input anyway, and checking first keeps huge values out of the cache.
const maxPhoneInputBytes = phonenumbers.MAX_INPUT_STRING_LENGTH

// Phone parses a phone number and returns it in E.164 ("+442079460958"). A number
// without a "+<country code>" (or an international dialling prefix such as "00" or
// "011") is read as a national number of defaultRegion, an ISO 3166 alpha-2 code such
// as "GB" or "US" (case-insensitive; empty when only international input is expected).
// Spaces, dashes, dots, parentheses, a "tel:" prefix, a "(0)" trunk prefix and vanity
// letters are accepted; an extension ("ext. 12") is dropped because E.164 has no place
// for it. It returns a *Error with Code "invalid_phone" otherwise.
//
// The number must pass phonenumbers.IsValidNumber, not merely IsPossibleNumber. A phone
// number is a linking key: a possible-but-invalid number is almost always a form
// placeholder ("123-456-7890", "555-555-5555", "0000000") or a typo, and linking on it
// merges strangers. The cost is that a number in a range allocated after the library's
// metadata was built is rejected until the library is updated; such input is never lost,
// it is answered with invalid_phone and kept in the DLQ.
//
// Parsing costs 25-40µs and 80 allocations, far over the ingest budget, while the same
// customer's number recurs on event after event, so results (failures included) are
// memoised in a small bounded cache; see phoneCache.
func Phone(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", phoneError("phone number is empty")
	}
	if len(s) > maxPhoneInputBytes {
		return "", phoneError("phone number is too long")
	}
	key := phoneKey{number: s, region: strings.ToUpper(strings.TrimSpace(defaultRegion))}
	res, ok := phoneResults.get(key)
	if !ok {
		res = parsePhone(key.number, key.region)
		phoneResults.put(key, res)
	}
	if res.problem != "" {
		return "", phoneError(res.problem)
	}
	return res.e164, nil
}

// phoneResult is the outcome of parsing one number: e164 on success, otherwise the
// reason it was rejected.
type phoneResult struct {
	e164    string
	problem string
}

func parsePhone(number, region string) phoneResult {
	var num phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(number, region, &num); err != nil {
		return phoneResult{problem: parseProblem(err, region)}
	}
	if !phonenumbers.IsValidNumber(&num) {
		return phoneResult{problem: "phone number is not a valid number in its country's numbering plan"}
	}
	e164 := phonenumbers.Format(&num, phonenumbers.E164)
	// The library guarantees this for valid numbers; checking keeps the promise of
	// this function independent of the library's internals.
	if !isE164(e164) {
		return phoneResult{problem: "phone number cannot be written in E.164"}
	}
	return phoneResult{e164: e164}
}

// parseProblem explains a parse failure. The library's messages are kept (they never
// contain the number) except where the cause is more specific.
func parseProblem(err error, region string) string {
	if errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "" {
		return "phone number has no +country code and no default region is configured"
	}
	if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
		return "phone number has an unknown country code, or no +country code and default region " +
			region + " is unknown"
	}
	return "phone number cannot be parsed: " + err.Error()
}

// isE164 reports whether s is '+' followed by 1 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func phoneError(msg string) *Error {
	return newError(CodeInvalidPhone, TypePhone, msg)
}
