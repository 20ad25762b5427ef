package memgraph_test

import (
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graph/wire"
	"github.com/graphvault/graphvault/store/memgraph"
)

// encoded reads a view's records undecoded.
func encoded(t testing.TB, g *memgraph.Graph) (nodes, edges []wire.Record) {
	t.Helper()
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	src := v.(wire.Source)
	for r, err := range src.EncodedNodes(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, r)
	}
	for r, err := range src.EncodedEdges(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		edges = append(edges, r)
	}
	return nodes, edges
}

// reused yields the records through one buffer that is overwritten after each, as
// a restore's segment buffers are: the sink must copy.
func reused(recs []wire.Record) iter.Seq2[wire.Record, error] {
	return func(yield func(wire.Record, error) bool) {
		var buf []byte
		for _, r := range recs {
			buf = append(append(buf[:0], r.Key...), r.Value...)
			ok := yield(wire.Record{Key: string(buf[:len(r.Key)]), Value: buf[len(r.Key):]}, nil)
			clear(buf)
			if !ok {
				return
			}
		}
	}
}

func TestReplaceEncodedRoundTrip(t *testing.T) {
	for _, directed := range []bool{false, true} {
		src := memgraph.New(optsFor(directed)...)
		gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 300, Edges: 900, Directed: directed, Labels: true, Seed: 3})
		if err := src.Replace(t.Context(), gen.Meta(), gen.Nodes(), gen.Edges()); err != nil {
			t.Fatal(err)
		}
		nodes, edges := encoded(t, src)
		if len(nodes) != 300 || len(edges) != 900 {
			t.Fatalf("encoded view: %d nodes, %d edges", len(nodes), len(edges))
		}
		for _, normalized := range []bool{false, true} {
			dst := memgraph.New(optsFor(directed)...)
			meta := graph.Meta{Directed: directed, Normalized: normalized}
			if err := dst.ReplaceEncoded(t.Context(), meta, reused(nodes), reused(edges)); err != nil {
				t.Fatalf("directed %t normalized %t: %v", directed, normalized, err)
			}
			graphtest.Equal(t, gen, dst)
			// The records read back are the ones loaded, byte for byte.
			n2, e2 := encoded(t, dst)
			eq := func(a, b wire.Record) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }
			if !slices.EqualFunc(nodes, n2, eq) || !slices.EqualFunc(edges, e2, eq) {
				t.Errorf("directed %t: records differ after a round trip", directed)
			}
			// Undirected edges loaded from keys come back with the smaller end as source.
			for e, err := range must(dst.View(t.Context())).Edges(t.Context()) {
				if err != nil {
					t.Fatal(err)
				}
				if !directed && e.Target < e.Source {
					t.Fatalf("edge %q-%q: larger end first", e.Source, e.Target)
				}
			}
		}
	}
}

func records(recs []wire.Record) iter.Seq2[wire.Record, error] {
	return func(yield func(wire.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func optsFor(directed bool) []memgraph.Option {
	if directed {
		return []memgraph.Option{memgraph.Directed()}
	}
	return nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestReplaceEncodedRefusesBadRecords(t *testing.T) {
	val := func(props map[string]any) []byte { return must(wire.AppendEdge(nil, props)) }
	nodeVal := must(wire.AppendNode(nil, []string{"x"}, map[string]any{"k": "v"}))
	good := []wire.Record{{Key: "n:a", Value: nodeVal}, {Key: "n:b", Value: nodeVal}}
	cases := []struct {
		name         string
		nodes, edges []wire.Record
		want         error
	}{
		{"edge key as node", []wire.Record{{Key: "e:a\x00b\x00", Value: nodeVal}}, nil, wire.ErrCorrupt},
		{"empty id", []wire.Record{{Key: "n:", Value: nodeVal}}, nil, wire.ErrCorrupt},
		{"trailing byte", []wire.Record{{Key: "n:a", Value: append(slices.Clone(nodeVal), 0)}}, nil, wire.ErrCorrupt},
		{"label with NUL", []wire.Record{{Key: "n:a", Value: must(wire.AppendNode(nil, []string{"a\x00"}, nil))}}, nil, wire.ErrCorrupt},
		{"larger end first", good, []wire.Record{{Key: "e:b\x00a\x00", Value: val(nil)}}, wire.ErrCorrupt},
		{"node key as edge", good, []wire.Record{{Key: "n:a", Value: val(nil)}}, wire.ErrCorrupt},
		{"bad edge value", good, []wire.Record{{Key: "e:a\x00b\x00", Value: []byte{1}}}, wire.ErrCorrupt},
		{"missing second end", good, []wire.Record{{Key: "e:a\x00c\x00", Value: val(nil)}}, memgraph.ErrMissingEnd},
		{"missing first end", good, []wire.Record{{Key: "e:0\x00a\x00", Value: val(nil)}}, memgraph.ErrMissingEnd},
		// First ends missing between two nodes, after a present one, and in loads
		// whose edges or nodes come out of order.
		{"missing first end between nodes", good, []wire.Record{{Key: "e:aa\x00b\x00", Value: val(nil)}}, memgraph.ErrMissingEnd},
		{"missing first end after a present one", good, []wire.Record{{Key: "e:a\x00b\x00", Value: val(nil)}, {Key: "e:ab\x00b\x00", Value: val(nil)}}, memgraph.ErrMissingEnd},
		{"missing first end out of order", good, []wire.Record{{Key: "e:b\x00b\x00", Value: val(nil)}, {Key: "e:a\x00b\x00", Value: val(nil)}, {Key: "e:aa\x00b\x00", Value: val(nil)}}, memgraph.ErrMissingEnd},
		{"missing first end, nodes out of order", []wire.Record{{Key: "n:b", Value: nodeVal}, {Key: "n:a", Value: nodeVal}}, []wire.Record{{Key: "e:a\x00b\x00", Value: val(nil)}, {Key: "e:aa\x00b\x00", Value: val(nil)}}, memgraph.ErrMissingEnd},
	}
	for _, c := range cases {
		g := memgraph.New()
		if err := g.Apply(t.Context(), []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "kept"}}}); err != nil {
			t.Fatal(err)
		}
		err := g.ReplaceEncoded(t.Context(), graph.Meta{}, records(c.nodes), records(c.edges))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if c.want == memgraph.ErrMissingEnd {
			missing := map[string]string{
				"missing second end": `node "c"`, "missing first end": `node "0"`,
				"missing first end between nodes": `node "aa"`, "missing first end after a present one": `node "ab"`,
				"missing first end out of order": `node "aa"`, "missing first end, nodes out of order": `node "aa"`,
			}[c.name]
			if !strings.Contains(err.Error(), missing) {
				t.Errorf("%s: %v does not name the missing %s", c.name, err, missing)
			}
		}
		if n, e := g.Len(); n != 1 || e != 0 || g.Position() != 1 {
			t.Errorf("%s: the graph changed: %d nodes, %d edges, position %d", c.name, n, e, g.Position())
		}
	}
	if err := memgraph.New(memgraph.Directed()).ReplaceEncoded(t.Context(), graph.Meta{}, nil, nil); !errors.Is(err, memgraph.ErrDirection) {
		t.Errorf("undirected content into a directed graph: %v", err)
	}
}
