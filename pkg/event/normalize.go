package event

import (
	"bytes"
	"errors"
	"fmt"
	json "github.com/segmentio/encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cx360/cx360/pkg/normalize"
)

// Rejection codes of items that fail validation, in the API answer and in the DLQ.
// They are part of the public contract: never rename one.
const (
	CodeInvalidJSON        = "invalid_json"
	CodeNotObject          = "not_an_object"
	CodeUnknownField       = "unknown_field"
	CodeInvalidField       = "invalid_field"
	CodeMissingType        = "missing_type"
	CodeInvalidType        = "invalid_type"
	CodeMissingTimestamp   = "missing_timestamp"
	CodeInvalidTimestamp   = "invalid_timestamp"
	CodeTimestampInFuture  = "timestamp_in_future"
	CodeMissingIdentifier  = "missing_identifier"
	CodeInvalidIdentifier  = "invalid_identifier"
	CodeInvalidProperty    = "invalid_property"
	CodeBlockNotAllowed    = "block_not_allowed"
	CodeInvalidOrder       = "invalid_order"
	CodeInvalidSurvey      = "invalid_survey"
	CodeInvalidEventID     = "invalid_event_id"
	CodeUnparseableBody    = "unparseable_body"
	CodeDuplicate          = "duplicate" // not a rejection: counted, acknowledged, not produced
	CodeMappingFailed      = "mapping_failed"
	CodeUnknownChannel     = "unknown_channel"
	CodeInternal           = "internal_error"
	CodeTooLarge           = "too_large" // the item's record would exceed the producer's message limit
	maxTypeLen             = 128
	maxPropertyKeyLen      = 128
	maxProperties          = 256
	maxStringLen           = 4096
	maxIdentifiers         = 64
	defaultMaxFutureSkew   = 24 * time.Hour
	identifierTypeMaxBytes = 64
)

// Input is the JSON an event arrives as (DESIGN.md "Input event").
type Input struct {
	EventID     string                     `json:"event_id"`
	Type        string                     `json:"type"`
	Timestamp   json.RawMessage            `json:"timestamp"`
	SentAt      json.RawMessage            `json:"sent_at"`
	Identifiers map[string]json.RawMessage `json:"identifiers"`
	Properties  map[string]json.RawMessage `json:"properties"`
	Web         *Web                       `json:"web"`
	App         *App                       `json:"app"`
	Store       *Store                     `json:"store"`
	Order       *Order                     `json:"order"`
	Call        *Call                      `json:"call"`
	Survey      *Survey                    `json:"survey"`
}

// Blocks a channel accepts besides order and survey, which every channel accepts.
type Blocks struct {
	Web, App, Store, Call bool
}

// BuiltinBlocks maps each built-in channel to its own block.
var BuiltinBlocks = map[string]Blocks{
	ChannelWeb:   {Web: true},
	ChannelApp:   {App: true},
	ChannelStore: {Store: true},
	ChannelPhone: {Call: true},
}

// NormalizerConfig configures Normalizer.
type NormalizerConfig struct {
	DefaultRegion string               // region for phone numbers without a country code, e.g. "GB"
	Blocklist     *normalize.Blocklist // identifiers kept on the event but flagged blocked
	MaxFutureSkew time.Duration        // events further in the future (after skew correction) are rejected
}

// Normalizer validates Inputs and turns them into Events. Safe for concurrent use.
type Normalizer struct {
	cfg NormalizerConfig
}

// NewNormalizer returns a Normalizer; zero config fields take defaults.
func NewNormalizer(cfg NormalizerConfig) *Normalizer {
	if cfg.MaxFutureSkew == 0 {
		cfg.MaxFutureSkew = defaultMaxFutureSkew
	}
	return &Normalizer{cfg: cfg}
}

// Rejection is why one item was not accepted.
type Rejection = normalize.Error

func reject(code, field, format string, a ...any) *Rejection {
	return &Rejection{Code: code, Field: field, Message: fmt.Sprintf(format, a...)}
}

