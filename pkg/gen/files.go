package gen

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FileInfo is one file WriteFiles wrote.
type FileInfo struct {
	Channel string
	Path    string
	Records int
}

// WriteFiles writes the records as NDJSON, one file per channel
// (DIR/<channel>.ndjson) in send order, ready for
// `cx360 import --channel <channel> DIR/<channel>.ndjson`. Bad records are
// lines like any other (the importer rejects them into the DLQ), and a
// duplicate follows its original, so one import acknowledges it as a
// duplicate. Files are returned sorted by channel.
func WriteFiles(dir string, records []Record) (files []FileInfo, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	type out struct {
		f *os.File
		w *bufio.Writer
		n int
	}
	outs := map[string]*out{}
	defer func() {
		for _, o := range outs {
			if cerr := o.f.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) && err == nil {
				err = fmt.Errorf("gen: %w", cerr)
			}
		}
	}()
	for _, r := range records {
		o := outs[r.Channel]
		if o == nil {
			f, err := os.Create(filepath.Join(dir, r.Channel+".ndjson"))
			if err != nil {
				return nil, fmt.Errorf("gen: %w", err)
			}
			o = &out{f: f, w: bufio.NewWriterSize(f, 1<<20)}
			outs[r.Channel] = o
		}
		o.w.Write(r.Body)   //nolint:errcheck // bufio keeps the first error for Flush
		o.w.WriteByte('\n') //nolint:errcheck // idem
		o.n++
	}
	for ch, o := range outs {
		if err := o.w.Flush(); err != nil {
			return nil, fmt.Errorf("gen: writing %s: %w", o.f.Name(), err)
		}
		if err := o.f.Close(); err != nil {
			return nil, fmt.Errorf("gen: writing %s: %w", o.f.Name(), err)
		}
		files = append(files, FileInfo{Channel: ch, Path: o.f.Name(), Records: o.n})
	}
	slices.SortFunc(files, func(a, b FileInfo) int { return strings.Compare(a.Channel, b.Channel) })
	return files, nil
}
