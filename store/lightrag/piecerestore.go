package lightrag

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// assembly writes a chunked file back from the records of a restore. The
// engine yields a snapshot's newest layer first and, within a layer, the
// records in the order the snapshot wrote them: the pieces of a full snapshot
// in the file's order, ending with the file record; the file record and the
// patches of an incremental before the pieces they patch. So the file is
// written in its order as the pieces arrive, into a file beside the target
// that the restore renames into place: before the file record says the order,
// on the guess that the pieces come in it; after, each piece when its turn
// comes. A piece out of turn waits in a spill file (unlinked), and if the
// guess was wrong, what was written on it moves there too.
type assembly struct {
	dir     string
	out     *os.File
	outName string
	written int64
	pipe    *writePipe // writes and hashes what is written, on two goroutines

	order   []string // the file record's pieces, "+" marking a patched one
	known   bool
	next    int         // the index in order of the next piece to write
	guessed []spillSpan // pieces written before the order was known
	names   []string    // their names

	spill   *os.File
	spillW  *bufio.Writer
	spilled int64
	waiting map[string]spillSpan
	patches map[string]patch
	seen    map[string]bool
	buf     []byte
	applied []byte // a patched piece
}

type spillSpan struct{ off, n int64 }

func newAssembly(target string) (*assembly, error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out, err := os.CreateTemp(dir, "."+filepath.Base(target)+".pieces-*")
	if err != nil {
		return nil, err
	}
	a := &assembly{dir: dir, out: out, outName: out.Name(), waiting: map[string]spillSpan{}, patches: map[string]patch{}, seen: map[string]bool{}}
	a.pipe = startPipe(out)
	return a, nil
}

// writePipe writes pieces to a file on one goroutine and hashes them on
// another, so that neither waits for the engine's decoding nor for the other.
type writePipe struct {
	pieces chan []byte
	done   chan pipeResult
}

type pipeResult struct {
	sum string
	err error
}

func startPipe(out *os.File) *writePipe {
	p := &writePipe{pieces: make(chan []byte, 16), done: make(chan pipeResult, 1)}
	toHash := make(chan []byte, 16)
	summed := make(chan string, 1)
	go func() {
		h := sha256.New()
		for b := range toHash {
			h.Write(b)
		}
		summed <- hex.EncodeToString(h.Sum(nil))
	}()
	go func() {
		w := bufio.NewWriterSize(out, 1<<20)
		var err error
		for b := range p.pieces {
			if err == nil {
				_, err = w.Write(b)
			}
			toHash <- b
		}
		if err == nil {
			err = w.Flush()
		}
		close(toHash)
		p.done <- pipeResult{<-summed, err}
	}()
	return p
}

// stop waits for what was sent to be written and hashed.
func (p *writePipe) stop() pipeResult {
	close(p.pieces)
	return <-p.done
}

// add files a piece or a patch record.
func (a *assembly) add(n graph.Node, kind, name string) error {
	if a.seen[kind+name] {
		return fmt.Errorf("%w: %s record %s twice", ErrCorrupt, kind, name)
	}
	a.seen[kind+name] = true
	if kind == "patch" {
		pt, err := patchOf(n)
		if err != nil {
			return err
		}
		a.patches[name] = pt
		return a.drain()
	}
	var err error
	if a.buf, err = pieceBytes(n, a.buf[:0]); err != nil {
		return err
	}
	switch {
	case !a.known:
		a.guessed = append(a.guessed, spillSpan{a.written, int64(len(a.buf))})
		a.names = append(a.names, name)
		a.write(a.buf)
		return nil
	case a.ready(name):
		if err := a.writeTurn(a.buf); err != nil {
			return err
		}
		return a.drain()
	}
	return a.wait(name, a.buf)
}

// ready says whether the piece named is the next to write and its patch, if
// it has one, is here.
func (a *assembly) ready(name string) bool {
	if !a.known || a.next >= len(a.order) {
		return false
	}
	next, patched := strings.CutSuffix(a.order[a.next], "+")
	if next != name {
		return false
	}
	_, ok := a.patches[name]
	return !patched || ok
}

