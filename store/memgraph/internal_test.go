package memgraph

import (
	"fmt"
	"iter"
	"slices"
	"testing"
	"unsafe"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

func count(rs []*edgeRec, r *edgeRec) int {
	n := 0
	for _, x := range rs {
		if x == r {
			n++
		}
	}
	return n
}

// TestReverseIndexFollowsEdges checks that the index by the other end holds
// exactly the stored edges after upserts, deletes, cascades and reverted batches.
func TestReverseIndexFollowsEdges(t *testing.T) {
	for _, directed := range []bool{false, true} {
		var opts []Option
		if directed {
			opts = append(opts, Directed())
		}
		g := New(opts...)
		n := func(id string) graph.Op { return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id}} }
		e := func(k graph.OpKind, s, d string) graph.Op {
			return graph.Op{Kind: k, Edge: graph.Edge{Source: s, Target: d}}
		}
		batches := [][]graph.Op{
			{n("a"), n("b"), n("c"), e(graph.OpUpsertEdge, "a", "b"), e(graph.OpUpsertEdge, "c", "b"), e(graph.OpUpsertEdge, "b", "b")},
			{e(graph.OpUpsertEdge, "b", "a"), e(graph.OpDeleteEdge, "c", "b")},
			{e(graph.OpUpsertEdge, "a", "c"), {Kind: graph.OpDeleteNode, Node: graph.Node{ID: "b"}}},
			{e(graph.OpDeleteEdge, "a", "c"), e(graph.OpUpsertEdge, "a", "missing")}, // fails, reverted
		}
		for i, ops := range batches {
			err := g.Apply(t.Context(), ops)
			if (err != nil) != (i == 3) {
				t.Fatalf("batch %d: error %v", i, err)
			}
			checkEnds(t, g, fmt.Sprintf("directed %t, after batch %d", directed, i))
		}
	}
}

// checkEnds checks that every stored edge is under its hi end once, and nothing else is.
func checkEnds(t *testing.T, g *Graph, when string) {
	t.Helper()
	stored := 0
	g.edges.Scan(func(r *edgeRec) bool {
		stored++
		if n := count(g.ends.at(r.hi()), r); n != 1 {
			t.Errorf("%s: edge %q is %d times under its end", when, r.key(), n)
		}
		return true
	})
	listed := 0
	for id, rs := range g.ends.all {
		if _, ok := g.nodes.Get(nodeProbe(id)); !ok {
			t.Errorf("%s: ends lists %q, which is not a node", when, id)
		}
		for _, r := range rs {
			if got, ok := g.edges.Get(r); !ok || got != r || r.hi() != id {
				t.Errorf("%s: ends holds a stale edge %q under %q", when, r.key(), id)
			}
		}
		listed += len(rs)
	}
	if listed != stored || g.ends.len() != g.nodes.Len() {
		t.Errorf("%s: %d edges listed by end, %d stored; %d ends, %d nodes", when, listed, stored, g.ends.len(), g.nodes.Len())
	}
}

// TestEndsAfterReplace checks the index by the other end after a bulk load that
// yields an edge twice, and after deleting a node of it.
func TestEndsAfterReplace(t *testing.T) {
	g := New()
	nodes := []graph.Node{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	edges := []graph.Edge{{Source: "b", Target: "a"}, {Source: "a", Target: "b", Props: map[string]any{"w": 2.0}}, {Source: "c", Target: "b"}, {Source: "c", Target: "c"}}
	if err := g.Replace(t.Context(), graph.Meta{}, seqOf(nodes), seqOf(edges)); err != nil {
		t.Fatal(err)
	}
	checkEnds(t, g, "after replace")
	if _, e := g.Len(); e != 3 {
		t.Fatalf("%d edges, want 3", e)
	}
	if err := g.Apply(t.Context(), []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "c"}}}); err != nil {
		t.Fatal(err)
	}
	checkEnds(t, g, "after deleting c")
	if _, e := g.Len(); e != 1 {
		t.Fatalf("%d edges after deleting c, want 1", e)
	}
}

// TestEndsAfterLoadInAnyOrder checks the index by the other end after bulk loads
// whose nodes or edges come in order, out of order or twice, and then after
// upserts and deletes on the loaded graph.
func TestEndsAfterLoadInAnyOrder(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	var inOrder []graph.Edge
	for i, s := range ids {
		for _, d := range ids[i:] {
			inOrder = append(inOrder, graph.Edge{Source: s, Target: d})
		}
	}
	reversed := slices.Clone(inOrder)
	slices.Reverse(reversed)
	nodes := func(ids []string) []graph.Node {
		var ns []graph.Node
		for _, id := range ids {
			ns = append(ns, graph.Node{ID: id})
		}
		return ns
	}
	for _, c := range []struct {
		name  string
		nodes []string
		edges []graph.Edge
	}{
		{"in order", ids, inOrder},
		{"edges out of order", ids, reversed},
		{"nodes out of order", []string{"c", "a", "e", "b", "d"}, inOrder},
		{"a node twice", []string{"a", "b", "b", "c", "d", "e"}, inOrder},
		// Two runs, as a restore of two layers yields, with keys in both: the
		// longer run after the shorter one, and before it.
		{"edges again, short run first", ids, append(slices.Clone(inOrder[4:9]), inOrder...)},
		{"edges again, short run last", ids, append(slices.Clone(inOrder), inOrder[4:9]...)},
		{"nodes in two runs", []string{"b", "d", "a", "b", "c", "d", "e"}, inOrder},
	} {
		g := New()
		if err := g.Replace(t.Context(), graph.Meta{}, seqOf(nodes(c.nodes)), seqOf(c.edges)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkEnds(t, g, c.name)
		if _, e := g.Len(); e != len(inOrder) {
			t.Fatalf("%s: %d edges, want %d", c.name, e, len(inOrder))
		}
		ops := []graph.Op{
			{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "f"}},
			{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "f", Target: "d"}},
			{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "c", Target: "f"}},
			{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "a", Target: "d"}},
			{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "b"}},
		}
		if err := g.Apply(t.Context(), ops); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkEnds(t, g, c.name+", then changed")
	}
}

