package clickhouse

import (
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// clickhouse-go encodes a time outside the range of a Date or DateTime column
// without complaint, truncated to the column's width: a time before 1970 or the
// zero time.Time lands in the table as some unrelated date. InsertBatch rejects
// such a row as a *RowError instead.
var (
	// DateTime is UInt32 seconds since the epoch.
	dateTimeRange = timeRange{"DateTime", time.Unix(0, 0), time.Unix(1<<32-1, 0)}
	// Date is UInt16 days since the epoch; any time on the last day fits.
	dateRange = timeRange{"Date", time.Unix(0, 0), time.Unix(1<<16*86400-1, 0)}
)

type timeRange struct {
	typ      string
	min, max time.Time
}

// timeCheck is one column whose time values need a range check.
type timeCheck struct {
	index int
	timeRange
}

// timeChecks returns the columns of a batch that hold Date or DateTime values,
// plain or Nullable.
func timeChecks(columns []column.Interface) []timeCheck {
	var checks []timeCheck
	for i, col := range columns {
		t := string(col.Type())
		if inner, ok := strings.CutPrefix(t, "Nullable("); ok {
			t = strings.TrimSuffix(inner, ")")
		}
		switch {
		case t == "DateTime" || strings.HasPrefix(t, "DateTime("):
			checks = append(checks, timeCheck{i, dateTimeRange})
		case t == "Date":
			checks = append(checks, timeCheck{i, dateRange})
		}
	}
	return checks
}

// checkTimes returns an error if a time.Time in row falls outside its column's range.
func checkTimes(row []any, checks []timeCheck) error {
	for _, c := range checks {
		var t time.Time
		switch v := row[c.index].(type) {
		case time.Time:
			t = v
		case *time.Time:
			if v == nil {
				continue
			}
			t = *v
		default:
			continue // other Go types are clickhouse-go's to accept or reject
		}
		// Date and DateTime keep whole seconds: a fraction below max is still in range.
		if t.Before(c.min) || t.Truncate(time.Second).After(c.max) {
			return fmt.Errorf("column %d: %s outside the range of %s (%s to %s)",
				c.index, t.UTC().Format(time.RFC3339), c.typ, c.min.UTC().Format(time.DateOnly), c.max.UTC().Format(time.DateTime))
		}
	}
	return nil
}
