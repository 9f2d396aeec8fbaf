package event

import (
	"fmt"
	"time"

	"github.com/linkedin/goavro/v2"
)

// Native returns the event in goavro's native form for the cx.Event schema.
// Optional fields that are absent are left out of the maps: goavro writes their
// schema default (null), and the encoder does less work and allocation.
func (e *Event) Native() map[string]any {
	ids := make([]any, len(e.Identifiers))
	for i, id := range e.Identifiers {
		ids[i] = map[string]any{"type": id.Type, "value": id.Value, "blocked": id.Blocked}
	}
	props := make(map[string]any, len(e.Properties))
	for k, v := range e.Properties {
		switch v := v.(type) {
		case string:
			props[k] = goavro.Union("string", v)
		case float64:
			props[k] = goavro.Union("double", v)
		case bool:
			props[k] = goavro.Union("boolean", v)
		}
	}
	m := make(map[string]any, 12)
	m["event_id"] = e.EventID
	m["channel"] = e.Channel
	m["type"] = e.Type
	m["event_time"] = e.EventTime.UnixMilli()
	m["client_time"] = e.ClientTime.UnixMilli()
	m["received_at"] = e.ReceivedAt.UnixMilli()
	m["identifiers"] = ids
	m["properties"] = props
	if !e.SentAt.IsZero() {
		m["sent_at"] = goavro.Union("long.timestamp-millis", e.SentAt.UnixMilli())
	}
	if w := e.Web; w != nil {
		r := make(map[string]any, 5)
		optString(r, "url", w.URL)
		optString(r, "referrer", w.Referrer)
		optString(r, "title", w.Title)
		optString(r, "session_id", w.SessionID)
		optString(r, "user_agent", w.UserAgent)
		m["web"] = goavro.Union("cx.Web", r)
	}
	if a := e.App; a != nil {
		r := make(map[string]any, 4)
		optString(r, "platform", a.Platform)
		optString(r, "app_version", a.AppVersion)
		optString(r, "screen", a.Screen)
		optString(r, "session_id", a.SessionID)
		m["app"] = goavro.Union("cx.App", r)
	}
	if s := e.Store; s != nil {
		r := make(map[string]any, 3)
		optString(r, "store_id", s.StoreID)
		optString(r, "register_id", s.RegisterID)
		optString(r, "staff_id", s.StaffID)
		m["store"] = goavro.Union("cx.Store", r)
	}
	if o := e.Order; o != nil {
		items := make([]any, len(o.Items))
		for i, it := range o.Items {
			items[i] = map[string]any{"sku": it.SKU, "quantity": it.Quantity, "price": it.Price}
		}
		r := map[string]any{"items": items}
		optString(r, "order_id", o.OrderID)
		optDouble(r, "total", o.Total)
		optString(r, "currency", o.Currency)
		m["order"] = goavro.Union("cx.Order", r)
	}
	if c := e.Call; c != nil {
		r := make(map[string]any, 8)
		optString(r, "call_id", c.CallID)
		optString(r, "direction", c.Direction)
		optString(r, "queue", c.Queue)
		optDouble(r, "wait_seconds", c.WaitSeconds)
		optDouble(r, "handle_seconds", c.HandleSeconds)
		optString(r, "outcome", c.Outcome)
		optString(r, "agent_id", c.AgentID)
		optString(r, "reason", c.Reason)
		m["call"] = goavro.Union("cx.Call", r)
	}
	if s := e.Survey; s != nil {
		score := 0.0
		if s.Score != nil {
			score = *s.Score
		}
		r := map[string]any{"kind": s.Kind, "score": score}
		optDouble(r, "scale_max", s.ScaleMax)
		optString(r, "comment", s.Comment)
		optString(r, "about_event_id", s.AboutEventID)
		m["survey"] = goavro.Union("cx.Survey", r)
	}
	return m
}

// optString sets an optional string field; absent means the default (null).
func optString(m map[string]any, k, s string) {
	if s != "" {
		m[k] = goavro.Union("string", s)
	}
}

// optDouble sets an optional double field; absent means the default (null).
func optDouble(m map[string]any, k string, f *float64) {
	if f != nil {
		m[k] = goavro.Union("double", *f)
	}
}

