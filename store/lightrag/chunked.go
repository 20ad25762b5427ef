package lightrag

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"

	"github.com/graphvault/graphvault/store/graph"
)

// Chunked makes a File keep the file's own bytes instead of its graph: the
// snapshot cuts the file into pieces at the starts of its elements and decodes
// none of them (see pieceNode), so it runs at the speed of reading, hashing and
// compressing the file; a rewritten file whose elements changed stores patches
// of the pieces they are in, and a restore writes the bytes back and checks
// their SHA-256. What the snapshot does not hold is the graph's records: its
// entities are known once it is restored, so two such snapshots are compared by
// restoring both ([DiffGraphs]; [DiffRecords] says [ErrChunked] for their
// pieces), and a restore of chosen entities finds none in it.
func Chunked() FileOption { return func(f *File) { f.chunked = true } }

// ErrChunked is returned for what needs the graph's records from a snapshot of
// a chunked File, which holds the file's bytes instead.
var ErrChunked = errors.New("lightrag: the snapshot holds the file's bytes, not its records")

// pieceState is what a chunked File's sidecar (index + ".pieces") keeps: the
// position of the view that wrote it and, for each piece in the file's order,
// its name, the hash of its bytes, whether the view held a patch of it, and
// the hashes of the elements of its piece record.
type pieceState struct {
	Journal  string
	Position uint64
	Pieces   []pieceInfo
}

type pieceInfo struct {
	Name    string
	Sum     uint64
	Patched bool
	Base    []uint64
}

func (f *File) piecesPath() string { return f.index + ".pieces" }

func (f *File) readPieces() *pieceState {
	r, err := os.Open(f.piecesPath())
	if err != nil {
		return nil
	}
	defer r.Close()
	var s pieceState
	if gob.NewDecoder(r).Decode(&s) != nil || s.Journal == "" {
		return nil
	}
	return &s
}

func (f *File) writePieces(s *pieceState) error {
	tmp := f.piecesPath() + ".tmp"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(w).Encode(s); err != nil {
		return errors.Join(err, w.Close())
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, f.piecesPath())
}

// chunkedView is a chunked File's view. With a journal (the view reading
// through the index), its records are the previous view's where the file did
// not change, patches where a piece's elements changed a little, and new piece
// records otherwise; Changes names them. When the engine reads every record
// instead (Nodes), each piece is yielded as a piece record and the sidecar
// says so, so the next view patches against what this snapshot holds.
type chunkedView struct {
	f       *File
	file    *os.File
	size    int64
	mode    uint32
	meta    graph.Meta
	prev    *pieceState // the sidecar the view continues; nil without a journal
	journal bool        // the view keeps the sidecar
	unlock  func()

	scanOnce sync.Once
	scanErr  error
	scan     *pieceScan
}

// pieceScan is what a pass over the file found.
type pieceScan struct {
	pieces []scannedPiece
	sha    string
	ids    map[string]int // piece and patch record ids → index in pieces
	ops    []graph.Op     // what changed since prev (journal)
}

// scannedPiece is a piece as the sidecar keeps it, with where it is in the file.
type scannedPiece struct {
	pieceInfo
	off int64
	n   int
	pt  *patch // the patch, kept from the scan while they are few
}

// keptPatches bounds the literal bytes of the patches a scan keeps for Node;
// past it, Node makes them again from the file (a variable for tests).
var keptPatches = 16 << 20

var (
	_ graph.Getter     = (*chunkedView)(nil)
	_ graph.Counter    = (*chunkedView)(nil)
	_ graph.Normalized = (*chunkedView)(nil)
)

func (f *File) chunkedView(journal bool, unlock func()) (graph.View, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	fi, err := file.Stat()
	if err != nil {
		return nil, errors.Join(err, file.Close())
	}
	v := &chunkedView{f: f, file: file, size: fi.Size(), mode: uint32(fi.Mode().Perm()), journal: journal, unlock: unlock}
	head := make([]byte, min(fi.Size(), 64<<10))
	if _, err := io.ReadFull(io.NewSectionReader(file, 0, fi.Size()), head); err != nil {
		return nil, errors.Join(err, file.Close())
	}
	v.meta.Directed = bytes.Contains(head, []byte(`edgedefault="directed"`))
	if journal {
		v.prev = f.readPieces()
		if v.prev != nil {
			v.meta.Journal, v.meta.Position = v.prev.Journal, v.prev.Position+1
		} else {
			var id [12]byte
			rand.Read(id[:])
			v.meta.Journal, v.meta.Position = "pieces-"+hex.EncodeToString(id[:]), 1
		}
	}
	return v, nil
}

func (v *chunkedView) Meta() graph.Meta { return v.meta }
func (v *chunkedView) Normalized() bool { return true }
func (v *chunkedView) Close() error {
	if v.unlock != nil {
		defer v.unlock()
	}
	return v.file.Close()
}

func (v *chunkedView) Edges(context.Context) iter.Seq2[graph.Edge, error] {
	return func(func(graph.Edge, error) bool) {}
}

