package stage

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cx360/cx360/pkg/identity"
)

var errNoSnapshot = errors.New("no snapshot yet")

// snapshotStore keeps the latest graph snapshot in one file, replaced
// atomically (write to a temporary file, fsync, rename, fsync the directory):
// a crash at any moment leaves either the old snapshot or the new one.
type snapshotStore struct {
	dir  string
	path string
}

const snapshotFile = "graph.snapshot"

func openSnapshotStore(dir string) (*snapshotStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("identity: data dir: %w", err)
	}
	return &snapshotStore{dir: dir, path: filepath.Join(dir, snapshotFile)}, nil
}

// header precedes the graph: the input offsets the graph covers.
type header struct {
	Version int           `json:"version"`
	Offsets map[int]int64 `json:"offsets"` // next offset per cx.events partition
	// ChangesEnd is where cx.identity.changes ended when the snapshot was
	// taken: the changes after it were published by an instance that went
	// on past this snapshot, and a successor reasserts the ids they name.
	// Absent in snapshots written before it existed (then: from the start).
	ChangesEnd map[int]int64 `json:"changes_end,omitempty"`
}

func (s *snapshotStore) save(g *identity.Graph, offsets, changesEnd map[int]int64) error {
	tmp, err := os.CreateTemp(s.dir, ".snapshot-*")
	if err != nil {
		return fmt.Errorf("identity: snapshot: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	w := bufio.NewWriterSize(tmp, 1<<20)
	h, err := json.Marshal(header{Version: 1, Offsets: offsets, ChangesEnd: changesEnd})
	if err == nil {
		_, err = w.Write(append(h, '\n'))
	}
	if err == nil {
		err = g.Save(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("identity: snapshot: %w", err)
	}
	return nil
}

// load returns the saved graph and its header.
func (s *snapshotStore) load(rules identity.Rules) (*identity.Graph, header, error) {
	f, err := os.Open(s.path)
	if os.IsNotExist(err) {
		return nil, header{}, errNoSnapshot
	}
	if err != nil {
		return nil, header{}, fmt.Errorf("identity: snapshot: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, header{}, fmt.Errorf("identity: snapshot %s: reading header: %w", s.path, err)
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil || h.Version != 1 {
		return nil, header{}, fmt.Errorf("identity: snapshot %s: bad header (version %d): %v", s.path, h.Version, err)
	}
	g, err := identity.Load(r, rules)
	if err != nil {
		return nil, header{}, fmt.Errorf("identity: snapshot %s: %w", s.path, err)
	}
	if h.Offsets == nil {
		h.Offsets = map[int]int64{}
	}
	return g, h, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
