package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/cx360/cx360/pkg/avro"
	"github.com/cx360/cx360/schemas"
)

// Schema evolution: a producer may write cx.journeys with a newer, compatible
// cx.JourneyEvent — one with an optional field the sink was not built with,
// at the top level or inside the nested cx.Event. The sink finds such fields
// in the writer schema (fetched from the registry by the record's schema id),
// adds a column for each with ALTER TABLE … ADD COLUMN before the first
// insert that carries it (18.16 has no IF NOT EXISTS there: a column that
// exists already counts as added), and writes the field's values there. No
// restart, and no row waits for anyone: older rows read the column's default.

// extraColumn is one field of a newer writer schema that has no fixed column.
type extraColumn struct {
	name    string // the column: the Avro field's name
	chType  string // its ClickHouse type
	inEvent bool   // a field of the nested cx.Event, not of cx.JourneyEvent
	union   bool   // goavro wraps the value as {"type": value}
	zero    any    // the value of a row that lacks the field
	convert func(any) any
}

// journeyLayouts knows, per writer schema id, which fields are extra.
type journeyLayouts struct {
	serde        *avro.Serde
	knownJourney map[string]bool
	knownEvent   map[string]bool
	fixed        map[string]bool // journey_events' own columns

	mu   sync.Mutex
	byID map[int][]extraColumn
}

func newJourneyLayouts(serde *avro.Serde) (*journeyLayouts, error) {
	text, err := schemas.Avro(schemas.JourneyEvent)
	if err != nil {
		return nil, err
	}
	top, ev, err := journeyFields(text)
	if err != nil {
		return nil, fmt.Errorf("the sink's own %s: %w", schemas.JourneyEvent, err)
	}
	l := &journeyLayouts{serde: serde, knownJourney: map[string]bool{}, knownEvent: map[string]bool{}, fixed: map[string]bool{}, byID: map[int][]extraColumn{}}
	for _, f := range top {
		l.knownJourney[f.Name] = true
	}
	for _, f := range ev {
		l.knownEvent[f.Name] = true
	}
	for _, c := range columns[TableJourneys] {
		l.fixed[c] = true
	}
	return l, nil
}

// extras returns the extra columns of writer schema id, in field order.
func (l *journeyLayouts) extras(ctx context.Context, id int) ([]extraColumn, error) {
	l.mu.Lock()
	cols, ok := l.byID[id]
	l.mu.Unlock()
	if ok {
		return cols, nil
	}
	text, err := l.serde.Schema(ctx, id)
	if err != nil {
		return nil, err
	}
	top, ev, err := journeyFields(text)
	if err != nil {
		return nil, fmt.Errorf("writer schema %d: %w", id, err)
	}
	seen := map[string]bool{}
	add := func(f avroField, inEvent bool) {
		if l.fixed[f.Name] || seen[f.Name] {
			return // a fixed column already holds it (or the name is taken)
		}
		seen[f.Name] = true
		c := columnFor(f.Type)
		c.name, c.inEvent = f.Name, inEvent
		cols = append(cols, c)
	}
	for _, f := range top {
		if !l.knownJourney[f.Name] {
			add(f, false)
		}
	}
	for _, f := range ev {
		if !l.knownEvent[f.Name] {
			add(f, true)
		}
	}
	l.mu.Lock()
	l.byID[id] = cols
	l.mu.Unlock()
	return cols, nil
}

// extraValues reads the extra fields of one record.
func extraValues(cols []extraColumn, native any) map[string]any {
	if len(cols) == 0 {
		return nil
	}
	top, _ := native.(map[string]any)
	ev, _ := top["event"].(map[string]any)
	out := make(map[string]any, len(cols))
	for _, c := range cols {
		src := top
		if c.inEvent {
			src = ev
		}
		v := src[c.name]
		if c.union {
			v = unwrapUnion(v)
		}
		if v == nil {
			out[c.name] = c.zero
			continue
		}
		out[c.name] = c.convert(v)
	}
	return out
}

// withExtras returns the column list and rows of a journey batch with the
// union of its extra columns appended (sorted by name), each row filled with
// its own values or the column's zero.
func withExtras(base []string, rows [][]any, extras []map[string]any, types map[string]extraColumn) ([]string, [][]any) {
	var names []string
	for name := range types {
		names = append(names, name)
	}
	if len(names) == 0 {
		return base, rows
	}
	sort.Strings(names)
	cols := append(append([]string(nil), base...), names...)
	out := make([][]any, len(rows))
	for i, row := range rows {
		r := make([]any, 0, len(cols))
		r = append(r, row...)
		for _, name := range names {
			var v any
			ok := false
			if i < len(extras) { // extras ends at the last row that has any
				v, ok = extras[i][name]
			}
			if !ok {
				v = types[name].zero
			}
			r = append(r, v)
		}
		out[i] = r
	}
	return cols, out
}

// avroField is the part of an Avro record field the sink reads.
type avroField struct {
	Name string          `json:"name"`
	Type json.RawMessage `json:"type"`
}