// pass reads the file once, cutting it into pieces and hashing it; each piece
// goes to fn with its bytes (valid until fn returns), its element starts and
// their hashes.
//
// Three goroutines share the work: one reads the file in blocks, one takes
// the SHA-256 of each block, and the caller's cuts the pieces. A block is read
// after room for the tail of the block before, which the cutter copies there,
// so that a piece is always whole in one buffer; a buffer is used again once
// the hash and the cutter are both done with it.
func (v *chunkedView) pass(ctx context.Context, fn func(name string, p []byte, starts []int, hashes []uint64) error) (sha string, err error) {
	const size = 2 << 20
	type block struct {
		buf  []byte // the data at buf[pieceLook:pieceLook+n]
		n    int
		eof  bool
		err  error
		refs atomic.Int32
	}
	free := make(chan *block, 6)
	get := func() *block {
		select {
		case b := <-free:
			return b
		default:
			return &block{buf: make([]byte, pieceLook+size)}
		}
	}
	put := func(b *block) {
		if b.refs.Add(-1) == 0 {
			select {
			case free <- b:
			default:
			}
		}
	}
	reads := make(chan *block, 1)
	toHash := make(chan *block, 1)
	stop := make(chan struct{})
	r := io.NewSectionReader(v.file, 0, v.size)
	go func() {
		defer close(toHash)
		defer close(reads)
		for {
			b := get()
			n, err := io.ReadFull(r, b.buf[pieceLook:])
			b.n, b.eof, b.err = n, err != nil, nil
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				b.err = err
			}
			b.refs.Store(1)
			if n > 0 {
				b.refs.Store(2)
			}
			select {
			case reads <- b:
			case <-stop:
				return
			}
			if n > 0 {
				toHash <- b
			}
			if b.eof {
				return
			}
		}
	}()
	summed := make(chan string, 1)
	go func() {
		h := sha256.New()
		for b := range toHash {
			h.Write(b.buf[pieceLook : pieceLook+b.n])
			put(b)
		}
		summed <- hex.EncodeToString(h.Sum(nil))
	}()
	defer func() {
		close(stop)
		for range reads {
		}
		if s := <-summed; err == nil {
			sha = s
		}
	}()
	var cur *block
	// buf[start:] is what is read and not yet cut.
	var buf []byte
	start := 0
	names := map[string]int{}
	var starts []int
	var hashes []uint64
	eof := false
	var off int64
	for {
		if !eof && len(buf)-start < pieceLook {
			b, ok := <-reads
			if !ok {
				return "", fmt.Errorf("lightrag: %s: the read stopped", v.f.path)
			}
			if b.err != nil {
				put(b)
				return "", b.err
			}
			tail := buf[start:]
			lo := pieceLook - len(tail)
			copy(b.buf[lo:pieceLook], tail)
			if cur != nil {
				put(cur)
			}
			cur, eof = b, b.eof
			buf, start = b.buf[lo:pieceLook+b.n], 0
		}
		if start == len(buf) {
			break
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		var n int
		n, starts = cutPiece(buf[start:], starts)
		p := buf[start : start+n]
		name := pieceName(p)
		if k := names[name]; k > 0 {
			names[name] = k + 1
			name += "." + strconv.Itoa(k)
		} else {
			names[name] = 1
		}
		hashes = elementHashes(p, starts, hashes)
		if err := fn(name, p, starts, hashes); err != nil {
			return "", err
		}
		off += int64(n)
		start += n
	}
	if off != v.size {
		return "", fmt.Errorf("lightrag: %s changed while it was read", v.f.path)
	}
	return "", nil
}

// scanned reads the file once for the journal: what each piece's records are
// now and how they differ from the previous view's.
func (v *chunkedView) scanned(ctx context.Context) (*pieceScan, error) {
	v.scanOnce.Do(func() {
		s := &pieceScan{ids: map[string]int{}}
		prev := map[string]*pieceInfo{}
		if v.prev != nil {
			for i := range v.prev.Pieces {
				prev[v.prev.Pieces[i].Name] = &v.prev.Pieces[i]
			}
		}
		// The journal names records by id: one the view does not have is
		// written as a removal.
		put := func(id string) { s.ops = append(s.ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id}}) }
		seen := map[string]bool{}
		var off int64
		kept := 0
		s.sha, v.scanErr = v.pass(ctx, func(name string, p []byte, starts []int, hashes []uint64) error {
			sp := scannedPiece{pieceInfo: pieceInfo{Name: name, Sum: xxh3.Hash(p)}, off: off, n: len(p)}
			off += int64(len(p))
			seen[name] = true
			old := prev[name]
			switch {
			case old != nil && old.Sum == sp.Sum:
				sp.Patched, sp.Base = old.Patched, old.Base
			case old != nil:
				pt := diffPiece(old.Base, p, starts, hashes)
				switch {
				case pt.identity(len(old.Base)):
					sp.Base = old.Base
					if old.Patched {
						put(patchID(name))
					}
				case len(pt.lit) <= len(p)/2:
					sp.Patched, sp.Base = true, old.Base
					if kept+len(pt.lit) <= keptPatches {
						kept += len(pt.lit)
						sp.pt = &pt
					}
					put(patchID(name))
				default:
					sp.Base = slices.Clone(hashes)
					put(pieceID(name))
					if old.Patched {
						put(patchID(name))
					}
				}
			default:
				sp.Base = slices.Clone(hashes)
				put(pieceID(name))
			}
			s.ids[pieceID(name)] = len(s.pieces)
			if sp.Patched {
				s.ids[patchID(name)] = len(s.pieces)
			}
			s.pieces = append(s.pieces, sp)
			return nil
		})
		if v.scanErr != nil {
			return
		}
		if v.prev != nil {
			for _, p := range v.prev.Pieces {
				if !seen[p.Name] {
					put(pieceID(p.Name))
					if p.Patched {
						put(patchID(p.Name))
					}
				}
			}
		}
		put(fileID(v.f.name))
		v.scan = s
		if v.journal {
			// Written before the snapshot commits, as the index is: a sidecar
			// ahead of the snapshots makes the next view's journal a gap.
			state := pieceState{Journal: v.meta.Journal, Position: v.meta.Position}
			for _, sp := range s.pieces {
				state.Pieces = append(state.Pieces, sp.pieceInfo)
			}
			v.scanErr = v.f.writePieces(&state)
		}
	})
	return v.scan, v.scanErr
}

