package graphml

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// mapGraph is a graph.Getter over decoded nodes and edges.
type mapGraph struct {
	directed bool
	nodes    map[string]graph.Node
	edges    map[string]graph.Edge
}

func (g *mapGraph) Node(_ context.Context, id string) (graph.Node, bool, error) {
	n, ok := g.nodes[id]
	return n, ok, nil
}

func (g *mapGraph) Edge(_ context.Context, s, t, typ string) (graph.Edge, bool, error) {
	e, ok := g.edges[graph.EdgeKey(s, t, typ, g.directed)]
	return e, ok, nil
}

func decodeMap(t *testing.T, data []byte) *mapGraph {
	t.Helper()
	d := NewDecoder(bytes.NewReader(data))
	meta, err := d.Meta()
	if err != nil {
		t.Fatal(err)
	}
	g := &mapGraph{directed: meta.Directed, nodes: map[string]graph.Node{}, edges: map[string]graph.Edge{}}
	ctx := context.Background()
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		g.nodes[n.ID] = n
	}
	for e, err := range d.Edges(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		g.edges[graph.EdgeKey(e.Source, e.Target, e.Type, g.directed)] = e
	}
	return g
}

// TestLayoutNetworkXFiles writes every file NetworkX wrote in testdata/networkx
// (both writers, directed and undirected, read back and written again) from its
// layout and its graph, and wants the same bytes.
func TestLayoutNetworkXFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/networkx/*.graphml")
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v, %d files", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			l, err := ReadLayout(ctx, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			want := StyleElementTree
			if strings.Contains(f, ".lxml.") {
				want = StyleLxml
			}
			if l.Style != want {
				t.Errorf("style %q, want %q", l.Style, want)
			}
			var out bytes.Buffer
			if err := WriteLayout(ctx, &out, l, decodeMap(t, data)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("written back differs from the file at byte %d:\n got %q\nwant %q", diffAt(out.Bytes(), data), around(out.Bytes(), data), around(data, out.Bytes()))
			}
		})
	}
}

func diffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func around(a, b []byte) string {
	i := diffAt(a, b)
	return string(a[max(0, i-60):min(len(a), i+60)])
}

// TestLayoutOrientation checks that an undirected edge is written the way round
// the file has it, not the way the graph keys it.
func TestLayoutOrientation(t *testing.T) {
	doc := "<?xml version='1.0' encoding='utf-8'?>\n" + strings.TrimSuffix(graphmlTag, "\n") +
		"<graph edgedefault=\"undirected\"><node id=\"z\"/>\n<node id=\"a\"/>\n<edge source=\"z\" target=\"a\"/>\n</graph></graphml>"
	ctx := context.Background()
	l, err := ReadLayout(ctx, strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteLayout(ctx, &out, l, decodeMap(t, []byte(doc))); err != nil {
		t.Fatal(err)
	}
	if out.String() != doc {
		t.Fatalf("got %q, want %q", out.String(), doc)
	}
}

// TestLayoutNotNetworkX refuses what no NetworkX writer writes.
func TestLayoutNotNetworkX(t *testing.T) {
	head := "<?xml version='1.0' encoding='utf-8'?>\n<graphml>"
	for name, doc := range map[string]string{
		"comment":  head + "<!-- c --><graph edgedefault=\"undirected\"/></graphml>",
		"edge id":  head + "<graph edgedefault=\"undirected\"><node id=\"a\"/><edge id=\"e\" source=\"a\" target=\"a\"/></graph></graphml>",
		"default":  head + "<key id=\"d0\" for=\"node\" attr.name=\"x\" attr.type=\"string\"><default>1</default></key><graph edgedefault=\"undirected\"/></graphml>",
		"2 graphs": head + "<graph edgedefault=\"undirected\"/><graph edgedefault=\"undirected\"/></graphml>",
	} {
		if _, err := ReadLayout(context.Background(), strings.NewReader(doc)); !errors.Is(err, ErrNotNetworkX) {
			t.Errorf("%s: got %v, want ErrNotNetworkX", name, err)
		}
	}
	if _, err := ReadLayout(context.Background(), strings.NewReader(head+"<graph")); !errors.Is(err, ErrSyntax) {
		t.Errorf("truncated: got %v, want ErrSyntax", err)
	}
}
