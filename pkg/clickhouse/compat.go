package clickhouse

import (
	"errors"
	"regexp"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// What ClickHouse servers older than 19.x need, measured against Debian's 18.16
// with clickhouse-go v2.50 over the native protocol:
//
//   - A batch INSERT must name its columns. Asked for `INSERT INTO t FORMAT Native`,
//     18.16 answers with an empty header block and clickhouse-go then fails every
//     row with "expected 0 arguments, got N"; with `INSERT INTO t (a, b) FORMAT
//     Native` it answers the real header and the batch works for every type cx360
//     uses. InsertBatch always names the columns, on every server.
//   - Data inline in the query text (`INSERT … VALUES (…)` through Exec) never
//     completes on 18.16: the server answers with a header and waits for data
//     blocks that the client never sends, until its receive timeout (300 s). Exec
//     refuses such a query on these servers with ErrInlineInsert; InsertBatch
//     writes rows. `INSERT … SELECT` runs on the server and works.
//   - LowCardinality is experimental and needs allow_experimental_low_cardinality_type
//     (legacySettings turns it on for these servers only).
//   - The HTTP interface fails clickhouse-go's handshake (client_protocol_version),
//     so this package uses only the native protocol.
//
// Modern servers get none of this: legacySettings returns nil for them.

// legacyMajor is the first major version that needs no compatibility settings.
const legacyMajor = 19

// legacySettings returns the settings every query needs on a server older than
// 19.x, or nil for a modern server.
func legacySettings(v driver.ServerVersion) map[string]any {
	if !isLegacy(v) {
		return nil
	}
	return map[string]any{"allow_experimental_low_cardinality_type": 1}
}

// isLegacy reports whether v is a server older than 19.x.
func isLegacy(v driver.ServerVersion) bool {
	return v.Version.Major < legacyMajor
}

// ErrInlineInsert is returned by Exec, on servers older than 19.x only, for an
// INSERT whose data is inline in the query text, which such servers never finish.
var ErrInlineInsert = errors.New("clickhouse: INSERT with inline data (VALUES or FORMAT) does not complete on ClickHouse older than 19.x; use InsertBatch")

// inlineInsert matches an INSERT whose data follows the query (VALUES or FORMAT),
// as opposed to INSERT … SELECT. A query starting with a comment is not matched.
var inlineInsert = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+(?:TABLE\s+)?[^\s(]+\s*(?:\([^()]*\))?\s*(?:VALUES|FORMAT)\b`)

// checkExec returns ErrInlineInsert for a query an old server would hang on.
func checkExec(v driver.ServerVersion, query string) error {
	if isLegacy(v) && inlineInsert.MatchString(query) {
		return ErrInlineInsert
	}
	return nil
}
