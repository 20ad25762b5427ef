package graphtest_test

import (
	"context"
	"fmt"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

func ExampleDiff() {
	ctx := context.Background()
	g := memgraph.New()
	_ = g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "a", Props: map[string]any{"weight": 1}}}})

	want := graphtest.Content{Nodes: []graph.Node{{ID: "a", Props: map[string]any{"weight": 1.0}}}}
	d, err := graphtest.Diff(ctx, want, g)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d)
	// Output:
	// node "a": props["weight"]: want float64(1), got int64(1)
}

func ExampleGenerate() {
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 1000, Edges: 3000, Seed: 42})
	g := memgraph.New()
	if err := gen.Apply(context.Background(), g, 500); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Len())
	n := gen.Node(0)
	fmt.Println(n.ID == n.Props["entity_id"], fmt.Sprintf("%T", n.Props["created_at"]))
	// Output:
	// 1000 3000
	// true int64
}
