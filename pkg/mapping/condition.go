package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Condition is a `when:` clause: source columns (paths) and a test for each;
// it holds when every test holds.
//
//	when: {InvoiceNo: {prefix: C}}
//	when: {UnitPrice: {eq: 0}, CustomerID: {empty: true}}
type Condition map[string]Test

// Test is what one source value must satisfy. Every operator given must hold.
// Text operators compare the value as written (a CSV cell, a JSON string or a
// number's text); numeric operators hold only for a value that is a number.
// An absent value is empty, equals nothing and is in no list.
type Test struct {
	Equals    *string  `yaml:"equals"`
	NotEquals *string  `yaml:"not_equals"`
	In        []string `yaml:"in"`
	NotIn     []string `yaml:"not_in"`
	Prefix    *string  `yaml:"prefix"`
	Regex     string   `yaml:"regex"`
	Empty     *bool    `yaml:"empty"` // true: absent or blank; false: has a non-blank value
	Eq        *float64 `yaml:"eq"`
	Ne        *float64 `yaml:"ne"`
	Lt        *float64 `yaml:"lt"`
	Le        *float64 `yaml:"le"`
	Gt        *float64 `yaml:"gt"`
	Ge        *float64 `yaml:"ge"`
}

// condition is a compiled Condition, its checks in column order.
type condition struct {
	checks []check
}

type check struct {
	column string
	path   []string
	test   Test
	re     *regexp.Regexp
}

func compileCondition(c Condition) (*condition, error) {
	if len(c) == 0 {
		return nil, fmt.Errorf("an empty condition (want column: {test})")
	}
	columns := make([]string, 0, len(c))
	for col := range c {
		columns = append(columns, col)
	}
	sort.Strings(columns)
	out := &condition{}
	for _, col := range columns {
		t := c[col]
		ch := check{column: col, path: sourcePath(col), test: t}
		if t.Regex != "" {
			re, err := regexp.Compile(t.Regex)
			if err != nil {
				return nil, fmt.Errorf("column %q: regex: %w", col, err)
			}
			ch.re = re
		}
		if t.Equals == nil && t.NotEquals == nil && t.In == nil && t.NotIn == nil && t.Prefix == nil && t.Regex == "" &&
			t.Empty == nil && t.Eq == nil && t.Ne == nil && t.Lt == nil && t.Le == nil && t.Gt == nil && t.Ge == nil {
			return nil, fmt.Errorf("column %q: no test (want equals, not_equals, in, not_in, prefix, regex, empty, eq, ne, lt, le, gt or ge)", col)
		}
		out.checks = append(out.checks, ch)
	}
	return out, nil
}

// match reports whether every check holds for row. A nil condition holds.
func (c *condition) match(row map[string]any) bool {
	if c == nil {
		return true
	}
	for i := range c.checks {
		if !c.checks[i].match(row) {
			return false
		}
	}
	return true
}

// columns names the columns the condition reads, for messages.
func (c *condition) columns() string {
	names := make([]string, len(c.checks))
	for i, ch := range c.checks {
		names[i] = ch.column
	}
	return strings.Join(names, ",")
}

func (ch *check) match(row map[string]any) bool {
	s, present := text(lookup(row, ch.path))
	t := &ch.test
	if t.Empty != nil && *t.Empty != (strings.TrimSpace(s) == "") {
		return false
	}
	if t.Equals != nil && (!present || s != *t.Equals) {
		return false
	}
	if t.NotEquals != nil && present && s == *t.NotEquals {
		return false
	}
	if t.In != nil && (!present || !slices.Contains(t.In, s)) {
		return false
	}
	if t.NotIn != nil && present && slices.Contains(t.NotIn, s) {
		return false
	}
	if t.Prefix != nil && (!present || !strings.HasPrefix(s, *t.Prefix)) {
		return false
	}
	if ch.re != nil && (!present || !ch.re.MatchString(s)) {
		return false
	}
	if t.Eq == nil && t.Ne == nil && t.Lt == nil && t.Le == nil && t.Gt == nil && t.Ge == nil {
		return true
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if !present || err != nil {
		return false
	}
	return (t.Eq == nil || f == *t.Eq) && (t.Ne == nil || f != *t.Ne) &&
		(t.Lt == nil || f < *t.Lt) && (t.Le == nil || f <= *t.Le) &&
		(t.Gt == nil || f > *t.Gt) && (t.Ge == nil || f >= *t.Ge)
}
