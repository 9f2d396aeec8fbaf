package marts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cx360/cx360/pkg/clickhouse/chdb"
	"github.com/cx360/cx360/pkg/marts"
	"github.com/cx360/cx360/schemas"
)

// TestMartsOnModernClickHouse checks the same migrations, fixture and exact
// answers on chDB (modern ClickHouse, 26.x): one dialect, one set of numbers.
// Queries with parameters run twice there: bound by the engine
// ({name:Type}, as modern clients send them) and as Query.Bind's literals.
func TestMartsOnModernClickHouse(t *testing.T) {
	e := chdb.New(t)
	ctx := testCtx(t)
	if v, err := e.Version(ctx); err == nil {
		t.Logf("chDB %s", v)
	}
	verify(t, engine{
		migrate: func(ctx context.Context) error {
			ms, err := schemas.ClickHouse()
			if err != nil {
				return err
			}
			for _, m := range ms {
				for _, st := range m.Statements {
					if err := e.Exec(ctx, st); err != nil {
						return fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
					}
				}
			}
			return nil
		},
		// chDB has no native-protocol batch: the fixture goes in as VALUES.
		load: func(ctx context.Context) error {
			for _, b := range marts.Batches() {
				if err := e.Exec(ctx, valuesInsert(b)); err != nil {
					return fmt.Errorf("loading %s: %w", b.Table, err)
				}
			}
			return nil
		},
		exec: e.Exec,
		query: func(ctx context.Context, sql string) ([]string, [][]string, error) {
			r, err := e.Query(ctx, sql)
			if err != nil {
				return nil, nil, err
			}
			return r.Columns, renderResult(r), nil
		},
		queryParams: func(ctx context.Context, sql string, params map[string]string) ([]string, [][]string, error) {
			r, err := e.QueryWithParams(ctx, sql, params)
			if err != nil {
				return nil, nil, err
			}
			return r.Columns, renderResult(r), nil
		},
	})
}

// valuesInsert writes a fixture batch as INSERT … VALUES.
func valuesInsert(b marts.Batch) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + b.Table + " (" + strings.Join(b.Columns, ", ") + ") VALUES ")
	for i, row := range b.Rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		vals := make([]string, len(row))
		for j, v := range row {
			vals[j] = sqlLiteral(v)
		}
		sb.WriteString("(" + strings.Join(vals, ", ") + ")")
	}
	return sb.String()
}

func sqlLiteral(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x) + "'"
	case *float64:
		if x == nil {
			return "NULL"
		}
		return strconv.FormatFloat(*x, 'f', -1, 64)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = sqlLiteral(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case time.Time:
		return "'" + x.UTC().Format(time.DateTime) + "'"
	default: // integers
		return fmt.Sprint(x)
	}
}

// renderResult writes chDB's values as marts.Render writes the native
// protocol's: its JSON numbers keep the engine's own text (66.67, 100).
func renderResult(r *chdb.Result) [][]string {
	out := [][]string{}
	for _, row := range r.Rows {
		vals := make([]string, len(row))
		for i, v := range row {
			vals[i] = jsonText(v)
		}
		out = append(out, vals)
	}
	return out
}

func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonText(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		return fmt.Sprint(x)
	}
}
