package graphtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

type suite struct {
	newGraph func(t *testing.T, directed bool) Graph
	directed bool
}

type testCase struct {
	name string
	run  func(t *testing.T)
}

func (s *suite) tests() []testCase {
	return []testCase{
		{"Empty", s.testEmpty},
		{"ReplaceRoundTrip", s.testReplaceRoundTrip},
		{"ReplaceKeepsTypes", s.testReplaceKeepsTypes},
		{"Normalizes", s.testNormalizes},
		{"CopiesInput", s.testCopiesInput},
		{"ReplaceSwapsContent", s.testReplaceSwapsContent},
		{"ReplaceFailureLeavesGraph", s.testReplaceFailure},
		{"ApplySteps", s.testApplySteps},
		{"DeleteNodeDeletesEdges", s.testDeleteNodeCascades},
		{"ApplyIsAtomic", s.testApplyAtomic},
		{"ApplyInOrder", s.testApplyInOrder},
		{"EdgeDirection", s.testEdgeDirection},
		{"OddIDs", s.testOddIDs},
		{"InvalidIDs", s.testInvalidIDs},
		{"InvalidValues", s.testInvalidValues},
		{"Generated", s.testGenerated},
		{"ViewIsolation", s.testViewIsolation},
		{"ViewGetter", s.testViewGetter},
		{"ViewCounter", s.testViewCounter},
		{"JournalNames", s.testJournalNames},
		{"ViewConcurrentWrites", s.testViewConcurrentWrites},
		{"IterateTwice", s.testIterateTwice},
		{"BreakEarly", s.testBreakEarly},
		{"CancelledIteration", s.testCancelledIteration},
		{"JournalPositions", s.testJournalPositions},
		{"JournalChangesAfter", s.testJournalChangesAfter},
		{"JournalConcurrentWriters", s.testJournalConcurrentWriters},
		{"JournalReplay", s.testJournalReplay},
		{"JournalReplaceBatch", s.testJournalReplaceBatch},
	}
}

// --- helpers ---

func (s *suite) new(t *testing.T) Graph {
	t.Helper()
	g := s.newGraph(t, s.directed)
	if g == nil {
		t.Fatal("harness returned a nil graph")
	}
	return g
}

func (s *suite) journal(t *testing.T, g Graph) graph.Journal {
	t.Helper()
	j, ok := g.(graph.Journal)
	if !ok {
		t.Skip("graph does not implement graph.Journal")
	}
	return j
}

func (s *suite) meta() graph.Meta { return graph.Meta{Directed: s.directed} }

func (s *suite) content(nodes []graph.Node, edges []graph.Edge) Content {
	return Content{Meta: s.meta(), Nodes: nodes, Edges: edges}
}

func (s *suite) replace(t *testing.T, g Graph, c Content) {
	t.Helper()
	if err := g.Replace(t.Context(), s.meta(), sliceSeq(t.Context(), c.Nodes), sliceSeq(t.Context(), c.Edges)); err != nil {
		t.Fatalf("Replace: %v", err)
	}
}

func (s *suite) apply(t *testing.T, g Graph, ops ...graph.Op) {
	t.Helper()
	if err := g.Apply(t.Context(), ops); err != nil {
		t.Fatalf("Apply(%s): %v", opsString(ops), err)
	}
}

func (s *suite) equal(t *testing.T, want Content, g Graph) {
	t.Helper()
	want.Meta = s.meta()
	got, err := Read(t.Context(), g)
	if err != nil {
		t.Fatalf("read graph: %v", err)
	}
	if d := DiffContent(want, got); d != "" {
		t.Fatalf("graph content: %s", d)
	}
}

func position(t *testing.T, g graph.Reader) uint64 {
	t.Helper()
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	defer v.Close()
	return v.Meta().Position
}

func opsString(ops []graph.Op) string {
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		switch op.Kind {
		case graph.OpUpsertNode, graph.OpDeleteNode:
			parts = append(parts, fmt.Sprintf("%s %q", op.Kind, op.Node.ID))
		case graph.OpUpsertEdge, graph.OpDeleteEdge:
			parts = append(parts, fmt.Sprintf("%s (%q, %q, %q)", op.Kind, op.Edge.Source, op.Edge.Target, op.Edge.Type))
		default:
			parts = append(parts, op.Kind.String())
		}
	}
	return strings.Join(parts, "; ")
}

func upsertNode(id string, props map[string]any, labels ...string) graph.Op {
	return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: labels, Props: props}}
}

func deleteNode(id string) graph.Op {
	return graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: id}}
}

