package backup_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

func Example() {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		panic(err)
	}
	defer st.Close()
	eng, err := backup.New(st, blob.NewBucket(memblob.New()), backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}

	g := memgraph.New()
	_ = g.Apply(ctx, []graph.Op{
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "Honey", Props: map[string]any{"entity_type": "category"}}},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "Ancient Egyptian Tombs", Props: map[string]any{"entity_type": "geo"}}},
		{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "Honey", Target: "Ancient Egyptian Tombs", Props: map[string]any{"weight": 1.0}}},
	})
	first, err := eng.Snapshot(ctx, "graph1", g, backup.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
	_ = g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "Venus", Props: map[string]any{"entity_type": "geo"}}}})
	second, err := eng.Snapshot(ctx, "graph1", g, backup.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(first.Kind, first.Nodes, first.Edges)
	fmt.Println(second.Kind, second.Nodes, second.Edges)

	restored := memgraph.New()
	res, err := eng.Restore(ctx, first.ID, restored, backup.RestoreOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("restored", res.Nodes, "nodes and", res.Edges, "edge")

	d, err := eng.Diff(ctx, first.ID, second.ID, backup.DiffOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("added node:", d.NodeDiffs[0].ID)
	// Output:
	// full 2 1
	// incremental 3 1
	// restored 2 nodes and 1 edge
	// added node: Venus
}
