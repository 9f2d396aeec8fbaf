// Package mapping defines custom channels without Go code: a YAML file names the
// channel and says where, in the source JSON, each part of a cx360 input event is
// found. Ingest loads every mapping in a directory at start.
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
// A mapped item becomes an ordinary input event and then takes exactly the path
// of a built-in channel's event: same validation, normalisation and errors.
package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/event"
)

// Mapping is one custom channel's definition.
type Mapping struct {
	Channel string           `yaml:"channel"`
	Blocks  []string         `yaml:"blocks"`
	Fields  map[string]Field `yaml:"fields"`

	file    string
	targets []target // sorted, validated Fields
}

// Field says where one target field's value comes from.
type Field struct {
	Path    string `yaml:"path"`    // source path, e.g. customer.email or lines.0.sku
	Const   any    `yaml:"const"`   // fixed value
	Default any    `yaml:"default"` // used when the path is absent or null
	Format  string `yaml:"format"`  // timestamps: "", unix_s or unix_ms
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

type target struct {
	path  []string // in the input event, e.g. ["identifiers", "email"]
	src   []string // in the source, nil for const
	field Field
}

var (
	channelPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	keyPattern     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	blockNames     = []string{"web", "app", "store", "call", "order", "survey"}
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

// LoadDir loads every *.yaml and *.yml file of dir, sorted by name. A missing
// directory holds no mappings.
func LoadDir(dir string) ([]*Mapping, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mapping: reading %s: %w", dir, err)
	}
	var out []*Mapping
	seen := map[string]string{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		m, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[m.Channel]; dup {
			return nil, fmt.Errorf("mapping: channel %q defined by both %s and %s", m.Channel, prev, e.Name())
		}
		seen[m.Channel] = e.Name()
		out = append(out, m)
	}
	return out, nil
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
		m.targets = append(m.targets, t)
	}
	for _, required := range []string{"type", "timestamp"} {
		if _, ok := m.Fields[required]; !ok {
			return nil, fmt.Errorf("fields.%s is required", required)
		}
	}
	return &m, nil
}

func (m *Mapping) target(name string, f Field) (target, error) {
	parts := strings.Split(name, ".")
	switch {
	case len(parts) == 1 && slices.Contains([]string{"event_id", "type", "timestamp", "sent_at"}, parts[0]):
	case len(parts) == 2 && (parts[0] == "identifiers" || parts[0] == "properties") && keyPattern.MatchString(parts[1]):
	case len(parts) == 2 && slices.Contains(blockNames, parts[0]) && keyPattern.MatchString(parts[1]):
		if !m.allows(parts[0]) {
			return target{}, fmt.Errorf("field %q needs %q in blocks", name, parts[0])
		}
	default:
		return target{}, fmt.Errorf("unknown target field %q (want event_id, type, timestamp, sent_at, identifiers.<type>, properties.<name> or <block>.<field>)", name)
	}
	if (f.Path == "") == (f.Const == nil) {
		return target{}, fmt.Errorf("field %q needs exactly one of path or const", name)
	}
	switch f.Format {
	case "", "unix_s", "unix_ms":
	default:
		return target{}, fmt.Errorf("field %q: unknown format %q (want unix_s or unix_ms)", name, f.Format)
	}
	t := target{path: parts, field: f}
	if f.Path != "" {
		t.src = strings.Split(strings.TrimPrefix(f.Path, "$."), ".")
	}
	return t, nil
}

func (m *Mapping) allows(block string) bool {
	return block == "order" || block == "survey" || slices.Contains(m.Blocks, block)
}

// EventBlocks is the set of context blocks the channel accepts.
func (m *Mapping) EventBlocks() event.Blocks {
	return event.Blocks{Web: m.allows("web"), App: m.allows("app"), Store: m.allows("store"), Call: m.allows("call")}
}

// Decode maps one source item to an input event.
func (m *Mapping) Decode(raw []byte) (*event.Input, *event.Rejection) {
	if rej := event.CheckObject(raw); rej != nil {
		return nil, rej
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var src map[string]any
	if err := dec.Decode(&src); err != nil {
		return nil, &event.Rejection{Code: event.CodeInvalidJSON, Message: "item is not a valid JSON object: " + err.Error()}
	}
	out := map[string]any{}
	for _, t := range m.targets {
		v := t.field.Const
		if t.src != nil {
			v = lookup(src, t.src)
		}
		if v == nil {
			v = t.field.Default
		}
		if v == nil {
			continue
		}
		if t.field.Format != "" {
			var err error
			if v, err = epochMillis(v, t.field.Format); err != nil {
				return nil, &event.Rejection{Code: event.CodeMappingFailed, Field: strings.Join(t.path, "."), Message: fmt.Sprintf("%s (from %s): %v", strings.Join(t.path, "."), t.field.Path, err)}
			}
		}
		set(out, t.path, v)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, &event.Rejection{Code: event.CodeMappingFailed, Message: err.Error()}
	}
	return event.Decode(b)
}

func lookup(v any, path []string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
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

func epochMillis(v any, format string) (json.Number, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return "", fmt.Errorf("want a number, got %T", v)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return "", fmt.Errorf("%q is not a number", s)
	}
	if format == "unix_s" {
		f *= 1000
	}
	return json.Number(strconv.FormatInt(int64(f), 10)), nil
}
