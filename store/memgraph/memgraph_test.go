package memgraph_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

func newGraph(t *testing.T, directed bool) graphtest.Graph {
	if directed {
		return memgraph.New(memgraph.Directed())
	}
	return memgraph.New()
}

func TestConformance(t *testing.T) {
	graphtest.Run(t, newGraph)
}

func TestConformanceJournalLimit(t *testing.T) {
	// A limit larger than any test's batch count changes nothing observable.
	graphtest.Run(t, func(t *testing.T, directed bool) graphtest.Graph {
		opts := []memgraph.Option{memgraph.WithJournalLimit(1000)}
		if directed {
			opts = append(opts, memgraph.Directed())
		}
		return memgraph.New(opts...)
	})
}

func upsertNode(id string, props map[string]any) graph.Op {
	return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Props: props}}
}

func upsertEdge(src, dst, typ string) graph.Op {
	return graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: src, Target: dst, Type: typ}}
}

func mustApply(t *testing.T, g *memgraph.Graph, ops ...graph.Op) {
	t.Helper()
	if err := g.Apply(t.Context(), ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func seqs(t *testing.T, g *memgraph.Graph, after uint64) ([]uint64, error) {
	t.Helper()
	var out []uint64
	for b, err := range g.Changes(t.Context(), after) {
		if err != nil {
			return out, err
		}
		out = append(out, b.Seq)
	}
	return out, nil
}

func TestJournalLimit(t *testing.T) {
	g := memgraph.New(memgraph.WithJournalLimit(3))
	for i := range 10 {
		mustApply(t, g, upsertNode(fmt.Sprint(i), nil))
	}
	for _, tc := range []struct {
		after   uint64
		want    []uint64
		wantGap bool
	}{
		{after: 0, wantGap: true},
		{after: 6, wantGap: true},
		{after: 7, want: []uint64{8, 9, 10}},
		{after: 9, want: []uint64{10}},
		{after: 10, want: nil},
		{after: 11, want: nil},
	} {
		t.Run(fmt.Sprint(tc.after), func(t *testing.T) {
			got, err := seqs(t, g, tc.after)
			if gotGap := errors.Is(err, graph.ErrJournalGap); gotGap != tc.wantGap {
				t.Fatalf("Changes(%d) error = %v, want gap %t", tc.after, err, tc.wantGap)
			}
			if !tc.wantGap && err != nil {
				t.Fatalf("Changes(%d): %v", tc.after, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Changes(%d) = %v, want %v", tc.after, got, tc.want)
			}
		})
	}
	if got := g.Position(); got != 10 {
		t.Errorf("Position() = %d, want 10", got)
	}
}

func TestChangesIsTakenWhenCalled(t *testing.T) {
	g := memgraph.New(memgraph.WithJournalLimit(2))
	mustApply(t, g, upsertNode("a", nil))
	mustApply(t, g, upsertNode("b", nil))
	changes := g.Changes(t.Context(), 0)
	// Later batches push the first ones out of the journal; the iterator still
	// serves what was kept when Changes was called.
	for i := range 5 {
		mustApply(t, g, upsertNode(fmt.Sprint(i), nil))
	}
	var got []uint64
	for b, err := range changes {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.Seq)
	}
	if fmt.Sprint(got) != "[1 2]" {
		t.Errorf("batches = %v, want [1 2]", got)
	}
}

func TestChangesCancelled(t *testing.T) {
	g := memgraph.New()
	mustApply(t, g, upsertNode("a", nil))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var gotErr error
	for _, err := range g.Changes(ctx, 0) {
		gotErr = err
	}
	if !errors.Is(gotErr, context.Canceled) {
		t.Errorf("Changes with a cancelled context: error %v, want context.Canceled", gotErr)
	}
}

func TestReplaceDirection(t *testing.T) {
	for _, tc := range []struct {
		name          string
		graphDirected bool
		metaDirected  bool
		wantErr       bool
	}{
		{"undirected into undirected", false, false, false},
		{"directed into directed", true, true, false},
		{"directed into undirected", false, true, true},
		{"undirected into directed", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []memgraph.Option
			if tc.graphDirected {
				opts = append(opts, memgraph.Directed())
			}
			g := memgraph.New(opts...)
			if g.Directed() != tc.graphDirected {
				t.Fatalf("Directed() = %t, want %t", g.Directed(), tc.graphDirected)
			}
			err := g.Replace(t.Context(), graph.Meta{Directed: tc.metaDirected}, nil, nil)
			if gotErr := errors.Is(err, memgraph.ErrDirection); gotErr != tc.wantErr {
				t.Errorf("Replace error = %v, want ErrDirection %t", err, tc.wantErr)
			}
		})
	}
}

func TestReplaceMissingEnd(t *testing.T) {
	g := memgraph.New()
	nodes := func(yield func(graph.Node, error) bool) { yield(graph.Node{ID: "a"}, nil) }
	edges := func(yield func(graph.Edge, error) bool) { yield(graph.Edge{Source: "a", Target: "b"}, nil) }
	if err := g.Replace(t.Context(), graph.Meta{}, nodes, edges); !errors.Is(err, memgraph.ErrMissingEnd) {
		t.Errorf("Replace error = %v, want ErrMissingEnd", err)
	}
	if err := g.Apply(t.Context(), []graph.Op{upsertEdge("x", "y", "")}); !errors.Is(err, memgraph.ErrMissingEnd) {
		t.Errorf("Apply error = %v, want ErrMissingEnd", err)
	}
}

func TestLookups(t *testing.T) {
	g := memgraph.New()
	mustApply(t, g, upsertNode("a", map[string]any{"v": 1}), upsertNode("b", nil), upsertEdge("a", "b", "t"))
	if n, e := g.Len(); n != 2 || e != 1 {
		t.Errorf("Len() = %d, %d, want 2, 1", n, e)
	}
	for _, tc := range []struct {
		id     string
		wantOK bool
	}{{"a", true}, {"b", true}, {"c", false}} {
		n, ok := g.Node(tc.id)
		if ok != tc.wantOK || (ok && n.ID != tc.id) {
			t.Errorf("Node(%q) = %+v, %t, want ok %t", tc.id, n, ok, tc.wantOK)
		}
	}
	if n, _ := g.Node("a"); n.Props["v"] != int64(1) {
		t.Errorf("Node(a).Props[v] = %#v, want int64(1)", n.Props["v"])
	}
	for _, tc := range []struct {
		src, dst, typ string
		wantOK        bool
	}{
		{"a", "b", "t", true},
		{"b", "a", "t", true}, // undirected
		{"a", "b", "", false},
		{"a", "c", "t", false},
	} {
		_, ok := g.Edge(tc.src, tc.dst, tc.typ)
		if ok != tc.wantOK {
			t.Errorf("Edge(%q, %q, %q) ok = %t, want %t", tc.src, tc.dst, tc.typ, ok, tc.wantOK)
		}
	}
}

func TestDeleteMissingIsNoop(t *testing.T) {
	g := memgraph.New(memgraph.Directed())
	mustApply(t, g, upsertNode("a", nil))
	mustApply(t, g,
		graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "nope"}},
		graph.Op{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "a", Target: "nope"}})
	if n, e := g.Len(); n != 1 || e != 0 {
		t.Errorf("Len() = %d, %d, want 1, 0", n, e)
	}
	if got := g.Position(); got != 2 {
		t.Errorf("Position() = %d, want 2 (the no-op batch is journaled)", got)
	}
}

