package graphml

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"sync"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/graphvault/graphvault/store/graph"
)

// IndexedFile is a [File] that keeps an index beside it: a fingerprint of every node
// and edge element of the file as it was last read in full, and the id of every
// node. A view of a file whose head (the key declarations and the <graph> tag) is
// unchanged then reads the file once, hashing its elements, and decodes only the
// elements the index does not hold; the rest are known unchanged. It offers what
// changed as a journal ([graph.Journal], one batch per view) and the changed records
// by key ([graph.Getter], [graph.Counter] on the view), so a snapshot engine that
// follows journals writes them without reading the whole graph.
//
// The journal's positions count views: the view that found the changes since the
// index was written is at the index's position plus one. A view that cannot name
// the changes (no index or a damaged one, another head, a node or edge that went
// away, an element out of the order NetworkX writes, anything the fast scanner
// leaves to encoding/xml) is read whole, as File reads it, and its Changes report
// graph.ErrJournalGap; reading it whole writes a new index. The index is written
// when a view is made, before the caller has used it: an index ahead of the
// caller's last position makes the next view's journal skip, which the caller
// meets as a gap and answers by reading the whole view.
//
// Elements are known unchanged by their exact bytes, so the index trusts its
// 64-bit hashes: a changed element taken for an unchanged one needs a collision of
// xxh3 among the file's elements. Views of one IndexedFile may be made one at a
// time; two IndexedFile values must not share an index.
type IndexedFile struct {
	*File
	index string

	mu      sync.Mutex
	delta   *fileDelta // what the newest view found, for Changes
	journal string     // the journal of the newest view
	err     error      // why the last index was not written
}

var (
	_ graph.Graph   = (*IndexedFile)(nil)
	_ graph.Journal = (*IndexedFile)(nil)
)

// NewIndexedFile returns the graph kept at path with its index kept at index. A
// missing index is made by the first view that is read whole.
func NewIndexedFile(path, index string) *IndexedFile {
	return &IndexedFile{File: NewFile(path), index: index}
}

// IndexErr returns why the last index could not be written, or nil. An index that
// is not written is no error for the view: the next view reads the whole file.
func (f *IndexedFile) IndexErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// fileDelta is what a view found changed since the index.
type fileDelta struct {
	journal string
	seq     uint64 // the view's position; the changes follow seq-1
	ops     []graph.Op
	nodes   map[string]graph.Node
	edges   map[string]graph.Edge // by edge key
	counts  [2]int64
}

// Changes yields the changes the newest view found, as one batch, when after is
// the position just before it; otherwise an error wrapping graph.ErrJournalGap.
func (f *IndexedFile) Changes(ctx context.Context, after uint64) iter.Seq2[graph.Batch, error] {
	return func(yield func(graph.Batch, error) bool) {
		f.mu.Lock()
		d := f.delta
		f.mu.Unlock()
		switch {
		case d != nil && after+1 == d.seq:
			yield(graph.Batch{Seq: d.seq, Time: time.Now().UTC(), Ops: d.ops}, nil)
		case d != nil && after >= d.seq:
			// Nothing after the newest view.
		default:
			yield(graph.Batch{}, fmt.Errorf("graphml: %w: the index names the changes after position %d only", graph.ErrJournalGap, max(after, 1)))
		}
	}
}

// View opens the file. When the index allows, it finds what changed since the
// index, and the view also reads those records by key and counts the graph.
func (f *IndexedFile) View(ctx context.Context) (graph.View, error) {
	v, err := f.File.View(ctx)
	if err != nil {
		return nil, err
	}
	fv := v.(*fileView)
	idx, _ := readIndex(f.index) // a missing or damaged index is no index
	head, start, err := fv.head()
	if err != nil {
		return nil, errors.Join(err, fv.Close())
	}
	if idx != nil && idx.head == head && idx.directed == fv.meta.Directed {
		d, nidx, err := diffFile(ctx, fv, start, idx)
		if err != nil {
			return nil, errors.Join(err, fv.Close())
		}
		if d != nil {
			fv.meta.Journal, fv.meta.Position = idx.journal, idx.position+1
			d.journal, d.seq = idx.journal, idx.position+1
			f.setIndex(nidx.write(f.index), d, idx.journal)
			return &deltaView{fileView: fv, d: d}, nil
		}
	}
	// Read whole: the index is made again as the view is read.
	journal, pos := newJournal(), uint64(1)
	if idx != nil {
		journal, pos = idx.journal, idx.position+1
	}
	fv.meta.Journal, fv.meta.Position = journal, pos
	fv.build = &index{journal: journal, position: pos, head: head, directed: fv.meta.Directed}
	fv.built = func(ix *index) { f.setIndex(ix.write(f.index), nil, journal) }
	f.setIndex(nil, nil, journal)
	return fv, nil
}

