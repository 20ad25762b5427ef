package graph_test

import (
	"fmt"

	"github.com/graphvault/graphvault/store/graph"
)

func ExampleEdgeKey() {
	// In an undirected graph, as LightRAG keeps, both directions are one edge.
	fmt.Println(graph.EdgeKey("Venus", "Honey", "", false) == graph.EdgeKey("Honey", "Venus", "", false))
	fmt.Println(graph.EdgeKey("Venus", "Honey", "", true) == graph.EdgeKey("Honey", "Venus", "", true))
	// Output:
	// true
	// false
}

func ExampleNode_Normalize() {
	n, err := graph.Node{ID: "Honey", Labels: []string{"food", "category"}, Props: map[string]any{"rank": 3}}.Normalize()
	fmt.Println(n.Labels, n.Props["rank"], err)
	_, err = graph.Node{ID: ""}.Normalize()
	fmt.Println(err)
	// Output:
	// [category food] 3 <nil>
	// graph: invalid id: empty
}
