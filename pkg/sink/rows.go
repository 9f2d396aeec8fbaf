// Package sink writes cx360's unified journeys into ClickHouse: it consumes
// cx.journeys, cx.customers and cx.identity.changes, batches rows per table,
// inserts them, and commits Kafka offsets only after ClickHouse acknowledged.
package sink

import (
	"fmt"
	"sort"
	"time"

	"github.com/cx360/cx360/pkg/event"
)

// Table names and their column lists, in the order rows are built. They match
// schemas/clickhouse/001_core.sql.
const (
	TableJourneys  = "cx360.journey_events"
	TableCustomers = "cx360.customers"
	TableMap       = "cx360.identity_map"
	TableChanges   = "cx360.identity_changes"
	TableErasures  = "cx360.erasures"
)

var columns = map[string][]string{
	TableJourneys: {"event_id", "customer_id", "channel", "type", "phase", "event_time", "event_ts_ms", "received_ts_ms",
		"identifier_types", "identifier_values", "property_keys", "property_values",
		"url", "referrer", "session_id", "app_platform", "app_version", "screen",
		"store_id", "register_id", "staff_id",
		"order_id", "order_total", "currency", "item_skus", "item_quantities", "item_prices",
		"call_id", "call_direction", "call_queue", "wait_seconds", "handle_seconds", "call_outcome", "agent_id", "call_reason",
		"survey_kind", "survey_score", "survey_scale_max", "survey_comment", "about_event_id", "version"},
	TableCustomers: {"customer_id", "version", "is_deleted", "identifier_types", "identifier_values", "first_seen", "last_seen",
		"channels", "count_channels", "count_values", "orders", "total_spend", "last_csat", "last_nps", "last_ces",
		"low_scores", "abandoned_calls", "long_waits", "returns", "friction_score", "merged_ids", "updated_at"},
	TableMap:      {"customer_id", "survivor_id", "version"},
	TableChanges:  {"change_id", "kind", "customer_id", "related_ids", "identifier_types", "identifier_values", "event_id", "channel", "reason", "at", "at_ms", "version"},
	TableErasures: {"customer_id", "related_ids", "requested_at", "change_id"},
}

// Columns returns a table's columns in row order.
func Columns(table string) []string { return columns[table] }

// journeyRow flattens a cx.JourneyEvent (goavro native) into a journey_events
// row. Its version is when identity published it (the record's timestamp),
// and never below when ingest received the event.
//
// Why the publication time: one event can be journeyed twice with different
// customers — by an identity instance killed past its last snapshot, and by
// its successor, whose replay may resolve the event in another interleaving.
// The two records land on different partitions (keyed by customer), so the
// sink may insert them in either order; the later publication is the
// successor's, and the one the graph agrees with.
func journeyRow(native any, published time.Time) ([]any, error) {
	m, ok := native.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("journey: native form is %T", native)
	}
	e, err := event.FromNative(m["event"])
	if err != nil {
		return nil, err
	}
	if e.EventID == "" {
		return nil, fmt.Errorf("journey without event_id")
	}
	customer, _ := m["customer_id"].(string)
	phase, _ := m["phase"].(string)
	idTypes, idValues := identifierArrays(e.Identifiers)
	keys := make([]string, 0, len(e.Properties))
	for k := range e.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = fmt.Sprint(e.Properties[k])
	}
	var web event.Web
	if e.Web != nil {
		web = *e.Web
	}
	var app event.App
	if e.App != nil {
		app = *e.App
	}
	var store event.Store
	if e.Store != nil {
		store = *e.Store
	}
	var order event.Order
	if e.Order != nil {
		order = *e.Order
	}
	skus, qty, prices := []string{}, []float64{}, []float64{}
	for _, it := range order.Items {
		skus, qty, prices = append(skus, it.SKU), append(qty, it.Quantity), append(prices, it.Price)
	}
	var call event.Call
	if e.Call != nil {
		call = *e.Call
	}
	var survey event.Survey
	if e.Survey != nil {
		survey = *e.Survey
	}
	session := web.SessionID
	if session == "" {
		session = app.SessionID
	}
	return []any{
		e.EventID, customer, e.Channel, e.Type, phase, clampTime(e.EventTime), e.EventTime.UnixMilli(), e.ReceivedAt.UnixMilli(),
		idTypes, idValues, keys, values,
		web.URL, web.Referrer, session, app.Platform, app.AppVersion, app.Screen,
		store.StoreID, store.RegisterID, store.StaffID,
		order.OrderID, order.Total, order.Currency, skus, qty, prices,
		call.CallID, call.Direction, call.Queue, call.WaitSeconds, call.HandleSeconds, call.Outcome, call.AgentID, call.Reason,
		survey.Kind, survey.Score, survey.ScaleMax, survey.Comment, survey.AboutEventID,
		uint64(max(e.ReceivedAt.UnixMilli(), published.UnixMilli())),
	}, nil
}

