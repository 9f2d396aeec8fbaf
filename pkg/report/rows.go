package report

import (
	"fmt"
	"reflect"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// record is one result row by column name, each value as the driver scanned
// it into the column's own Go type. Reading by name through the accessors
// below, which convert any integer or float width, keeps the report working
// when a server version answers a column with another numeric type (UInt64
// on one, Int64 or Float64 on another).
type record map[string]any

// readAll reads every row of rows and closes it.
func readAll(rows driver.Rows) ([]record, error) {
	defer rows.Close()
	types := rows.ColumnTypes()
	names := rows.Columns()
	var out []record
	for rows.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scanning a row: %w", err)
		}
		r := make(record, len(names))
		for i, d := range dest {
			r[names[i]] = reflect.ValueOf(d).Elem().Interface()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading rows: %w", err)
	}
	return out, nil
}

// deref follows pointers (Nullable columns); nil for a NULL.
func deref(v any) any {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil
	}
	return rv.Interface()
}

// opt is the column as a number, nil for NULL or a non-number.
func (r record) opt(name string) *float64 {
	rv := reflect.ValueOf(deref(r[name]))
	var f float64
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f = float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f = float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		f = rv.Float()
	default:
		return nil
	}
	return &f
}

// num is the column as a number, 0 for NULL.
func (r record) num(name string) float64 {
	if f := r.opt(name); f != nil {
		return *f
	}
	return 0
}

// count is the column as an integer count.
func (r record) count(name string) int64 { return int64(r.num(name)) }

func (r record) str(name string) string {
	s, _ := deref(r[name]).(string)
	return s
}

func (r record) time(name string) time.Time {
	t, _ := deref(r[name]).(time.Time)
	return t.UTC()
}

func (r record) strs(name string) []string {
	s, _ := deref(r[name]).([]string)
	return s
}
