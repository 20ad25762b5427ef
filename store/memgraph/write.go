package memgraph

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"

	"github.com/google/btree"

	"github.com/graphvault/graphvault/internal/kmerge"
	"github.com/graphvault/graphvault/store/graph"
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
	for i, op := range ops {
		n, err := normalizeOp(op)
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
		if err := g.applyLocked(op, &u); err != nil {
			u.revert(g)
			return fmt.Errorf("memgraph: apply: op %d (%s): %w", i, op.Kind, err)
		}
	}
	g.journalLocked(entry{b: graph.Batch{Ops: norm}})
	return nil
}

// normalizeOp validates op and returns the copy the graph stores and journals.
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
func (g *Graph) applyLocked(op graph.Op, u *undoLog) error {
	switch op.Kind {
	case graph.OpUpsertNode:
		n := op.Node
		old, had := g.nodes.ReplaceOrInsert(&n)
		u.node(n.ID, old, had)
	case graph.OpDeleteNode:
		g.deleteNodeLocked(op.Node.ID, u)
	case graph.OpUpsertEdge:
		for _, end := range [2]string{op.Edge.Source, op.Edge.Target} {
			if !g.hasNodeLocked(end) {
				return fmt.Errorf("%w: edge %q-%q: node %q", ErrMissingEnd, op.Edge.Source, op.Edge.Target, end)
			}
		}
		r := newEdgeRec(op.Edge, g.directed)
		old, had := g.putEdgeLocked(r)
		u.edge(r, old, had)
	case graph.OpDeleteEdge:
		r := newEdgeRec(op.Edge, g.directed)
		old, had := g.deleteEdgeLocked(r)
		u.edge(r, old, had)
	case graph.OpReset:
		u.reset(g)
		g.nodes, g.edges, g.rev = newTrees()
	}
	return nil
}

func (g *Graph) hasNodeLocked(id string) bool {
	g.nodeProbe.ID = id
	return g.nodes.Has(&g.nodeProbe)
}

func (g *Graph) putEdgeLocked(r *edgeRec) (*edgeRec, bool) {
	old, had := g.edges.ReplaceOrInsert(r)
	g.rev.ReplaceOrInsert(r)
	return old, had
}

func (g *Graph) deleteEdgeLocked(key *edgeRec) (*edgeRec, bool) {
	old, had := g.edges.Delete(key)
	if had {
		g.rev.Delete(old)
	}
	return old, had
}

// deleteNodeLocked deletes the node and every edge that has it as an end.
func (g *Graph) deleteNodeLocked(id string, u *undoLog) {
	g.nodeProbe.ID = id
	old, had := g.nodes.Delete(&g.nodeProbe)
	if !had {
		return // a node that does not exist has no edges either
	}
	u.node(id, old, had)
	var doomed []*edgeRec
	g.edges.AscendGreaterOrEqual(&edgeRec{e: graph.Edge{Source: id}}, func(r *edgeRec) bool {
		if r.lo() != id {
			return false
		}
		doomed = append(doomed, r)
		return true
	})
	g.rev.AscendGreaterOrEqual(&edgeRec{e: graph.Edge{Target: id}}, func(r *edgeRec) bool {
		if r.hi() != id {
			return false
		}
		if r.lo() != id { // a self-loop was found by the first scan
			doomed = append(doomed, r)
		}
		return true
	})
	for _, r := range doomed {
		old, had := g.deleteEdgeLocked(r)
		u.edge(r, old, had)
	}
}

// undoLog records what a batch changed so that a failed batch can be reverted.
type undoLog []undo

type undo struct {
	id      string      // node id, for a node change
	node    *graph.Node // previous node, nil if there was none
	key     *edgeRec    // edge key, for an edge change
	edge    *edgeRec    // previous edge, nil if there was none
	content *content    // previous trees, for a reset
}

type content struct {
	nodes     *btree.BTreeG[*graph.Node]
	edges, rv *btree.BTreeG[*edgeRec]
}

func (u *undoLog) node(id string, old *graph.Node, had bool) {
	if !had {
		old = nil
	}
	*u = append(*u, undo{id: id, node: old})
}

func (u *undoLog) edge(key, old *edgeRec, had bool) {
	if !had {
		old = nil
	}
	*u = append(*u, undo{key: key, edge: old})
}

func (u *undoLog) reset(g *Graph) {
	*u = append(*u, undo{content: &content{nodes: g.nodes, edges: g.edges, rv: g.rev}})
}

// revert undoes the logged changes, newest first.
func (u undoLog) revert(g *Graph) {
	for i := len(u) - 1; i >= 0; i-- {
		switch x := u[i]; {
		case x.content != nil:
			g.nodes, g.edges, g.rev = x.content.nodes, x.content.edges, x.content.rv
		case x.key != nil && x.edge != nil:
			g.putEdgeLocked(x.edge)
		case x.key != nil:
			g.deleteEdgeLocked(x.key)
		case x.node != nil:
			g.nodes.ReplaceOrInsert(x.node)
		default:
			g.nodeProbe.ID = x.id
			g.nodes.Delete(&g.nodeProbe)
		}
	}
}