// Decode parses one item's bytes into an Input, rejecting unknown fields and
// wrongly typed values with the field's name.
func Decode(raw []byte) (*Input, *Rejection) {
	raw = bytes.TrimSpace(raw)
	if rej := CheckObject(raw); rej != nil {
		return nil, rej
	}
	// Small maps made here are filled in place; left nil, the decoder would
	// allocate 64-entry maps for every event.
	in := Input{Identifiers: make(map[string]json.RawMessage, 8), Properties: make(map[string]json.RawMessage, 8)}
	// segmentio/encoding's decoder is a drop-in for encoding/json at several
	// times the speed. Field names match exactly (the contract's names), and
	// raw values point into raw, which outlives them (they are parsed in Normalize).
	rest, err := json.Parse(raw, &in, json.DisallowUnknownFields|json.DontCopyRawMessage|json.DontMatchCaseInsensitiveStructFields)
	if err != nil {
		return nil, decodeRejection(err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, reject(CodeInvalidJSON, "", "trailing data after the event object")
	}
	return &in, nil
}

// CheckObject rejects an item that is not a JSON object, with the codes every
// channel (built-in or mapped) uses.
func CheckObject(raw []byte) *Rejection {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		return nil
	}
	if json.Valid(raw) {
		return reject(CodeNotObject, "", "each event must be a JSON object")
	}
	return reject(CodeInvalidJSON, "", "item is not valid JSON")
}

func decodeRejection(err error) *Rejection {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return reject(CodeInvalidField, typeErr.Field, "field %q must be %s, got %s", typeErr.Field, typeErr.Type.String(), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return reject(CodeInvalidJSON, "", "item is not valid JSON: %v", syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return reject(CodeUnknownField, field, "unknown field %q (put extra data under \"properties\")", field)
	default:
		return reject(CodeInvalidJSON, "", "item is not valid JSON: %v", err)
	}
}

// validType reports whether t matches ^[A-Za-z0-9][A-Za-z0-9_.:\-/ ]*$ (a
// byte loop: this runs for every event, where a regexp costs a microsecond).
func validType(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == ':' || c == '-' || c == '/' || c == ' '):
		default:
			return false
		}
	}
	return t != ""
}

// validIdentifierType reports whether t matches ^[a-z][a-z0-9_]*$.
func validIdentifierType(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return t != ""
}

// Normalize validates in and returns the normalised event. raw is the item's
// exact bytes (for the deterministic id of an event without one).
func (n *Normalizer) Normalize(channel string, blocks Blocks, in *Input, raw []byte, receivedAt time.Time) (Event, *Rejection) {
	e := Event{Channel: channel, ReceivedAt: receivedAt.UTC()}

	e.Type = strings.TrimSpace(in.Type)
	switch {
	case e.Type == "":
		return Event{}, reject(CodeMissingType, "type", "\"type\" is required")
	case len(e.Type) > maxTypeLen || !validType(e.Type):
		return Event{}, reject(CodeInvalidType, "type", "\"type\" must be 1-%d letters, digits or _.:-/ characters", maxTypeLen)
	}

	if len(in.Timestamp) == 0 || string(in.Timestamp) == "null" {
		return Event{}, reject(CodeMissingTimestamp, "timestamp", "\"timestamp\" is required")
	}
	ts, rej := parseTime("timestamp", in.Timestamp)
	if rej != nil {
		return Event{}, rej
	}
	e.ClientTime = ts
	if len(in.SentAt) > 0 && string(in.SentAt) != "null" {
		if e.SentAt, rej = parseTime("sent_at", in.SentAt); rej != nil {
			return Event{}, rej
		}
	}
	e.EventTime = normalize.SkewCorrect(ts, e.SentAt, e.ReceivedAt).UTC()
	if e.EventTime.Sub(e.ReceivedAt) > n.cfg.MaxFutureSkew {
		return Event{}, reject(CodeTimestampInFuture, "timestamp", "event time %s is more than %s after the server time", e.EventTime.Format(time.RFC3339), n.cfg.MaxFutureSkew)
	}
	// A sent_at far ahead of the server clock moves the event back by as
	// much: both times are valid, their correction need not be.
	if !normalize.InTimeRange(e.EventTime) {
		return Event{}, reject(CodeInvalidTimestamp, "timestamp", "event time %s (timestamp corrected by sent_at) is outside the years 1970 to 2200", e.EventTime.Format(time.RFC3339))
	}

	ids, rej := n.identifiers(in.Identifiers)
	if rej != nil {
		return Event{}, rej
	}
	e.Identifiers = ids

	if e.Properties, rej = properties(in.Properties); rej != nil {
		return Event{}, rej
	}
	if rej := checkBlocks(channel, blocks, in); rej != nil {
		return Event{}, rej
	}
	e.Web, e.App, e.Store, e.Call = in.Web, in.App, in.Store, in.Call
	if rej := checkOrder(in.Order); rej != nil {
		return Event{}, rej
	}
	e.Order = in.Order
	if rej := checkSurvey(in.Survey); rej != nil {
		return Event{}, rej
	}
	e.Survey = in.Survey
	if rej := checkStrings(&e); rej != nil {
		return Event{}, rej
	}

	e.EventID = strings.TrimSpace(in.EventID)
	switch {
	case e.EventID == "":
		e.EventID = normalize.EventID(channel, raw)
	case len(e.EventID) > 256:
		return Event{}, reject(CodeInvalidEventID, "event_id", "\"event_id\" is longer than 256 bytes")
	}
	return e, nil
}

