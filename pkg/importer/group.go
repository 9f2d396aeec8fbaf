package importer

import (
	"container/list"
	"encoding/json"
	"fmt"

	"github.com/cx360/cx360/pkg/mapping"
)

// grouper turns source rows into items for a mapped channel: each row in its
// own envelope, or, when the mapping groups rows, the rows of one key in one
// envelope. A group stays open while rows of its key keep arriving within the
// mapping's within_rows; it is sent once that many rows passed without one.
// A key that comes back after its group was sent is dead-lettered, since a
// second event with the same id would be taken for a duplicate and dropped.
type grouper struct {
	m        *mapping.Mapping
	group    *mapping.Group // nil: one row, one item
	open     map[string]*group
	byLast   *list.List          // open groups, least recently extended first
	sent     map[string]struct{} // keys of groups already sent
	lastRow  int
	pending  []item
	distinct bool

	duplicateRows int
}

type group struct {
	key      string
	firstRow int
	lastRow  int
	rows     []json.RawMessage
	dropped  int                 // duplicate rows left out
	seen     map[string]struct{} // rows' JSON, with distinct_rows
	elem     *list.Element
}

func newGrouper(m *mapping.Mapping) *grouper {
	g := &grouper{m: m, group: m.Group}
	if g.group != nil {
		g.open = map[string]*group{}
		g.byLast = list.New()
		g.sent = map[string]struct{}{}
		g.distinct = g.group.DistinctRows
	}
	return g
}

// add takes the next row and returns the items that are complete.
func (g *grouper) add(r row) []item {
	g.pending = g.pending[:0]
	g.lastRow = r.number
	switch {
	case r.obj == nil:
		// Not an object (a broken line): ingest rejects it as it is.
		g.pending = append(g.pending, item{raw: r.raw, rows: 1})
	case g.group == nil:
		g.pending = append(g.pending, item{raw: mapping.Envelope(r.number, []json.RawMessage{r.raw}), rows: 1})
	default:
		g.addToGroup(r)
	}
	if g.group != nil {
		g.closeBefore(r.number - g.group.WithinRows)
	}
	return g.pending
}

func (g *grouper) addToGroup(r row) {
	key, ok := g.m.GroupKey(r.obj)
	if !ok {
		// No key, or a row a rule rejects: alone, so it is dead-lettered alone.
		g.pending = append(g.pending, item{raw: mapping.Envelope(r.number, []json.RawMessage{r.raw}), rows: 1})
		return
	}
	if gr, ok := g.open[key]; ok {
		if g.distinct {
			if _, dup := gr.seen[string(r.raw)]; dup {
				g.duplicateRows++
				gr.dropped++
				gr.lastRow = r.number
				g.byLast.MoveToBack(gr.elem)
				return
			}
			gr.seen[string(r.raw)] = struct{}{}
		}
		gr.rows = append(gr.rows, r.raw)
		gr.lastRow = r.number
		g.byLast.MoveToBack(gr.elem)
		return
	}
	if _, late := g.sent[key]; late {
		msg := fmt.Sprintf("row of group %q arrived after the group was sent (more than group.within_rows = %d rows after its last row); raise within_rows or sort the file by %s",
			key, g.group.WithinRows, g.group.By)
		g.pending = append(g.pending, item{raw: mapping.ErrorEnvelope(r.number, msg, []json.RawMessage{r.raw}), rows: 1})
		return
	}
	gr := &group{key: key, firstRow: r.number, lastRow: r.number, rows: []json.RawMessage{r.raw}}
	if g.distinct {
		gr.seen = map[string]struct{}{string(r.raw): {}}
	}
	gr.elem = g.byLast.PushBack(gr)
	g.open[key] = gr
}

// closeBefore sends every open group whose last row is before row n.
func (g *grouper) closeBefore(n int) {
	for e := g.byLast.Front(); e != nil; e = g.byLast.Front() {
		gr := e.Value.(*group)
		if gr.lastRow >= n {
			return
		}
		g.send(gr)
	}
}

func (g *grouper) send(gr *group) {
	g.byLast.Remove(gr.elem)
	delete(g.open, gr.key)
	g.sent[gr.key] = struct{}{}
	g.pending = append(g.pending, item{raw: mapping.Envelope(gr.firstRow, gr.rows), rows: len(gr.rows) + gr.dropped})
}

// flush sends the groups still open at the end of the file.
func (g *grouper) flush() []item {
	g.pending = g.pending[:0]
	if g.group != nil {
		g.closeBefore(g.lastRow + 1)
	}
	return g.pending
}
