package lightrag

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// File is one GraphML file (LightRAG's graph_chunk_entity_relation.graphml kept
// on its own) as a graph whose snapshots restore it byte for byte, at the speed
// of [graphml.IndexedFile]: the graph's records come from an IndexedFile, so
// that a rewritten file decodes and writes only the records that changed, and
// beside them go the records a single-file snapshot of a [Dir] holds: the root
// record, the file record with the writer's head, and the order of the nodes
// and edges in content-defined chunks. Restore such a snapshot with a Dir made
// for the output path.
//
// Unlike a Dir, a File does not write the layout back at snapshot time to see
// whether it gives the file's bytes (that would cost a whole write of the
// file); the restore writes it, checks the SHA-256 and, where NetworkX's
// writers do not give these bytes, keeps the re-encoded file (the same graph)
// and names it in [RestoreReport].Reencoded. A file NetworkX did not lay out
// ([graphml.ErrNotNetworkX]) is kept as the graph alone, as an IndexedFile
// keeps it; a Dir refuses to restore that snapshot (it has no root record)
// and it is restored with a [graphml.File], re-encoded.
//
// The file is not copied aside: the caller gives a file that does not change
// while it is read (examples/lightrag reads a copy), or a server that rewrites
// it by a rename, as NetworkX's writers and LightRAG do.
//
// One view at a time reads through the IndexedFile; a view made while another
// is open reads the whole file (with its layout) and leaves the index alone.
// Replace restores a snapshot into the file and Apply merges a partial restore,
// as a Dir made for the path does.
type File struct {
	path    string
	index   string
	name    string
	g       *graphml.IndexedFile
	chunked bool

	viewing sync.Mutex // held while the IndexedFile's view is open

	mu     sync.Mutex
	delta  *layoutDelta                // what the newest view changed in the layout records
	settle func() (*layoutRecs, error) // waits for the newest view's layout
	cview  *chunkedView                // the newest chunked view with the journal

	wmu  sync.Mutex // serializes Replace and Apply
	last RestoreReport
}

var (
	_ graph.Graph   = (*File)(nil)
	_ graph.Journal = (*File)(nil)
)

// FileOption configures a File.
type FileOption func(*File)

// Named sets the file name the snapshot records (default: the base name of the
// path), for a File read from a copy of the user's file.
func Named(name string) FileOption { return func(f *File) { f.name = name } }

// NewFile returns the GraphML file at path, with the IndexedFile's index kept at
// index and the names of the layout's chunks beside it (index + ".layout").
func NewFile(path, index string, opts ...FileOption) *File {
	f := &File{path: path, index: index, name: filepath.Base(path), g: graphml.NewIndexedFile(path, index)}
	for _, o := range opts {
		o(f)
	}
	return f
}

// layoutState is what the sidecar keeps: the position of the view that wrote it
// and the chunk names of its order stream.
type layoutState struct {
	Journal  string   `json:"journal"`
	Position uint64   `json:"position"`
	Chunks   []string `json:"chunks"`
}

// layoutDelta is how the newest view's layout records differ from the view
// before it.
type layoutDelta struct {
	seq     uint64
	known   bool       // the previous view's chunks are known
	touched []graph.Op // the file record, new chunks, and chunks no longer used
}

// layoutRecs are the records a single-file snapshot holds beside the graph.
type layoutRecs struct {
	nodes map[string]graph.Node
	order []string // node ids in the order a view yields them
}

// View opens the file: the IndexedFile's view and, when NetworkX laid the file
// out, the layout records beside it.
func (f *File) View(ctx context.Context) (graph.View, error) {
	if f.chunked {
		if !f.viewing.TryLock() {
			return f.chunkedView(false, nil)
		}
		v, err := f.chunkedView(true, sync.OnceFunc(f.viewing.Unlock))
		if err != nil {
			f.viewing.Unlock()
			return nil, err
		}
		f.mu.Lock()
		f.cview = v.(*chunkedView)
		f.mu.Unlock()
		return v, nil
	}
	if !f.viewing.TryLock() {
		return f.plainView(ctx)
	}
	v, err := f.indexedView(ctx, sync.OnceFunc(f.viewing.Unlock))
	if err != nil {
		f.viewing.Unlock()
		return nil, err
	}
	return v, nil
}

