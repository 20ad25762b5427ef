package graphml_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

const lightragFile = `<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><key id="d3" for="edge" attr.name="weight" attr.type="double" /><key id="d2" for="node" attr.name="created_at" attr.type="long" /><key id="d1" for="node" attr.name="source_id" attr.type="string" /><key id="d0" for="node" attr.name="entity_type" attr.type="string" /><graph edgedefault="undirected"><node id="&quot;RABBITMQ&quot;"><data key="d0">organization</data><data key="d1">chunk-1&lt;SEP&gt;chunk-2</data><data key="d2">1751000000</data></node><node id="Message Queue"><data key="d0">category</data><data key="d1">chunk-2</data><data key="d2">1751000001</data></node><edge source="&quot;RABBITMQ&quot;" target="Message Queue"><data key="d3">1</data></edge></graph></graphml>`

func ExampleDecoder() {
	ctx := context.Background()
	d := graphml.NewDecoder(strings.NewReader(lightragFile))
	meta, err := d.Meta()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("directed:", meta.Directed)
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("node %s: %v (%T)\n", n.ID, n.Props["created_at"], n.Props["created_at"])
	}
	for e, err := range d.Edges(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("edge %s - %s: weight %v (%T)\n", e.Source, e.Target, e.Props["weight"], e.Props["weight"])
	}
	// Output:
	// directed: false
	// node "RABBITMQ": 1751000000 (int64)
	// node Message Queue: 1751000001 (int64)
	// edge "RABBITMQ" - Message Queue: weight 1 (float64)
}

func ExampleDecoder_malformed() {
	d := graphml.NewDecoder(strings.NewReader(lightragFile[:400]))
	for _, err := range d.Edges(context.Background()) {
		fmt.Println(err)
	}
	// Output:
	// graphml: xml syntax error at line 2: unexpected EOF
}

// view is a small graph.View for the example.
type view struct {
	nodes []graph.Node
	edges []graph.Edge
}

func (v view) Meta() graph.Meta { return graph.Meta{} }
func (v view) Nodes(context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for _, n := range v.nodes {
			if !yield(n, nil) {
				return
			}
		}
	}
}
func (v view) Edges(context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for _, e := range v.edges {
			if !yield(e, nil) {
				return
			}
		}
	}
}
func (v view) Close() error { return nil }

func ExampleWrite() {
	v := view{
		nodes: []graph.Node{
			{ID: "Alan Turing", Labels: []string{"Person"}, Props: map[string]any{"entity_type": "person", "born": 1912}},
			{ID: "Bletchley Park"},
		},
		edges: []graph.Edge{{Source: "Alan Turing", Target: "Bletchley Park", Props: map[string]any{"weight": 1.0}}},
	}
	if err := graphml.Write(context.Background(), os.Stdout, v); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <?xml version='1.0' encoding='utf-8'?>
	// <graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">
	//   <key id="d3" for="edge" attr.name="weight" attr.type="double" />
	//   <key id="d2" for="node" attr.name="born" attr.type="long" />
	//   <key id="d1" for="node" attr.name="entity_type" attr.type="string" />
	//   <key id="d0" for="node" attr.name="__labels__" attr.type="string" />
	//   <graph edgedefault="undirected">
	//     <node id="Alan Turing">
	//       <data key="d0">["Person"]</data>
	//       <data key="d1">person</data>
	//       <data key="d2">1912</data>
	//     </node>
	//     <node id="Bletchley Park" />
	//     <edge source="Alan Turing" target="Bletchley Park">
	//       <data key="d3">1.0</data>
	//     </edge>
	//   </graph>
	// </graphml>
}

func ExampleFile() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "graphml-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	f := graphml.NewFile(filepath.Join(dir, "graph_chunk_entity_relation.graphml"))
	if err := graphml.Load(ctx, strings.NewReader(lightragFile), f); err != nil {
		fmt.Println(err)
		return
	}
	err = f.Apply(ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "Message Queue"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := f.View(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	for n, err := range v.Nodes(ctx) {
		fmt.Println(n.ID, err)
	}
	for e, err := range v.Edges(ctx) {
		fmt.Println(e, err)
	}
	// Output:
	// "RABBITMQ" <nil>
}
