// Package mapping defines custom channels without Go code: a YAML file names the
// channel and says where, in the source item (a JSON object, or a CSV/TSV row
// whose columns are its keys), each part of a cx360 input event is found.
// Ingest loads every mapping in a directory at start; `cx360 import --mapping`
// reads files through one.
//
//	channel: chat
//	blocks: [call]               # optional context blocks besides order and survey
//	fields:
//	  event_id: id               # a source path (dots for nesting, numbers index arrays)
//	  type: {const: chat_message}
//	  timestamp: {path: ts, format: unix_s}
//	  identifiers.email: customer.email
//	  properties.topic: {path: topic, default: general}
//
// Beyond paths and constants a field can be a template ("walk-in-{InvoiceNo}"),
// a time composed of a date column and a clock-time column (with midnight
// rollover), or the total of the order's items; it can be conditional (when),
// have values that mean "absent" (null_if), normalisers (trim, lower, upper,
// integer), a value map and a time format. Rules reject source rows with a
// reason or set fields when a condition holds, and a group clause turns
// consecutive rows with the same key (an invoice's lines) into one event whose
// order items come from each row. See Field, Rule and Group.
//
// A mapped item becomes an ordinary input event and then takes exactly the path
// of a built-in channel's event: same validation, normalisation and errors.
package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	segjson "github.com/segmentio/encoding/json"
	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/event"
	"github.com/cx360/cx360/pkg/normalize"
)

// CodeRejectedByRule is the rejection code of a source row that a mapping rule
// rejects; the message is the rule's reason.
const CodeRejectedByRule = "rejected_by_rule"

// Keys of the envelope the file importer wraps source rows in (see Envelope).
const (
	KeyRows  = "$rows"  // the source rows of one item: one, or a group's
	KeyRow   = "$row"   // the 1-based number of the first row in its file
	KeyError = "$error" // a problem the importer found; the item is rejected with it
)

// Mapping is one custom channel's definition.
type Mapping struct {
	Channel string           `yaml:"channel"`
	Blocks  []string         `yaml:"blocks"`
	Group   *Group           `yaml:"group"`
	Rules   []Rule           `yaml:"rules"`
	Fields  map[string]Field `yaml:"fields"`

	file    string
	targets []*target // event-level fields, sorted by name
	items   []*target // order.items.<field>: one item per source row
	total   *target   // order.total from the items, when asked
	rules   []rule
	groupBy []string // source path of Group.By
}

// Field says where one target field's value comes from. Exactly one source:
// path, const, template, date and time, or items_total.
type Field struct {
	Path       string `yaml:"path"`        // source path, e.g. customer.email or lines.0.sku
	Const      any    `yaml:"const"`       // fixed value
	Template   string `yaml:"template"`    // text with {column} references, e.g. "walk-in-{InvoiceNo}"
	Date       string `yaml:"date"`        // with time: the column holding the date
	DateFormat string `yaml:"date_format"` // the date's pattern, e.g. YYMMDD (default YYYY-MM-DD)
	Time       string `yaml:"time"`        // with date: the column holding the clock time (H:MM[:SS])
	After      string `yaml:"after"`       // a clock-time column this time follows: earlier by over 12 h means the next day
	ItemsTotal bool   `yaml:"items_total"` // order.total only: the sum of quantity x price over the items

	When      Condition         `yaml:"when"`      // the field is set only when this holds
	NullIf    []string          `yaml:"null_if"`   // source values that mean "absent" (for date/time: the time's)
	Default   any               `yaml:"default"`   // used when the value is absent
	Normalize []string          `yaml:"normalize"` // in order: trim, lower, upper, integer
	Map       map[string]string `yaml:"map"`       // value → value; values not listed pass unchanged
	Format    string            `yaml:"format"`    // timestamps: unix_s, unix_ms or a pattern (DD/MM/YYYY hh:mm)
}

// UnmarshalYAML accepts a bare string as shorthand for {path: ...}.
func (f *Field) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Path = n.Value
		return nil
	}
	type plain Field
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*f = Field(p)
	return nil
}

// Rule rejects source rows, or sets fields of the event, when its condition
// holds. Reject rules are checked on every row; set rules on the first row of
// a group, and override the fields.
type Rule struct {
	When   Condition      `yaml:"when"`
	Reject string         `yaml:"reject"` // the reason, in the DLQ and the import summary
	Set    map[string]any `yaml:"set"`    // target field → constant
}