// FromNative converts goavro's native form of a cx.Event back into an Event.
// Fields unknown to this version (added by a newer writer schema) are ignored.
func FromNative(native any) (Event, error) {
	m, ok := native.(map[string]any)
	if !ok {
		return Event{}, fmt.Errorf("event: native form is %T, want a record", native)
	}
	r := reader{m: m}
	e := Event{
		EventID:    r.str("event_id"),
		Channel:    r.str("channel"),
		Type:       r.str("type"),
		EventTime:  r.time("event_time"),
		ClientTime: r.time("client_time"),
		SentAt:     r.time("sent_at"),
		ReceivedAt: r.time("received_at"),
	}
	if ids, ok := m["identifiers"].([]any); ok {
		e.Identifiers = make([]Identifier, 0, len(ids))
		for _, x := range ids {
			ir := reader{m: asMap(x)}
			blocked, _ := ir.m["blocked"].(bool)
			e.Identifiers = append(e.Identifiers, Identifier{Type: ir.str("type"), Value: ir.str("value"), Blocked: blocked})
		}
	}
	if props, ok := m["properties"].(map[string]any); ok && len(props) > 0 {
		e.Properties = make(map[string]any, len(props))
		for k, v := range props {
			e.Properties[k] = unwrap(v)
		}
	}
	if b := r.record("web"); b != nil {
		e.Web = &Web{URL: b.str("url"), Referrer: b.str("referrer"), Title: b.str("title"), SessionID: b.str("session_id"), UserAgent: b.str("user_agent")}
	}
	if b := r.record("app"); b != nil {
		e.App = &App{Platform: b.str("platform"), AppVersion: b.str("app_version"), Screen: b.str("screen"), SessionID: b.str("session_id")}
	}
	if b := r.record("store"); b != nil {
		e.Store = &Store{StoreID: b.str("store_id"), RegisterID: b.str("register_id"), StaffID: b.str("staff_id")}
	}
	if b := r.record("order"); b != nil {
		o := &Order{OrderID: b.str("order_id"), Total: b.double("total"), Currency: b.str("currency")}
		if items, ok := b.m["items"].([]any); ok {
			for _, x := range items {
				ir := reader{m: asMap(x)}
				q, p := ir.double("quantity"), ir.double("price")
				o.Items = append(o.Items, OrderItem{SKU: ir.str("sku"), Quantity: deref(q), Price: deref(p)})
			}
		}
		e.Order = o
	}
	if b := r.record("call"); b != nil {
		e.Call = &Call{CallID: b.str("call_id"), Direction: b.str("direction"), Queue: b.str("queue"),
			WaitSeconds: b.double("wait_seconds"), HandleSeconds: b.double("handle_seconds"),
			Outcome: b.str("outcome"), AgentID: b.str("agent_id"), Reason: b.str("reason")}
	}
	if b := r.record("survey"); b != nil {
		e.Survey = &Survey{Kind: b.str("kind"), Score: b.double("score"), ScaleMax: b.double("scale_max"),
			Comment: b.str("comment"), AboutEventID: b.str("about_event_id")}
	}
	return e, nil
}

// reader reads goavro native records, unwrapping unions.
type reader struct{ m map[string]any }

func (r reader) str(k string) string {
	s, _ := unwrap(r.m[k]).(string)
	return s
}

func (r reader) double(k string) *float64 {
	switch v := unwrap(r.m[k]).(type) {
	case float64:
		return &v
	case float32:
		f := float64(v)
		return &f
	}
	return nil
}

func (r reader) time(k string) time.Time {
	switch v := unwrap(r.m[k]).(type) {
	case time.Time:
		return v.UTC()
	case int64:
		return time.UnixMilli(v).UTC()
	}
	return time.Time{}
}

func (r reader) record(k string) *reader {
	m := asMap(unwrap(r.m[k]))
	if m == nil {
		return nil
	}
	return &reader{m: m}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// unwrap returns the value of a goavro union ({"type": value}) or v itself.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			switch k {
			case "string", "double", "boolean", "long", "int", "long.timestamp-millis", "float", "bytes":
				return x
			}
			if len(k) > 3 && k[:3] == "cx." {
				return x
			}
		}
	}
	return v
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