// plainView reads the whole file, with its layout records, without the index.
func (f *File) plainView(ctx context.Context) (graph.View, error) {
	inner, err := graphml.NewFile(f.path).View(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := f.readLayout(ctx)
	switch {
	case errors.Is(err, graphml.ErrNotNetworkX):
		return inner, nil
	case err != nil:
		return nil, errors.Join(err, inner.Close())
	}
	return &fileLayoutView{View: inner, layout: func() (*layoutRecs, error) { return recs, nil }}, nil
}

// indexedView reads the file through the IndexedFile while the layout is read
// beside it, on another core: the layout records are needed only at the end of
// the nodes, or when the journal is read. unlock, called when the view is closed, lets the next view read through the
// index.
func (f *File) indexedView(ctx context.Context, unlock func()) (graph.View, error) {
	job := make(chan struct{})
	var recs *layoutRecs
	var lerr error
	go func() {
		defer close(job)
		recs, lerr = f.readLayout(ctx)
	}()
	inner, err := f.g.View(ctx)
	if err != nil {
		<-job
		return nil, err
	}
	m := inner.Meta()
	// settle waits for the layout and works out how its records differ from
	// the previous view's, once.
	settle := sync.OnceValues(func() (*layoutRecs, error) {
		<-job
		d := &layoutDelta{seq: m.Position}
		defer f.setDelta(d)
		switch {
		case errors.Is(lerr, graphml.ErrNotNetworkX):
			// The graph alone: its journal cannot say what became of the
			// layout records a previous view had, so it is a gap.
			return &layoutRecs{nodes: map[string]graph.Node{}}, nil
		case lerr != nil:
			return nil, lerr
		}
		prev := f.readState()
		if prev != nil && m.Journal != "" && prev.Journal == m.Journal && prev.Position+1 == m.Position {
			d.known = true
			d.touched = recs.touched(prev.Chunks)
		}
		// The sidecar is written when the view is made, as the IndexedFile
		// writes its index: a sidecar ahead of the caller's position makes the
		// next view's journal a gap, never a wrong delta.
		if err := f.writeState(layoutState{Journal: m.Journal, Position: m.Position, Chunks: recs.chunks()}); err != nil {
			d.known = false
		}
		return recs, nil
	})
	f.mu.Lock()
	f.delta, f.settle = nil, settle
	f.mu.Unlock()
	lv := &fileLayoutView{View: inner, layout: settle, unlock: unlock}
	get, ok := inner.(graph.Getter)
	count, ok2 := inner.(graph.Counter)
	if ok && ok2 {
		return &fileDeltaView{fileLayoutView: lv, get: get, count: count}, nil
	}
	return lv, nil
}

func (f *File) setDelta(d *layoutDelta) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delta = d
}

