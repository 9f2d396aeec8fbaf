// Package schemas embeds cx360's public contract: the Avro schemas of every topic
// and the ClickHouse migrations. The .avsc files are the source of truth; Go code
// never restates them.
package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Full names of the Avro records carried on cx360's topics.
const (
	Event           = "cx.Event"
	DeadLetter      = "cx.DeadLetter"
	JourneyEvent    = "cx.JourneyEvent"
	CustomerProfile = "cx.CustomerProfile"
	IdentityChange  = "cx.IdentityChange"
)

// TopLevel lists the schemas that are registered as topic values.
var TopLevel = []string{Event, DeadLetter, JourneyEvent, CustomerProfile, IdentityChange}

//go:embed avro/*.avsc
var avroFiles embed.FS

// Avro returns the self-contained JSON text of the named schema (e.g. "cx.Event").
//
// Files may refer to records defined in other files by full name ("cx.Identifier");
// the first reference is replaced by the definition so that every registered schema
// stands alone, as plain Avro consumers (and registries without references) expect.
func Avro(name string) (string, error) {
	defs, err := loadDefinitions(avroFiles)
	if err != nil {
		return "", err
	}
	return resolve(defs, name)
}

// MustAvro is Avro for names known at compile time; the embedded files are
// checked by the package tests, so a failure here is a build defect.
func MustAvro(name string) string {
	s, err := Avro(name)
	if err != nil {
		panic(err)
	}
	return s
}

func resolve(defs map[string]any, name string) (string, error) {
	def, ok := defs[name]
	if !ok {
		return "", fmt.Errorf("schemas: no Avro schema named %q", name)
	}
	r := resolver{defs: defs, defined: map[string]bool{}}
	out, err := r.inline(def, "cx")
	if err != nil {
		return "", fmt.Errorf("schemas: resolving %s: %w", name, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("schemas: encoding %s: %w", name, err)
	}
	return string(b), nil
}

// loadDefinitions reads every .avsc file and indexes its top-level record by full name.
func loadDefinitions(fsys fs.FS) (map[string]any, error) {
	files, err := fs.Glob(fsys, "avro/*.avsc")
	if err != nil {
		return nil, fmt.Errorf("schemas: listing: %w", err)
	}
	sort.Strings(files)
	defs := make(map[string]any, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("schemas: reading %s: %w", f, err)
		}
		var def map[string]any
		if err := json.Unmarshal(b, &def); err != nil {
			return nil, fmt.Errorf("schemas: parsing %s: %w", path.Base(f), err)
		}
		name := fullName(def, "")
		if name == "" {
			return nil, fmt.Errorf("schemas: %s has no named top-level type", path.Base(f))
		}
		if _, dup := defs[name]; dup {
			return nil, fmt.Errorf("schemas: %s defined twice (%s)", name, path.Base(f))
		}
		defs[name] = def
	}
	return defs, nil
}

type resolver struct {
	defs    map[string]any
	defined map[string]bool
}

// inline walks a schema node, replacing the first reference to each file-level
// definition with the definition itself. Avro forbids defining a name twice, so
// later references stay as names.
func (r *resolver) inline(node any, ns string) (any, error) {
	switch n := node.(type) {
	case string:
		full := n
		if !strings.Contains(n, ".") {
			full = ns + "." + n
		}
		def, ok := r.defs[full]
		if !ok || r.defined[full] {
			return n, nil
		}
		return r.inline(def, ns)
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			x, err := r.inline(v, ns)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, v := range n {
			out[k] = v
		}
		if name := fullName(n, ns); name != "" {
			if r.defined[name] {
				return nil, fmt.Errorf("%s defined twice", name)
			}
			r.defined[name] = true
			ns = name[:strings.LastIndex(name, ".")]
		}
		for _, key := range []string{"type", "items", "values"} {
			if v, ok := n[key]; ok {
				x, err := r.inline(v, ns)
				if err != nil {
					return nil, err
				}
				out[key] = x
			}
		}
		if fields, ok := n["fields"].([]any); ok {
			outFields := make([]any, len(fields))
			for i, f := range fields {
				x, err := r.inline(f, ns)
				if err != nil {
					return nil, err
				}
				outFields[i] = x
			}
			out["fields"] = outFields
		}
		return out, nil
	default:
		return node, nil
	}
}

// fullName returns the full name of a named type definition (record, enum, fixed), or "".
func fullName(def map[string]any, ns string) string {
	switch def["type"] {
	case "record", "enum", "fixed":
	default:
		return ""
	}
	name, _ := def["name"].(string)
	if name == "" {
		return ""
	}
	if strings.Contains(name, ".") {
		return name
	}
	if n, ok := def["namespace"].(string); ok && n != "" {
		ns = n
	}
	if ns == "" {
		return name
	}
	return ns + "." + name
}

//go:embed clickhouse/*.sql
var clickhouseFiles embed.FS

// Migration is one versioned ClickHouse migration file, split into statements.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// ClickHouse returns the ClickHouse migrations in version order. Files are
// named NNN_name.sql; statements end with ';' at the end of a line, and
// '--' comment lines are dropped (the native protocol runs one statement at a time).
func ClickHouse() ([]Migration, error) {
	files, err := fs.Glob(clickhouseFiles, "clickhouse/*.sql")
	if err != nil {
		return nil, fmt.Errorf("schemas: listing migrations: %w", err)
	}
	sort.Strings(files)
	out := make([]Migration, 0, len(files))
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("schemas: migration %s is not named NNN_name.sql", f)
		}
		if len(out) > 0 && out[len(out)-1].Version >= v {
			return nil, fmt.Errorf("schemas: migration %s repeats or reorders version %d", f, v)
		}
		b, err := fs.ReadFile(clickhouseFiles, f)
		if err != nil {
			return nil, fmt.Errorf("schemas: reading %s: %w", f, err)
		}
		out = append(out, Migration{Version: v, Name: name, Statements: splitStatements(string(b))})
	}
	return out, nil
}

func splitStatements(sql string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			stmts = append(stmts, stmt)
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		stmts = append(stmts, rest)
	}
	return stmts
}
