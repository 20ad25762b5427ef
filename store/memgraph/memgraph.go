// Package memgraph is an in-memory graph that implements [graph.Reader],
// [graph.Writer] and [graph.Journal]. It serves tests, examples and hosts whose
// graph fits in memory, and is safe for concurrent use.
//
// Nodes and edges live in copy-on-write B-trees ordered by record key (see
// [graph.NodeKey] and [graph.EdgeKey]), so opening a [graph.View] costs O(1) and a
// view keeps showing the content it was opened on while writers go on. Views yield
// nodes in key order, then edges in key order; the order is the same in every view
// of the same content.
//
// Records are held encoded, in the encoding snapshots use (store/graph/wire): a
// node or edge costs its encoded bytes and a few words, not a map and a boxed
// value per property. Values are checked and normalized on the way in
// ([graph.Node.Normalize], [graph.Edge.Normalize]) and encoded, so a caller cannot
// change stored state through what it passed to Apply or Replace. Views,
// [Graph.Node] and [Graph.Edge] decode: what they return is the caller's. Views
// also yield the records undecoded ([wire.Source]), and [Graph.ReplaceEncoded]
// loads encoded records ([wire.Sink]): snapshots and restores go through these
// without decoding. Operations carried by journal batches share memory with the
// graph and must not be modified.
//
// Every successful Apply or Replace is one journal batch. Positions start at 1 and
// grow by one per batch. [WithJournalLimit] bounds the number of batches kept. A
// Replace whose [graph.Meta].Position is past the graph's position (a restore
// passes its snapshot's) continues from it: a graph made afresh after a restart
// and restored from a snapshot goes on from the snapshot's position, so a graph's
// positions never go back across restarts, and Changes from an earlier position
// yields [graph.ErrJournalGap]. Each graph names its journal anew
// ([graph.Meta].Journal): batches after a restart are not those the old journal
// held at the same positions.
//
// # Errors
//
// Invalid ids wrap [graph.ErrInvalidID] and invalid property values wrap
// [graph.ErrInvalidValue]. An edge whose source or target does not exist wraps
// [ErrMissingEnd]; Replace with content of the other direction wraps
// [ErrDirection]. Changes yields an error wrapping [graph.ErrJournalGap] when the
// batches asked for are no longer kept, and views used after Close yield
// [graph.ErrClosed]. A failed Apply or Replace leaves the graph as it was and is not
// journaled. Context errors are returned as they are.
//
// # Metrics
//
// The package records no metrics; the packages that read and write it do.
package memgraph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/btree"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrMissingEnd is returned for an edge whose source or target node does not exist.
	ErrMissingEnd = errors.New("memgraph: edge end does not exist")
	// ErrDirection is returned by Replace when the content's Meta.Directed differs
	// from the graph's.
	ErrDirection = errors.New("memgraph: directed and undirected content do not mix")
)

// degree is the B-tree degree: nodes hold up to 2*degree-1 items.
const degree = 32

// nodeTree and edgeTree hold the records by key. They are copy-on-write: a copy
// costs O(1), and the tree written after it copies the nodes it changes. They
// take no locks of their own; Graph.mu guards the live trees, and copies are
// only read.
type (
	nodeTree = btree.BTreeG[*nodeRec]
	edgeTree = btree.BTreeG[*edgeRec]
)

// ctxEvery is how many records an iteration yields between two context checks.
const ctxEvery = 1024

// Option configures a Graph.
type Option func(*config)

type config struct {
	directed     bool
	journalLimit int
	now          func() time.Time
}

// Directed makes the graph directed: (a, b, t) and (b, a, t) are two edges. A graph
// is undirected by default, as LightRAG's is.
func Directed() Option { return func(c *config) { c.directed = true } }

// WithJournalLimit keeps only the newest n journal batches; Changes from an older
// position yields [graph.ErrJournalGap]. n <= 0 keeps every batch (the default).
func WithJournalLimit(n int) Option { return func(c *config) { c.journalLimit = n } }

