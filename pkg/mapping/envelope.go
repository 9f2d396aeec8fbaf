package mapping

import (
	"encoding/json"
	"strconv"
)

// Envelope is the item the file importer hands ingest for source rows: their
// JSON objects under "$rows" and the file row number of the first under
// "$row", so that a dead letter shows where its rows came from:
//
//	{"$row":42,"$rows":[{"InvoiceNo":"536365",...},{"InvoiceNo":"536365",...}]}
//
// Decode maps an envelope like a single row, taking a group's event fields
// from its first row and one order item from each row.
func Envelope(firstRow int, rows []json.RawMessage) []byte {
	n := 32
	for _, r := range rows {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"`+KeyRow+`":`...)
	b = strconv.AppendInt(b, int64(firstRow), 10)
	b = append(b, `,"`+KeyRows+`":[`...)
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, "]}"...)
}

// ErrorEnvelope is an envelope that Decode rejects (mapping_failed) with msg:
// the importer's way to dead-letter rows it cannot place, such as the late
// rows of a group that was already sent.
func ErrorEnvelope(firstRow int, msg string, rows []json.RawMessage) []byte {
	b := Envelope(firstRow, rows)
	quoted, _ := json.Marshal(msg) // a string always marshals
	out := make([]byte, 0, len(b)+len(quoted)+16)
	out = append(out, `{"`+KeyError+`":`...)
	out = append(out, quoted...)
	out = append(out, ',')
	return append(out, b[1:]...)
}