// journeyFields returns the fields of a cx.JourneyEvent schema and of its
// nested event record.
func journeyFields(schema string) (top, ev []avroField, err error) {
	var rec struct {
		Fields []avroField `json:"fields"`
	}
	if err := json.Unmarshal([]byte(schema), &rec); err != nil {
		return nil, nil, err
	}
	for _, f := range rec.Fields {
		if f.Name != "event" {
			continue
		}
		var inner struct {
			Fields []avroField `json:"fields"`
		}
		if err := json.Unmarshal(f.Type, &inner); err != nil || inner.Fields == nil {
			return nil, nil, fmt.Errorf("field event is not an inline record")
		}
		return rec.Fields, inner.Fields, nil
	}
	return nil, nil, fmt.Errorf("no field event")
}

// columnFor maps an Avro type to a ClickHouse column. Primitives keep their
// type (Nullable when the Avro type is a union with null), arrays of
// primitives become arrays, and anything else is stored as its JSON text.
func columnFor(t json.RawMessage) extraColumn {
	var union []json.RawMessage
	if json.Unmarshal(t, &union) == nil {
		var branches []json.RawMessage
		for _, b := range union {
			if string(b) != `"null"` {
				branches = append(branches, b)
			}
		}
		if len(branches) == 1 {
			c := columnFor(branches[0])
			c.union = true
			if len(branches) < len(union) && !isArray(c.chType) && c.chType != "String" {
				c.chType, c.zero = "Nullable("+c.chType+")", nil
			}
			return c
		}
		return jsonColumn()
	}
	var name string
	if json.Unmarshal(t, &name) == nil {
		return primitiveColumn(name)
	}
	var complexType struct {
		Type  string          `json:"type"`
		Items json.RawMessage `json:"items"`
	}
	if json.Unmarshal(t, &complexType) != nil {
		return jsonColumn()
	}
	switch complexType.Type {
	case "enum":
		return primitiveColumn("string")
	case "array":
		item := columnFor(complexType.Items)
		switch item.chType {
		case "String", "Int64", "Float64", "UInt8":
			return extraColumn{chType: "Array(" + item.chType + ")", zero: emptySlice(item.chType), convert: func(v any) any {
				return convertArray(item, v)
			}}
		}
		return jsonColumn()
	case "record", "map", "fixed":
		return jsonColumn()
	default: // a primitive spelled as {"type": "long", "logicalType": …}
		return primitiveColumn(complexType.Type)
	}
}

func primitiveColumn(name string) extraColumn {
	switch name {
	case "string":
		return extraColumn{chType: "String", zero: "", convert: func(v any) any { s, _ := v.(string); return s }}
	case "bytes":
		return extraColumn{chType: "String", zero: "", convert: func(v any) any { b, _ := v.([]byte); return string(b) }}
	case "int", "long":
		return extraColumn{chType: "Int64", zero: int64(0), convert: func(v any) any {
			switch n := v.(type) {
			case int32:
				return int64(n)
			case int64:
				return n
			}
			return int64(0)
		}}
	case "float", "double":
		return extraColumn{chType: "Float64", zero: float64(0), convert: func(v any) any {
			switch n := v.(type) {
			case float32:
				return float64(n)
			case float64:
				return n
			}
			return float64(0)
		}}
	case "boolean":
		return extraColumn{chType: "UInt8", zero: uint8(0), convert: func(v any) any {
			if b, _ := v.(bool); b {
				return uint8(1)
			}
			return uint8(0)
		}}
	}
	return jsonColumn() // a named type defined elsewhere in the schema
}

func jsonColumn() extraColumn {
	return extraColumn{chType: "String", zero: "", convert: func(v any) any {
		b, err := json.Marshal(avro.Plain(v))
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}}
}

func isArray(chType string) bool { return len(chType) > 6 && chType[:6] == "Array(" }

func emptySlice(chType string) any {
	switch chType {
	case "Int64":
		return []int64{}
	case "Float64":
		return []float64{}
	case "UInt8":
		return []uint8{}
	}
	return []string{}
}

func convertArray(item extraColumn, v any) any {
	in, _ := v.([]any)
	switch item.chType {
	case "Int64":
		out := make([]int64, len(in))
		for i, x := range in {
			out[i], _ = item.convert(x).(int64)
		}
		return out
	case "Float64":
		out := make([]float64, len(in))
		for i, x := range in {
			out[i], _ = item.convert(x).(float64)
		}
		return out
	case "UInt8":
		out := make([]uint8, len(in))
		for i, x := range in {
			out[i], _ = item.convert(x).(uint8)
		}
		return out
	}
	out := make([]string, len(in))
	for i, x := range in {
		out[i], _ = item.convert(x).(string)
	}
	return out
}

// unwrapUnion turns goavro's {"type": value} union form into the value.
func unwrapUnion(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, inner := range m {
			return inner
		}
	}
	return v
}