func (f *IndexedFile) setIndex(err error, d *fileDelta, journal string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.delta, f.journal = err, d, journal
}

func newJournal() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "graphml-" + fmt.Sprint(time.Now().UnixNano())
	}
	return "graphml-" + hex.EncodeToString(b[:])
}

// head returns the hash of the file's head, up to and including the <graph> start
// tag, and where the body starts.
func (v *fileView) head() (uint64, int64, error) {
	d := NewDecoder(io.NewSectionReader(v.f, 0, v.size))
	if _, err := d.Meta(); err != nil {
		return 0, 0, err
	}
	start := d.x.InputOffset()
	h := xxh3.New()
	if _, err := io.Copy(h, io.NewSectionReader(v.f, 0, start)); err != nil {
		return 0, 0, fmt.Errorf("graphml: %w", err)
	}
	return h.Sum64(), start, nil
}

// deltaView is a view whose changes since the index are known.
type deltaView struct {
	*fileView
	d *fileDelta
}

var (
	_ graph.Getter  = (*deltaView)(nil)
	_ graph.Counter = (*deltaView)(nil)
)

// errNotChanged is what the Getter of a delta view answers for a record that did
// not change: it holds only the changed ones.
var errNotChanged = errors.New("graphml: the view reads by key only the records that changed")

func (v *deltaView) Node(_ context.Context, id string) (graph.Node, bool, error) {
	if n, ok := v.d.nodes[id]; ok {
		return n, true, nil
	}
	return graph.Node{}, false, fmt.Errorf("%w: node %q", errNotChanged, id)
}

func (v *deltaView) Edge(_ context.Context, source, target, typ string) (graph.Edge, bool, error) {
	if e, ok := v.d.edges[graph.EdgeKey(source, target, typ, v.meta.Directed)]; ok {
		return e, true, nil
	}
	return graph.Edge{}, false, fmt.Errorf("%w: edge %q-%q", errNotChanged, source, target)
}

func (v *deltaView) Counts() (nodes, edges int64) { return v.d.counts[0], v.d.counts[1] }

// index is what an IndexedFile keeps: per element, the hash of its bytes and of
// its record key, and the ids of the nodes.
type index struct {
	journal  string
	position uint64
	head     uint64
	directed bool
	elems    []indexElem
	ids      []string // node ids, in the order of the node elements
	bad      bool     // an element was not read by the scanner: no index
	kbuf     []byte   // a record key being hashed
}

type indexElem struct {
	hash, key uint64
	node      bool
}

const indexMagic = "graphvault graphml index 1\n"

// add records an element the scanner read.
func (ix *index) add(kind itemKind, raw []byte, n *graph.Node, e *graph.Edge) {
	if end, ok := elementEnd(raw); !ok || end != len(raw) {
		ix.bad = true
		return
	}
	el := indexElem{hash: xxh3.Hash(raw), node: kind == itemNode}
	if el.node {
		ix.kbuf = graph.AppendNodeKey(ix.kbuf[:0], n.ID)
		ix.ids = append(ix.ids, n.ID)
	} else {
		ix.kbuf = graph.AppendEdgeKey(ix.kbuf[:0], e.Source, e.Target, e.Type, ix.directed)
	}
	el.key = xxh3.Hash(ix.kbuf)
	ix.elems = append(ix.elems, el)
}

