package memgraph_test

import (
	"errors"
	"iter"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
	"github.com/graphvault/graphvault/store/memgraph"
)

// TestReplaceContinuesFromThePosition: a graph loaded with content that stands at
// a position (a restore passes its snapshot's) goes on from it, so its positions
// never go back across a restart, and it still names a journal of its own.
func TestReplaceContinuesFromThePosition(t *testing.T) {
	ctx := t.Context()
	node := func(id string) iter.Seq2[graph.Node, error] {
		return func(yield func(graph.Node, error) bool) { yield(graph.Node{ID: id}, nil) }
	}
	old := memgraph.New()
	for range 3 {
		mustApply(t, old, upsertNode("a", nil))
	}
	oldView, err := old.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldMeta := oldView.Meta()
	oldView.Close()

	// The restart: a new graph, loaded with content at position 3.
	g := memgraph.New()
	mustApply(t, g, upsertNode("x", nil)) // position 1, then dropped
	if err := g.Replace(ctx, graph.Meta{Position: oldMeta.Position, Journal: oldMeta.Journal}, node("a"), nil); err != nil {
		t.Fatal(err)
	}
	if got := g.Position(); got != 4 {
		t.Fatalf("position after loading content at 3 = %d, want 4", got)
	}
	v, err := g.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := v.Meta(); m.Position != 4 || m.Journal == oldMeta.Journal || m.Journal == "" {
		t.Errorf("view meta %+v: want position 4 and a journal other than %q", m, oldMeta.Journal)
	}
	v.Close()
	if got, err := seqs(t, g, 3); err != nil || len(got) != 1 || got[0] != 4 {
		t.Errorf("Changes(3) = %v, %v; want [4]", got, err)
	}
	for _, after := range []uint64{0, 1, 2} {
		if _, err := seqs(t, g, after); !errors.Is(err, graph.ErrJournalGap) {
			t.Errorf("Changes(%d) = %v, want ErrJournalGap: those batches are not held", after, err)
		}
	}

	// An older position (a snapshot taken before) does not move the graph back.
	if err := g.Replace(ctx, graph.Meta{Position: 1}, node("b"), nil); err != nil {
		t.Fatal(err)
	}
	mustApply(t, g, upsertNode("c", nil))
	if got := g.Position(); got != 6 {
		t.Fatalf("position after a Replace at 1 and a batch = %d, want 6", got)
	}
	if got, err := seqs(t, g, 3); err != nil || len(got) != 3 || got[0] != 4 || got[2] != 6 {
		t.Errorf("Changes(3) = %v, %v; want [4 5 6]", got, err)
	}

	// ReplaceEncoded, which restores use, continues the same way.
	enc := memgraph.New()
	key := graph.NodeKey("e")
	val, err := wire.AppendNode(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := func(yield func(wire.Record, error) bool) { yield(wire.Record{Key: key, Value: val}, nil) }
	if err := enc.ReplaceEncoded(ctx, graph.Meta{Position: 41}, recs, nil); err != nil {
		t.Fatal(err)
	}
	if got := enc.Position(); got != 42 {
		t.Errorf("position after ReplaceEncoded at 41 = %d, want 42", got)
	}
	if n, _ := enc.Len(); n != 1 {
		t.Errorf("ReplaceEncoded loaded %d nodes, want 1", n)
	}
}