// Group makes one event of consecutive source rows with the same key, for file
// import: the event's fields come from the group's first row, and each row
// adds one order item. Rows of a key that reappears within WithinRows rows
// still join its group (exports interleave a few rows of neighbouring keys);
// a key that reappears later is rejected, never split silently into two
// events with one id.
type Group struct {
	By           string `yaml:"by"`            // the key column
	WithinRows   int    `yaml:"within_rows"`   // default 0: strictly consecutive
	DistinctRows bool   `yaml:"distinct_rows"` // drop rows identical to an earlier row of the group
}

type target struct {
	name    string
	path    []string // in the input event, e.g. ["identifiers", "email"]
	field   Field
	src     []string // source path, nil unless field.Path
	tmpl    *template
	clock   *clock
	when    *condition
	layout  string // Go layout for a pattern format
	numeric bool   // a number in the input event: numeric strings are converted
}

type rule struct {
	when   *condition
	reject string
	set    []setField
}

type setField struct {
	path  []string
	value any
}

var (
	channelPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	keyPattern     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	blockNames     = []string{"web", "app", "store", "call", "order", "survey"}
	itemFields     = []string{"sku", "quantity", "price"}
	numericTargets = []string{"order.total", "order.items.quantity", "order.items.price",
		"call.wait_seconds", "call.handle_seconds", "survey.score", "survey.scale_max"}
)

// Load reads and validates one mapping file.
func Load(file string) (*Mapping, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", file, err)
	}
	m.file = file
	return m, nil
}

// File is the file the mapping was loaded from ("" when parsed from bytes).
func (m *Mapping) File() string { return m.file }