// write stores the index at path through a temporary file and a rename.
func (ix *index) write(path string) error {
	return writeAtomic(path, func(w io.Writer) error {
		sum := xxh3.New()
		bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 256<<10)
		bw.WriteString(indexMagic)
		var b []byte
		b = binary.AppendUvarint(b, uint64(len(ix.journal)))
		b = append(b, ix.journal...)
		b = binary.LittleEndian.AppendUint64(b, ix.position)
		b = binary.LittleEndian.AppendUint64(b, ix.head)
		dir := byte(0)
		if ix.directed {
			dir = 1
		}
		b = append(b, dir)
		b = binary.AppendUvarint(b, uint64(len(ix.elems)))
		b = binary.AppendUvarint(b, uint64(len(ix.ids)))
		bw.Write(b)
		for _, el := range ix.elems {
			b = binary.LittleEndian.AppendUint64(b[:0], el.hash)
			b = binary.LittleEndian.AppendUint64(b, el.key)
			if el.node {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			bw.Write(b)
		}
		for _, id := range ix.ids {
			b = binary.AppendUvarint(b[:0], uint64(len(id)))
			bw.Write(b)
			bw.WriteString(id)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		// A checksum of everything before it: a damaged index is no index.
		_, err := w.Write(binary.LittleEndian.AppendUint64(nil, sum.Sum64()))
		return err
	})
}

var errBadIndex = errors.New("graphml: damaged index")

// readIndex reads an index written by write.
func readIndex(path string) (*index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if len(data) < len(indexMagic)+8 || string(data[:len(indexMagic)]) != indexMagic {
		return nil, errBadIndex
	}
	body, sum := data[:len(data)-8], binary.LittleEndian.Uint64(data[len(data)-8:])
	if xxh3.Hash(body) != sum {
		return nil, errBadIndex
	}
	r := bytes.NewReader(body[len(indexMagic):])
	ix := &index{}
	uv := func() uint64 {
		x, e := binary.ReadUvarint(r)
		if e != nil {
			err = errBadIndex
		}
		return x
	}
	u64 := func() uint64 {
		var b [8]byte
		if _, e := io.ReadFull(r, b[:]); e != nil {
			err = errBadIndex
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	str := func() string {
		n := uv()
		if err != nil || n > uint64(r.Len()) {
			err = errBadIndex
			return ""
		}
		b := make([]byte, n)
		io.ReadFull(r, b)
		return string(b)
	}
	ix.journal = str()
	ix.position = u64()
	ix.head = u64()
	dir, e := r.ReadByte()
	if e != nil {
		return nil, errBadIndex
	}
	ix.directed = dir == 1
	nel, nid := uv(), uv()
	if err != nil || nel > uint64(r.Len())/17 || nid > nel {
		return nil, errBadIndex
	}
	ix.elems = make([]indexElem, nel)
	for i := range ix.elems {
		ix.elems[i].hash = u64()
		ix.elems[i].key = u64()
		k, e := r.ReadByte()
		if e != nil {
			return nil, errBadIndex
		}
		ix.elems[i].node = k == 1
	}
	ix.ids = make([]string, nid)
	for i := range ix.ids {
		ix.ids[i] = str()
	}
	if err != nil || r.Len() != 0 {
		return nil, errBadIndex
	}
	return ix, nil
}

// elementEnd returns the length of the node or edge element at the start of w:
// up to its "/>" when the start tag closes itself, else up to its end tag. It is
// exact for the elements the scanner reads (the end tag cannot occur in their
// text, which holds no '<'), which are the only ones an index holds.
func elementEnd(w []byte) (int, bool) {
	if len(w) < 6 || w[0] != '<' {
		return 0, false
	}
	var end []byte
	switch string(w[1:5]) {
	case "node":
		end = []byte("</node>")
	case "edge":
		end = []byte("</edge>")
	default:
		return 0, false
	}
	gt := bytes.IndexByte(w, '>')
	if gt < 0 {
		return 0, false
	}
	if w[gt-1] == '/' {
		return gt + 1, true
	}
	i := bytes.Index(w[gt:], end)
	if i < 0 {
		return 0, false
	}
	return gt + i + len(end), true
}

// diffFile reads the body of the file (from start) and compares its elements with
// the index. It returns the changes and the new index, or nil when the changes
// cannot be named this way (see IndexedFile); then the view is read whole.
func diffFile(ctx context.Context, v *fileView, start int64, old *index) (*fileDelta, *index, error) {
	byHash := make(map[uint64]int32, len(old.elems))
	idOf := make([]int32, len(old.elems)) // element → its node id in old.ids, or -1
	next := int32(0)
	for i, el := range old.elems {
		if _, dup := byHash[el.hash]; dup || el.node && int(next) >= len(old.ids) {
			return nil, nil, nil
		}
		byHash[el.hash] = int32(i)
		idOf[i] = -1
		if el.node {
			idOf[i] = next
			next++
		}
	}
	seen := make([]bool, len(old.elems))
	var changed []byte // the elements the index does not hold, one a line
	src := &source{r: io.NewSectionReader(v.f, start, v.size-start), buf: make([]byte, sourceSize)}
	edges := false
	for count := 0; ; count++ {
		if count%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		w := src.window()
		i := skipSpace(w, 0)
		if len(w)-i < 8 {
			if src.more() {
				continue
			}
			if src.rerr != nil {
				return nil, nil, fmt.Errorf("graphml: read: %w", src.rerr)
			}
			if !tailOnly(w[i:]) {
				return nil, nil, nil
			}
			break
		}
		if string(w[i:i+8]) == "</graph>" {
			src.advance(i)
			for src.more() {
			}
			if src.rerr != nil {
				return nil, nil, fmt.Errorf("graphml: read: %w", src.rerr)
			}
			if !tailOnly(src.window()) {
				return nil, nil, nil
			}
			break
		}
		end, ok := elementEnd(w[i:])
		if !ok {
			if src.more() {
				continue
			}
			return nil, nil, nil
		}
		raw := w[i : i+end]
		node := string(raw[1:5]) == "node"
		if node && edges {
			return nil, nil, nil // the XML decoder says why
		}
		edges = edges || !node
		if j, ok := byHash[xxh3.Hash(raw)]; ok && !seen[j] && old.elems[j].node == node {
			seen[j] = true
		} else {
			changed = append(append(changed, raw...), '\n')
		}
		src.advance(i + end)
	}
	return decodeChanged(ctx, v, start, old, seen, idOf, changed)
}

// tailOnly reports whether w is the end of a document after the last element:
// </graph>, </graphml> and white space.
func tailOnly(w []byte) bool {
	w = bytes.TrimLeft(w, " \t\n")
	w, ok := bytes.CutPrefix(w, []byte("</graph>"))
	if !ok {
		return false
	}
	w, ok = bytes.CutPrefix(bytes.TrimLeft(w, " \t\n"), []byte("</graphml>"))
	return ok && len(bytes.TrimLeft(w, " \t\n")) == 0
}

// decodeChanged decodes the changed elements, in a document made of the file's head
// and them, with the unchanged nodes known, and makes the delta and the new index.
func decodeChanged(ctx context.Context, v *fileView, start int64, old *index, seen []bool, idOf []int32, changed []byte) (*fileDelta, *index, error) {
	head := make([]byte, start)
	if _, err := v.f.ReadAt(head, 0); err != nil {
		return nil, nil, fmt.Errorf("graphml: %w", err)
	}
	nidx := &index{journal: old.journal, position: old.position + 1, head: old.head, directed: old.directed}
	d := newDecoder(io.MultiReader(bytes.NewReader(head), bytes.NewReader(changed), bytes.NewReader([]byte("</graph></graphml>\n"))), sourceSize, true)
	if _, err := d.Meta(); err != nil {
		return nil, nil, nil
	}
	delta := &fileDelta{nodes: map[string]graph.Node{}, edges: map[string]graph.Edge{}}
	keys := map[uint64]struct{}{}
	for j, ok := range seen {
		if !ok {
			continue
		}
		el := old.elems[j]
		nidx.elems = append(nidx.elems, el)
		if el.node {
			id := old.ids[idOf[j]]
			d.ids[id] = id
			nidx.ids = append(nidx.ids, id)
			delta.counts[0]++
		} else {
			delta.counts[1]++
		}
	}
	d.onElement = nidx.add
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			return nil, nil, ctx.Err()
		}
		delta.nodes[n.ID] = n
		delta.ops = append(delta.ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		keys[xxh3.HashString(graph.NodeKey(n.ID))] = struct{}{}
		delta.counts[0]++
	}
	for e, err := range d.Edges(ctx) {
		if err != nil {
			return nil, nil, ctx.Err()
		}
		k := e.Key(old.directed)
		delta.edges[k] = e
		delta.ops = append(delta.ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
		keys[xxh3.HashString(k)] = struct{}{}
		delta.counts[1]++
	}
	if d.handovers != 1 || nidx.bad {
		return nil, nil, nil
	}
	// A record gone from the file: its key is not in the index, so it cannot be
	// named (and a node's edges go with it): the view is read whole.
	for j, ok := range seen {
		if _, changed := keys[old.elems[j].key]; !ok && !changed {
			return nil, nil, nil
		}
	}
	return delta, nidx, nil
}
