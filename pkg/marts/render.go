package marts

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Render reads every row of rows and writes each value as text, the same way
// on every server version: NULL for a null, a Date as 2006-01-02, a DateTime
// as 2006-01-02 15:04:05 (UTC), a float in its shortest form (66.67, 100),
// an array as [a,b]. It closes rows.
func Render(rows driver.Rows) (columns []string, values [][]string, err error) {
	defer rows.Close()
	types := rows.ColumnTypes()
	columns = rows.Columns()
	values = [][]string{}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("marts: scanning a row: %w", err)
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			row[i] = text(reflect.ValueOf(d).Elem(), types[i].DatabaseTypeName())
		}
		values = append(values, row)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("marts: reading rows: %w", err)
	}
	return columns, values, nil
}

// text writes one scanned value; dbType is its ClickHouse type, which tells
// a Date from a DateTime.
func text(v reflect.Value, dbType string) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		return text(v.Elem(), dbType)
	}
	switch x := v.Interface().(type) {
	case time.Time:
		if strings.Contains(dbType, "DateTime") {
			return x.UTC().Format(time.DateTime)
		}
		return x.UTC().Format(time.DateOnly)
	case string:
		return x
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		elem := strings.TrimSuffix(strings.TrimPrefix(dbType, "Array("), ")")
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = text(v.Index(i), elem)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		return fmt.Sprint(v.Interface())
	}
}