// profileRow flattens a cx.CustomerProfile; a nil native is the tombstone of key.
//
// version is the record's offset on cx.customers: every record of a customer
// shares a partition (the key is its id), so the later record, tombstone or
// profile, always has the higher version — a profile that comes back after a
// tombstone (split out of a merge) is live again, and a replay ties.
func profileRow(key string, native any, version int64) ([]any, error) {
	if native == nil {
		return []any{key, version, uint8(1), []string{}, []string{}, time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC(),
			[]string{}, []string{}, []int64{}, int64(0), 0.0, nilFloat(), nilFloat(), nilFloat(),
			int64(0), int64(0), int64(0), int64(0), 0.0, []string{}, time.Now().UTC().Truncate(time.Second)}, nil
	}
	m, ok := native.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("profile: native form is %T", native)
	}
	r := reader(m)
	idTypes, idValues := identifierArrays(r.identifiers("identifiers"))
	counts, _ := m["event_counts"].(map[string]any)
	chans := make([]string, 0, len(counts))
	for k := range counts {
		chans = append(chans, k)
	}
	sort.Strings(chans)
	vals := make([]int64, len(chans))
	for i, k := range chans {
		vals[i], _ = counts[k].(int64)
	}
	f := r.record("friction")
	return []any{
		r.str("customer_id"), version, uint8(0), idTypes, idValues, clampTime(r.time("first_seen")), clampTime(r.time("last_seen")),
		r.strs("channels"), chans, vals, r.i64("orders"), r.f64("total_spend"), r.optF64("last_csat"), r.optF64("last_nps"), r.optF64("last_ces"),
		f.i64("low_scores"), f.i64("abandoned_calls"), f.i64("long_waits"), f.i64("returns"), f.f64("score"), r.strs("merged_ids"),
		clampTime(r.time("updated_at")),
	}, nil
}

// changeRows turns a cx.IdentityChange into its identity_changes row, the
// identity_map rows it implies (merged ids → survivor; split ids → the
// profiles they became), and, for an erasure, the audit row.
func changeRows(native any) (change []any, mapping [][]any, erasure []any, err error) {
	m, ok := native.(map[string]any)
	if !ok {
		return nil, nil, nil, fmt.Errorf("change: native form is %T", native)
	}
	r := reader(m)
	idTypes, idValues := identifierArrays(r.identifiers("identifiers"))
	at := r.time("at")
	kind, customer, version := r.str("kind"), r.str("customer_id"), r.i64("version")
	related := r.strs("related_ids")
	change = []any{r.str("change_id"), kind, customer, related, idTypes, idValues, r.str("event_id"), r.str("channel"), r.str("reason"),
		clampTime(at), at.UnixMilli(), version}
	switch kind {
	case "merge":
		for _, id := range related {
			mapping = append(mapping, []any{id, customer, version})
		}
		mapping = append(mapping, []any{customer, customer, version})
	case "split":
		for _, id := range related {
			mapping = append(mapping, []any{id, id, version})
		}
	case "erase":
		erasure = []any{customer, related, clampTime(at), r.str("change_id")}
	}
	return change, mapping, erasure, nil
}

func identifierArrays(ids []event.Identifier) ([]string, []string) {
	types, values := make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		types[i], values[i] = id.Type, id.Value
	}
	return types, values
}

// clampTime keeps a time inside ClickHouse DateTime's range (1970–2105).
func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(time.Unix(0, 0)):
		return time.Unix(0, 0).UTC()
	case t.After(time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)):
		return time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	return t.UTC().Truncate(time.Second)
}

func nilFloat() *float64 { return nil }

// reader reads goavro native records, unwrapping unions.
type reader map[string]any

func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			switch k {
			case "string", "double", "long", "int", "boolean", "long.timestamp-millis":
				return x
			}
		}
	}
	return v
}

func (r reader) str(k string) string  { s, _ := unwrap(r[k]).(string); return s }
func (r reader) f64(k string) float64 { f, _ := unwrap(r[k]).(float64); return f }

func (r reader) i64(k string) int64 {
	switch v := unwrap(r[k]).(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	}
	return 0
}

func (r reader) optF64(k string) *float64 {
	if f, ok := unwrap(r[k]).(float64); ok {
		return &f
	}
	return nil
}

func (r reader) time(k string) time.Time {
	switch v := unwrap(r[k]).(type) {
	case time.Time:
		return v.UTC()
	case int64:
		return time.UnixMilli(v).UTC()
	}
	return time.Unix(0, 0).UTC()
}

func (r reader) strs(k string) []string {
	list, _ := r[k].([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (r reader) record(k string) reader {
	m, _ := unwrap(r[k]).(map[string]any)
	return reader(m)
}

func (r reader) identifiers(k string) []event.Identifier {
	list, _ := r[k].([]any)
	out := make([]event.Identifier, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		blocked, _ := m["blocked"].(bool)
		t, _ := m["type"].(string)
		v, _ := m["value"].(string)
		out = append(out, event.Identifier{Type: t, Value: v, Blocked: blocked})
	}
	return out
}

// JourneyRow flattens a cx.JourneyEvent (goavro native) into a journey_events
// row, in Columns(TableJourneys) order (exported for benchmarks and tools).
func JourneyRow(native any, published time.Time) ([]any, error) {
	return journeyRow(native, published)
}
