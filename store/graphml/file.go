package graphml

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sync"

	"github.com/graphvault/graphvault/store/graph"
)

// Load reads a GraphML document from r and replaces w's content with it. It streams:
// w.Replace ranges over the nodes, then the edges, of one [Decoder], so memory stays
// bounded by the node IDs whatever the size of r. If the document is bad, Replace
// sees the error from the sequences and must leave the graph as it was.
func Load(ctx context.Context, r io.Reader, w graph.Writer) error {
	d := NewDecoder(r)
	meta, err := d.Meta()
	if err != nil {
		return err
	}
	if err := w.Replace(ctx, meta, d.Nodes(ctx), d.Edges(ctx)); err != nil {
		return err
	}
	if d.err != nil {
		return d.err
	}
	if d.state != stateDone {
		return errors.New("graphml: load: the writer stopped before the last edge")
	}
	return nil
}

// File is a graph kept in a GraphML file, the way LightRAG's default graph storage
// keeps it. It implements [graph.Reader] and [graph.Writer].
//
// View opens the file and streams from it; the view reads the file it opened even if
// the file is replaced meanwhile, so it stays consistent. Replace streams the new
// content into a temporary file in the same directory, then syncs it, renames it over
// the file and syncs the directory: readers see the old file or the new one, never a
// partial one. Apply reads the whole file into memory, applies the batch and rewrites
// the file the same way.
//
// Replace and Apply are serialized within one File value; nothing guards against
// another process writing the same path.
type File struct {
	path string
	mu   sync.Mutex
}

var _ graph.Graph = (*File)(nil)

// NewFile returns the graph kept at path. The file need not exist yet: View then
// fails with an error wrapping graph.ErrNotFound, and Apply starts from an empty
// undirected graph.
func NewFile(path string) *File { return &File{path: path} }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// View opens the file and reads its metadata. Nodes and Edges each read the opened
// file from its start. The caller must Close the view.
func (f *File) View(ctx context.Context) (graph.View, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(f.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("graphml: %w: %w", graph.ErrNotFound, err)
		}
		return nil, fmt.Errorf("graphml: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("graphml: %w", err), fh.Close())
	}
	v := &fileView{f: fh, size: st.Size()}
	meta, err := NewDecoder(v.reader()).Meta()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("graphml: %s: %w", f.path, err), fh.Close())
	}
	v.meta = meta
	return v, nil
}

type fileView struct {
	f      *os.File
	size   int64
	meta   graph.Meta
	closed bool
	// after is the decoder that read every node last, standing at the first edge:
	// the next Edges continues with it instead of reading the nodes again.
	after *Decoder
	read  int64 // bytes read from the file, for the tests
	// build, for an IndexedFile, is the index the first reading of every node
	// then every edge makes; built receives it once it is whole.
	build *index
	built func(*index)
}

func (v *fileView) reader() io.Reader {
	return &countingReader{r: io.NewSectionReader(v.f, 0, v.size), n: &v.read}
}

// countingReader adds the bytes it reads to *n.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func (v *fileView) Meta() graph.Meta { return v.meta }

func (v *fileView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	if v.closed {
		return func(yield func(graph.Node, error) bool) { yield(graph.Node{}, graph.ErrClosed) }
	}
	return prefetch(func(yield func(graph.Node, error) bool) {
		d := NewDecoder(v.reader())
		if v.build != nil {
			d.onElement = v.build.add
		}
		for n, err := range d.Nodes(ctx) {
			if !yield(n, err) || err != nil {
				return
			}
		}
		v.after = d
	})
}

func (v *fileView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	if v.closed {
		return func(yield func(graph.Edge, error) bool) { yield(graph.Edge{}, graph.ErrClosed) }
	}
	return prefetch(func(yield func(graph.Edge, error) bool) {
		d := v.after
		v.after = nil
		if d == nil {
			d = NewDecoder(v.reader())
		}
		for e, err := range d.Edges(ctx) {
			if !yield(e, err) || err != nil {
				return
			}
		}
		if ix := v.build; ix != nil && d.onElement != nil && d.state == stateDone && d.handovers == 1 && !ix.bad {
			v.build = nil
			v.built(ix)
		}
	})
}