func parseTime(field string, raw json.RawMessage) (time.Time, *Rejection) {
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, reject(CodeInvalidTimestamp, field, "%q must be an RFC 3339 string or epoch milliseconds", field)
		}
	} else {
		s = string(raw) // a JSON number: epoch milliseconds
	}
	t, err := normalize.ParseTime(s)
	if err != nil {
		msg := err.Error()
		var nerr *normalize.Error
		if errors.As(err, &nerr) {
			msg = nerr.Message
		}
		return time.Time{}, reject(CodeInvalidTimestamp, field, "%s: %s", field, msg)
	}
	return t, nil
}

func (n *Normalizer) identifiers(in map[string]json.RawMessage) ([]Identifier, *Rejection) {
	if len(in) > maxIdentifiers {
		return nil, reject(CodeInvalidIdentifier, "identifiers", "at most %d identifiers per event", maxIdentifiers)
	}
	ids := make([]Identifier, 0, len(in))
	for typ, raw := range in {
		field := "identifiers." + typ
		if len(typ) > identifierTypeMaxBytes || !validIdentifierType(typ) {
			return nil, reject(CodeInvalidIdentifier, field, "identifier type %q must be lower_snake_case, at most %d bytes", typ, identifierTypeMaxBytes)
		}
		value, ok := scalarString(raw)
		if !ok {
			return nil, reject(CodeInvalidIdentifier, field, "identifier %q must be a string or a number", typ)
		}
		if strings.TrimSpace(value) == "" {
			continue // an empty identifier is the absence of one
		}
		norm, err := normalize.Identifier(typ, value, n.cfg.DefaultRegion)
		if err != nil {
			var nerr *normalize.Error
			if errors.As(err, &nerr) {
				return nil, &Rejection{Code: nerr.Code, Field: field, Message: nerr.Message}
			}
			return nil, reject(CodeInvalidIdentifier, field, "%v", err)
		}
		blocked := n.cfg.Blocklist != nil && n.cfg.Blocklist.Blocked(typ, norm)
		ids = append(ids, Identifier{Type: typ, Value: norm, Blocked: blocked})
	}
	if len(ids) == 0 {
		return nil, reject(CodeMissingIdentifier, "identifiers", "at least one identifier is required (%s)", strings.Join(IdentifierTypes, ", "))
	}
	SortIdentifiers(ids)
	return ids, nil
}

// SortIdentifiers orders identifiers by type priority, then custom types
// alphabetically, then value, so that equal inputs give equal records.
func SortIdentifiers(ids []Identifier) {
	slices.SortFunc(ids, func(a, b Identifier) int {
		if c := typeRank(a.Type) - typeRank(b.Type); c != 0 {
			return c
		}
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
}

func typeRank(t string) int {
	if i := slices.Index(IdentifierTypes, t); i >= 0 {
		return i
	}
	return len(IdentifierTypes)
}

// scalarString reads a JSON string or number as text (loyalty ids often arrive as numbers).
func scalarString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case 'n':
		return "", string(raw) == "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var num json.Number
		if err := json.Unmarshal(raw, &num); err != nil {
			return "", false
		}
		return num.String(), true
	}
	return "", false
}

