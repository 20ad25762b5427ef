package graphml

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// readView reads a whole view.
func readView(t *testing.T, v graph.View) *sliceView {
	t.Helper()
	ctx := context.Background()
	got := &sliceView{meta: graph.Meta{Directed: v.Meta().Directed}}
	for n, err := range v.Nodes(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got.nodes = append(got.nodes, n)
	}
	for e, err := range v.Edges(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got.edges = append(got.edges, e)
	}
	return got
}

func changes(t *testing.T, f *IndexedFile, after uint64) ([]graph.Batch, error) {
	t.Helper()
	var out []graph.Batch
	for b, err := range f.Changes(context.Background(), after) {
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// TestIndexedFile reads a file whole, which writes its index, then finds the changes
// of a rewrite by the index: only the changed records are decoded, offered as one
// journal batch and by key, and the graph is counted; a deleted node is not named
// that way, and the view is read whole again.
func TestIndexedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, ixPath := filepath.Join(dir, "g.graphml"), filepath.Join(dir, "g.index")
	data, want := lightragSample(shapes[len(shapes)-1])
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f := NewIndexedFile(path, ixPath)

	// First view: no index, read whole; reading it writes the index.
	v, err := f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m1 := v.Meta()
	if m1.Journal == "" || m1.Position != 1 {
		t.Fatalf("first view: journal %q at %d, want a journal at 1", m1.Journal, m1.Position)
	}
	if _, ok := v.(graph.Getter); ok {
		t.Error("a view read whole offers records by key")
	}
	if d := diffGraphs(readView(t, v), want); d != "" {
		t.Fatal(d)
	}
	v.Close()
	if err := f.IndexErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := changes(t, f, 0); !errors.Is(err, graph.ErrJournalGap) {
		t.Errorf("changes of a view read whole: %v, want a gap", err)
	}

	// A rewrite with one node and one edge changed and a node and an edge added.
	grown := want.nodes[1]
	grown.Props = clone(grown.Props)
	grown.Props["description"] = "grown"
	reweighed := want.edges[2]
	reweighed.Props = clone(reweighed.Props)
	reweighed.Props["weight"] = 42.0
	added := graph.Node{ID: "NEW", Props: map[string]any{"entity_type": "x"}}
	link := graph.Edge{Source: "NEW", Target: grown.ID, Props: map[string]any{"weight": 1.0}}
	if err := f.Apply(ctx, []graph.Op{
		{Kind: graph.OpUpsertNode, Node: grown}, {Kind: graph.OpUpsertEdge, Edge: reweighed},
		{Kind: graph.OpUpsertNode, Node: added}, {Kind: graph.OpUpsertEdge, Edge: link},
	}); err != nil {
		t.Fatal(err)
	}
	v, err = f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m2 := v.Meta()
	if m2.Journal != m1.Journal || m2.Position != 2 {
		t.Fatalf("second view: journal %q at %d, want %q at 2", m2.Journal, m2.Position, m1.Journal)
	}
	get, ok := v.(graph.Getter)
	if !ok {
		t.Fatal("a view with its changes named offers no records by key")
	}
	batches, err := changes(t, f, 1)
	if err != nil || len(batches) != 1 || batches[0].Seq != 2 {
		t.Fatalf("changes after 1: %v, %v; want one batch at 2", batches, err)
	}
	var ops []string
	for _, op := range batches[0].Ops {
		switch op.Kind {
		case graph.OpUpsertNode:
			ops = append(ops, "node "+op.Node.ID)
		case graph.OpUpsertEdge:
			ops = append(ops, "edge "+op.Edge.Source+"-"+op.Edge.Target)
		default:
			ops = append(ops, op.Kind.String())
		}
	}
	wantOps := []string{"node " + grown.ID, "node NEW", "edge " + reweighed.Source + "-" + reweighed.Target, "edge NEW-" + grown.ID}
	if len(ops) != len(wantOps) {
		t.Fatalf("ops %q, want %q", ops, wantOps)
	}
	for i := range ops {
		if ops[i] != wantOps[i] {
			t.Errorf("op %d is %q, want %q", i, ops[i], wantOps[i])
		}
	}
	if n, ok, err := get.Node(ctx, grown.ID); err != nil || !ok || n.Props["description"] != "grown" {
		t.Errorf("Node(%q) = %v, %t, %v", grown.ID, n, ok, err)
	}
	if e, ok, err := get.Edge(ctx, reweighed.Target, reweighed.Source, ""); err != nil || !ok || e.Props["weight"] != 42.0 {
		t.Errorf("Edge reversed = %v, %t, %v", e, ok, err)
	}
	if n, e := v.(graph.Counter).Counts(); n != int64(len(want.nodes)+1) || e != int64(len(want.edges)+1) {
		t.Errorf("counts %d, %d; want %d, %d", n, e, len(want.nodes)+1, len(want.edges)+1)
	}
	// Read whole, the view is the new file.
	whole := readView(t, v)
	if len(whole.nodes) != len(want.nodes)+1 || len(whole.edges) != len(want.edges)+1 {
		t.Errorf("read whole: %d nodes, %d edges", len(whole.nodes), len(whole.edges))
	}
	v.Close()

	// Unchanged: an empty batch.
	v, err = f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batches, err = changes(t, f, 2)
	if err != nil || len(batches) != 1 || len(batches[0].Ops) != 0 || v.Meta().Position != 3 {
		t.Fatalf("unchanged file: %v, %v at %d; want one empty batch at 3", batches, err, v.Meta().Position)
	}
	v.Close()

	// A node deleted: not named by the index; read whole, and indexed again.
	if err := f.Apply(ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "NEW"}}}); err != nil {
		t.Fatal(err)
	}
	v, err = f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(graph.Getter); ok {
		t.Error("a deletion was named by the index")
	}
	if _, err := changes(t, f, 3); !errors.Is(err, graph.ErrJournalGap) {
		t.Errorf("changes after a deletion: %v, want a gap", err)
	}
	if got := readView(t, v); len(got.nodes) != len(want.nodes) {
		t.Errorf("read whole after the deletion: %d nodes, want %d", len(got.nodes), len(want.nodes))
	}
	v.Close()
	v, err = f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(graph.Getter); !ok || v.Meta().Position != 5 {
		t.Errorf("after reading whole, the next view is not named by the index (position %d)", v.Meta().Position)
	}
	v.Close()

	// A damaged index is no index.
	if err := os.WriteFile(ixPath, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err = f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(graph.Getter); ok {
		t.Error("a damaged index named the changes")
	}
	v.Close()
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