// entry is the file record of the pieces the view holds.
func (v *chunkedView) entry(sha string, pieces []string) (graph.Node, error) {
	e := &fileEntry{Path: v.f.name, Kind: kindGraphML, Mode: v.mode, Size: v.size, SHA256: sha, Pieces: pieces, Chunked: true}
	return e.node()
}

func rootNode() graph.Node {
	return graph.Node{ID: rootID, Labels: []string{LabelRoot}, Props: map[string]any{"kind": "file"}}
}

// Nodes yields every piece as a piece record, in one pass over the file, then
// the file record; the sidecar then says the snapshot holds no patches.
func (v *chunkedView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		if !yield(rootNode(), nil) {
			return
		}
		var names []string
		state := pieceState{Journal: v.meta.Journal, Position: v.meta.Position}
		stop := errors.New("stopped")
		sha, err := v.pass(ctx, func(name string, p []byte, starts []int, hashes []uint64) error {
			names = append(names, name)
			if v.journal {
				state.Pieces = append(state.Pieces, pieceInfo{Name: name, Sum: xxh3.Hash(p), Base: slices.Clone(hashes)})
			}
			if !yield(pieceNode(name, p), nil) {
				return stop
			}
			return nil
		})
		if errors.Is(err, stop) {
			return
		}
		if err == nil && v.journal {
			err = v.f.writePieces(&state)
		}
		if err != nil {
			yield(graph.Node{}, err)
			return
		}
		n, err := v.entry(sha, names)
		yield(n, err)
	}
}

// Node reads one record of the view as the journal left it.
func (v *chunkedView) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	s, err := v.scanned(ctx)
	if err != nil {
		return graph.Node{}, false, err
	}
	switch id {
	case rootID:
		return rootNode(), true, nil
	case fileID(v.f.name):
		names := make([]string, len(s.pieces))
		for i, p := range s.pieces {
			names[i] = p.Name
			if p.Patched {
				names[i] += "+"
			}
		}
		n, err := v.entry(s.sha, names)
		return n, err == nil, err
	}
	i, ok := s.ids[id]
	if !ok {
		return graph.Node{}, false, nil
	}
	sp := s.pieces[i]
	if id == patchID(sp.Name) && sp.pt != nil {
		return sp.pt.node(sp.Name), true, nil
	}
	p := make([]byte, sp.n)
	if _, err := v.file.ReadAt(p, sp.off); err != nil {
		return graph.Node{}, false, err
	}
	if id == pieceID(sp.Name) {
		return pieceNode(sp.Name, p), true, nil
	}
	starts := elementStarts(p, nil)
	return diffPiece(sp.Base, p, starts, elementHashes(p, starts, nil)).node(sp.Name), true, nil
}

func (v *chunkedView) Edge(context.Context, string, string, string) (graph.Edge, bool, error) {
	return graph.Edge{}, false, nil
}

// Counts counts the records the journal left: the root and file records, the
// piece records and the patches.
func (v *chunkedView) Counts() (nodes, edges int64) {
	s, err := v.scanned(context.Background())
	if err != nil {
		return 0, 0
	}
	return int64(2 + len(s.ids)), 0
}

// Changes yields the one batch that takes the previous view's records to this
// view's.
func (v *chunkedView) changes(ctx context.Context, after uint64) iter.Seq2[graph.Batch, error] {
	return func(yield func(graph.Batch, error) bool) {
		if v.prev == nil || after != v.prev.Position || v.prev.Journal != v.meta.Journal {
			yield(graph.Batch{}, fmt.Errorf("lightrag: %w: the pieces after position %d are not known", graph.ErrJournalGap, after))
			return
		}
		s, err := v.scanned(ctx)
		if err != nil {
			yield(graph.Batch{}, err)
			return
		}
		yield(graph.Batch{Seq: v.meta.Position, Ops: s.ops}, nil)
	}
}