func properties(in map[string]json.RawMessage) (map[string]any, *Rejection) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > maxProperties {
		return nil, reject(CodeInvalidProperty, "properties", "at most %d properties per event", maxProperties)
	}
	out := make(map[string]any, len(in))
	for k, raw := range in {
		field := "properties." + k
		if k == "" || len(k) > maxPropertyKeyLen {
			return nil, reject(CodeInvalidProperty, field, "property names must be 1-%d bytes", maxPropertyKeyLen)
		}
		if len(raw) == 0 {
			return nil, reject(CodeInvalidProperty, field, "property %q has no value", k)
		}
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, reject(CodeInvalidProperty, field, "property %q: %v", k, err)
			}
			if len(s) > maxStringLen {
				return nil, reject(CodeInvalidProperty, field, "property %q is longer than %d bytes", k, maxStringLen)
			}
			out[k] = s
		case 't', 'f':
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				return nil, reject(CodeInvalidProperty, field, "property %q: %v", k, err)
			}
			out[k] = b
		case 'n':
			continue // null: the property is absent
		case '{', '[':
			return nil, reject(CodeInvalidProperty, field, "property %q must be a string, number or bool, not an object or array", k)
		default:
			f, err := strconv.ParseFloat(string(raw), 64)
			if err != nil || math.IsInf(f, 0) {
				return nil, reject(CodeInvalidProperty, field, "property %q is not a valid number", k)
			}
			out[k] = f
		}
	}
	return out, nil
}

func checkBlocks(channel string, allowed Blocks, in *Input) *Rejection {
	check := func(present bool, ok bool, name string) *Rejection {
		if present && !ok {
			return reject(CodeBlockNotAllowed, name, "the %s channel does not accept a %q block", channel, name)
		}
		return nil
	}
	for _, r := range []*Rejection{
		check(in.Web != nil, allowed.Web, "web"),
		check(in.App != nil, allowed.App, "app"),
		check(in.Store != nil, allowed.Store, "store"),
		check(in.Call != nil, allowed.Call, "call"),
	} {
		if r != nil {
			return r
		}
	}
	return nil
}

func checkOrder(o *Order) *Rejection {
	if o == nil {
		return nil
	}
	if o.Total != nil && (math.IsNaN(*o.Total) || math.IsInf(*o.Total, 0)) {
		return reject(CodeInvalidOrder, "order.total", "order total must be a finite number")
	}
	if len(o.Currency) > 0 && len(o.Currency) != 3 {
		return reject(CodeInvalidOrder, "order.currency", "currency must be a 3-letter ISO 4217 code")
	}
	o.Currency = strings.ToUpper(o.Currency)
	if len(o.Items) == 0 {
		o.Items = nil // "items": [] and no items are the same order
	}
	for i, it := range o.Items {
		if strings.TrimSpace(it.SKU) == "" {
			return reject(CodeInvalidOrder, fmt.Sprintf("order.items[%d].sku", i), "every order item needs a sku")
		}
	}
	return nil
}

// Survey kinds and their default scale maxima.
var surveyScales = map[string]float64{"csat": 5, "nps": 10, "ces": 7}

func checkSurvey(s *Survey) *Rejection {
	if s == nil {
		return nil
	}
	s.Kind = strings.ToLower(strings.TrimSpace(s.Kind))
	scale, ok := surveyScales[s.Kind]
	if !ok {
		return reject(CodeInvalidSurvey, "survey.kind", "survey kind must be csat, nps or ces")
	}
	if s.Score == nil {
		return reject(CodeInvalidSurvey, "survey.score", "survey score is required")
	}
	if s.ScaleMax != nil {
		scale = *s.ScaleMax
		if scale <= 0 || scale > 100 {
			return reject(CodeInvalidSurvey, "survey.scale_max", "survey scale_max must be in (0, 100]")
		}
	}
	if *s.Score < 0 || *s.Score > scale {
		return reject(CodeInvalidSurvey, "survey.score", "survey score %v is outside 0..%v", *s.Score, scale)
	}
	return nil
}

// checkStrings bounds free-text fields so one event cannot bloat every stage.
func checkStrings(e *Event) *Rejection {
	long := func(name string, vals ...string) *Rejection {
		for _, v := range vals {
			if len(v) > maxStringLen {
				return reject(CodeInvalidField, name, "%s is longer than %d bytes", name, maxStringLen)
			}
		}
		return nil
	}
	if e.Web != nil {
		if r := long("web", e.Web.URL, e.Web.Referrer, e.Web.Title, e.Web.SessionID, e.Web.UserAgent); r != nil {
			return r
		}
	}
	if e.Survey != nil {
		if r := long("survey.comment", e.Survey.Comment); r != nil {
			return r
		}
	}
	return nil
}
