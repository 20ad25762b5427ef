package backup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// TestFormat2ChainsStillServe opens a bucket written by format 2 (testdata/format2:
// a full snapshot and an incremental one, each layer with its index), and checks
// that this version restores and verifies it, diffs it, and extends the chain:
// first on the indexes alone, then on a chain that mixes layers with and without.
func TestFormat2ChainsStillServe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/format2")); err != nil {
		t.Fatal(err)
	}
	drv, err := fileblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := New(st, blob.NewBucket(drv), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, store: st, bucket: blob.NewBucket(drv), engine: e}
	if created, failed, err := e.Reindex(ctx); err != nil || created != 2 || failed != 0 {
		t.Fatalf("reindex: %d created, %d failed, %v", created, failed, err)
	}
	rows, _, err := st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "fixture"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	slices.SortFunc(rows, func(a, b meta.Snapshot) int { return a.StartedAt.Compare(b.StartedAt) })
	first, second := rows[0], rows[1]

	g, err := format2Graph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := content(t, g)
	if err := g.Apply(ctx, format2Changes()); err != nil {
		t.Fatal(err)
	}
	h.restoreEqual(first.ID, before, false)
	h.restoreEqual(second.ID, content(t, g), false)
	for _, row := range rows {
		m, err := e.Manifest(ctx, row.ID)
		if err != nil || m.Format != 2 {
			t.Fatalf("manifest of %s: format %d, %v", row.ID, m.Format, err)
		}
		if rep, err := e.Verify(ctx, row.ID, true); err != nil || !rep.OK {
			t.Fatalf("verify %s: %v %+v", row.ID, err, rep)
		}
	}
	d, err := e.Diff(ctx, first.ID, second.ID, DiffOptions{})
	if err != nil || len(d.NodeDiffs) != 2 || len(d.EdgeDiffs) != 2 {
		t.Fatalf("diff: %+v, %v; want 2 nodes and 2 edges changed", d, err)
	}

	// This graph's journal is not the fixture's: the next snapshots compare the
	// whole graph with the chain.
	for round := range 2 {
		if err := g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: fmt.Sprintf("later %d", round)}}}); err != nil {
			t.Fatal(err)
		}
		row, err := e.Snapshot(ctx, "fixture", g, SnapshotOptions{Kind: KindIncremental})
		if err != nil || row.Kind != string(KindIncremental) || row.ChainLen != 3+round {
			t.Fatalf("snapshot on the format 2 chain: %+v, %v", row, err)
		}
		m, err := e.Manifest(ctx, row.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l := m.Layers[len(m.Layers)-1]; m.Format != FormatVersion || l.Index.Key != "" || l.Records != 1 || l.Tombstones != 0 {
			t.Fatalf("round %d: format %d, new layer %+v; want one record and no index", round, m.Format, l)
		}
		if rep, err := e.Verify(ctx, row.ID, true); err != nil || !rep.OK {
			t.Fatalf("verify %s: %v %+v", row.ID, err, rep)
		}
		h.restoreEqual(row.ID, content(t, g), false)
	}
}

// format2Graph is the graph the format 2 fixture in testdata/format2 was taken of:
// its first snapshot is full, its second an incremental after format2Changes.
func format2Graph(ctx context.Context) (*memgraph.Graph, error) {
	g := memgraph.New()
	var ops []graph.Op
	for i := range 30 {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{
			ID: fmt.Sprintf("entity %02d", i), Labels: []string{"entity"},
			Props: map[string]any{"entity_type": []string{"person", "geo", "event"}[i%3], "description": fmt.Sprintf("the %d-th entity", i), "rank": int64(i)},
		}})
	}
	for i := range 30 {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{
			Source: fmt.Sprintf("entity %02d", i), Target: fmt.Sprintf("entity %02d", (i+1)%30),
			Props: map[string]any{"weight": float64(i) / 4, "keywords": "next, ring"},
		}})
	}
	return g, g.Apply(ctx, ops)
}

// format2Changes is what changed between the fixture's two snapshots: a node
// updated, one added, an edge added and one deleted.
func format2Changes() []graph.Op {
	return []graph.Op{
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "entity 03", Labels: []string{"entity"}, Props: map[string]any{"entity_type": "person", "description": "changed"}}},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "entity 30", Props: map[string]any{"entity_type": "geo"}}},
		{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "entity 30", Target: "entity 00", Props: map[string]any{"weight": 9.5}}},
		{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "entity 10", Target: "entity 11"}},
	}
}