// Changes yields the IndexedFile's batch with the layout records it changed.
// The journal names records by key and the view says what they hold: a chunk
// the order no longer uses is named by an upsert whose record the view does not
// have, which a snapshot engine following the journal writes as a removal.
func (f *File) Changes(ctx context.Context, after uint64) iter.Seq2[graph.Batch, error] {
	if f.chunked {
		f.mu.Lock()
		v := f.cview
		f.mu.Unlock()
		if v == nil {
			return func(yield func(graph.Batch, error) bool) {
				yield(graph.Batch{}, fmt.Errorf("lightrag: %w: no view", graph.ErrJournalGap))
			}
		}
		return v.changes(ctx, after)
	}
	return func(yield func(graph.Batch, error) bool) {
		f.mu.Lock()
		settle := f.settle
		f.mu.Unlock()
		if settle != nil {
			if _, err := settle(); err != nil {
				yield(graph.Batch{}, err)
				return
			}
		}
		f.mu.Lock()
		d := f.delta
		f.mu.Unlock()
		for b, err := range f.g.Changes(ctx, after) {
			if err == nil && d != nil && b.Seq == d.seq {
				if !d.known {
					yield(graph.Batch{}, fmt.Errorf("lightrag: %w: the layout's chunks before position %d are not known", graph.ErrJournalGap, d.seq))
					return
				}
				b.Ops = append(slices.Clip(b.Ops), d.touched...)
			}
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

func (f *File) statePath() string { return f.index + ".layout" }

func (f *File) readState() *layoutState {
	data, err := os.ReadFile(f.statePath())
	if err != nil {
		return nil
	}
	var s layoutState
	if json.Unmarshal(data, &s) != nil {
		return nil
	}
	return &s
}

func (f *File) writeState(s layoutState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := f.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.statePath())
}

// readLayout reads the file's layout (and, beside it, its SHA-256) and makes
// the layout records.
func (f *File) readLayout(ctx context.Context) (*layoutRecs, error) {
	r, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return nil, err
	}
	type hashed struct {
		sum string
		cr  bool // the file holds a carriage return
		err error
	}
	sum := make(chan hashed, 1)
	go func() {
		h := sha256.New()
		cr := &crFinder{}
		_, err := io.Copy(io.MultiWriter(h, cr), io.NewSectionReader(r, 0, fi.Size()))
		sum <- hashed{hex.EncodeToString(h.Sum(nil)), cr.found, err}
	}()
	l, err := graphml.ReadLayout(ctx, io.NewSectionReader(r, 0, fi.Size()))
	hs := <-sum
	if err != nil {
		return nil, err
	}
	if hs.err != nil {
		return nil, hs.err
	}
	entry := &fileEntry{Path: f.name, Kind: kindGraphML, Mode: uint32(fi.Mode().Perm()), Size: fi.Size(),
		SHA256: hs.sum,
		Graph:  &graphHead{Unchecked: true, Style: l.Style, Directed: l.Directed, GraphID: l.GraphID, Keys: l.Keys, Data: l.GraphData}}
	recs := &layoutRecs{nodes: map[string]graph.Node{}}
	add := func(n graph.Node) {
		if _, ok := recs.nodes[n.ID]; !ok {
			recs.order = append(recs.order, n.ID)
		}
		recs.nodes[n.ID] = n
	}
	add(graph.Node{ID: rootID, Labels: []string{LabelRoot}, Props: map[string]any{"kind": "file"}})
	seen := map[string]bool{}
	entry.Chunks, _ = chunkStream(encodeLayout(l), seen, func(n graph.Node, _ error) bool {
		add(n)
		return true
	})
	if hs.cr {
		// A raw carriage return reaches the graph as a line feed (XML
		// normalizes line ends), so the layout cannot give these bytes back
		// (ElementTree writes carriage returns in text raw): the file's own
		// bytes are kept too (see fileEntry.Content).
		names, _, err := rawChunks(f.path, seen, func(n graph.Node, _ error) bool {
			add(n)
			return true
		})
		if err != nil {
			return nil, err
		}
		entry.Content = names
		entry.Note = "kept whole beside its records: it holds carriage returns"
	}
	fn, err := entry.node()
	if err != nil {
		return nil, err
	}
	add(fn)
	return recs, nil
}

// crFinder is a writer that notes whether a carriage return went through it.
type crFinder struct{ found bool }

func (c *crFinder) Write(p []byte) (int, error) {
	if !c.found && bytes.IndexByte(p, '\r') >= 0 {
		c.found = true
	}
	return len(p), nil
}

// chunks returns the chunk names the records hold, sorted.
func (r *layoutRecs) chunks() []string {
	var names []string
	for _, id := range r.order {
		if r.nodes[id].Labels[0] == LabelChunk {
			names = append(names, chunkName(id))
		}
	}
	slices.Sort(names)
	return names
}

// touched returns the upserts that take a view whose chunks were prev to this
// one: the file record, the chunks new to this view and the ones it dropped.
func (r *layoutRecs) touched(prev []string) []graph.Op {
	var ops []graph.Op
	had := map[string]bool{}
	for _, name := range prev {
		had[name] = true
		if _, ok := r.nodes[chunkIDFromName(name)]; !ok {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: chunkIDFromName(name)}})
		}
	}
	for _, id := range r.order {
		n := r.nodes[id]
		switch n.Labels[0] {
		case LabelFile:
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		case LabelChunk:
			if !had[chunkName(id)] {
				ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
			}
		}
	}
	return ops
}

