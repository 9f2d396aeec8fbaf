package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed clickhouse/queries/*.sql
var queryFiles embed.FS

// Query is one documented analyst question over the CX marts, a file
// clickhouse/queries/NAME.sql that starts with a comment header:
//
//	-- Question: the question, in the analyst's words
//	-- Answer:   what each column of the result means
//	-- Notes:    definitions and caveats
//	-- Example:  name=value for each parameter (optional without parameters)
//
// A header line that starts with "--" and no new label continues the section
// before it. Parameters use ClickHouse's query-parameter syntax,
// {name:Type}; Bind substitutes literals for servers without it (18.16).
type Query struct {
	Name     string            // file name without .sql
	Question string            // one paragraph
	Answer   string            // lines joined with "\n"
	Notes    string            // lines joined with "\n"
	Example  map[string]string // a value for each parameter
	Params   []Param           // in order of first use
	SQL      string            // the statement after the header, without a trailing ';'
}

// Param is a {name:Type} placeholder of a Query.
type Param struct {
	Name string
	Type string
}

var (
	placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}`)
	headerLabel = regexp.MustCompile(`^--\s*(Question|Answer|Notes|Example):\s?(.*)$`)
)

// Queries returns the example queries in name order. A file without a
// question, answer or notes, without an example value for a parameter, or with
// more than one statement is an error: the files are documentation first.
func Queries() ([]Query, error) {
	files, err := fs.Glob(queryFiles, "clickhouse/queries/*.sql")
	if err != nil {
		return nil, fmt.Errorf("schemas: listing queries: %w", err)
	}
	sort.Strings(files)
	out := make([]Query, 0, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(queryFiles, f)
		if err != nil {
			return nil, fmt.Errorf("schemas: reading %s: %w", f, err)
		}
		q, err := parseQuery(strings.TrimSuffix(path.Base(f), ".sql"), string(b))
		if err != nil {
			return nil, fmt.Errorf("schemas: query %s: %w", path.Base(f), err)
		}
		out = append(out, q)
	}
	return out, nil
}

func parseQuery(name, text string) (Query, error) {
	q := Query{Name: name, Example: map[string]string{}}
	sections := map[string][]string{}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	label, i := "", 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "--") {
			break
		}
		if m := headerLabel.FindStringSubmatch(line); m != nil {
			label = m[1]
			sections[label] = append(sections[label], strings.TrimSpace(m[2]))
			continue
		}
		if label == "" {
			return q, fmt.Errorf("header line %q comes before -- Question:", line)
		}
		sections[label] = append(sections[label], strings.TrimSpace(strings.TrimPrefix(line, "--")))
	}
	q.Question = strings.Join(nonEmpty(sections["Question"]), " ")
	q.Answer = strings.Join(nonEmpty(sections["Answer"]), "\n")
	q.Notes = strings.Join(nonEmpty(sections["Notes"]), "\n")
	if q.Question == "" || q.Answer == "" || q.Notes == "" {
		return q, fmt.Errorf("the header needs -- Question:, -- Answer: and -- Notes:")
	}
	for _, pair := range strings.Fields(strings.Join(sections["Example"], " ")) {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return q, fmt.Errorf("example %q is not name=value", pair)
		}
		q.Example[k] = v
	}
	q.SQL = strings.TrimSpace(strings.Join(lines[i:], "\n"))
	q.SQL = strings.TrimSpace(strings.TrimSuffix(q.SQL, ";"))
	if q.SQL == "" {
		return q, fmt.Errorf("no statement after the header")
	}
	if strings.Contains(q.SQL, ";") {
		return q, fmt.Errorf("more than one statement (a ';' before the end)")
	}
	seen := map[string]string{}
	for _, m := range placeholder.FindAllStringSubmatch(q.SQL, -1) {
		name, typ := m[1], strings.TrimSpace(m[2])
		if prev, ok := seen[name]; ok {
			if prev != typ {
				return q, fmt.Errorf("parameter %s has two types, %s and %s", name, prev, typ)
			}
			continue
		}
		seen[name] = typ
		q.Params = append(q.Params, Param{Name: name, Type: typ})
		if _, ok := q.Example[name]; !ok {
			return q, fmt.Errorf("parameter %s has no -- Example: value", name)
		}
	}
	return q, nil
}

func nonEmpty(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Bind returns the query with each {name:Type} placeholder replaced by the
// literal of values[name], for servers without query parameters (ClickHouse
// 18.16) and clients that do not send them. Integers and floats are checked
// and written bare (so they may stand in LIMIT), strings are quoted, and
// other types are written as CAST('value' AS Type).
func (q Query) Bind(values map[string]string) (string, error) {
	var bindErr error
	out := placeholder.ReplaceAllStringFunc(q.SQL, func(ph string) string {
		m := placeholder.FindStringSubmatch(ph)
		name, typ := m[1], strings.TrimSpace(m[2])
		v, ok := values[name]
		if !ok {
			if bindErr == nil {
				bindErr = fmt.Errorf("schemas: query %s: no value for parameter %s", q.Name, name)
			}
			return ph
		}
		lit, err := literal(typ, v)
		if err != nil && bindErr == nil {
			bindErr = fmt.Errorf("schemas: query %s: parameter %s: %w", q.Name, name, err)
		}
		return lit
	})
	if bindErr != nil {
		return "", bindErr
	}
	return out, nil
}

// literal writes v as a ClickHouse literal of type typ.
func literal(typ, v string) (string, error) {
	switch {
	case typ == "String":
		return quote(v), nil
	case strings.HasPrefix(typ, "Int") || strings.HasPrefix(typ, "UInt"):
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			if _, err := strconv.ParseUint(v, 10, 64); err != nil {
				return "", fmt.Errorf("%q is not an integer", v)
			}
		}
		return v, nil
	case strings.HasPrefix(typ, "Float"):
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "", fmt.Errorf("%q is not a number", v)
		}
		return v, nil
	default:
		return "CAST(" + quote(v) + " AS " + typ + ")", nil
	}
}

// quote writes s as a single-quoted ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