// WithClock sets the clock that stamps journal batches. Nil means time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Graph is an in-memory graph. The zero value is not usable; call [New].
type Graph struct {
	directed bool
	limit    int
	now      func() time.Time

	mu    sync.Mutex
	nodes *nodeTree // by record key
	edges *edgeTree // by record key: (lo, hi, type)
	ends  *ends     // every node's edges by their other end
	snap  *snapshot // read-only clone of the current content, nil after a write
	seq   uint64    // position of the newest batch
	// journalID names this graph's journal in views' Meta: a new graph's batches
	// are not an older graph's, even at the same positions, so positions are only
	// comparable within one id.
	journalID string
	// journal holds the kept batches, oldest first; journal[i].b.Seq == seq-len+1+i.
	// Slots are never written again once appended, so readers may keep sub-slices.
	journal []entry
}

func newContent() (*nodeTree, *edgeTree, *ends) {
	return newTree(lessNode), newTree(lessEdge), newEnds()
}

// newTree returns an empty tree ordered by less.
func newTree[T any](less func(a, b T) bool) *btree.BTreeG[T] {
	return btree.NewBTreeGOptions(less, btree.Options{Degree: degree, NoLocks: true})
}

// snapshot is a read-only copy of the content, shared by views and journal entries.
type snapshot struct {
	nodes *nodeTree
	edges *edgeTree
}

// New returns an empty graph, undirected unless [Directed] is given.
func New(opts ...Option) *Graph {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.now == nil {
		c.now = time.Now
	}
	g := &Graph{directed: c.directed, limit: c.journalLimit, now: c.now, journalID: newJournalID()}
	g.nodes, g.edges, g.ends = newContent()
	return g
}

// Directed reports whether the graph is directed.
func (g *Graph) Directed() bool { return g.directed }

// Len returns the number of nodes and edges.
func (g *Graph) Len() (nodes, edges int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes.Len(), g.edges.Len()
}

// Position returns the journal position of the newest batch, 0 before the first.
func (g *Graph) Position() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seq
}

// Node returns the node with the given id.
func (g *Graph) Node(id string) (graph.Node, bool) {
	g.mu.Lock()
	r, ok := g.nodes.Get(nodeProbe(id))
	g.mu.Unlock()
	if !ok {
		return graph.Node{}, false
	}
	return mustDecode(r.node())
}

// Edge returns the edge with the given key; in an undirected graph the ends may be
// given in either order.
func (g *Graph) Edge(source, target, typ string) (graph.Edge, bool) {
	g.mu.Lock()
	r, ok := g.edges.Get(edgeProbe(source, target, typ, g.directed))
	g.mu.Unlock()
	if !ok {
		return graph.Edge{}, false
	}
	return mustDecode(r.edge())
}

// mustDecode returns a decoded stored record. Stored records were encoded here
// from checked content, so one that does not decode is a broken invariant.
func mustDecode[T any](v T, err error) (T, bool) {
	if err != nil {
		panic(err)
	}
	return v, true
}

// snapshotLocked returns a read-only clone of the current content. Views opened
// between two writes share one clone. g.mu must be held.
func (g *Graph) snapshotLocked() *snapshot {
	if g.snap == nil {
		g.snap = &snapshot{nodes: g.nodes.Copy(), edges: g.edges.Copy()}
	}
	return g.snap
}

// View opens a consistent view of the graph in O(1). Writes made after View
// returns are not seen by it. View may be called concurrently with anything.
func (g *Graph) View(ctx context.Context) (graph.View, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return &view{meta: graph.Meta{Directed: g.directed, Position: g.seq, Journal: g.journalID}, s: g.snapshotLocked()}, nil
}

// view is a graph.View over a snapshot.
type view struct {
	meta graph.Meta
	s    *snapshot // nil once closed
}

func (v *view) Meta() graph.Meta { return v.meta }

// Normalized reports that every record passed Normalize or Adopt on its way in.
func (v *view) Normalized() bool { return true }

