package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// RowError is a row that cannot be encoded for its columns: a Go value of the
// wrong type, an out-of-range value, or the wrong number of values. Nothing of its
// batch was written, and retrying the same row cannot succeed: it is a poison row.
type RowError struct {
	Row int // index in the rows passed to InsertBatch
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }

// InsertBatch writes rows into table (a name, or database.name) as one native
// batch: all of them or, on error, none. Each row holds one value per column, in
// the order of columns, as Go values clickhouse-go accepts for the column's type
// (int64 for Int64, uint8 for UInt8, float64, string, time.Time for DateTime,
// []string for Array(String), nil or a pointer for Nullable, …).
//
// A row that cannot be encoded fails the batch with a *RowError naming it: one
// with a value of the wrong type, or a time outside its Date or DateTime column's
// range (which clickhouse-go would write wrapped around). Server and network
// failures are classified by IsRetryable.
func (c *Client) InsertBatch(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	query, err := insertQuery(table, columns)
	if err != nil {
		return err
	}
	for i, row := range rows {
		if len(row) != len(columns) {
			return fmt.Errorf("clickhouse: insert into %s: %w", table,
				&RowError{Row: i, Err: fmt.Errorf("%d values for %d columns", len(row), len(columns))})
		}
	}
	batch, err := c.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("clickhouse: insert into %s: prepare: %w", table, err)
	}
	defer func() {
		if !batch.IsSent() {
			// Frees the connection; an aborted batch writes nothing.
			_ = batch.Abort()
		}
	}()
	checks := timeChecks(batch.Columns())
	for i, row := range rows {
		if err := checkTimes(row, checks); err != nil {
			return fmt.Errorf("clickhouse: insert into %s: %w", table, &RowError{Row: i, Err: err})
		}
		if err := batch.Append(row...); err != nil {
			return fmt.Errorf("clickhouse: insert into %s: %w", table, &RowError{Row: i, Err: err})
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: send %d rows: %w", table, len(rows), err)
	}
	return nil
}

// insertQuery builds `INSERT INTO table (columns)`, which clickhouse-go completes
// with FORMAT Native. Naming the columns is what makes batches work on 18.16
// (see compat.go).
func insertQuery(table string, columns []string) (string, error) {
	if len(columns) == 0 {
		return "", errors.New("clickhouse: insert: no columns named")
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	parts := strings.Split(table, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("clickhouse: insert: table %q: want name or database.name", table)
	}
	for i, part := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		if err := writeIdent(&b, part, false); err != nil {
			return "", fmt.Errorf("clickhouse: insert: table %q: %w", table, err)
		}
	}
	b.WriteString(" (")
	for i, col := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := writeIdent(&b, col, true); err != nil {
			return "", fmt.Errorf("clickhouse: insert into %s: column %q: %w", table, col, err)
		}
	}
	b.WriteByte(')')
	return b.String(), nil
}

// writeIdent writes name back-quoted. Names come from code and migrations, not
// from data, so only plain identifiers are accepted: nothing to escape, and
// nothing that clickhouse-go's INSERT parsing could misread. A column may contain
// dots, as the columns of a Nested structure do (props.key).
func writeIdent(b *strings.Builder, name string, dots bool) error {
	if name == "" {
		return errors.New("empty identifier")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(i > 0 && (c >= '0' && c <= '9' || dots && c == '.' && i < len(name)-1))
		if !ok {
			return fmt.Errorf("identifier %q: only letters, digits and _ are allowed", name)
		}
	}
	b.WriteByte('`')
	b.WriteString(name)
	b.WriteByte('`')
	return nil
}
