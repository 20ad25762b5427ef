package memgraph

import (
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// TestReverseIndexFollowsEdges checks that the index by the other end holds
// exactly the stored edges after upserts, deletes, cascades and reverted batches.
func TestReverseIndexFollowsEdges(t *testing.T) {
	for _, directed := range []bool{false, true} {
		var opts []Option
		if directed {
			opts = append(opts, Directed())
		}
		g := New(opts...)
		n := func(id string) graph.Op { return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id}} }
		e := func(k graph.OpKind, s, d string) graph.Op {
			return graph.Op{Kind: k, Edge: graph.Edge{Source: s, Target: d}}
		}
		batches := [][]graph.Op{
			{n("a"), n("b"), n("c"), e(graph.OpUpsertEdge, "a", "b"), e(graph.OpUpsertEdge, "c", "b"), e(graph.OpUpsertEdge, "b", "b")},
			{e(graph.OpUpsertEdge, "b", "a"), e(graph.OpDeleteEdge, "c", "b")},
			{e(graph.OpUpsertEdge, "a", "c"), {Kind: graph.OpDeleteNode, Node: graph.Node{ID: "b"}}},
			{e(graph.OpDeleteEdge, "a", "c"), e(graph.OpUpsertEdge, "a", "missing")}, // fails, reverted
		}
		for i, ops := range batches {
			err := g.Apply(t.Context(), ops)
			if (err != nil) != (i == 3) {
				t.Fatalf("batch %d: error %v", i, err)
			}
			var fwd, rev []*edgeRec
			g.edges.Ascend(func(r *edgeRec) bool { fwd = append(fwd, r); return true })
			g.rev.Ascend(func(r *edgeRec) bool { rev = append(rev, r); return true })
			if len(fwd) != len(rev) {
				t.Fatalf("directed %t, after batch %d: %d edges but %d in the reverse index", directed, i, len(fwd), len(rev))
			}
			for _, r := range rev {
				if got, ok := g.edges.Get(r); !ok || got != r {
					t.Errorf("directed %t, after batch %d: reverse index holds a stale edge %q", directed, i, r.key)
				}
			}
		}
	}
}