// Counts returns how many nodes and edges the view holds, in O(1).
func (v *view) Counts() (nodes, edges int64) {
	if v.s == nil {
		return 0, 0
	}
	return int64(v.s.nodes.Len()), int64(v.s.edges.Len())
}

// Node returns the view's node with the id.
func (v *view) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	if v.s == nil {
		return graph.Node{}, false, fmt.Errorf("memgraph: view node: %w", graph.ErrClosed)
	}
	r, ok := v.s.nodes.Get(nodeProbe(id))
	if !ok {
		return graph.Node{}, false, nil
	}
	n, err := r.node()
	return n, err == nil, err
}

// Edge returns the view's edge with the key.
func (v *view) Edge(ctx context.Context, source, target, typ string) (graph.Edge, bool, error) {
	if v.s == nil {
		return graph.Edge{}, false, fmt.Errorf("memgraph: view edge: %w", graph.ErrClosed)
	}
	r, ok := v.s.edges.Get(edgeProbe(source, target, typ, v.meta.Directed))
	if !ok {
		return graph.Edge{}, false, nil
	}
	e, err := r.edge()
	return e, err == nil, err
}

// newJournalID returns a random name for a new journal.
func newJournalID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func (v *view) Close() error {
	v.s = nil
	return nil
}

func (v *view) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return viewSeq(ctx, v, "nodes", func(s *snapshot) *nodeTree { return s.nodes }, (*nodeRec).node)
}

func (v *view) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return viewSeq(ctx, v, "edges", func(s *snapshot) *edgeTree { return s.edges }, (*edgeRec).edge)
}

// EncodedNodes yields the nodes as they are stored: see [wire.Source].
func (v *view) EncodedNodes(ctx context.Context) iter.Seq2[wire.Record, error] {
	return viewSeq(ctx, v, "nodes", func(s *snapshot) *nodeTree { return s.nodes }, func(r *nodeRec) (wire.Record, error) {
		return wire.Record{Key: r.key(), Value: r.val()}, nil
	})
}

// EncodedEdges yields the edges as they are stored: see [wire.Source].
func (v *view) EncodedEdges(ctx context.Context) iter.Seq2[wire.Record, error] {
	return viewSeq(ctx, v, "edges", func(s *snapshot) *edgeTree { return s.edges }, func(r *edgeRec) (wire.Record, error) {
		return wire.Record{Key: r.key(), Value: r.val()}, nil
	})
}

// viewSeq yields every record of one of the view's trees, in order, converted by
// conv, checking ctx now and then.
//
// The records of a large graph lie all over memory, and reading each one's header
// is a cache miss. Records are taken from the tree readAhead at a time and their
// headers touched first, so that the processor waits for those misses together
// rather than one after the other.
func viewSeq[T interface{ touch() byte }, V any](ctx context.Context, v *view, what string, tree func(*snapshot) *btree.BTreeG[T], conv func(T) (V, error)) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		var zero V
		if v.s == nil {
			yield(zero, fmt.Errorf("memgraph: view %s: %w", what, graph.ErrClosed))
			return
		}
		err := ctx.Err()
		var ahead [readAhead]T
		n, i := 0, 0
		// flush converts and yields the records taken so far; false means stop.
		flush := func() bool {
			var t byte
			for _, item := range ahead[:n] {
				t += item.touch()
			}
			touched.Add(uint32(t))
			for _, item := range ahead[:n] {
				if i++; i%ctxEvery == 0 {
					if err = ctx.Err(); err != nil {
						return false
					}
				}
				var x V
				if x, err = conv(item); err != nil || !yield(x, nil) {
					return false
				}
			}
			n = 0
			return true
		}
		if err == nil {
			ok := true
			tree(v.s).Scan(func(item T) bool {
				ahead[n] = item
				if n++; n == readAhead {
					ok = flush()
				}
				return ok
			})
			if ok {
				flush()
			}
		}
		if err != nil {
			yield(zero, err)
		}
	}
}

// readAhead is how many records viewSeq takes from a tree at a time.
const readAhead = 32

// touched sums what viewSeq's touches read, so that the compiler keeps the reads.
var touched atomic.Uint32