// Replace swaps the whole content of the graph for the nodes, then the edges, the
// two sequences yield, and journals it as one batch: [graph.OpReset] followed by an
// upsert of every node and edge. The new content is built aside, so views and
// other writes go on meanwhile; it is swapped in at the end. If a sequence yields an
// error, a value is invalid, an edge end is missing or ctx ends, the graph is left
// as it was. A node or edge yielded twice keeps its last value. meta.Directed must
// match the graph's; meta.Position is ignored (positions are the graph's own).
// Values already in normal form are kept as given, not copied: the caller must not
// change them afterwards.
func (g *Graph) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	if meta.Directed != g.directed {
		return fmt.Errorf("memgraph: replace: %w: content directed=%t, graph directed=%t", ErrDirection, meta.Directed, g.directed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nt, et, rt := newTrees()
	i := 0
	var slab []graph.Node // records are allocated in blocks: fewer objects to collect
	// ids answers "is this edge end a node?" for the edges in O(1); looking ends
	// up in the tree was most of the time of a large load.
	ids := map[string]struct{}{}
	if nodes != nil {
		for n, err := range nodes {
			if err != nil {
				return fmt.Errorf("memgraph: replace: nodes: %w", err)
			}
			if i++; i%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			nn := n
			if !meta.Normalized {
				var err error
				if nn, err = n.Adopt(); err != nil {
					return fmt.Errorf("memgraph: replace: %w", err)
				}
			}
			if len(slab) == 0 {
				slab = make([]graph.Node, slabSize)
			}
			slab[0] = nn
			nt.ReplaceOrInsert(&slab[0])
			ids[nn.ID] = struct{}{}
			slab = slab[1:]
		}
	}
	if edges != nil {
		if err := replaceEdges(ctx, edges, g.directed, meta.Normalized, ids, et, rt, &i); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	g.nodes, g.edges, g.rev = nt, et, rt
	g.snap = nil
	g.journalLocked(entry{content: g.snapshotLocked()})
	return nil
}

// slabSize is how many records Replace allocates at once. A block stays allocated
// while any of its records is in the graph, so deleting bulk-loaded records frees
// their memory only block by block: at most the block's size, 56 or 64 bytes a
// record, is held for records already gone.
const slabSize = 256

// replaceEdges loads the edges of a Replace into et and, on a second goroutine, into
// the reverse index rt, checking that both ends of each are among the node ids.
func replaceEdges(ctx context.Context, edges iter.Seq2[graph.Edge, error], directed, normalized bool, ids map[string]struct{}, et, rt *btree.BTreeG[*edgeRec], i *int) error {
	const batch = 1024
	batches := make(chan []*edgeRec, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buildReverse(rt, batches)
	}()
	err := func() error {
		var slab []edgeRec
		pending := make([]*edgeRec, 0, batch)
		for e, err := range edges {
			if err != nil {
				return fmt.Errorf("memgraph: replace: edges: %w", err)
			}
			if *i++; *i%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ne := e
			if !normalized {
				if ne, err = e.Adopt(); err != nil {
					return fmt.Errorf("memgraph: replace: %w", err)
				}
			}
			for _, end := range [2]string{ne.Source, ne.Target} {
				if _, ok := ids[end]; !ok {
					return fmt.Errorf("memgraph: replace: %w: edge %q-%q: node %q", ErrMissingEnd, ne.Source, ne.Target, end)
				}
			}
			if len(slab) == 0 {
				slab = make([]edgeRec, slabSize)
			}
			r := &slab[0]
			slab = slab[1:]
			*r = edgeRec{e: ne, swap: !directed && ne.Target < ne.Source}
			et.ReplaceOrInsert(r)
			if pending = append(pending, r); len(pending) == batch {
				batches <- pending
				pending = make([]*edgeRec, 0, batch)
			}
		}
		if len(pending) > 0 {
			batches <- pending
		}
		return nil
	}()
	close(batches)
	<-done
	return err
}

// revEntry is an edge on its way into the reverse index, with the first bytes of
// its reverse key as a number so that sorting seldom reads the strings, and its
// place in the input so that of two records with one key the later one wins, as
// in the forward index.
type revEntry struct {
	prefix uint64
	seq    int
	r      *edgeRec
}

func compareRev(a, b revEntry) int {
	if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
		return c
	}
	switch {
	case lessRev(a.r, b.r):
		return -1
	case lessRev(b.r, a.r):
		return 1
	}
	return cmp.Compare(a.seq, b.seq)
}

// buildReverse fills rt from the edges batches carries, in the reverse index's
// order: inserting in random order into a tree of millions of records was the
// slowest part of a large Replace. Runs of edges are sorted as they arrive, beside
// the forward load; at the end the runs are merged into the tree.
func buildReverse(rt *btree.BTreeG[*edgeRec], batches <-chan []*edgeRec) {
	const runSize = 1 << 16
	var runs [][]revEntry
	cur := make([]revEntry, 0, runSize)
	seq := 0
	for b := range batches {
		for _, r := range b {
			var p [8]byte
			copy(p[:], r.hi())
			cur = append(cur, revEntry{prefix: binary.BigEndian.Uint64(p[:]), seq: seq, r: r})
			seq++
			if len(cur) == runSize {
				slices.SortFunc(cur, compareRev)
				runs = append(runs, cur)
				cur = make([]revEntry, 0, runSize)
			}
		}
	}
	if len(cur) > 0 {
		slices.SortFunc(cur, compareRev)
		runs = append(runs, cur)
	}
	// Merge the runs into the tree, smallest first.
	_ = kmerge.Merge(runs, compareRev, func(e revEntry) error {
		rt.ReplaceOrInsert(e.r)
		return nil
	})
}
