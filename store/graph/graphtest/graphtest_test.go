package graphtest_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

func newMemgraph(t *testing.T, directed bool) graphtest.Graph {
	if directed {
		return memgraph.New(memgraph.Directed())
	}
	return memgraph.New()
}

func TestRunOnMemgraph(t *testing.T) {
	graphtest.Run(t, newMemgraph)
}

// noJournal hides a graph's journal: only the graph.Graph methods are promoted.
type noJournal struct{ graph.Graph }

func TestRunWithoutJournal(t *testing.T) {
	graphtest.Run(t, func(t *testing.T, directed bool) graphtest.Graph {
		return noJournal{newMemgraph(t, directed)}
	})
}

func TestDiff(t *testing.T) {
	n := func(id string, props map[string]any, labels ...string) graph.Node {
		return graph.Node{ID: id, Labels: labels, Props: props}
	}
	e := func(s, d, typ string, props map[string]any) graph.Edge {
		return graph.Edge{Source: s, Target: d, Type: typ, Props: props}
	}
	base := graphtest.Content{
		Nodes: []graph.Node{n("a", map[string]any{"v": int64(1), "l": []any{"x", map[string]any{"k": 1.0}}}, "L", "M"), n("b", nil)},
		Edges: []graph.Edge{e("a", "b", "t", map[string]any{"w": 1.0})},
	}
	with := func(f func(c *graphtest.Content)) graphtest.Content {
		c := graphtest.Content{Meta: base.Meta, Nodes: append([]graph.Node(nil), base.Nodes...), Edges: append([]graph.Edge(nil), base.Edges...)}
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		got  graphtest.Content
		want string // regular expression; empty: equal
	}{
		{"equal", base, ""},
		{"label order and empty props do not matter", with(func(c *graphtest.Content) {
			c.Nodes[0].Labels = []string{"M", "L"}
			c.Nodes[1].Props = map[string]any{}
		}), ""},
		{"undirected edge reversed", with(func(c *graphtest.Content) { c.Edges[0].Source, c.Edges[0].Target = "b", "a" }), ""},
		{"directed edge reversed", with(func(c *graphtest.Content) {
			c.Meta.Directed = true
			c.Edges[0].Source, c.Edges[0].Target = "b", "a"
		}), `^directed: want false, got true$`},
		{"int became float", with(func(c *graphtest.Content) {
			c.Nodes[0] = n("a", map[string]any{"v": 1.0, "l": []any{"x", map[string]any{"k": 1.0}}}, "L", "M")
		}), `^node "a": props\["v"\]: want int64\(1\), got float64\(1\)$`},
		{"nested float became int", with(func(c *graphtest.Content) {
			c.Nodes[0] = n("a", map[string]any{"v": int64(1), "l": []any{"x", map[string]any{"k": int64(1)}}}, "L", "M")
		}), `^node "a": props\["l"\]\[1\]\["k"\]: want float64\(1\), got int64\(1\)$`},
		{"list shorter", with(func(c *graphtest.Content) {
			c.Nodes[0] = n("a", map[string]any{"v": int64(1), "l": []any{"x"}}, "L", "M")
		}), `props\["l"\]: want 2 elements, got 1`},
		{"list became map", with(func(c *graphtest.Content) {
			c.Nodes[0] = n("a", map[string]any{"v": int64(1), "l": map[string]any{}}, "L", "M")
		}), `props\["l"\]: want \[\]any of 2 elements, got map\[string\]any with keys \[\]`},
		{"property missing", with(func(c *graphtest.Content) {
			c.Nodes[0] = n("a", map[string]any{"l": []any{"x", map[string]any{"k": 1.0}}}, "L", "M")
		}), `^node "a": props\["v"\]: missing, want int64\(1\)$`},
		{"property unexpected", with(func(c *graphtest.Content) { c.Nodes[1] = n("b", map[string]any{"z": "zz"}) }),
			`^node "b": props\["z"\]: unexpected string\("zz"\)$`},
		{"labels differ", with(func(c *graphtest.Content) { c.Nodes[0].Labels = []string{"L"} }),
			`^node "a": labels: want \["L" "M"\], got \["L"\]$`},
		{"node missing", with(func(c *graphtest.Content) { c.Nodes = c.Nodes[:1] }), `^node "b": missing$`},
		{"node unexpected", with(func(c *graphtest.Content) { c.Nodes = append(c.Nodes, n("c", nil)) }), `^node "c": unexpected$`},
		{"node twice", with(func(c *graphtest.Content) { c.Nodes = append(c.Nodes, n("b", nil)) }), `^got: node "b" yielded twice$`},
		{"edge twice", with(func(c *graphtest.Content) { c.Edges = append(c.Edges, e("b", "a", "t", map[string]any{"w": 1.0})) }),
			`^got: edge \("b", "a", "t"\) yielded twice$`},
		{"edge missing", with(func(c *graphtest.Content) { c.Edges = nil }), `^edge \("a", "b", "t"\): missing$`},
		{"edge unexpected", with(func(c *graphtest.Content) { c.Edges = append(c.Edges, e("a", "b", "", nil)) }),
			`^edge \("a", "b", ""\): unexpected$`},
		{"edge property", with(func(c *graphtest.Content) { c.Edges[0] = e("a", "b", "t", map[string]any{"w": 2.0}) }),
			`^edge \("a", "b", "t"\): props\["w"\]: want float64\(1\), got float64\(2\)$`},
		{"long string shortened", with(func(c *graphtest.Content) { c.Nodes[1] = n("b", map[string]any{"s": strings.Repeat("y", 100)}) }),
			`unexpected string\("y{80}"\.\.\.\) \(100 bytes\)$`},
		{"several differences, first in key order", with(func(c *graphtest.Content) {
			c.Nodes = []graph.Node{n("b", nil)}
			c.Edges = nil
		}), `^2 differences, the first: node "a": missing$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graphtest.Diff(t.Context(), base, tc.got)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if got != "" {
					t.Errorf("Diff = %q, want no difference", got)
				}
				return
			}
			if !regexp.MustCompile(tc.want).MatchString(got) {
				t.Errorf("Diff = %q, want a match for %q", got, tc.want)
			}
		})
	}
}

// failingReader is a graph.Reader whose View fails.
type failingReader struct{}

func (failingReader) View(context.Context) (graph.View, error) { return nil, errors.New("no view") }

func TestDiffErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		want, got graph.Reader
		ctx       func() context.Context
	}{
		{"want fails", failingReader{}, graphtest.Content{}, t.Context},
		{"got fails", graphtest.Content{}, failingReader{}, t.Context},
		{"cancelled", graphtest.Content{Nodes: []graph.Node{{ID: "a"}}}, graphtest.Content{}, func() context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d, err := graphtest.Diff(tc.ctx(), tc.want, tc.got); err == nil {
				t.Errorf("Diff = %q, nil; want an error", d)
			}
		})
	}
}

func TestContentCancelledWhileReading(t *testing.T) {
	c := graphtest.Content{Nodes: []graph.Node{{ID: "a"}, {ID: "b"}}, Edges: []graph.Edge{{Source: "a", Target: "b"}, {Source: "b", Target: "a", Type: "t"}}}
	v, err := c.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var seen int
	var gotErr error
	for _, err := range v.Edges(ctx) {
		cancel()
		if err != nil {
			gotErr = err
		}
		seen++
	}
	if seen != 2 || !errors.Is(gotErr, context.Canceled) {
		t.Errorf("Edges after cancel: %d results, error %v; want an edge, then context.Canceled", seen, gotErr)
	}
}

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		opts                 graphtest.GenerateOptions
		wantNodes, wantEdges int
	}{
		{"empty", graphtest.GenerateOptions{}, 0, 0},
		{"no edges without two nodes", graphtest.GenerateOptions{Nodes: 1, Edges: 5}, 1, 0},
		{"undirected pair cannot hold an edge", graphtest.GenerateOptions{Nodes: 2, Edges: 5}, 2, 0},
		{"directed pair", graphtest.GenerateOptions{Nodes: 2, Edges: 5, Directed: true}, 2, 2},
		{"undirected capped", graphtest.GenerateOptions{Nodes: 7, Edges: 100}, 7, 21},
		{"directed capped", graphtest.GenerateOptions{Nodes: 7, Edges: 100, Directed: true}, 7, 42},
		{"dense", graphtest.GenerateOptions{Nodes: 40, Edges: 700, Seed: 3}, 40, 700},
		{"sparse", graphtest.GenerateOptions{Nodes: 500, Edges: 1500, Seed: 9, Labels: true, DescriptionBytes: 50}, 500, 1500},
		{"directed", graphtest.GenerateOptions{Nodes: 300, Edges: 1000, Seed: 1, Directed: true}, 300, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen := graphtest.Generate(tc.opts)
			if n, e := gen.Len(); n != tc.wantNodes || e != tc.wantEdges {
				t.Fatalf("Len() = %d, %d, want %d, %d", n, e, tc.wantNodes, tc.wantEdges)
			}
			c, err := graphtest.Read(t.Context(), gen)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Nodes) != tc.wantNodes || len(c.Edges) != tc.wantEdges {
				t.Fatalf("read %d nodes, %d edges, want %d, %d", len(c.Nodes), len(c.Edges), tc.wantNodes, tc.wantEdges)
			}
			ids := map[string]bool{}
			for _, n := range c.Nodes {
				if err := n.Validate(); err != nil {
					t.Fatalf("node %q: %v", n.ID, err)
				}
				if ids[n.ID] {
					t.Fatalf("node %q generated twice", n.ID)
				}
				ids[n.ID] = true
				checkProps(t, n.Props, map[string]string{
					"entity_id": "string", "entity_type": "string", "description": "string",
					"source_id": "string", "file_path": "string", "created_at": "int64",
				})
				if n.Props["entity_id"] != n.ID {
					t.Errorf("node %q has entity_id %v", n.ID, n.Props["entity_id"])
				}
				if !regexp.MustCompile(`^chunk-[0-9a-f]{32}(<SEP>chunk-[0-9a-f]{32})*$`).MatchString(n.Props["source_id"].(string)) {
					t.Errorf("node %q source_id = %q", n.ID, n.Props["source_id"])
				}
				if tc.opts.Labels != (len(n.Labels) == 1) {
					t.Errorf("node %q labels = %q with Labels %t", n.ID, n.Labels, tc.opts.Labels)
				}
			}
			keys := map[string]bool{}
			for _, e := range c.Edges {
				if err := e.Validate(); err != nil {
					t.Fatal(err)
				}
				k := e.Key(tc.opts.Directed)
				if keys[k] || e.Source == e.Target || !ids[e.Source] || !ids[e.Target] {
					t.Fatalf("edge %q-%q is a duplicate, a self-loop or dangling", e.Source, e.Target)
				}
				keys[k] = true
				checkProps(t, e.Props, map[string]string{
					"weight": "float64", "description": "string", "keywords": "string",
					"source_id": "string", "file_path": "string", "created_at": "int64",
				})
			}
			// The same options make the same graph; the graph loads into a graph.
			if d, err := graphtest.Diff(t.Context(), c, graphtest.Generate(tc.opts)); err != nil || d != "" {
				t.Errorf("second generation differs: %s %v", d, err)
			}
			g := newMemgraph(t, tc.opts.Directed)
			if err := gen.Apply(t.Context(), g, 100); err != nil {
				t.Fatal(err)
			}
			graphtest.Equal(t, gen, g)
		})
	}
}

func checkProps(t *testing.T, props map[string]any, types map[string]string) {
	t.Helper()
	if len(props) != len(types) {
		t.Errorf("props %v, want keys of %v", props, types)
	}
	for k, typ := range types {
		if got := fmt.Sprintf("%T", props[k]); got != typ {
			t.Errorf("props[%q] is %s, want %s", k, got, typ)
		}
	}
}

func TestGenerateSeeds(t *testing.T) {
	a := graphtest.Generate(graphtest.GenerateOptions{Nodes: 50, Edges: 100, Seed: 1})
	b := graphtest.Generate(graphtest.GenerateOptions{Nodes: 50, Edges: 100, Seed: 2})
	d, err := graphtest.Diff(t.Context(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	if d == "" {
		t.Error("graphs with seeds 1 and 2 are equal")
	}
	if a.NodeID(7) != a.Node(7).ID {
		t.Errorf("NodeID(7) = %q, Node(7).ID = %q", a.NodeID(7), a.Node(7).ID)
	}
}

func TestGenerateOps(t *testing.T) {
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 10, Edges: 15, Seed: 4})
	for _, tc := range []struct {
		batch     int
		wantSizes string
	}{
		{0, fmt.Sprint(repeat(1, 25))},
		{10, "[10 10 5]"},
		{7, "[7 7 7 4]"},
		{100, "[25]"},
	} {
		var sizes []int
		nodesDone := false
		for ops := range gen.Ops(tc.batch) {
			sizes = append(sizes, len(ops))
			for _, op := range ops {
				switch op.Kind {
				case graph.OpUpsertNode:
					if nodesDone {
						t.Fatalf("batch size %d: node after an edge", tc.batch)
					}
				case graph.OpUpsertEdge:
					nodesDone = true
				default:
					t.Fatalf("op kind %s", op.Kind)
				}
			}
		}
		if got := fmt.Sprint(sizes); got != tc.wantSizes {
			t.Errorf("Ops(%d) batch sizes = %s, want %s", tc.batch, got, tc.wantSizes)
		}
	}
	for range gen.Ops(3) {
		break // stopping early works
	}
	g := memgraph.New()
	if err := gen.Replace(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	graphtest.Equal(t, gen, g)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := gen.Apply(ctx, memgraph.New(), 5); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v", err)
	}
	if _, err := gen.View(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context: %v", err)
	}
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