func upsertEdge(src, dst, typ string, props map[string]any) graph.Op {
	return graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: src, Target: dst, Type: typ, Props: props}}
}

func deleteEdge(src, dst, typ string) graph.Op {
	return graph.Op{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: src, Target: dst, Type: typ}}
}

func node(id string, props map[string]any, labels ...string) graph.Node {
	return graph.Node{ID: id, Labels: labels, Props: props}
}

func edge(src, dst, typ string, props map[string]any) graph.Edge {
	return graph.Edge{Source: src, Target: dst, Type: typ, Props: props}
}

var longID = strings.Repeat("x", graph.MaxIDLen)

// oddIDs are valid ids that are easy to get wrong.
var oddIDs = []string{
	"Bob Smith", `"Quoted" Name`, "it's", `back\slash`, "a/b/c", "Zürich 東京 🚀", "<R&D>",
	" padded ", "tab\there", "line\nbreak", "a", "a b", "ab", "A", "a\x01", "é", "e\u0301", longID,
}

// sample is content in normalized form that is valid in a directed and an
// undirected graph: no two edges share ends and type in any order.
func sample() ([]graph.Node, []graph.Edge) {
	long := strings.Repeat("Ünïcödé text with \"quotes\", <tags> & newlines\n", 120)
	nodes := []graph.Node{
		node("alice", map[string]any{
			"name": "Alice", "age": int64(30), "score": float64(1), "ratio": 0.25, "active": true,
			"none": nil, "max": int64(math.MaxInt64), "min": int64(math.MinInt64), "neg": -7.5e-300,
			"tags": []any{"a", int64(1), 2.5, nil, false, float64(3)},
			"nested": map[string]any{
				"list":  []any{map[string]any{"x": int64(1), "y": 1.0}, []any{}},
				"empty": map[string]any{},
			},
			"description": long,
		}, "person"),
		node("Bob Smith", map[string]any{"weight": float64(2)}, "employee", "person"),
		node(`"Quoted" Name`, nil),
		node("Zürich 東京 🚀", map[string]any{"entity_type": "geo"}, "geo"),
		node("a", nil), node("a b", nil), node("ab", nil), node("A", nil),
		node(longID, map[string]any{"len": int64(len(longID))}),
	}
	edges := []graph.Edge{
		edge("alice", "Bob Smith", "knows", map[string]any{"weight": float64(1), "since": int64(2020)}),
		edge("Bob Smith", "alice", "likes", map[string]any{"weight": 0.5}),
		edge("alice", "Bob Smith", "", nil),
		edge("alice", "alice", "", map[string]any{"note": "self"}),
		edge(`"Quoted" Name`, "Zürich 東京 🚀", "", map[string]any{"keywords": "x,y", "tags": []any{"q"}}),
		edge("a", "a b", "rel type/with space", nil),
		edge("ab", "A", "", map[string]any{"weight": float64(-1)}),
		edge(longID, "a", "", nil),
	}
	return nodes, edges
}

func (s *suite) sample() Content {
	n, e := sample()
	return s.content(n, e)
}

// --- content ---

