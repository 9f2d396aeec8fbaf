// Package normalize turns identifiers and times from client input into the canonical
// forms that ingest publishes and identity links on: lower-cased emails, E.164 phone
// numbers, trimmed custom identifiers, UTC timestamps corrected for client clock skew,
// and deterministic ids for events that arrive without one. It also holds the static
// identifier blocklist. Every function is safe for concurrent use and never panics on
// input; failures are *Error values with a stable Code for the API answer and the DLQ.
package normalize

// Stable machine codes carried by *Error. The ingest API answers them to clients and
// the DLQ records them, so they must never change.
const (
	CodeInvalidEmail      = "invalid_email"
	CodeInvalidPhone      = "invalid_phone"
	CodeInvalidIdentifier = "invalid_identifier"
	CodeInvalidTimestamp  = "invalid_timestamp"
)

// Identifier types with a dedicated normaliser. Every other type is a plain,
// trimmed string (custom channels add their own types).
const (
	TypeEmail = "email"
	TypePhone = "phone"
)

// Error is a normalisation failure with a stable machine code for the API and DLQ.
// Message explains the problem without echoing the input value, so it can be logged
// and returned without spreading personal data (the DLQ keeps the raw bytes).
type Error struct {
	// Code is one of the Code* constants.
	Code string
	// Field names what was being normalised: the identifier type or "timestamp".
	Field string
	// Message is a human-readable reason that names what failed ("email has no '@'").
	Message string
}

var _ error = (*Error)(nil)

// Error implements error. Message already names what failed, so Field is not repeated.
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

func newError(code, field, message string) *Error {
	return &Error{Code: code, Field: field, Message: message}
}