// prefetchBatch is how many records the decoding goroutine of a view hands over at
// a time; prefetchDepth how many batches it may be ahead.
const (
	prefetchBatch = 256
	prefetchDepth = 4
)

// prefetch ranges over seq in a goroutine of its own, handing its values over in
// batches, so that decoding the file runs beside what the caller does with each
// record (a snapshot encodes, hashes and compresses it). Values come in seq's
// order, an error last. When the caller stops early, the goroutine stops too and
// has returned before the sequence does.
func prefetch[T any](seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	type batch struct {
		items []T
		err   error
	}
	return func(yield func(T, error) bool) {
		ch := make(chan batch, prefetchDepth)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(ch)
			send := func(b batch) bool {
				select {
				case ch <- b:
					return true
				case <-done:
					return false
				}
			}
			buf := make([]T, 0, prefetchBatch)
			for x, err := range seq {
				if err != nil {
					if len(buf) > 0 && !send(batch{items: buf}) {
						return
					}
					send(batch{err: err})
					return
				}
				buf = append(buf, x)
				if len(buf) == prefetchBatch {
					if !send(batch{items: buf}) {
						return
					}
					buf = make([]T, 0, prefetchBatch)
				}
			}
			if len(buf) > 0 {
				send(batch{items: buf})
			}
		})
		defer func() {
			close(done)
			wg.Wait()
		}()
		for b := range ch {
			for _, x := range b.items {
				if !yield(x, nil) {
					return
				}
			}
			if b.err != nil {
				var zero T
				yield(zero, b.err)
				return
			}
		}
	}
}

func (v *fileView) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	return v.f.Close()
}

// Replace writes the nodes and edges to a new file that then takes the place of the
// old one. The sequences are ranged over once; the file is unchanged if either
// yields an error, ctx ends, a node is repeated or an edge's end is not among the
// nodes. Meta.Position is not kept.
func (f *File) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return writeAtomic(f.path, func(w io.Writer) (err error) {
		// The key declarations come first in the file but are known only at the
		// end, so the body is spooled to a second temporary file.
		spool, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".spool-*")
		if err != nil {
			return fmt.Errorf("graphml: %w", err)
		}
		defer func() {
			err = errors.Join(err, spool.Close(), os.Remove(spool.Name()))
		}()
		return writeSpooled(ctx, w, spool, meta, nodes, edges)
	})
}

// Apply applies the batch with the semantics of [graph.Op]: deleting a node deletes
// its edges, an upserted edge's ends must exist, deleting what is absent does
// nothing. It is atomic: if an op is invalid the file is left unchanged. Nodes and
// edges keep their place in the file; new ones are appended.
func (f *File) Apply(ctx context.Context, ops []graph.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.load(ctx)
	if err != nil {
		return err
	}
	for i, op := range ops {
		if err := g.apply(op); err != nil {
			return fmt.Errorf("graphml: op %d (%s): %w", i, op.Kind, err)
		}
	}
	return writeAtomic(f.path, func(w io.Writer) error { return Write(ctx, w, g) })
}

// load reads the whole file into memory; a missing file is an empty undirected graph.
func (f *File) load(ctx context.Context) (*memGraph, error) {
	g := newMemGraph(graph.Meta{})
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("graphml: %w", err)
	}
	defer fh.Close()
	d := NewDecoder(fh)
	if g.meta, err = d.Meta(); err != nil {
		return nil, err
	}
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			return nil, err
		}
		g.upsertNode(n)
	}
	for e, err := range d.Edges(ctx) {
		if err != nil {
			return nil, err
		}
		g.upsertEdge(e)
	}
	return g, nil
}

