package lightrag

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// pieceSpill holds the pieces and patches of a chunked file's restore, which
// the engine yields in the order of their keys' hashes, until the file is
// written in its own order: an unlinked file beside the target, and where each
// record is in it.
type pieceSpill struct {
	f       *os.File
	name    string // set while the file has a name
	w       *bufio.Writer
	off     int64
	pieces  map[string]spillSpan
	patches map[string]spillSpan
	buf     []byte
}

type spillSpan struct{ off, n int64 }

func newPieceSpill(target string) (*pieceSpill, error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".pieces-*")
	if err != nil {
		return nil, err
	}
	s := &pieceSpill{f: f, name: f.Name(), w: bufio.NewWriterSize(f, 1<<20), pieces: map[string]spillSpan{}, patches: map[string]spillSpan{}}
	if os.Remove(f.Name()) == nil {
		s.name = ""
	}
	return s, nil
}

func (s *pieceSpill) put(m map[string]spillSpan, name string, b []byte) error {
	if _, dup := m[name]; dup {
		return fmt.Errorf("%w: record %s twice", ErrCorrupt, name)
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	m[name] = spillSpan{s.off, int64(len(b))}
	s.off += int64(len(b))
	return nil
}

// add files a piece or a patch record.
func (s *pieceSpill) add(n graph.Node, kind, name string) error {
	var err error
	if kind == "piece" {
		if s.buf, err = pieceBytes(n, s.buf[:0]); err != nil {
			return err
		}
		return s.put(s.pieces, name, s.buf)
	}
	pt, err := patchOf(n)
	if err != nil {
		return err
	}
	s.buf = pt.marshal(s.buf[:0])
	return s.put(s.patches, name, s.buf)
}

func (s *pieceSpill) read(sp spillSpan, dst []byte) ([]byte, error) {
	dst = append(dst[:0], make([]byte, sp.n)...)
	if _, err := s.f.ReadAt(dst, sp.off); err != nil {
		return nil, fmt.Errorf("lightrag: spill file: %w", err)
	}
	return dst, nil
}

// write writes the file f's pieces in order to w.
func (s *pieceSpill) write(f *fileEntry, w *bufio.Writer) error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	var base, out []byte
	used := 0
	for _, entry := range f.Pieces {
		name, patched := strings.CutSuffix(entry, "+")
		sp, ok := s.pieces[name]
		if !ok {
			return fmt.Errorf("%w: %s: piece %s is missing", ErrCorrupt, f.Path, name)
		}
		var err error
		if base, err = s.read(sp, base); err != nil {
			return err
		}
		used++
		if !patched {
			w.Write(base)
			continue
		}
		pp, ok := s.patches[name]
		if !ok {
			return fmt.Errorf("%w: %s: the patch of piece %s is missing", ErrCorrupt, f.Path, name)
		}
		used++
		raw, err := s.read(pp, nil)
		if err != nil {
			return err
		}
		pt, err := unmarshalPatch(raw)
		if err != nil {
			return fmt.Errorf("%w: %s: patch of piece %s: %v", ErrCorrupt, f.Path, name, err)
		}
		if out, err = pt.apply(base, out[:0]); err != nil {
			return fmt.Errorf("%s: piece %s: %w", f.Path, name, err)
		}
		w.Write(out)
	}
	if used != len(s.pieces)+len(s.patches) {
		return fmt.Errorf("%w: %s: %d piece and patch records, %d of them named", ErrCorrupt, f.Path, len(s.pieces)+len(s.patches), used)
	}
	return nil
}

func (s *pieceSpill) close() error {
	err := s.f.Close()
	if s.name != "" {
		err = errors.Join(err, os.Remove(s.name))
	}
	return err
}