// fileLayoutView is the IndexedFile's view with the layout records after its
// nodes.
type fileLayoutView struct {
	graph.View
	layout func() (*layoutRecs, error)
	unlock func() // nil for a view made beside another
}

func (v *fileLayoutView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for n, err := range v.View.Nodes(ctx) {
			if !yield(n, err) || err != nil {
				return
			}
		}
		recs, err := v.layout()
		if err != nil {
			yield(graph.Node{}, err)
			return
		}
		for _, id := range recs.order {
			if !yield(recs.nodes[id], nil) {
				return
			}
		}
	}
}

// Close waits for the layout read beside the view, then closes the view.
func (v *fileLayoutView) Close() error {
	if v.unlock != nil {
		defer v.unlock()
	}
	_, err := v.layout()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil // the caller gave up; the view's error, if any, said so
	}
	return errors.Join(v.View.Close(), err)
}

// fileDeltaView is a fileLayoutView whose IndexedFile view knows the changes
// since its index: it reads single records and counts them, which a snapshot
// engine following the journal needs.
type fileDeltaView struct {
	*fileLayoutView
	get   graph.Getter
	count graph.Counter
}

// Node reads a layout record, or the graph's node from the IndexedFile's view.
func (v *fileDeltaView) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	if isReserved(id) {
		recs, err := v.layout()
		if err != nil {
			return graph.Node{}, false, err
		}
		n, ok := recs.nodes[id]
		return n, ok, nil
	}
	return v.get.Node(ctx, id)
}

func (v *fileDeltaView) Edge(ctx context.Context, source, target, typ string) (graph.Edge, bool, error) {
	return v.get.Edge(ctx, source, target, typ)
}

// Counts is the IndexedFile view's count with the layout records.
func (v *fileDeltaView) Counts() (nodes, edges int64) {
	n, e := v.count.Counts()
	if recs, err := v.layout(); err == nil {
		n += int64(len(recs.order))
	}
	return n, e
}

// Replace writes the file a snapshot describes in place of this one, as a Dir
// made for the path does: written beside it, checked against the SHA-256 the
// snapshot recorded, renamed over it. A snapshot of the graph alone (taken
// from a file NetworkX did not lay out, or by graphml.IndexedFile) is written
// as NetworkX would, nodes in the order of their ids, and named as re-encoded
// in LastRestore. A snapshot of a folder is ErrExists.
func (f *File) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) (err error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	c, err := collectAny(ctx, meta, nodes, edges, f.path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	switch c.root {
	case "file":
		d, err := f.dir()
		if err != nil {
			return err
		}
		if err := d.replace(ctx, c); err != nil {
			return err
		}
		f.last = d.last
		return nil
	case "":
		if err := graphml.NewFile(f.path).Replace(ctx, graph.Meta{Directed: c.directed}, c.sortedNodes(), c.sortedEdges()); err != nil {
			return err
		}
		f.last = RestoreReport{Files: 1, Reencoded: []string{f.name}}
		return nil
	default:
		return fmt.Errorf("%w: the snapshot is of a folder, %s is a file", ErrExists, f.path)
	}
}

// Apply merges a partial restore into the file, as a Dir made for the path does.
func (f *File) Apply(ctx context.Context, ops []graph.Op) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	d, err := f.dir()
	if err != nil {
		return err
	}
	return d.Apply(ctx, ops)
}

// LastRestore returns the report of the last Replace.
func (f *File) LastRestore() RestoreReport {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.last
}

// dir is the file as a Dir, copied aside beside the index when it is read.
func (f *File) dir() (*Dir, error) {
	return New(f.path, WithScratch(filepath.Dir(f.index)))
}
