package memgraph

import (
	"context"
	"fmt"
	"iter"
	"unsafe"

	"github.com/graphvault/graphvault/internal/arena"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// Apply applies the operations of one batch in order, atomically, and journals
// them as one batch. Every operation is validated and normalized before the graph
// is touched; if one fails (an edge whose end does not exist at that point of the
// batch, for instance) the graph is left as it was. Deleting a node deletes its
// edges; deleting a node or an edge that does not exist does nothing. An empty
// batch changes nothing and is not journaled.
func (g *Graph) Apply(ctx context.Context, ops []graph.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	norm := make([]graph.Op, len(ops))
	recs := make([]prepared, len(ops))
	for i, op := range ops {
		n, err := normalizeOp(op)
		if err == nil {
			recs[i], err = prepare(n, g.directed)
		}
		if err != nil {
			return fmt.Errorf("memgraph: apply: op %d (%s): %w", i, op.Kind, err)
		}
		norm[i] = n
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	g.snap = nil
	var u undoLog
	for i, op := range norm {
		if err := g.applyLocked(op, recs[i], &u); err != nil {
			u.revert(g)
			return fmt.Errorf("memgraph: apply: op %d (%s): %w", i, op.Kind, err)
		}
	}
	g.journalLocked(entry{b: graph.Batch{Ops: norm}})
	return nil
}

// prepared is the record an operation stores, or the key it deletes.
type prepared struct {
	node *nodeRec
	edge *edgeRec
}

// prepare encodes the record a normalized op writes, before the lock is taken.
func prepare(op graph.Op, directed bool) (p prepared, err error) {
	switch op.Kind {
	case graph.OpUpsertNode:
		p.node, err = newNodeRec(op.Node)
	case graph.OpDeleteNode:
		p.node = nodeProbe(op.Node.ID)
	case graph.OpUpsertEdge:
		p.edge, err = newEdgeRec(op.Edge, directed)
	case graph.OpDeleteEdge:
		p.edge = edgeProbe(op.Edge.Source, op.Edge.Target, op.Edge.Type, directed)
	}
	return p, err
}

// normalizeOp validates op and returns the copy the graph journals.
func normalizeOp(op graph.Op) (graph.Op, error) {
	switch op.Kind {
	case graph.OpUpsertNode:
		n, err := op.Node.Normalize()
		return graph.Op{Kind: op.Kind, Node: n}, err
	case graph.OpDeleteNode:
		if err := graph.ValidateID(op.Node.ID); err != nil {
			return graph.Op{}, err
		}
		return graph.Op{Kind: op.Kind, Node: graph.Node{ID: op.Node.ID}}, nil
	case graph.OpUpsertEdge:
		e, err := op.Edge.Normalize()
		return graph.Op{Kind: op.Kind, Edge: e}, err
	case graph.OpDeleteEdge:
		e := graph.Edge{Source: op.Edge.Source, Target: op.Edge.Target, Type: op.Edge.Type}
		if err := e.Validate(); err != nil {
			return graph.Op{}, err
		}
		return graph.Op{Kind: op.Kind, Edge: e}, nil
	case graph.OpReset:
		return graph.Op{Kind: op.Kind}, nil
	}
	return graph.Op{}, fmt.Errorf("%w: unknown operation kind %d", graph.ErrInvalidValue, op.Kind)
}

// applyLocked applies one normalized op, logging what it changes in u.
func (g *Graph) applyLocked(op graph.Op, p prepared, u *undoLog) error {
	switch op.Kind {
	case graph.OpUpsertNode:
		old, had := g.nodes.Set(p.node)
		g.ends.addNode(p.node.id())
		u.node(p.node, old, had)
	case graph.OpDeleteNode:
		g.deleteNodeLocked(p.node, u)
	case graph.OpUpsertEdge:
		for _, end := range [2]string{op.Edge.Source, op.Edge.Target} {
			if !g.ends.has(end) {
				return fmt.Errorf("%w: edge %q-%q: node %q", ErrMissingEnd, op.Edge.Source, op.Edge.Target, end)
			}
		}
		old, had := g.putEdgeLocked(p.edge)
		u.edge(p.edge, old, had)
	case graph.OpDeleteEdge:
		old, had := g.deleteEdgeLocked(p.edge)
		u.edge(p.edge, old, had)
	case graph.OpReset:
		u.reset(g)
		g.nodes, g.edges, g.ends = newContent()
	}
	return nil
}

func (g *Graph) putEdgeLocked(r *edgeRec) (*edgeRec, bool) {
	old, had := g.edges.Set(r)
	g.ends.put(r, old)
	return old, had
}

func (g *Graph) deleteEdgeLocked(key *edgeRec) (*edgeRec, bool) {
	old, had := g.edges.Delete(key)
	if had {
		g.ends.remove(old)
	}
	return old, had
}

// deleteNodeLocked deletes the node and every edge that has it as an end.
func (g *Graph) deleteNodeLocked(key *nodeRec, u *undoLog) {
	old, had := g.nodes.Delete(key)
	if !had {
		return // a node that does not exist has no edges either
	}
	u.node(key, old, had)
	id := key.id()
	var doomed []*edgeRec
	// Edges whose key starts with the node, then edges whose other end it is.
	from := edgeRecOf(keyRec(graph.EdgePrefix+id+"\x00\x00"), false)
	g.edges.Ascend(&from, func(r *edgeRec) bool {
		if r.lo() != id {
			return false
		}
		doomed = append(doomed, r)
		return true
	})
	for _, r := range g.ends.at(id) {
		if r.lo() != id { // a self-loop was found by the first scan
			doomed = append(doomed, r)
		}
	}
	for _, r := range doomed {
		old, had := g.deleteEdgeLocked(r)
		u.edge(r, old, had)
	}
	g.ends.deleteNode(id)
}

// undoLog records what a batch changed so that a failed batch can be reverted.
type undoLog []undo

type undo struct {
	nodeKey *nodeRec // node key, for a node change
	node    *nodeRec // previous node, nil if there was none
	key     *edgeRec // edge key, for an edge change
	edge    *edgeRec // previous edge, nil if there was none
	content *content // previous trees, for a reset
}

type content struct {
	nodes *nodeTree
	edges *edgeTree
	ends  *ends
}

func (u *undoLog) node(key, old *nodeRec, had bool) {
	if !had {
		old = nil
	}
	*u = append(*u, undo{nodeKey: key, node: old})
}

func (u *undoLog) edge(key, old *edgeRec, had bool) {
	if !had {
		old = nil
	}
	*u = append(*u, undo{key: key, edge: old})
}

func (u *undoLog) reset(g *Graph) {
	*u = append(*u, undo{content: &content{nodes: g.nodes, edges: g.edges, ends: g.ends}})
}

// revert undoes the logged changes, newest first.
func (u undoLog) revert(g *Graph) {
	for i := len(u) - 1; i >= 0; i-- {
		switch x := u[i]; {
		case x.content != nil:
			g.nodes, g.edges, g.ends = x.content.nodes, x.content.edges, x.content.ends
		case x.key != nil && x.edge != nil:
			g.putEdgeLocked(x.edge)
		case x.key != nil:
			g.deleteEdgeLocked(x.key)
		case x.node != nil:
			g.nodes.Set(x.node)
			g.ends.addNode(x.node.id())
		default:
			// The node was new: the batch's edges to it are already undone.
			g.nodes.Delete(x.nodeKey)
			g.ends.deleteNode(x.nodeKey.id())
		}
	}
}

// Replace swaps the whole content of the graph for the nodes, then the edges, the
// two sequences yield, and journals it as one batch: [graph.OpReset] followed by an
// upsert of every node and edge. The new content is built aside, so views and
// other writes go on meanwhile; it is swapped in at the end. If a sequence yields an
// error, a value is invalid, an edge end is missing or ctx ends, the graph is left
// as it was. A node or edge yielded twice keeps its last value. meta.Directed must
// match the graph's. meta.Position is where the content stands in its own journal
// (a restore passes its snapshot's): when it is past the graph's position, the
// graph's journal continues from it, so the Replace batch is meta.Position+1 and
// the batches before it are no longer kept (see the package doc).
func (g *Graph) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	if meta.Directed != g.directed {
		return fmt.Errorf("memgraph: replace: %w: content directed=%t, graph directed=%t", ErrDirection, meta.Directed, g.directed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l := newLoader(ctx, g.directed)
	var key, val []byte
	err := func() error {
		for n, err := range orEmpty(nodes) {
			if err != nil {
				return fmt.Errorf("memgraph: replace: nodes: %w", err)
			}
			if !meta.Normalized {
				if n, err = n.Adopt(); err != nil {
					return fmt.Errorf("memgraph: replace: %w", err)
				}
			}
			if val, err = wire.AppendNodeValid(val[:0], n.Labels, n.Props); err != nil {
				return fmt.Errorf("memgraph: replace: node %q: %w", n.ID, err)
			}
			key = graph.AppendNodeKey(key[:0], n.ID)
			r, err := l.joinScratch(key, val)
			if err == nil {
				err = l.node(r)
			}
			if err != nil {
				return err
			}
		}
		for e, err := range orEmpty(edges) {
			if err != nil {
				return fmt.Errorf("memgraph: replace: edges: %w", err)
			}
			if !meta.Normalized {
				if e, err = e.Adopt(); err != nil {
					return fmt.Errorf("memgraph: replace: %w", err)
				}
			}
			if val, err = wire.AppendEdgeValid(val[:0], e.Props); err != nil {
				return fmt.Errorf("memgraph: replace: edge %q-%q: %w", e.Source, e.Target, err)
			}
			swap := !g.directed && e.Target < e.Source
			key = graph.AppendEdgeKey(key[:0], e.Source, e.Target, e.Type, g.directed)
			r, err := l.joinScratch(key, val)
			if err == nil {
				err = l.edge(r, swap)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}()
	return g.finishLoad(l, meta.Position, err)
}

// ReplaceEncoded is Replace for records in the encoding the graph stores, as a
// restore reads them from a snapshot: see [wire.Sink]. Records are checked with
// [wire.CheckNode] and [wire.CheckEdge] unless meta.Normalized says the caller
// did; edge ends are always checked. An Owned record whose value directly follows
// its key in memory is kept without a copy; any other record is copied.
func (g *Graph) ReplaceEncoded(ctx context.Context, meta graph.Meta, nodes, edges iter.Seq2[wire.Record, error]) error {
	if meta.Directed != g.directed {
		return fmt.Errorf("memgraph: replace: %w: content directed=%t, graph directed=%t", ErrDirection, meta.Directed, g.directed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l := newLoader(ctx, g.directed)
	err := func() error {
		for r, err := range orEmpty(nodes) {
			if err != nil {
				return fmt.Errorf("memgraph: replace: nodes: %w", err)
			}
			if !meta.Normalized {
				if err := wire.CheckNode(r); err != nil {
					return fmt.Errorf("memgraph: replace: %w", err)
				}
			}
			rec, err := l.keep(r)
			if err == nil {
				err = l.node(rec)
			}
			if err != nil {
				return err
			}
		}
		for r, err := range orEmpty(edges) {
			if err != nil {
				return fmt.Errorf("memgraph: replace: edges: %w", err)
			}
			if !meta.Normalized {
				if err := wire.CheckEdge(r, g.directed); err != nil {
					return fmt.Errorf("memgraph: replace: %w", err)
				}
			}
			rec, err := l.keep(r)
			if err == nil {
				err = l.edge(rec, false)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}()
	return g.finishLoad(l, meta.Position, err)
}

// orEmpty returns seq, or an empty sequence for nil.
func orEmpty[T any](seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	if seq == nil {
		return func(func(T, error) bool) {}
	}
	return seq
}

// loader builds the content of a Replace aside from the graph: the trees as
// records come (see runs), the index of edges by their other end, with the check
// that both ends of every edge are nodes, at the end (see endsBuilder).
type loader struct {
	ctx      context.Context
	directed bool
	a        *arena.Arena
	n        int // records so far, for checking ctx now and then
	nodes    *runs[*nodeRec]
	edges    *runs[*edgeRec]
	ends     *endsBuilder
	nodeSlab []nodeRec // records are allocated in blocks: fewer objects to collect
	edgeSlab []edgeRec
}

func newLoader(ctx context.Context, directed bool) *loader {
	l := &loader{ctx: ctx, directed: directed, ends: newEndsBuilder()}
	l.nodes, l.edges = newRuns(lessNode), newRuns(lessEdge)
	l.a = arena.NewBulk()
	return l
}

func (l *loader) tick() error {
	if l.n++; l.n%ctxEvery == 0 {
		return l.ctx.Err()
	}
	return nil
}

// keep returns r as a record for the graph to keep: r's own bytes when it is
// Owned and its value follows its key in memory (as a restore hands them over),
// a copy otherwise.
func (l *loader) keep(r wire.Record) (rec, error) {
	if r.Owned {
		if kept, ok := joinedRec(r.Key, r.Value); ok {
			return kept, nil
		}
	}
	return l.join(r.Key, r.Value)
}

// join copies key and val, one after the other, into the loader's arena.
func (l *loader) join(key string, val []byte) (rec, error) {
	r, ok := joinedRec(l.a.Pair(key, val))
	if !ok {
		return rec{}, fmt.Errorf("memgraph: replace: %w", errTooLarge)
	}
	return r, nil
}

// joinScratch is join for a key built in a scratch buffer: Pair copies it, so a
// string view of the buffer is enough.
func (l *loader) joinScratch(key, val []byte) (rec, error) {
	return l.join(unsafe.String(unsafe.SliceData(key), len(key)), val)
}

// node adds a node whose bytes are the loader's to keep.
func (l *loader) node(kept rec) error {
	if err := l.tick(); err != nil {
		return err
	}
	if len(l.nodeSlab) == 0 {
		l.nodeSlab = make([]nodeRec, slabSize)
	}
	r := &l.nodeSlab[0]
	l.nodeSlab = l.nodeSlab[1:]
	*r = nodeRec{kept}
	l.nodes.add(r)
	l.ends.addNode(r.id())
	return nil
}

// edge adds an edge whose key parses and whose bytes are the loader's to keep.
func (l *loader) edge(kept rec, swap bool) error {
	if err := l.tick(); err != nil {
		return err
	}
	if len(l.edgeSlab) == 0 {
		l.edgeSlab = make([]edgeRec, slabSize)
	}
	r := &l.edgeSlab[0]
	l.edgeSlab = l.edgeSlab[1:]
	*r = edgeRecOf(kept, swap)
	old, _ := l.edges.add(r)
	l.ends.addEdge(r, old)
	return nil
}

// finishLoad swaps the loaded content in and journals it, when the load, the
// check of edge ends and ctx all went well. from is the position the content
// stands at in its own journal: the graph's journal continues from it if it is
// past the graph's position.
func (g *Graph) finishLoad(l *loader, from uint64, err error) error {
	if err != nil {
		return err
	}
	if err := l.ctx.Err(); err != nil {
		return err
	}
	nodes := l.nodes.merge(func(*nodeRec) {})
	edges := l.edges.merge(l.ends.addDead)
	ends, err := l.ends.build()
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes, g.edges, g.ends = nodes, edges, ends
	g.snap = nil
	g.continueFromLocked(from)
	g.journalLocked(entry{content: g.snapshotLocked()})
	return nil
}

// slabSize is how many records Replace allocates at once. A block stays allocated
// while any of its records is in the graph, so deleting bulk-loaded records frees
// their memory only block by block. The keys and values of a bulk load come from
// arena blocks (internal/arena), or from the restore's, and are freed the same way.
const slabSize = 256
