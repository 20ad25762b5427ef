package backup

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// listView is a view over slices; edgeErr, when set, is yielded after failAfter edges.
type listView struct {
	nodes     []graph.Node
	edges     []graph.Edge
	edgeErr   error
	failAfter int
}

func (v *listView) Meta() graph.Meta { return graph.Meta{} }
func (v *listView) Close() error     { return nil }

func (v *listView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for _, n := range v.nodes {
			if !yield(n, nil) {
				return
			}
		}
	}
}

func (v *listView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for i, e := range v.edges {
			if v.edgeErr != nil && i == v.failAfter {
				yield(graph.Edge{}, v.edgeErr)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

func chainView(nodes, edges int) *listView {
	v := &listView{}
	for i := range nodes {
		v.nodes = append(v.nodes, graph.Node{ID: fmt.Sprintf("n%06d", i), Props: map[string]any{"i": int64(i)}})
	}
	for i := range edges {
		v.edges = append(v.edges, graph.Edge{Source: fmt.Sprintf("n%06d", i%nodes), Target: fmt.Sprintf("n%06d", (i+1)%nodes), Type: fmt.Sprint(i)})
	}
	return v
}

func TestScanKeepsTheViewsOrder(t *testing.T) {
	for _, size := range [][2]int{{0, 0}, {1, 0}, {3, 5}, {scanBatchSize, scanBatchSize + 1}, {1000, 3000}} {
		v := chainView(size[0], size[1])
		var kinds []byte
		var keys []string
		err := scanRecords(t.Context(), v, 3, func(k byte) error { kinds = append(kinds, k); return nil }, func(r *scanned) error {
			if r.kh != hashKeyBytes(r.key) || r.rh != hashValue(r.value) {
				return fmt.Errorf("record %q: hashes do not match its bytes", r.key)
			}
			keys = append(keys, string(r.key))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(kinds) != string([]byte{kindNode, kindEdge}) {
			t.Fatalf("%v: onKind calls %q, want nodes then edges", size, kinds)
		}
		var want []string
		for _, n := range v.nodes {
			want = append(want, graph.NodePrefix+n.ID)
		}
		for _, e := range v.edges {
			want = append(want, graph.EdgeKey(e.Source, e.Target, e.Type, false))
		}
		if strings.Join(keys, "|") != strings.Join(want, "|") {
			t.Fatalf("%v: records out of the view's order", size)
		}
	}
}

func TestScanStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("storage went away")
	t.Run("view", func(t *testing.T) {
		v := chainView(600, 2000)
		v.edgeErr, v.failAfter = boom, 1500
		err := scanRecords(t.Context(), v, 2, func(byte) error { return nil }, func(*scanned) error { return nil })
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want the view's error", err)
		}
	})
	t.Run("invalid record", func(t *testing.T) {
		v := chainView(600, 10)
		v.nodes[400].ID = "bad\x00id"
		err := scanRecords(t.Context(), v, 2, func(byte) error { return nil }, func(*scanned) error { return nil })
		if !errors.Is(err, graph.ErrInvalidID) || !strings.Contains(err.Error(), "bad") {
			t.Fatalf("got %v, want an invalid id error naming the node", err)
		}
	})
	t.Run("invalid encoded record", func(t *testing.T) {
		// Records taken encoded from a view that does not vouch for them are checked.
		v := &encodedView{listView: chainView(600, 10)}
		for i := range 600 {
			v.recs = append(v.recs, wire.Record{Key: fmt.Sprintf("n:n%06d", i), Value: []byte{0, 0}})
		}
		v.recs[400].Value = []byte{0, 1, 1, 'k', 9}
		var keys []string
		err := scanRecords(t.Context(), v, 2, func(byte) error { return nil }, func(r *scanned) error {
			keys = append(keys, string(r.key))
			return nil
		})
		if !errors.Is(err, wire.ErrCorrupt) || !strings.Contains(err.Error(), "n000400") || len(keys) > 400 {
			t.Fatalf("got %v after %d records, want a corrupt record error naming n000400", err, len(keys))
		}
	})
	t.Run("callback", func(t *testing.T) {
		v := chainView(2000, 2000)
		seen := 0
		err := scanRecords(t.Context(), v, 2, func(byte) error { return nil }, func(*scanned) error {
			if seen++; seen == 700 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || seen != 700 {
			t.Fatalf("got %v after %d records, want the callback's error at 700", err, seen)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		v := chainView(2000, 2000)
		err := scanRecords(ctx, v, 2, func(byte) error { return nil }, func(*scanned) error {
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

// encodedView yields recs as its encoded nodes, and no edges.
type encodedView struct {
	*listView
	recs []wire.Record
}

func (v *encodedView) EncodedNodes(ctx context.Context) iter.Seq2[wire.Record, error] {
	return func(yield func(wire.Record, error) bool) {
		for _, r := range v.recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (v *encodedView) EncodedEdges(ctx context.Context) iter.Seq2[wire.Record, error] {
	return func(func(wire.Record, error) bool) {}
}

// listGraph is a graph.Reader whose views are v.
type listGraph struct{ v graph.View }

func (g listGraph) View(context.Context) (graph.View, error) { return g.v, nil }

// encodedList is a listView that also hands over its records encoded, in the
// order given, as a wire.Source.
type encodedList struct {
	*listView
	nodes []wire.Record
}

func (v encodedList) EncodedNodes(ctx context.Context) iter.Seq2[wire.Record, error] {
	return func(yield func(wire.Record, error) bool) {
		for _, r := range v.nodes {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (v encodedList) EncodedEdges(ctx context.Context) iter.Seq2[wire.Record, error] {
	return func(yield func(wire.Record, error) bool) {}
}

// A view that yields one key twice, or an encoded view whose keys are not in
// increasing order, fails the snapshot with ErrInvalid, full or incremental,
// and nothing is committed.
func TestSnapshotRefusesAKeyYieldedTwice(t *testing.T) {
	record := func(id string) wire.Record {
		v, err := wire.AppendNode(nil, nil, map[string]any{"id": id})
		if err != nil {
			t.Fatal(err)
		}
		return wire.Record{Key: graph.NodeKey(id), Value: v}
	}
	twice := chainView(50, 0)
	twice.nodes = append(twice.nodes, twice.nodes[7])
	views := map[string]graph.View{
		"decoded, a key twice":       twice,
		"encoded, a key twice":       encodedList{&listView{}, []wire.Record{record("a"), record("b"), record("b")}},
		"encoded, keys out of order": encodedList{&listView{}, []wire.Record{record("a"), record("c"), record("b")}},
	}
	for name, v := range views {
		for _, kind := range []Kind{KindFull, KindIncremental} {
			t.Run(fmt.Sprintf("%s/%s", name, kind), func(t *testing.T) {
				h := newHarness(t)
				if kind == KindIncremental {
					h.snapshot(listGraph{chainView(20, 0)}, KindFull)
				}
				row, err := h.engine.Snapshot(h.ctx, "g1", listGraph{v}, SnapshotOptions{Kind: kind})
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
				if row == nil || row.Status != "failed" {
					t.Fatalf("row %+v, want failed", row)
				}
				if _, err := h.engine.Manifest(h.ctx, row.ID); !errors.Is(err, ErrNotFound) {
					t.Fatalf("manifest of the failed snapshot: %v, want ErrNotFound", err)
				}
			})
		}
	}
}

// TestValueHashIsKeyed checks that value hashes are this process's own, not the
// unkeyed xxh3 older indexes store, which anybody could compute ahead.
func TestValueHashIsKeyed(t *testing.T) {
	same := 0
	for i := range 100 {
		v := []byte(fmt.Sprintf("value %d", i))
		if hashValue(v) == indexValueHash(v) {
			same++
		}
		if hashValue(v) != hashValue(append([]byte(nil), v...)) {
			t.Fatalf("hashValue of %q is not stable", v)
		}
	}
	if same > 0 {
		t.Fatalf("%d of 100 value hashes are xxh3's", same)
	}
}