// writeTurn writes the next piece, whose piece record holds base, patched
// when the order says so.
func (a *assembly) writeTurn(base []byte) error {
	name, patched := strings.CutSuffix(a.order[a.next], "+")
	if patched {
		var err error
		if a.applied, err = a.patches[name].apply(base, a.applied[:0]); err != nil {
			return fmt.Errorf("piece %s: %w", name, err)
		}
		base = a.applied
	}
	a.write(base)
	a.next++
	return nil
}

func (a *assembly) write(b []byte) {
	a.written += int64(len(b))
	a.pipe.pieces <- bytes.Clone(b)
}

func (a *assembly) wait(name string, b []byte) error {
	if a.spill == nil {
		f, err := os.CreateTemp(a.dir, ".pieces-spill-*")
		if err != nil {
			return err
		}
		a.spill, a.spillW = f, bufio.NewWriterSize(f, 1<<20)
		os.Remove(f.Name()) // the open file stays readable
	}
	if _, err := a.spillW.Write(b); err != nil {
		return err
	}
	a.waiting[name] = spillSpan{a.spilled, int64(len(b))}
	a.spilled += int64(len(b))
	return nil
}

func (a *assembly) readSpan(f *os.File, sp spillSpan) ([]byte, error) {
	b := make([]byte, sp.n)
	if _, err := f.ReadAt(b, sp.off); err != nil {
		return nil, fmt.Errorf("lightrag: restore spill: %w", err)
	}
	return b, nil
}

// setOrder takes the file record's order. The pieces written on the guess stay
// if they are its beginning; otherwise they wait like pieces out of turn, and
// the file is written again from its start.
func (a *assembly) setOrder(pieces []string) error {
	if a.known {
		return fmt.Errorf("%w: two chunked file records", ErrCorrupt)
	}
	a.order, a.known = pieces, true
	ok := len(a.names) <= len(pieces)
	for i := 0; ok && i < len(a.names); i++ {
		ok = pieces[i] == a.names[i]
	}
	if ok {
		a.next = len(a.names)
	} else {
		res := a.pipe.stop()
		a.pipe = nil
		if res.err != nil {
			return res.err
		}
		for i, sp := range a.guessed {
			b, err := a.readSpan(a.out, sp)
			if err != nil {
				return err
			}
			if err := a.wait(a.names[i], b); err != nil {
				return err
			}
		}
		if err := a.out.Truncate(0); err != nil {
			return err
		}
		if _, err := a.out.Seek(0, 0); err != nil {
			return err
		}
		a.pipe = startPipe(a.out)
		a.written = 0
	}
	a.guessed, a.names = nil, nil
	return a.drain()
}

// drain writes the pieces whose turn has come and that are here, with their
// patches.
func (a *assembly) drain() error {
	for a.known && a.next < len(a.order) {
		name := strings.TrimSuffix(a.order[a.next], "+")
		sp, ok := a.waiting[name]
		if !ok || !a.ready(name) {
			return nil
		}
		if err := a.spillW.Flush(); err != nil {
			return err
		}
		base, err := a.readSpan(a.spill, sp)
		if err != nil {
			return err
		}
		delete(a.waiting, name)
		if err := a.writeTurn(base); err != nil {
			return err
		}
	}
	return nil
}

// finish checks that every piece was written and every record used, and
// returns the written file's name and SHA-256; the caller renames it.
func (a *assembly) finish(path string) (string, string, error) {
	if !a.known {
		return "", "", fmt.Errorf("%w: %s: piece records without the file record", ErrCorrupt, path)
	}
	if err := a.drain(); err != nil {
		return "", "", err
	}
	if a.next < len(a.order) {
		return "", "", fmt.Errorf("%w: %s: piece %s or its patch is missing", ErrCorrupt, path, a.order[a.next])
	}
	patched := 0
	for _, e := range a.order {
		if strings.HasSuffix(e, "+") {
			patched++
		}
	}
	if len(a.waiting) > 0 || len(a.patches) != patched {
		return "", "", fmt.Errorf("%w: %s: piece or patch records the file does not name", ErrCorrupt, path)
	}
	res := a.pipe.stop()
	a.pipe = nil
	if res.err != nil {
		return "", "", res.err
	}
	return a.outName, res.sum, nil
}

func (a *assembly) close() error {
	if a.pipe != nil {
		a.pipe.stop()
	}
	err := a.out.Close()
	if a.outName != "" {
		if rerr := os.Remove(a.outName); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	if a.spill != nil {
		err = errors.Join(err, a.spill.Close())
	}
	return err
}