func (s *suite) testEmpty(t *testing.T) {
	g := s.new(t)
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	defer v.Close()
	if got := v.Meta(); got.Directed != s.directed || got.Position != 0 {
		t.Errorf("Meta() = %+v, want Directed %t, Position 0", got, s.directed)
	}
	c, err := ReadView(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 0 || len(c.Edges) != 0 {
		t.Errorf("new graph has %d nodes and %d edges, want none", len(c.Nodes), len(c.Edges))
	}
}

func (s *suite) testReplaceRoundTrip(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	s.equal(t, s.sample(), g)
}

func (s *suite) testReplaceKeepsTypes(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	got, err := Read(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	var alice map[string]any
	for _, n := range got.Nodes {
		if n.ID == "alice" {
			alice = n.Props
		}
	}
	if alice == nil {
		t.Fatal(`node "alice" missing or without properties`)
	}
	path := func(v any, steps ...any) any {
		for _, s := range steps {
			switch k := s.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	for _, tc := range []struct {
		path []any
		want string
	}{
		{[]any{"age"}, "int64(30)"},
		{[]any{"score"}, "float64(1)"},
		{[]any{"ratio"}, "float64(0.25)"},
		{[]any{"active"}, "bool(true)"},
		{[]any{"none"}, "<nil>(<nil>)"},
		{[]any{"max"}, "int64(9223372036854775807)"},
		{[]any{"tags", 1}, "int64(1)"},
		{[]any{"tags", 5}, "float64(3)"},
		{[]any{"nested", "list", 0, "x"}, "int64(1)"},
		{[]any{"nested", "list", 0, "y"}, "float64(1)"},
		{[]any{"nested", "list", 1}, "[]interface {}([])"},
		{[]any{"nested", "empty"}, "map[string]interface {}(map[])"},
	} {
		v := path(alice, tc.path...)
		if got := fmt.Sprintf("%T(%v)", v, v); got != tc.want {
			t.Errorf("alice props %v = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func (s *suite) testNormalizes(t *testing.T) {
	g := s.new(t)
	in := s.content([]graph.Node{
		node("n", map[string]any{
			"int": 5, "int32": int32(-3), "uint8": uint8(7), "float32": float32(1.5),
			"strings": []string{"x", "y"}, "nested": map[string]any{"u": uint(9)},
		}, "b", "a", "b"),
		node("m", map[string]any{}),
	}, []graph.Edge{edge("n", "m", "t", map[string]any{"w": 1})})
	s.replace(t, g, in)
	s.equal(t, s.content([]graph.Node{
		node("n", map[string]any{
			"int": int64(5), "int32": int64(-3), "uint8": int64(7), "float32": float64(1.5),
			"strings": []any{"x", "y"}, "nested": map[string]any{"u": int64(9)},
		}, "a", "b"),
		node("m", nil),
	}, []graph.Edge{edge("n", "m", "t", map[string]any{"w": int64(1)})}), g)

	got, err := Read(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got.Nodes {
		if n.ID == "n" && !slices.Equal(n.Labels, []string{"a", "b"}) {
			t.Errorf("labels of n = %q, want sorted and deduplicated [a b]", n.Labels)
		}
	}
}

func (s *suite) testCopiesInput(t *testing.T) {
	g := s.new(t)
	props := map[string]any{"list": []any{int64(1)}, "map": map[string]any{"k": "v"}, "s": "x"}
	labels := []string{"l"}
	eprops := map[string]any{"w": 1.5}
	s.apply(t, g,
		graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "a", Labels: labels, Props: props}},
		upsertEdge("a", "a", "", eprops))
	props["s"] = "changed"
	props["new"] = true
	props["list"].([]any)[0] = "changed"
	props["map"].(map[string]any)["k"] = "changed"
	labels[0] = "changed"
	eprops["w"] = 9.5
	s.equal(t, s.content(
		[]graph.Node{node("a", map[string]any{"list": []any{int64(1)}, "map": map[string]any{"k": "v"}, "s": "x"}, "l")},
		[]graph.Edge{edge("a", "a", "", map[string]any{"w": 1.5})}), g)
}

func (s *suite) testReplaceSwapsContent(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	next := s.content(
		[]graph.Node{node("x", map[string]any{"v": int64(1)}), node("alice", nil)},
		[]graph.Edge{edge("x", "alice", "", nil)})
	s.replace(t, g, next)
	s.equal(t, next, g)
	s.replace(t, g, s.content(nil, nil))
	s.equal(t, s.content(nil, nil), g)
}

// failingSeq yields the items of s, then err.
func failingSeq[T any](s []T, err error) func(func(T, error) bool) {
	return func(yield func(T, error) bool) {
		for _, x := range s {
			if !yield(x, nil) {
				return
			}
		}
		var zero T
		yield(zero, err)
	}
}

func (s *suite) testReplaceFailure(t *testing.T) {
	errBoom := errors.New("boom")
	good := s.content(
		[]graph.Node{node("n1", nil), node("n2", map[string]any{"p": "v"})},
		[]graph.Edge{edge("n1", "n2", "", nil)})
	for _, tc := range []struct {
		name string
		// call calls Replace and returns its error.
		call    func(t *testing.T, g Graph) error
		wantErr error // nil: any error
	}{
		{"nodes yield an error", func(t *testing.T, g Graph) error {
			return g.Replace(t.Context(), s.meta(), failingSeq(good.Nodes, errBoom), sliceSeq(t.Context(), good.Edges))
		}, errBoom},
		{"edges yield an error", func(t *testing.T, g Graph) error {
			return g.Replace(t.Context(), s.meta(), sliceSeq(t.Context(), good.Nodes), failingSeq(good.Edges, errBoom))
		}, errBoom},
		{"edge end missing", func(t *testing.T, g Graph) error {
			edges := append(slices.Clone(good.Edges), edge("n1", "nope", "", nil))
			return g.Replace(t.Context(), s.meta(), sliceSeq(t.Context(), good.Nodes), sliceSeq(t.Context(), edges))
		}, nil},
		{"invalid node id", func(t *testing.T, g Graph) error {
			return g.Replace(t.Context(), s.meta(), sliceSeq(t.Context(), append(slices.Clone(good.Nodes), node("", nil))), sliceSeq(t.Context(), good.Edges))
		}, graph.ErrInvalidID},
		{"invalid edge value", func(t *testing.T, g Graph) error {
			return g.Replace(t.Context(), s.meta(), sliceSeq(t.Context(), good.Nodes), sliceSeq(t.Context(), []graph.Edge{edge("n1", "n2", "", map[string]any{"w": math.NaN()})}))
		}, graph.ErrInvalidValue},
		{"context cancelled before", func(t *testing.T, g Graph) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return g.Replace(ctx, s.meta(), sliceSeq(t.Context(), good.Nodes), sliceSeq(t.Context(), good.Edges))
		}, context.Canceled},
		{"context cancelled while reading edges", func(t *testing.T, g Graph) error {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			edges := func(yield func(graph.Edge, error) bool) {
				for _, e := range good.Edges {
					cancel()
					if !yield(e, nil) {
						return
					}
				}
			}
			return g.Replace(ctx, s.meta(), sliceSeq(t.Context(), good.Nodes), edges)
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := s.new(t)
			s.replace(t, g, s.sample())
			before := position(t, g)
			err := tc.call(t, g)
			if err == nil {
				t.Fatal("Replace succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Replace error = %v, want one wrapping %v", err, tc.wantErr)
			}
			s.equal(t, s.sample(), g)
			if got := position(t, g); got != before {
				t.Errorf("position after failed Replace = %d, want %d", got, before)
			}
		})
	}
}

func (s *suite) testApplySteps(t *testing.T) {
	g := s.new(t)
	steps := []struct {
		name string
		ops  []graph.Op
		want Content
	}{
		{"insert", []graph.Op{
			upsertNode("a", map[string]any{"v": int64(1)}, "L"), upsertNode("b", nil), upsertNode("c", nil),
			upsertEdge("a", "b", "t", map[string]any{"w": 1.0}), upsertEdge("b", "c", "", nil),
		}, s.content(
			[]graph.Node{node("a", map[string]any{"v": int64(1)}, "L"), node("b", nil), node("c", nil)},
			[]graph.Edge{edge("a", "b", "t", map[string]any{"w": 1.0}), edge("b", "c", "", nil)})},
		{"upsert replaces the whole node and edge", []graph.Op{
			upsertNode("a", map[string]any{"u": "x"}, "M"), upsertEdge("a", "b", "t", map[string]any{"k": []any{"x"}}),
		}, s.content(
			[]graph.Node{node("a", map[string]any{"u": "x"}, "M"), node("b", nil), node("c", nil)},
			[]graph.Edge{edge("a", "b", "t", map[string]any{"k": []any{"x"}}), edge("b", "c", "", nil)})},
		{"upsert clears properties", []graph.Op{upsertNode("a", nil), upsertEdge("a", "b", "t", nil)},
			s.content(
				[]graph.Node{node("a", nil), node("b", nil), node("c", nil)},
				[]graph.Edge{edge("a", "b", "t", nil), edge("b", "c", "", nil)})},
		{"delete edge", []graph.Op{deleteEdge("b", "c", "")}, s.content(
			[]graph.Node{node("a", nil), node("b", nil), node("c", nil)},
			[]graph.Edge{edge("a", "b", "t", nil)})},
		{"delete node", []graph.Op{deleteNode("b")}, s.content(
			[]graph.Node{node("a", nil), node("c", nil)}, nil)},
		{"reset", []graph.Op{upsertNode("z", nil), {Kind: graph.OpReset}, upsertNode("y", nil)},
			s.content([]graph.Node{node("y", nil)}, nil)},
	}
	for _, st := range steps {
		s.apply(t, g, st.ops...)
		want := st.want
		want.Meta = s.meta()
		got, err := Read(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		if d := DiffContent(want, got); d != "" {
			t.Fatalf("after step %q: %s", st.name, d)
		}
	}
}

func (s *suite) testDeleteNodeCascades(t *testing.T) {
	nodes := []graph.Node{node("x", nil), node("y", nil), node("z", nil), node("x2", nil), node("w", nil)}
	edges := []graph.Edge{
		edge("x", "y", "out", nil), edge("y", "x", "in", nil), edge("x", "x", "", nil),
		edge("z", "x", "", nil), edge("x", "z", "t", nil),
		edge("y", "z", "", nil), edge("x2", "y", "", nil), edge("w", "x2", "", nil),
	}
	g := s.new(t)
	s.replace(t, g, s.content(nodes, edges))
	s.apply(t, g, deleteNode("x"))
	s.equal(t, s.content(
		[]graph.Node{node("y", nil), node("z", nil), node("x2", nil), node("w", nil)},
		[]graph.Edge{edge("y", "z", "", nil), edge("x2", "y", "", nil), edge("w", "x2", "", nil)}), g)

	// The node can come back, without its old edges.
	s.apply(t, g, upsertNode("x", nil))
	s.equal(t, s.content(
		[]graph.Node{node("y", nil), node("z", nil), node("x2", nil), node("w", nil), node("x", nil)},
		[]graph.Edge{edge("y", "z", "", nil), edge("x2", "y", "", nil), edge("w", "x2", "", nil)}), g)
}

func (s *suite) testApplyAtomic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ops     []graph.Op
		wantErr error // nil: any error
	}{
		{"edge to a missing node", []graph.Op{upsertNode("new", nil), upsertEdge("new", "missing", "", nil)}, nil},
		{"edge from a missing node", []graph.Op{deleteEdge("alice", "Bob Smith", "knows"), upsertEdge("missing", "alice", "", nil)}, nil},
		{"edge to a node deleted earlier in the batch", []graph.Op{deleteNode("a"), upsertEdge("alice", "a", "", nil)}, nil},
		{"edge after a reset", []graph.Op{{Kind: graph.OpReset}, upsertNode("a", nil), upsertEdge("a", "alice", "", nil)}, nil},
		{"invalid id after changes", []graph.Op{upsertNode("new", nil), deleteNode("alice"), upsertNode("", nil)}, graph.ErrInvalidID},
		{"invalid value after changes", []graph.Op{deleteNode("alice"), upsertEdge("a", "ab", "", map[string]any{"w": math.Inf(1)})}, graph.ErrInvalidValue},
		{"unknown kind", []graph.Op{upsertNode("new", nil), {Kind: 99}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := s.new(t)
			s.replace(t, g, s.sample())
			before := position(t, g)
			err := g.Apply(t.Context(), tc.ops)
			if err == nil {
				t.Fatalf("Apply(%s) succeeded, want an error", opsString(tc.ops))
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Apply error = %v, want one wrapping %v", err, tc.wantErr)
			}
			s.equal(t, s.sample(), g)
			if got := position(t, g); got != before {
				t.Errorf("position after failed Apply = %d, want %d", got, before)
			}
		})
	}
}

func (s *suite) testApplyInOrder(t *testing.T) {
	g := s.new(t)
	s.apply(t, g,
		upsertNode("a", nil), upsertNode("b", nil), upsertEdge("a", "b", "", map[string]any{"v": int64(1)}),
		deleteNode("b"), upsertNode("b", map[string]any{"again": true}),
		upsertEdge("b", "a", "r", nil), upsertNode("c", nil), deleteEdge("b", "a", "r"), upsertEdge("c", "a", "", nil))
	s.equal(t, s.content(
		[]graph.Node{node("a", nil), node("b", map[string]any{"again": true}), node("c", nil)},
		[]graph.Edge{edge("c", "a", "", nil)}), g)
}

func (s *suite) testEdgeDirection(t *testing.T) {
	g := s.new(t)
	s.apply(t, g, upsertNode("a", nil), upsertNode("b", nil),
		upsertEdge("a", "b", "t", map[string]any{"v": int64(1)}),
		upsertEdge("b", "a", "t", map[string]any{"v": int64(2)}),
		upsertEdge("a", "b", "u", nil))
	nodes := []graph.Node{node("a", nil), node("b", nil)}
	if s.directed {
		s.equal(t, s.content(nodes, []graph.Edge{
			edge("a", "b", "t", map[string]any{"v": int64(1)}),
			edge("b", "a", "t", map[string]any{"v": int64(2)}),
			edge("a", "b", "u", nil)}), g)
	} else {
		s.equal(t, s.content(nodes, []graph.Edge{
			edge("b", "a", "t", map[string]any{"v": int64(2)}),
			edge("a", "b", "u", nil)}), g)
	}
	s.apply(t, g, deleteEdge("b", "a", "t"), deleteEdge("b", "a", "u"))
	if s.directed {
		s.equal(t, s.content(nodes, []graph.Edge{
			edge("a", "b", "t", map[string]any{"v": int64(1)}), edge("a", "b", "u", nil)}), g)
	} else {
		s.equal(t, s.content(nodes, nil), g)
	}
}

func (s *suite) testOddIDs(t *testing.T) {
	var nodes []graph.Node
	var edges []graph.Edge
	for i, id := range oddIDs {
		nodes = append(nodes, node(id, map[string]any{"id": id}, id))
		edges = append(edges, edge(id, oddIDs[(i+1)%len(oddIDs)], id, map[string]any{id: id}))
	}
	t.Run("Replace", func(t *testing.T) {
		g := s.new(t)
		s.replace(t, g, s.content(nodes, edges))
		s.equal(t, s.content(nodes, edges), g)
	})
	t.Run("Apply", func(t *testing.T) {
		g := s.new(t)
		var ops []graph.Op
		for _, n := range nodes {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		}
		for _, e := range edges {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
		}
		s.apply(t, g, ops...)
		s.equal(t, s.content(nodes, edges), g)
		s.apply(t, g, deleteNode(oddIDs[1]), deleteEdge(oddIDs[3], oddIDs[4], oddIDs[3]))
		var wantNodes []graph.Node
		for _, n := range nodes {
			if n.ID != oddIDs[1] {
				wantNodes = append(wantNodes, n)
			}
		}
		var wantEdges []graph.Edge
		for _, e := range edges {
			if e.Source != oddIDs[1] && e.Target != oddIDs[1] && e.Source != oddIDs[3] {
				wantEdges = append(wantEdges, e)
			}
		}
		s.equal(t, s.content(wantNodes, wantEdges), g)
	})
}

func (s *suite) testInvalidIDs(t *testing.T) {
	tooLong := strings.Repeat("y", graph.MaxIDLen+1)
	for _, tc := range []struct {
		name string
		op   graph.Op
	}{
		{"empty node id", upsertNode("", nil)},
		{"NUL in node id", upsertNode("a\x00b", nil)},
		{"node id not UTF-8", upsertNode("a\xffb", nil)},
		{"node id too long", upsertNode(tooLong, nil)},
		{"empty label", upsertNode("ok", nil, "")},
		{"NUL in label", upsertNode("ok", nil, "l\x00")},
		{"empty edge source", upsertEdge("", "alice", "", nil)},
		{"NUL in edge target", upsertEdge("alice", "x\x00", "", nil)},
		{"NUL in edge type", upsertEdge("alice", "a", "t\x00", nil)},
		{"edge type too long", upsertEdge("alice", "a", tooLong, nil)},
		{"delete empty node id", deleteNode("")},
		{"delete edge with invalid source", deleteEdge("\xff", "a", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := s.new(t)
			s.replace(t, g, s.sample())
			err := g.Apply(t.Context(), []graph.Op{upsertNode("fresh", nil), tc.op})
			if !errors.Is(err, graph.ErrInvalidID) {
				t.Errorf("Apply(%s) error = %v, want one wrapping graph.ErrInvalidID", opsString([]graph.Op{tc.op}), err)
			}
			s.equal(t, s.sample(), g)
		})
	}
}

func (s *suite) testInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
	}{
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"-Inf", float32(math.Inf(-1))},
		{"struct", struct{}{}},
		{"func", func() {}},
		{"pointer", new(int64)},
		{"complex", complex(1, 2)},
		{"map with int keys", map[int]any{1: "x"}},
		{"typed slice", []int{1}},
		{"uint64 overflow", uint64(math.MaxUint64)},
		{"string not UTF-8", "a\xff"},
		{"NaN in a list", []any{int64(1), math.NaN()}},
		{"map key not UTF-8", map[string]any{"\xff": int64(1)}},
		{"deeply nested", map[string]any{"a": []any{map[string]any{"b": struct{}{}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []graph.Op{
				upsertNode("fresh", map[string]any{"ok": int64(1), "bad": tc.value}),
				upsertEdge("alice", "a", "", map[string]any{"bad": tc.value}),
			} {
				g := s.new(t)
				s.replace(t, g, s.sample())
				err := g.Apply(t.Context(), []graph.Op{upsertNode("fresh2", nil), op})
				if !errors.Is(err, graph.ErrInvalidValue) {
					t.Errorf("Apply(%s) with %s error = %v, want one wrapping graph.ErrInvalidValue", opsString([]graph.Op{op}), tc.name, err)
				}
				s.equal(t, s.sample(), g)
			}
		})
	}
	t.Run("property name not UTF-8", func(t *testing.T) {
		g := s.new(t)
		err := g.Apply(t.Context(), []graph.Op{upsertNode("n", map[string]any{"\xfe": int64(1)})})
		if !errors.Is(err, graph.ErrInvalidValue) {
			t.Errorf("Apply error = %v, want one wrapping graph.ErrInvalidValue", err)
		}
	})
}

func (s *suite) testGenerated(t *testing.T) {
	gen := Generate(GenerateOptions{Nodes: 150, Edges: 400, Directed: s.directed, Seed: 7, Labels: true})
	t.Run("Replace", func(t *testing.T) {
		g := s.new(t)
		if err := gen.Replace(t.Context(), g); err != nil {
			t.Fatalf("Replace: %v", err)
		}
		Equal(t, gen, g)
	})
	t.Run("Apply", func(t *testing.T) {
		g := s.new(t)
		if err := gen.Apply(t.Context(), g, 64); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		Equal(t, gen, g)
	})
}

// --- views ---

func (s *suite) testViewIsolation(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	v1, err := g.View(t.Context())
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	defer v1.Close()
	p1 := v1.Meta().Position

	s.apply(t, g, upsertNode("new", nil), deleteNode("alice"), upsertNode("a", map[string]any{"changed": true}),
		upsertEdge("new", "a", "", nil))
	v2, err := g.View(t.Context())
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	defer v2.Close()

	if got, err := ReadView(t.Context(), v1); err != nil {
		t.Fatal(err)
	} else if d := DiffContent(s.sample(), got); d != "" {
		t.Errorf("view opened before Apply: %s", d)
	}
	if got := v1.Meta().Position; got != p1 {
		t.Errorf("first view's position changed from %d to %d", p1, got)
	}
	got2, err := ReadView(t.Context(), v2)
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffContent(s.sample(), got2); d == "" {
		t.Error("view opened after Apply shows the old content")
	}
	if _, ok := g.(graph.Journal); ok {
		if got := v2.Meta().Position; got != p1+1 {
			t.Errorf("second view's position = %d, want %d", got, p1+1)
		}
	}
	if err := v1.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// staleView opens a view of the sample graph, then writes to the graph (a node
// deleted, one added), and returns the view, closed when the test ends, with what
// it yields: optional view methods must answer from the view's moment as well.
func (s *suite) staleView(t *testing.T) (graph.View, Content) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	s.apply(t, g, deleteNode("alice"), upsertNode("later", nil))
	want, err := ReadView(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	return v, want
}

// testViewGetter checks the optional graph.Getter of views: every record the view
// yields reads back equal, missing ones are reported missing, an undirected edge is
// found either way round, and a view keeps answering from its own moment.
func (s *suite) testViewGetter(t *testing.T) {
	v, want := s.staleView(t)
	get, ok := v.(graph.Getter)
	if !ok {
		t.Skip("views do not implement graph.Getter")
	}
	for _, n := range want.Nodes {
		got, found, err := get.Node(t.Context(), n.ID)
		if err != nil || !found || !graph.EqualNodes(got, n) {
			t.Errorf("Node(%q) = %v, %t, %v; want %v", n.ID, got, found, err, n)
		}
	}
	for _, e := range want.Edges {
		got, found, err := get.Edge(t.Context(), e.Source, e.Target, e.Type)
		if err != nil || !found || !graph.EqualEdges(got, e, s.directed) {
			t.Errorf("Edge(%q, %q, %q) = %v, %t, %v; want %v", e.Source, e.Target, e.Type, got, found, err, e)
		}
		_, found, err = get.Edge(t.Context(), e.Target, e.Source, e.Type)
		if err != nil || (!s.directed && !found) {
			t.Errorf("Edge with ends swapped: found %t, %v", found, err)
		}
	}
	if _, found, err := get.Node(t.Context(), "later"); err != nil || found {
		t.Errorf("Node of a node added after the view: found %t, %v", found, err)
	}
	if _, found, err := get.Edge(t.Context(), "nobody", "alice", ""); err != nil || found {
		t.Errorf("Edge that does not exist: found %t, %v", found, err)
	}
}

// testViewCounter checks the optional graph.Counter of views: the counts are those
// of what the view yields, at the view's moment, whatever is written after.
func (s *suite) testViewCounter(t *testing.T) {
	v, want := s.staleView(t)
	counter, ok := v.(graph.Counter)
	if !ok {
		t.Skip("views do not implement graph.Counter")
	}
	if n, e := counter.Counts(); n != int64(len(want.Nodes)) || e != int64(len(want.Edges)) {
		t.Errorf("Counts() = %d nodes, %d edges; the view yields %d and %d", n, e, len(want.Nodes), len(want.Edges))
	}
}

// testJournalNames checks Meta.Journal: views of one graph name the same journal,
// and two graphs, whose positions both count from 1, never name the same one.
func (s *suite) testJournalNames(t *testing.T) {
	a, b := s.new(t), s.new(t)
	s.journal(t, a)
	name := func(g Graph) string {
		v, err := g.View(t.Context())
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		defer v.Close()
		return v.Meta().Journal
	}
	first := name(a)
	if first == "" {
		t.Skip("views do not name their journal")
	}
	s.replace(t, a, s.sample())
	if got := name(a); got != first {
		t.Errorf("journal name changed from %q to %q after a write", first, got)
	}
	if other := name(b); other == first {
		t.Errorf("two graphs name the same journal %q", first)
	}
}

// testViewConcurrentWrites opens views while a writer applies batches: each view
// must show the content after some whole number of batches, the same on every
// iteration, at the position it reports.
func (s *suite) testViewConcurrentWrites(t *testing.T) {
	const batches = 150
	g := s.new(t)
	_, journaled := g.(graph.Journal)
	done := make(chan error, 1)
	go func() {
		for i := range batches {
			id := fmt.Sprintf("w%d", i)
			err := g.Apply(context.Background(), []graph.Op{
				upsertNode("counter", map[string]any{"n": int64(i)}),
				upsertNode(id, map[string]any{"i": int64(i)}),
				upsertEdge("counter", id, "has", nil),
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	check := func() bool {
		v, err := g.View(t.Context())
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		defer v.Close()
		first, err := ReadView(t.Context(), v)
		if err != nil {
			t.Fatal(err)
		}
		second, err := ReadView(t.Context(), v)
		if err != nil {
			t.Fatal(err)
		}
		if d := DiffContent(first, second); d != "" {
			t.Fatalf("second iteration of a view differs from the first: %s", d)
		}
		k := int64(-1)
		for _, n := range first.Nodes {
			if n.ID == "counter" {
				k, _ = n.Props["n"].(int64)
			}
		}
		want := Content{Meta: s.meta()}
		if k >= 0 {
			want.Nodes = append(want.Nodes, node("counter", map[string]any{"n": k}))
		}
		for i := range k + 1 {
			id := fmt.Sprintf("w%d", i)
			want.Nodes = append(want.Nodes, node(id, map[string]any{"i": i}))
			want.Edges = append(want.Edges, edge("counter", id, "has", nil))
		}
		if d := DiffContent(want, first); d != "" {
			t.Fatalf("view after %d batches is not whole: %s", k+1, d)
		}
		if journaled && v.Meta().Position != uint64(k+1) {
			t.Fatalf("view after %d batches has position %d", k+1, v.Meta().Position)
		}
		return k == batches-1
	}
	for !check() {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
		default:
		}
	}
}

func (s *suite) testIterateTwice(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var runs [2]Content
	for i := range runs {
		if runs[i], err = ReadView(t.Context(), v); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(c Content) (nodes, edges []string) {
		for _, n := range c.Nodes {
			nodes = append(nodes, n.ID)
		}
		for _, e := range c.Edges {
			edges = append(edges, e.Key(s.directed))
		}
		return nodes, edges
	}
	n0, e0 := ids(runs[0])
	n1, e1 := ids(runs[1])
	if !slices.Equal(n0, n1) || !slices.Equal(e0, e1) {
		t.Errorf("two iterations of one view differ:\nfirst  %q %q\nsecond %q %q", n0, e0, n1, e1)
	}
	if d := DiffContent(s.sample(), runs[1]); d != "" {
		t.Errorf("second iteration: %s", d)
	}
}

func (s *suite) testBreakEarly(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, limit := range []int{1, 3} {
		seen := 0
		for _, err := range v.Nodes(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			if seen++; seen == limit {
				break
			}
		}
		for _, err := range v.Edges(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			if seen++; seen == 2*limit {
				break
			}
		}
		if seen != 2*limit {
			t.Errorf("saw %d records before breaking, want %d", seen, 2*limit)
		}
	}
	got, err := ReadView(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffContent(s.sample(), got); d != "" {
		t.Errorf("full iteration after breaking early: %s", d)
	}
}

func (s *suite) testCancelledIteration(t *testing.T) {
	g := s.new(t)
	s.replace(t, g, s.sample())
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var nodeErr, edgeErr error
	for _, err := range v.Nodes(ctx) {
		if err != nil {
			nodeErr = err
			break
		}
	}
	for _, err := range v.Edges(ctx) {
		if err != nil {
			edgeErr = err
			break
		}
	}
	if !errors.Is(nodeErr, context.Canceled) || !errors.Is(edgeErr, context.Canceled) {
		t.Errorf("iterating with a cancelled context: node error %v, edge error %v, want context.Canceled", nodeErr, edgeErr)
	}
}
