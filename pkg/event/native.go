package event

import (
	"fmt"
	"time"

	"github.com/linkedin/goavro/v2"
)

// Native returns the event in goavro's native form for the cx.Event schema.
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
	m := map[string]any{
		"event_id":    e.EventID,
		"channel":     e.Channel,
		"type":        e.Type,
		"event_time":  e.EventTime.UnixMilli(),
		"client_time": e.ClientTime.UnixMilli(),
		"sent_at":     nil,
		"received_at": e.ReceivedAt.UnixMilli(),
		"identifiers": ids,
		"properties":  props,
		"web":         nil,
		"app":         nil,
		"store":       nil,
		"order":       nil,
		"call":        nil,
		"survey":      nil,
	}
	if !e.SentAt.IsZero() {
		m["sent_at"] = goavro.Union("long.timestamp-millis", e.SentAt.UnixMilli())
	}
	if w := e.Web; w != nil {
		m["web"] = goavro.Union("cx.Web", map[string]any{
			"url": optString(w.URL), "referrer": optString(w.Referrer), "title": optString(w.Title),
			"session_id": optString(w.SessionID), "user_agent": optString(w.UserAgent),
		})
	}
	if a := e.App; a != nil {
		m["app"] = goavro.Union("cx.App", map[string]any{
			"platform": optString(a.Platform), "app_version": optString(a.AppVersion),
			"screen": optString(a.Screen), "session_id": optString(a.SessionID),
		})
	}
	if s := e.Store; s != nil {
		m["store"] = goavro.Union("cx.Store", map[string]any{
			"store_id": optString(s.StoreID), "register_id": optString(s.RegisterID), "staff_id": optString(s.StaffID),
		})
	}
	if o := e.Order; o != nil {
		items := make([]any, len(o.Items))
		for i, it := range o.Items {
			items[i] = map[string]any{"sku": it.SKU, "quantity": it.Quantity, "price": it.Price}
		}
		m["order"] = goavro.Union("cx.Order", map[string]any{
			"order_id": optString(o.OrderID), "total": optDouble(o.Total), "currency": optString(o.Currency), "items": items,
		})
	}
	if c := e.Call; c != nil {
		m["call"] = goavro.Union("cx.Call", map[string]any{
			"call_id": optString(c.CallID), "direction": optString(c.Direction), "queue": optString(c.Queue),
			"wait_seconds": optDouble(c.WaitSeconds), "handle_seconds": optDouble(c.HandleSeconds),
			"outcome": optString(c.Outcome), "agent_id": optString(c.AgentID), "reason": optString(c.Reason),
		})
	}
	if s := e.Survey; s != nil {
		score := 0.0
		if s.Score != nil {
			score = *s.Score
		}
		m["survey"] = goavro.Union("cx.Survey", map[string]any{
			"kind": s.Kind, "score": score, "scale_max": optDouble(s.ScaleMax),
			"comment": optString(s.Comment), "about_event_id": optString(s.AboutEventID),
		})
	}
	return m
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return goavro.Union("string", s)
}

func optDouble(f *float64) any {
	if f == nil {
		return nil
	}
	return goavro.Union("double", *f)
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
