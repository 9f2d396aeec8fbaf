package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
)

// logFileName is the append-only log, one JSON record a line, inside the data dir.
const logFileName = "registry.jsonl"

// Record kinds in the log.
const (
	opSchema      = "schema"       // a new subject version
	opConfig      = "config"       // a compatibility level; empty Subject means global
	opConfigReset = "config-reset" // a subject's own level removed, back to global
)

// record is one line of the log: every change the registry has acknowledged.
type record struct {
	Op      string                `json:"op"`
	Subject string                `json:"subject,omitempty"`
	Version int                   `json:"version,omitempty"`
	ID      int                   `json:"id,omitempty"`
	Schema  *sr.Schema            `json:"schema,omitempty"`
	Level   sr.CompatibilityLevel `json:"compatibility,omitempty"`
}

var errStoreClosed = errors.New("registry store is closed")

// store appends records to the log, fsyncing each before the change is
// acknowledged to the client.
type store struct {
	path string
	f    *os.File
	// err is sticky: after a failed write the log may lack a record the
	// in-memory registry already holds, so later writes are refused rather
	// than building on a log that no longer matches.
	err error
}

// openStore creates dir if needed, reads every record in its log and leaves
// the log open for appending.
func openStore(dir string, logger *zap.Logger) (*store, []record, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("create registry data dir: %w", err)
	}
	path := filepath.Join(dir, logFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open registry log: %w", err)
	}
	records, keep, err := readLog(f, path, logger)
	if err == nil {
		err = truncateTail(f, keep)
	}
	if err == nil {
		// Make the log's directory entry durable when the file was just created.
		err = syncDir(dir)
	}
	if err != nil {
		return nil, nil, errors.Join(err, f.Close())
	}
	return &store{path: path, f: f}, records, nil
}

// readLog parses the whole log and returns its records and the length of the
// part to keep. Only the final line may be bad: a crash mid-append leaves a
// line without its newline (never acknowledged, since the reply waits for the
// fsync) or with garbage, and that line is dropped. A bad line anywhere else
// means the log is corrupt, and guessing would serve wrong ids.
func readLog(f *os.File, path string, logger *zap.Logger) ([]record, int64, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read registry log: %w", err)
	}
	var records []record
	for off, line := 0, 1; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		next := off + end + 1
		if end < 0 {
			next = len(data)
		}
		var rec record
		err := json.Unmarshal(bytes.TrimSuffix(data[off:next], []byte("\n")), &rec)
		if end < 0 && err == nil {
			err = errors.New("record has no newline")
		}
		if err != nil {
			if next < len(data) {
				return nil, 0, fmt.Errorf("registry log %s is corrupt at line %d: %w", path, line, err)
			}
			logger.Warn("dropping torn final record of the registry log (crash during a write?)",
				zap.String("path", path), zap.Int("line", line), zap.Error(err))
			return records, int64(off), nil
		}
		records = append(records, rec)
		off = next
	}
	return records, int64(len(data)), nil
}

// truncateTail cuts a dropped torn line so the next append starts on a fresh line.
func truncateTail(f *os.File, keep int64) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat registry log: %w", err)
	}
	if info.Size() == keep {
		return nil
	}
	if err := f.Truncate(keep); err != nil {
		return fmt.Errorf("truncate torn registry log record: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync registry log: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open registry data dir: %w", err)
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync registry data dir: %w", err), d.Close())
	}
	return d.Close()
}

// append writes rec as one line and fsyncs it.
func (s *store) append(rec record) error {
	if s.err != nil {
		return s.err
	}
	if s.f == nil {
		return errStoreClosed
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode registry record: %w", err)
	}
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		s.err = fmt.Errorf("write registry log %s: %w", s.path, err)
		return s.err
	}
	if err := s.f.Sync(); err != nil {
		s.err = fmt.Errorf("sync registry log %s: %w", s.path, err)
		return s.err
	}
	return nil
}

// close closes the log; later appends fail with errStoreClosed.
func (s *store) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close registry log: %w", err)
	}
	return nil
}