// writeAtomic writes a file through write so that it appears whole or not at all:
// temporary file in the same directory, fsync, rename over path, fsync of the
// directory so the rename itself is durable.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("graphml: %w", err)
	}
	closed := false
	defer func() {
		if err == nil {
			return
		}
		if !closed {
			err = errors.Join(err, tmp.Close())
		}
		err = errors.Join(err, os.Remove(tmp.Name()))
	}()
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("graphml: %w", err)
	}
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("graphml: %w", err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("graphml: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("graphml: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("graphml: %w", err)
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("graphml: sync dir: %w", err), d.Close())
	}
	return d.Close()
}

// memGraph is the in-memory graph Apply works on. Order is kept as in the file;
// deleted entries are left as holes (ID or Source empty) and skipped on writing.
type memGraph struct {
	meta    graph.Meta
	nodes   []graph.Node
	nodeIdx map[string]int
	edges   []graph.Edge
	edgeIdx map[string]int                 // edge key → index in edges
	adj     map[string]map[string]struct{} // node ID → keys of its edges
}

func newMemGraph(meta graph.Meta) *memGraph {
	return &memGraph{
		meta:    meta,
		nodeIdx: make(map[string]int),
		edgeIdx: make(map[string]int),
		adj:     make(map[string]map[string]struct{}),
	}
}

func (g *memGraph) apply(op graph.Op) error {
	switch op.Kind {
	case graph.OpUpsertNode:
		n, err := op.Node.Normalize()
		if err != nil {
			return err
		}
		g.upsertNode(n)
	case graph.OpDeleteNode:
		g.deleteNode(op.Node.ID)
	case graph.OpUpsertEdge:
		e, err := op.Edge.Normalize()
		if err != nil {
			return err
		}
		for _, id := range []string{e.Source, e.Target} {
			if _, ok := g.nodeIdx[id]; !ok {
				return fmt.Errorf("%w: edge end %q is not a node", graph.ErrNotFound, id)
			}
		}
		g.upsertEdge(e)
	case graph.OpDeleteEdge:
		g.deleteEdge(op.Edge.Key(g.meta.Directed))
	case graph.OpReset:
		*g = *newMemGraph(g.meta)
	default:
		return fmt.Errorf("%w: unknown op kind %d", graph.ErrInvalidValue, op.Kind)
	}
	return nil
}

func (g *memGraph) upsertNode(n graph.Node) {
	if i, ok := g.nodeIdx[n.ID]; ok {
		g.nodes[i] = n
		return
	}
	g.nodeIdx[n.ID] = len(g.nodes)
	g.nodes = append(g.nodes, n)
}

func (g *memGraph) deleteNode(id string) {
	i, ok := g.nodeIdx[id]
	if !ok {
		return
	}
	for key := range g.adj[id] {
		g.deleteEdge(key)
	}
	delete(g.adj, id)
	delete(g.nodeIdx, id)
	g.nodes[i] = graph.Node{}
}

func (g *memGraph) upsertEdge(e graph.Edge) {
	key := e.Key(g.meta.Directed)
	if i, ok := g.edgeIdx[key]; ok {
		g.edges[i] = e
		return
	}
	g.edgeIdx[key] = len(g.edges)
	g.edges = append(g.edges, e)
	for _, id := range []string{e.Source, e.Target} {
		if g.adj[id] == nil {
			g.adj[id] = make(map[string]struct{})
		}
		g.adj[id][key] = struct{}{}
	}
}

func (g *memGraph) deleteEdge(key string) {
	i, ok := g.edgeIdx[key]
	if !ok {
		return
	}
	e := g.edges[i]
	delete(g.adj[e.Source], key)
	delete(g.adj[e.Target], key)
	delete(g.edgeIdx, key)
	g.edges[i] = graph.Edge{}
}

// memGraph is its own view, for Write.

func (g *memGraph) Meta() graph.Meta { return g.meta }

func (g *memGraph) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for _, n := range g.nodes {
			if n.ID != "" && !yield(n, nil) {
				return
			}
		}
	}
}

func (g *memGraph) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for _, e := range g.edges {
			if e.Source != "" && !yield(e, nil) {
				return
			}
		}
	}
}

func (g *memGraph) Close() error { return nil }
