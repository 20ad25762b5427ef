package graphml

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// realFile is LightRAG's graph file, shared by the project's test data.
const realFile = "../../../shared/testdata/lightrag/graph_chunk_entity_relation.graphml"

func readRealFile(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(realFile)
	if os.IsNotExist(err) {
		t.Skipf("real LightRAG file not present at %s", realFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sliceView is a graph.View over slices.
type sliceView struct {
	meta  graph.Meta
	nodes []graph.Node
	edges []graph.Edge
}

func (v *sliceView) Meta() graph.Meta { return v.meta }
func (v *sliceView) Nodes(context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for _, n := range v.nodes {
			if !yield(n, nil) {
				return
			}
		}
	}
}
func (v *sliceView) Edges(context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for _, e := range v.edges {
			if !yield(e, nil) {
				return
			}
		}
	}
}
func (v *sliceView) Close() error { return nil }

// readAll decodes a whole document.
func readAll(data []byte) (*sliceView, error) {
	ctx := context.Background()
	d := NewDecoder(bytes.NewReader(data))
	meta, err := d.Meta()
	if err != nil {
		return nil, err
	}
	v := &sliceView{meta: meta}
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			return nil, err
		}
		v.nodes = append(v.nodes, n)
	}
	for e, err := range d.Edges(ctx) {
		if err != nil {
			return nil, err
		}
		v.edges = append(v.edges, e)
	}
	return v, nil
}

func writeAll(t testing.TB, v graph.View) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, v); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// diffGraphs describes how two graphs differ, "" when they are equal. Values must
// match in type too.
func diffGraphs(got, want *sliceView) string {
	var b strings.Builder
	if got.meta != want.meta {
		fmt.Fprintf(&b, "meta: got %+v, want %+v\n", got.meta, want.meta)
	}
	if len(got.nodes) != len(want.nodes) {
		fmt.Fprintf(&b, "got %d nodes, want %d\n", len(got.nodes), len(want.nodes))
	}
	if len(got.edges) != len(want.edges) {
		fmt.Fprintf(&b, "got %d edges, want %d\n", len(got.edges), len(want.edges))
	}
	for i := range min(len(got.nodes), len(want.nodes)) {
		g, w := normNode(got.nodes[i]), normNode(want.nodes[i])
		if !graph.EqualNodes(g, w) {
			fmt.Fprintf(&b, "node %d: got %#v, want %#v\n", i, g, w)
		}
	}
	for i := range min(len(got.edges), len(want.edges)) {
		g, w := normEdge(got.edges[i]), normEdge(want.edges[i])
		if !graph.EqualEdges(g, w, true) {
			fmt.Fprintf(&b, "edge %d: got %#v, want %#v\n", i, g, w)
		}
	}
	return b.String()
}

func normNode(n graph.Node) graph.Node {
	if m, err := n.Normalize(); err == nil {
		return m
	}
	return n
}

func normEdge(e graph.Edge) graph.Edge {
	if m, err := e.Normalize(); err == nil {
		return m
	}
	return e
}

// readWith decodes a whole document with a buffer of size bytes, with the fast
// scanner or the XML decoder alone.
func readWith(data []byte, size int, fast bool) (*sliceView, error) {
	return readDecoder(newDecoder(bytes.NewReader(data), size, fast))
}
