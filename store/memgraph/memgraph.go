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
// Values are normalized and copied on the way in ([graph.Node.Normalize],
// [graph.Edge.Normalize]), so a caller cannot change stored state through what it
// passed to Apply or Replace. Values yielded by views, returned by [Graph.Node] and
// [Graph.Edge] and carried by journal batches share memory with the stored state and
// must not be modified.
//
// Every successful Apply or Replace is one journal batch. Positions start at 1 and
// grow by one per batch. [WithJournalLimit] bounds the number of batches kept.
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
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/graphvault/graphvault/store/graph"
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
	nodes *btree.BTreeG[*graph.Node]
	edges *btree.BTreeG[*edgeRec] // by (lo, hi, type): the record key order
	rev   *btree.BTreeG[*edgeRec] // by (hi, lo, type): finds a node's edges by its other end
	snap  *snapshot               // read-only clone of the current content, nil after a write
	seq   uint64                  // position of the newest batch
	// journalID names this graph's journal in views' Meta: positions restart at 1
	// in a new graph, so they are only comparable within one id.
	journalID string
	// journal holds the kept batches, oldest first; journal[i].b.Seq == seq-len+1+i.
	// Slots are never written again once appended, so readers may keep sub-slices.
	journal []entry
	// nodeProbe is a reusable search key, used under mu.
	nodeProbe graph.Node
}

// edgeRec is a stored edge. Records are immutable once stored: trees share them
// between clones.
type edgeRec struct {
	e    graph.Edge
	swap bool // undirected and Target < Source: the key starts with Target
}

func newEdgeRec(e graph.Edge, directed bool) *edgeRec {
	return &edgeRec{e: e, swap: !directed && e.Target < e.Source}
}

// lo is the end the record key starts with.
func (r *edgeRec) lo() string {
	if r.swap {
		return r.e.Target
	}
	return r.e.Source
}

// hi is the other end.
func (r *edgeRec) hi() string {
	if r.swap {
		return r.e.Source
	}
	return r.e.Target
}

// lessEdge orders edges by (lo, hi, type), which is the order of their record keys:
// ids hold no NUL, the byte that separates the fields of a key.
func lessEdge(a, b *edgeRec) bool {
	if c := strings.Compare(a.lo(), b.lo()); c != 0 {
		return c < 0
	}
	if c := strings.Compare(a.hi(), b.hi()); c != 0 {
		return c < 0
	}
	return a.e.Type < b.e.Type
}

func lessRev(a, b *edgeRec) bool {
	if c := strings.Compare(a.hi(), b.hi()); c != 0 {
		return c < 0
	}
	if c := strings.Compare(a.lo(), b.lo()); c != 0 {
		return c < 0
	}
	return a.e.Type < b.e.Type
}

func lessNode(a, b *graph.Node) bool { return a.ID < b.ID }

func newTrees() (*btree.BTreeG[*graph.Node], *btree.BTreeG[*edgeRec], *btree.BTreeG[*edgeRec]) {
	return btree.NewG(degree, lessNode), btree.NewG(degree, lessEdge), btree.NewG(degree, lessRev)
}

// snapshot is a read-only copy of the content, shared by views and journal entries.
type snapshot struct {
	nodes *btree.BTreeG[*graph.Node]
	edges *btree.BTreeG[*edgeRec]
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
	g.nodes, g.edges, g.rev = newTrees()
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

// Node returns the node with the given id. The caller must not modify it.
func (g *Graph) Node(id string) (graph.Node, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodeProbe.ID = id
	n, ok := g.nodes.Get(&g.nodeProbe)
	if !ok {
		return graph.Node{}, false
	}
	return *n, true
}

// Edge returns the edge with the given key; in an undirected graph the ends may be
// given in either order. The caller must not modify it.
func (g *Graph) Edge(source, target, typ string) (graph.Edge, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.edges.Get(newEdgeRec(graph.Edge{Source: source, Target: target, Type: typ}, g.directed))
	if !ok {
		return graph.Edge{}, false
	}
	return r.e, true
}

// snapshotLocked returns a read-only clone of the current content. Views opened
// between two writes share one clone. g.mu must be held.
func (g *Graph) snapshotLocked() *snapshot {
	if g.snap == nil {
		g.snap = &snapshot{nodes: g.nodes.Clone(), edges: g.edges.Clone()}
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

// Node returns the view's node with the id. The caller must not modify it.
func (v *view) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	if v.s == nil {
		return graph.Node{}, false, fmt.Errorf("memgraph: view node: %w", graph.ErrClosed)
	}
	n, ok := v.s.nodes.Get(&graph.Node{ID: id})
	if !ok {
		return graph.Node{}, false, nil
	}
	return *n, true, nil
}

// Edge returns the view's edge with the key. The caller must not modify it.
func (v *view) Edge(ctx context.Context, source, target, typ string) (graph.Edge, bool, error) {
	if v.s == nil {
		return graph.Edge{}, false, fmt.Errorf("memgraph: view edge: %w", graph.ErrClosed)
	}
	r, ok := v.s.edges.Get(newEdgeRec(graph.Edge{Source: source, Target: target, Type: typ}, v.meta.Directed))
	if !ok {
		return graph.Edge{}, false, nil
	}
	return r.e, true, nil
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
	return func(yield func(graph.Node, error) bool) {
		if v.s == nil {
			yield(graph.Node{}, fmt.Errorf("memgraph: view nodes: %w", graph.ErrClosed))
			return
		}
		ascend(ctx, v.s.nodes, func(n *graph.Node) graph.Node { return *n }, yield)
	}
}

func (v *view) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		if v.s == nil {
			yield(graph.Edge{}, fmt.Errorf("memgraph: view edges: %w", graph.ErrClosed))
			return
		}
		ascend(ctx, v.s.edges, func(r *edgeRec) graph.Edge { return r.e }, yield)
	}
}

// ascend yields every item of t in order, checking ctx now and then.
func ascend[T, V any](ctx context.Context, t *btree.BTreeG[T], conv func(T) V, yield func(V, error) bool) {
	err := ctx.Err()
	if err == nil {
		i := 0
		t.Ascend(func(item T) bool {
			if i++; i%ctxEvery == 0 {
				if err = ctx.Err(); err != nil {
					return false
				}
			}
			return yield(conv(item), nil)
		})
	}
	if err != nil {
		var zero V
		yield(zero, err)
	}
}