func seqOf[T any](vs []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
}

// TestReplaceEncodedKeepsOwnedPairs checks which records a bulk load keeps as they
// are: Owned ones whose value follows the key in memory. Every other one is
// copied, so changing the caller's buffers afterwards changes nothing.
func TestReplaceEncodedKeepsOwnedPairs(t *testing.T) {
	val, err := wire.AppendNodeValid(nil, []string{"person"}, map[string]any{"name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	pair := func(key string) wire.Record {
		b := append([]byte(key), val...)
		return wire.Record{Key: unsafe.String(&b[0], len(key)), Value: b[len(key):]}
	}
	kept := pair(graph.NodeKey("kept"))
	kept.Owned = true
	apart := wire.Record{Key: graph.NodeKey("apart"), Value: append([]byte(nil), val...), Owned: true}
	lent := pair(graph.NodeKey("lent"))
	records := []wire.Record{apart, kept, lent}

	g := New()
	if err := g.ReplaceEncoded(t.Context(), graph.Meta{}, seqOf(records), nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		got, ok := g.nodes.Get(nodeProbe(r.Key[len(graph.NodePrefix):]))
		if !ok {
			t.Fatalf("%s: not loaded", r.Key)
		}
		shared := got.p == unsafe.StringData(r.Key)
		if want := r.Key == kept.Key; shared != want {
			t.Errorf("%s: record shares the caller's memory: %t, want %t", r.Key, shared, want)
		}
		if got.key() != r.Key || string(got.val()) != string(val) {
			t.Errorf("%s: stored %q %x", r.Key, got.key(), got.val())
		}
	}
	// The copies do not change with the caller's buffers.
	clear(apart.Value)
	clear(lent.Value)
	for _, id := range []string{"apart", "lent"} {
		if n, ok := g.Node(id); !ok || n.Props["name"] != "Ada" {
			t.Errorf("%s after the caller's buffer changed: %+v", id, n)
		}
	}
}

func TestJoinedRec(t *testing.T) {
	b := []byte("n:aVALUE")
	key, val := unsafe.String(&b[0], 3), b[3:]
	for _, tc := range []struct {
		name    string
		key     string
		val     []byte
		joined  bool
		wantKey string
		wantVal string
	}{
		{"side by side", key, val, true, "n:a", "VALUE"},
		{"apart", "n:a", []byte("VALUE"), false, "", ""},
		{"no value", "n:a", nil, true, "n:a", ""},
		{"no key", "", val, true, "", "VALUE"},
	} {
		r, ok := joinedRec(tc.key, tc.val)
		if ok != tc.joined {
			t.Errorf("%s: joined %t, want %t", tc.name, ok, tc.joined)
			continue
		}
		if ok && (r.key() != tc.wantKey || string(r.val()) != tc.wantVal) {
			t.Errorf("%s: got %q %q", tc.name, r.key(), r.val())
		}
	}
}

// TestEndsKeysAreCopies checks that the index by the other end keys its map with
// copies of the ids, never with a record's own bytes, which a later upsert of the
// node would otherwise keep alive.
func TestEndsKeysAreCopies(t *testing.T) {
	g := New()
	if err := g.Replace(t.Context(), graph.Meta{}, seqOf([]graph.Node{{ID: "loaded"}}), nil); err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(t.Context(), []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "applied"}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"loaded", "applied"} {
		r, ok := g.nodes.Get(nodeProbe(id))
		if !ok {
			t.Fatalf("%s: not stored", id)
		}
		for key := range g.ends.all {
			if key == id && unsafe.StringData(key) == unsafe.StringData(r.id()) {
				t.Errorf("%s: the index's key is the record's own bytes", id)
			}
		}
	}
}

// TestViewSeqReadsAhead checks that taking records readAhead at a time changes
// nothing a reader sees: every record once, in order, and nothing after the
// reader stops, wherever in a batch that is.
func TestViewSeqReadsAhead(t *testing.T) {
	g := New()
	const n = 3*readAhead + 5
	var ops []graph.Op
	for i := range n {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: fmt.Sprintf("n%03d", i)}})
	}
	if err := g.Apply(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var want []string
	g.nodes.Scan(func(r *nodeRec) bool { want = append(want, r.key()); return true })
	for _, stop := range []int{1, readAhead - 1, readAhead, readAhead + 1, n - 1, n, n + 1} {
		var got []string
		for r, err := range v.(*view).EncodedNodes(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Key)
			if len(got) == stop {
				break
			}
		}
		if w := want[:min(stop, n)]; !slices.Equal(got, w) {
			t.Errorf("stopping after %d: got %d records, want %d in order", stop, len(got), len(w))
		}
	}
}
