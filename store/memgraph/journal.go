package memgraph

import (
	"context"
	"fmt"
	"iter"

	"github.com/graphvault/graphvault/store/graph"
)

// entry is one journal batch. A Replace batch keeps a read-only copy of the new
// content instead of its operations, which are made when the batch is read.
type entry struct {
	b       graph.Batch
	content *snapshot
}

// journalLocked stamps e with the next position and the time, and appends it,
// dropping the oldest batches past the limit. g.mu must be held.
func (g *Graph) journalLocked(e entry) {
	g.seq++
	e.b.Seq = g.seq
	e.b.Time = g.now().UTC().Round(0)
	g.journal = append(g.journal, e)
	if g.limit > 0 && len(g.journal) > g.limit {
		// Re-slice, never clear: readers may hold sub-slices of the old batches.
		// The dropped prefix is freed when append next moves the array.
		g.journal = g.journal[len(g.journal)-g.limit:]
	}
}

// continueFromLocked moves the graph's position up to pos when pos is past it, so
// that positions never go back when a graph is loaded from a snapshot: a graph
// made afresh after a restart and restored from its newest snapshot continues
// from the snapshot's position instead of counting from 1 again, and positions
// of one graph stay monotonic across restarts. The batches before pos are not
// held, so the kept journal is dropped. g.mu must be held.
func (g *Graph) continueFromLocked(pos uint64) {
	if pos <= g.seq {
		return
	}
	g.seq = pos
	// Re-slice, never clear: readers may hold sub-slices of the old batches.
	g.journal = g.journal[len(g.journal):]
}

// Changes yields the batches with Seq > after, in order, up to the newest batch
// stored when Changes is called. If some of those batches are no longer kept (see
// [WithJournalLimit]) it yields only an error wrapping [graph.ErrJournalGap]. A
// Replace batch is [graph.OpReset] followed by an upsert of every node, then every
// edge, in key order. The batches share memory with the graph and must not be
// modified. Changes may be called concurrently with anything.
func (g *Graph) Changes(ctx context.Context, after uint64) iter.Seq2[graph.Batch, error] {
	g.mu.Lock()
	seq, kept := g.seq, g.journal
	g.mu.Unlock()
	first := seq - uint64(len(kept)) + 1 // oldest kept position
	return func(yield func(graph.Batch, error) bool) {
		if after+1 < first {
			yield(graph.Batch{}, fmt.Errorf("memgraph: changes after %d: %w: oldest kept batch is %d", after, graph.ErrJournalGap, first))
			return
		}
		if after >= seq {
			return
		}
		for _, e := range kept[after+1-first:] {
			if err := ctx.Err(); err != nil {
				yield(graph.Batch{}, err)
				return
			}
			if !yield(e.batch(), nil) {
				return
			}
		}
	}
}

// batch returns the entry's batch, making the operations of a Replace batch by
// decoding its content.
func (e entry) batch() graph.Batch {
	if e.content == nil {
		return e.b
	}
	b := e.b
	b.Ops = make([]graph.Op, 0, 1+e.content.nodes.Len()+e.content.edges.Len())
	b.Ops = append(b.Ops, graph.Op{Kind: graph.OpReset})
	e.content.nodes.Scan(func(r *nodeRec) bool {
		n, _ := mustDecode(r.node())
		b.Ops = append(b.Ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		return true
	})
	e.content.edges.Scan(func(r *edgeRec) bool {
		ed, _ := mustDecode(r.edge())
		b.Ops = append(b.Ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: ed})
		return true
	})
	return b
}