func TestEmptyApplyIsNotJournaled(t *testing.T) {
	g := memgraph.New()
	mustApply(t, g)
	if got := g.Position(); got != 0 {
		t.Errorf("Position() after an empty batch = %d, want 0", got)
	}
}

func TestApplyCancelled(t *testing.T) {
	g := memgraph.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.Apply(ctx, []graph.Op{upsertNode("a", nil)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply error = %v, want context.Canceled", err)
	}
	if _, err := g.View(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("View error = %v, want context.Canceled", err)
	}
}

func TestClosedView(t *testing.T) {
	g := memgraph.New()
	mustApply(t, g, upsertNode("a", nil))
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := v.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	for _, err := range v.Nodes(t.Context()) {
		if !errors.Is(err, graph.ErrClosed) {
			t.Errorf("Nodes after Close: error %v, want ErrClosed", err)
		}
	}
	for _, err := range v.Edges(t.Context()) {
		if !errors.Is(err, graph.ErrClosed) {
			t.Errorf("Edges after Close: error %v, want ErrClosed", err)
		}
	}
}

func TestCancelDuringScan(t *testing.T) {
	g := memgraph.New()
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 3000, Edges: 3000, DescriptionBytes: 8})
	if err := gen.Replace(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := 0
	var gotErr error
	for _, err := range v.Nodes(ctx) {
		if err != nil {
			gotErr = err
			break
		}
		if seen++; seen == 10 {
			cancel()
		}
	}
	if !errors.Is(gotErr, context.Canceled) || seen >= 3000 {
		t.Errorf("scan cancelled after 10 nodes: saw %d, error %v; want fewer than 3000 and context.Canceled", seen, gotErr)
	}
}

