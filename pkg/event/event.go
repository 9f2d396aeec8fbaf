// Package event is cx360's event model: the JSON that channels send, its
// validation and normalisation into a cx.Event, and the Avro native form.
package event

import (
	"time"
)

// Built-in channels. Custom channels are added by mapping files.
const (
	ChannelStore = "store"
	ChannelWeb   = "web"
	ChannelApp   = "app"
	ChannelPhone = "phone"
)

// Identifier types known to cx360, in priority order (DESIGN.md "Identity resolution").
// Other types are accepted and ranked after these, alphabetically.
var IdentifierTypes = []string{"user_id", "loyalty_id", "email", "phone", "payment_token", "device_id", "anonymous_id"}

// Identifier is one normalised identifier of a customer.
type Identifier struct {
	Type    string `json:"type"`
	Value   string `json:"value"`
	Blocked bool   `json:"blocked,omitempty"`
}

// Web is the web channel's context block.
type Web struct {
	URL       string `json:"url,omitempty"`
	Referrer  string `json:"referrer,omitempty"`
	Title     string `json:"title,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// App is the mobile app's context block.
type App struct {
	Platform   string `json:"platform,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
	Screen     string `json:"screen,omitempty"`
	SessionID  string `json:"session_id,omitempty"`
}

// Store is the physical store's context block.
type Store struct {
	StoreID    string `json:"store_id,omitempty"`
	RegisterID string `json:"register_id,omitempty"`
	StaffID    string `json:"staff_id,omitempty"`
}

// Order is a purchase (or, with a negative total or a "return" type, a return).
type Order struct {
	OrderID  string      `json:"order_id,omitempty"`
	Total    *float64    `json:"total,omitempty"`
	Currency string      `json:"currency,omitempty"`
	Items    []OrderItem `json:"items,omitempty"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	SKU      string  `json:"sku"`
	Quantity float64 `json:"quantity"`
	Price    float64 `json:"price"`
}

// Call is a contact-centre call (phone channel).
type Call struct {
	CallID        string   `json:"call_id,omitempty"`
	Direction     string   `json:"direction,omitempty"`
	Queue         string   `json:"queue,omitempty"`
	WaitSeconds   *float64 `json:"wait_seconds,omitempty"`
	HandleSeconds *float64 `json:"handle_seconds,omitempty"`
	Outcome       string   `json:"outcome,omitempty"`
	AgentID       string   `json:"agent_id,omitempty"`
	Reason        string   `json:"reason,omitempty"`
}

// Survey is a satisfaction answer: csat, nps or ces.
type Survey struct {
	Kind         string   `json:"kind"`
	Score        *float64 `json:"score"`
	ScaleMax     *float64 `json:"scale_max,omitempty"`
	Comment      string   `json:"comment,omitempty"`
	AboutEventID string   `json:"about_event_id,omitempty"`
}

// Event is a normalised event, the Go form of cx.Event.
type Event struct {
	EventID     string
	Channel     string
	Type        string
	EventTime   time.Time // skew-corrected
	ClientTime  time.Time // as sent
	SentAt      time.Time // zero when not sent
	ReceivedAt  time.Time
	Identifiers []Identifier
	Properties  map[string]any // string, float64 or bool
	Web         *Web
	App         *App
	Store       *Store
	Order       *Order
	Call        *Call
	Survey      *Survey
}

// RoutingKey is the Kafka key of the event on cx.events: its highest-priority
// linkable identifier ("type:value"), so that events of one identifier stay in
// order; the event id when every identifier is blocked.
func (e *Event) RoutingKey() string {
	for _, id := range e.Identifiers {
		if !id.Blocked {
			return id.Type + ":" + id.Value
		}
	}
	// Every identifier is blocked: such events share no customer, so spread them
	// by event id instead of piling them onto one hot partition.
	return e.EventID
}
