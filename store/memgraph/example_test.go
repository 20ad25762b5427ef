package memgraph_test

import (
	"context"
	"fmt"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

func Example() {
	ctx := context.Background()
	g := memgraph.New() // undirected, like LightRAG's graph
	err := g.Apply(ctx, []graph.Op{
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "Alan Turing", Props: map[string]any{"entity_type": "person"}}},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "Bletchley Park", Props: map[string]any{"entity_type": "geo"}}},
		{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "Bletchley Park", Target: "Alan Turing", Props: map[string]any{"weight": 1.0}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	v, err := g.View(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	// Writes after View are not seen by v.
	_ = g.Apply(ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "Alan Turing"}}})

	for n, err := range v.Nodes(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("node %q %v\n", n.ID, n.Props)
	}
	for e, err := range v.Edges(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("edge %q - %q %v\n", e.Source, e.Target, e.Props)
	}
	fmt.Println("view position:", v.Meta().Position)
	nodes, edges := g.Len()
	fmt.Println("now:", nodes, "nodes,", edges, "edges")
	// Output:
	// node "Alan Turing" map[entity_type:person]
	// node "Bletchley Park" map[entity_type:geo]
	// edge "Bletchley Park" - "Alan Turing" map[weight:1]
	// view position: 1
	// now: 1 nodes, 0 edges
}

func ExampleGraph_Changes() {
	ctx := context.Background()
	g := memgraph.New(memgraph.Directed())
	_ = g.Apply(ctx, []graph.Op{
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "a"}},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "b"}},
	})
	_ = g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "a", Target: "b", Type: "knows"}}})
	_ = g.Apply(ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "b"}}})

	// A follower that has applied batch 1 asks for what came after.
	for b, err := range g.Changes(ctx, 1) {
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, op := range b.Ops {
			fmt.Println(b.Seq, op.Kind, op.Node.ID+op.Edge.Source+" "+op.Edge.Target)
		}
	}
	// Output:
	// 2 upsert_edge a b
	// 3 delete_node b
}

func ExampleWithJournalLimit() {
	ctx := context.Background()
	g := memgraph.New(memgraph.WithJournalLimit(2))
	for _, id := range []string{"a", "b", "c"} {
		_ = g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id}}})
	}
	for _, err := range g.Changes(ctx, 0) {
		fmt.Println(err)
	}
	// Output:
	// memgraph: changes after 0: graph: journal gap: oldest kept batch is 2
}