func TestReplaceCancelledWhileReadingNodes(t *testing.T) {
	g := memgraph.New()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	nodes := func(yield func(graph.Node, error) bool) {
		for i := range 5000 {
			if i == 10 {
				cancel()
			}
			if !yield(graph.Node{ID: fmt.Sprint(i)}, nil) {
				return
			}
		}
	}
	if err := g.Replace(ctx, graph.Meta{}, nodes, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Replace error = %v, want context.Canceled", err)
	}
	if n, _ := g.Len(); n != 0 {
		t.Errorf("Len() = %d nodes after a cancelled Replace, want 0", n)
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	g := memgraph.New(memgraph.WithClock(func() time.Time { return at }))
	mustApply(t, g, upsertNode("a", nil))
	for b, err := range g.Changes(t.Context(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if !b.Time.Equal(at) || b.Time.Location() != time.UTC {
			t.Errorf("batch time = %v, want %v in UTC", b.Time, at)
		}
	}
}

// TestViewsShareSnapshot checks that views opened with no write between them see
// the same content, and a write between them does not leak into the first.
func TestViewsShareSnapshot(t *testing.T) {
	g := memgraph.New()
	mustApply(t, g, upsertNode("a", nil))
	v1, _ := g.View(t.Context())
	v2, _ := g.View(t.Context())
	mustApply(t, g, upsertNode("b", nil))
	v3, _ := g.View(t.Context())
	count := func(v graph.View) int {
		n := 0
		for range v.Nodes(t.Context()) {
			n++
		}
		return n
	}
	for i, tc := range []struct {
		v    graph.View
		want int
	}{{v1, 1}, {v2, 1}, {v3, 2}} {
		if got := count(tc.v); got != tc.want {
			t.Errorf("view %d has %d nodes, want %d", i+1, got, tc.want)
		}
	}
}

// A Replace promised normalized content loads it as given, and still refuses an
// edge whose ends are missing.
func TestReplaceNormalized(t *testing.T) {
	ctx := context.Background()
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 300, Edges: 900, Seed: 4, Labels: true})
	want, err := graphtest.Read(ctx, gen)
	if err != nil {
		t.Fatal(err)
	}
	g := memgraph.New()
	meta := graph.Meta{Normalized: true}
	if err := g.Replace(ctx, meta, gen.Nodes(), gen.Edges()); err != nil {
		t.Fatal(err)
	}
	got, err := graphtest.Read(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if d := graphtest.DiffContent(want, got); d != "" {
		t.Fatal(d)
	}
	dangling := func(yield func(graph.Edge, error) bool) {
		yield(graph.Edge{Source: want.Nodes[0].ID, Target: "nowhere"}, nil)
	}
	if err := g.Replace(ctx, meta, gen.Nodes(), dangling); !errors.Is(err, memgraph.ErrMissingEnd) {
		t.Fatalf("dangling edge: %v, want ErrMissingEnd", err)
	}
}

// Replace keeps the last of several records with one key, in the forward and the
// reverse index alike: deleting an end afterwards removes the edge for good.
func TestReplaceDuplicateEdges(t *testing.T) {
	ctx := context.Background()
	g := memgraph.New()
	nodes := func(yield func(graph.Node, error) bool) {
		for _, id := range []string{"a", "b", "c"} {
			if !yield(graph.Node{ID: id}, nil) {
				return
			}
		}
	}
	edges := func(yield func(graph.Edge, error) bool) {
		for _, e := range []graph.Edge{
			{Source: "b", Target: "a", Props: map[string]any{"n": int64(1)}},
			{Source: "a", Target: "c"},
			{Source: "a", Target: "b", Props: map[string]any{"n": int64(2)}}, // the same edge, undirected
		} {
			if !yield(e, nil) {
				return
			}
		}
	}
	if err := g.Replace(ctx, graph.Meta{}, nodes, edges); err != nil {
		t.Fatal(err)
	}
	e, ok := g.Edge("a", "b", "")
	if !ok || !graph.EqualProps(e.Props, map[string]any{"n": int64(2)}) {
		t.Fatalf("edge a-b = %v, %t; want the last record", e, ok)
	}
	if err := g.Apply(ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "b"}}}); err != nil {
		t.Fatal(err)
	}
	c, err := graphtest.Read(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 2 || len(c.Edges) != 1 {
		t.Fatalf("after deleting b: %d nodes, %d edges; want 2 and 1 (a-c)", len(c.Nodes), len(c.Edges))
	}
	if err := g.Apply(ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "c"}}}); err != nil {
		t.Fatal(err)
	}
	if c, _ = graphtest.Read(ctx, g); len(c.Edges) != 0 {
		t.Fatalf("after deleting c: %d edges left", len(c.Edges))
	}
}