// LoadDir loads the mappings of dirs: a directory (every *.yaml and *.yml file,
// sorted by name), a mapping file, or several of these separated by the OS's
// path-list separator (":" on Linux), as in PATH. A missing directory holds
// no mappings; a missing file is an error. A channel defined twice (by two
// files) is an error.
func LoadDir(dirs string) ([]*Mapping, error) {
	var out []*Mapping
	seen := map[string]string{}
	files := map[string]bool{} // absolute paths: a file named and also in a named dir loads once
	add := func(m *Mapping, file string) error {
		abs, err := filepath.Abs(m.file)
		if err != nil {
			return fmt.Errorf("mapping: %w", err)
		}
		if files[abs] {
			return nil
		}
		files[abs] = true
		if prev, dup := seen[m.Channel]; dup {
			return fmt.Errorf("mapping: channel %q defined by both %s and %s", m.Channel, prev, file)
		}
		seen[m.Channel] = file
		out = append(out, m)
		return nil
	}
	for _, dir := range filepath.SplitList(dirs) {
		if dir == "" {
			continue
		}
		st, err := os.Stat(dir)
		if os.IsNotExist(err) && !isMappingFile(dir) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mapping: %w", err)
		}
		if !st.IsDir() {
			m, err := Load(dir)
			if err != nil {
				return nil, err
			}
			if err := add(m, dir); err != nil {
				return nil, err
			}
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("mapping: reading %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() || !isMappingFile(e.Name()) {
				continue
			}
			m, err := Load(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			if err := add(m, e.Name()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func isMappingFile(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// Parse validates a mapping document.
func Parse(b []byte) (*Mapping, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var m Mapping
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if !channelPattern.MatchString(m.Channel) {
		return nil, fmt.Errorf("channel %q must be lower case letters, digits, _ or -, starting with a letter", m.Channel)
	}
	if _, builtin := event.BuiltinBlocks[m.Channel]; builtin {
		return nil, fmt.Errorf("channel %q is built in and cannot be redefined", m.Channel)
	}
	for _, b := range m.Blocks {
		if !slices.Contains(blockNames, b) {
			return nil, fmt.Errorf("unknown block %q (want one of %s)", b, strings.Join(blockNames, ", "))
		}
	}
	if len(m.Fields) == 0 {
		return nil, fmt.Errorf("no fields: a mapping needs at least type, timestamp and one identifier")
	}
	if g := m.Group; g != nil {
		if strings.TrimSpace(g.By) == "" || g.WithinRows < 0 {
			return nil, fmt.Errorf("group needs a key column (by) and within_rows of 0 or more")
		}
		m.groupBy = sourcePath(g.By)
	}
	names := make([]string, 0, len(m.Fields))
	for name := range m.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t, err := m.target(name, m.Fields[name])
		if err != nil {
			return nil, err
		}
		switch {
		case t.field.ItemsTotal:
			m.total = t
		case len(t.path) == 3:
			m.items = append(m.items, t)
		default:
			m.targets = append(m.targets, t)
		}
	}
	for _, required := range []string{"type", "timestamp"} {
		if _, ok := m.Fields[required]; !ok {
			return nil, fmt.Errorf("fields.%s is required", required)
		}
	}
	if m.total != nil && len(m.items) == 0 {
		return nil, fmt.Errorf("order.total: items_total needs order.items.quantity and order.items.price")
	}
	for i, r := range m.Rules {
		cr, err := m.rule(r)
		if err != nil {
			return nil, fmt.Errorf("rules[%d]: %w", i, err)
		}
		m.rules = append(m.rules, cr)
	}
	return &m, nil
}

func (m *Mapping) rule(r Rule) (rule, error) {
	when, err := compileCondition(r.When)
	if err != nil {
		return rule{}, fmt.Errorf("when: %w", err)
	}
	out := rule{when: when, reject: strings.TrimSpace(r.Reject)}
	if (out.reject == "") == (len(r.Set) == 0) {
		return rule{}, fmt.Errorf("needs exactly one of reject (a reason) or set")
	}
	names := make([]string, 0, len(r.Set))
	for name := range r.Set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := r.Set[name]
		if _, ok := text(v); !ok {
			return rule{}, fmt.Errorf("set %s: want a string, number or bool", name)
		}
		t, err := m.target(name, Field{Const: v})
		if err != nil {
			return rule{}, fmt.Errorf("set: %w", err)
		}
		if len(t.path) == 3 {
			return rule{}, fmt.Errorf("set %s: order items come from the rows, not from rules", name)
		}
		out.set = append(out.set, setField{path: t.path, value: v})
	}
	return out, nil
}

func (m *Mapping) target(name string, f Field) (*target, error) {
	parts := strings.Split(name, ".")
	switch {
	case len(parts) == 1 && slices.Contains([]string{"event_id", "type", "timestamp", "sent_at"}, parts[0]):
	case len(parts) == 2 && (parts[0] == "identifiers" || parts[0] == "properties") && keyPattern.MatchString(parts[1]):
	case len(parts) == 2 && slices.Contains(blockNames, parts[0]) && keyPattern.MatchString(parts[1]):
		if !m.allows(parts[0]) {
			return nil, fmt.Errorf("field %q needs %q in blocks", name, parts[0])
		}
	case len(parts) == 3 && parts[0] == "order" && parts[1] == "items" && slices.Contains(itemFields, parts[2]):
	default:
		return nil, fmt.Errorf("unknown target field %q (want event_id, type, timestamp, sent_at, identifiers.<type>, properties.<name>, <block>.<field> or order.items.<sku|quantity|price>)", name)
	}
	sources := 0
	for _, set := range []bool{f.Path != "", f.Const != nil, f.Template != "", f.Date != "" || f.Time != "", f.ItemsTotal} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, fmt.Errorf("field %q needs exactly one of path, const, template, date and time, or items_total", name)
	}
	t := &target{name: name, path: parts, field: f, numeric: slices.Contains(numericTargets, name)}
	var err error
	switch {
	case f.Path != "":
		t.src = sourcePath(f.Path)
	case f.Template != "":
		if t.tmpl, err = parseTemplate(f.Template); err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
	case f.Date != "" || f.Time != "":
		if t.clock, err = newClock(f); err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
	case f.ItemsTotal:
		if name != "order.total" {
			return nil, fmt.Errorf("field %q: items_total is for order.total", name)
		}
	}
	if f.After != "" && t.clock == nil {
		return nil, fmt.Errorf("field %q: after goes with date and time", name)
	}
	if f.DateFormat != "" && t.clock == nil {
		return nil, fmt.Errorf("field %q: date_format goes with date and time (a single column takes format)", name)
	}
	switch f.Format {
	case "", "unix_s", "unix_ms":
	default:
		if t.layout, err = goLayout(f.Format); err != nil {
			return nil, fmt.Errorf("field %q: format: %w (or unix_s, unix_ms)", name, err)
		}
	}
	for _, n := range f.Normalize {
		if _, ok := normalizers[n]; !ok {
			return nil, fmt.Errorf("field %q: unknown normaliser %q (want trim, lower, upper or integer)", name, n)
		}
	}
	if f.When != nil {
		if t.when, err = compileCondition(f.When); err != nil {
			return nil, fmt.Errorf("field %q: when: %w", name, err)
		}
	}
	return t, nil
}

func newClock(f Field) (*clock, error) {
	if f.Date == "" || f.Time == "" {
		return nil, fmt.Errorf("date and time go together")
	}
	pattern := f.DateFormat
	if pattern == "" {
		pattern = "YYYY-MM-DD"
	}
	layout, err := goLayout(pattern)
	if err != nil {
		return nil, fmt.Errorf("date_format: %w", err)
	}
	c := &clock{date: sourcePath(f.Date), time: sourcePath(f.Time), layout: layout, nullIf: f.NullIf}
	if f.After != "" {
		c.after = sourcePath(f.After)
	}
	return c, nil
}

func (m *Mapping) allows(block string) bool {
	return block == "order" || block == "survey" || slices.Contains(m.Blocks, block)
}

// EventBlocks is the set of context blocks the channel accepts.
func (m *Mapping) EventBlocks() event.Blocks {
	return event.Blocks{Web: m.allows("web"), App: m.allows("app"), Store: m.allows("store"), Call: m.allows("call")}
}

// Decode maps one source item to an input event. The item is a source object,
// or an envelope of source rows (Envelope): a group's event takes its fields
// from the first row and one order item from each row.
func (m *Mapping) Decode(raw []byte) (*event.Input, *event.Rejection) {
	if rej := event.CheckObject(raw); rej != nil {
		return nil, rej
	}
	// segmentio/encoding's parser: a mapped import decodes every source row
	// here, several times faster than encoding/json (see pkg/event).
	var src map[string]any
	rest, err := segjson.Parse(bytes.TrimSpace(raw), &src, segjson.UseNumber)
	if err != nil {
		return nil, &event.Rejection{Code: event.CodeInvalidJSON, Message: "item is not a valid JSON object: " + err.Error()}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, &event.Rejection{Code: event.CodeInvalidJSON, Message: "trailing data after the item"}
	}
	rows, rej := sourceRows(src)
	if rej != nil {
		return nil, rej
	}
	for _, row := range rows {
		if rej := m.RowRejection(row); rej != nil {
			return nil, rej
		}
	}
	head := rows[0]
	out := map[string]any{}
	for _, t := range m.targets {
		v, rej := t.value(head)
		if rej != nil {
			return nil, rej
		}
		if v != nil {
			set(out, t.path, v)
		}
	}
	if len(m.items) > 0 {
		items := make([]any, 0, len(rows))
		for _, row := range rows {
			item := map[string]any{}
			for _, t := range m.items {
				v, rej := t.value(row)
				if rej != nil {
					return nil, rej
				}
				if v != nil {
					item[t.path[2]] = v
				}
			}
			if len(item) > 0 {
				items = append(items, item)
			}
		}
		set(out, []string{"order", "items"}, items)
		if m.total != nil {
			total, rej := itemsTotal(items)
			if rej != nil {
				return nil, rej
			}
			set(out, m.total.path, total)
		}
	}
	if _, ok := out["event_id"]; !ok && src[KeyRows] != nil {
		if i := bytes.Index(raw, []byte(`"`+KeyRows+`":`)); i >= 0 {
			// Without a mapped event_id, ingest would hash the whole item, row
			// number included: the same rows at another place in another
			// export would get another id. Hash the rows alone instead.
			set(out, []string{"event_id"}, normalize.EventID(m.Channel, raw[i:]))
		}
	}
	for _, r := range m.rules {
		if r.set != nil && r.when.match(head) {
			for _, s := range r.set {
				set(out, s.path, s.value)
			}
		}
	}
	b, err := segjson.Append(make([]byte, 0, 256+len(raw)), out, 0)
	if err != nil {
		return nil, &event.Rejection{Code: event.CodeMappingFailed, Message: err.Error()}
	}
	return event.Decode(b)
}

// RowRejection is the rejection of the first reject rule that matches row, or nil.
func (m *Mapping) RowRejection(row map[string]any) *event.Rejection {
	for _, r := range m.rules {
		if r.reject != "" && r.when.match(row) {
			return &event.Rejection{Code: CodeRejectedByRule, Field: r.when.columns(), Message: r.reject}
		}
	}
	return nil
}

// GroupKey is the group row belongs to. ok is false when the mapping does not
// group rows, when the row has no key, or when a reject rule matches it: such
// a row is an item of its own (and a rejected one leaves no gap in its group).
func (m *Mapping) GroupKey(row map[string]any) (key string, ok bool) {
	if m.Group == nil || m.RowRejection(row) != nil {
		return "", false
	}
	key, ok = text(lookup(row, m.groupBy))
	return key, ok && key != ""
}

// sourceRows unwraps an envelope; any other object is a single row.
func sourceRows(src map[string]any) ([]map[string]any, *event.Rejection) {
	if msg, ok := src[KeyError].(string); ok {
		return nil, &event.Rejection{Code: event.CodeMappingFailed, Message: msg}
	}
	raw, ok := src[KeyRows]
	if !ok {
		return []map[string]any{src}, nil
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, &event.Rejection{Code: event.CodeMappingFailed, Field: KeyRows, Message: KeyRows + " must be a non-empty array of source rows"}
	}
	rows := make([]map[string]any, len(list))
	for i, r := range list {
		if rows[i], ok = r.(map[string]any); !ok {
			return nil, &event.Rejection{Code: event.CodeMappingFailed, Field: KeyRows, Message: fmt.Sprintf("%s[%d] is not an object", KeyRows, i)}
		}
	}
	return rows, nil
}

// value computes the target's value from one source row: nil when absent.
func (t *target) value(row map[string]any) (any, *event.Rejection) {
	f := &t.field
	if !t.when.match(row) {
		return nil, nil
	}
	var v any
	switch {
	case f.Const != nil:
		v = f.Const
	case t.src != nil:
		v = lookup(row, t.src)
	case t.tmpl != nil:
		v = t.tmpl.render(row)
	case t.clock != nil:
		var err error
		if v, err = t.clock.compose(row); err != nil {
			return nil, t.fail(err)
		}
	}
	if t.clock == nil && len(f.NullIf) > 0 {
		if s, ok := text(v); ok && slices.Contains(f.NullIf, s) {
			v = nil
		}
	}
	if v == nil {
		v = f.Default
	}
	if v == nil {
		return nil, nil
	}
	for _, n := range f.Normalize {
		var err error
		if v, err = normalizers[n](v); err != nil {
			return nil, t.fail(fmt.Errorf("%s: %w", n, err))
		}
		if v == nil {
			return nil, nil
		}
	}
	if f.Map != nil {
		if s, ok := text(v); ok {
			if to, ok := f.Map[s]; ok {
				v = to
			}
		}
	}
	if f.Format != "" {
		var err error
		if v, err = formatTime(v, f.Format, t.layout); err != nil {
			return nil, t.fail(err)
		}
	}
	if t.numeric {
		v = number(v)
	}
	return v, nil
}

func (t *target) fail(err error) *event.Rejection {
	from := t.field.Path
	switch {
	case t.field.Template != "":
		from = t.field.Template
	case t.clock != nil:
		from = t.field.Date + " " + t.field.Time
	}
	return &event.Rejection{Code: event.CodeMappingFailed, Field: t.name, Message: fmt.Sprintf("%s (from %s): %v", t.name, from, err)}
}

// itemsTotal is Σ quantity × price, rounded to 6 decimals so that float
// noise (0.1 × 3) does not show in totals.
func itemsTotal(items []any) (json.Number, *event.Rejection) {
	var sum float64
	for i, it := range items {
		item := it.(map[string]any)
		q, okQ := asFloat(item["quantity"])
		p, okP := asFloat(item["price"])
		if !okQ || !okP {
			return "", &event.Rejection{Code: event.CodeMappingFailed, Field: "order.total",
				Message: fmt.Sprintf("order.total (items_total): item %d has no numeric quantity and price", i)}
		}
		sum += q * p
	}
	return json.Number(strconv.FormatFloat(math.Round(sum*1e6)/1e6, 'f', -1, 64)), nil
}

func set(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
