package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graph/wire"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
	"github.com/klauspost/compress/zstd"
)

type harness struct {
	t      *testing.T
	ctx    context.Context
	store  *meta.Store
	bucket *blob.Bucket
	drv    *memblob.Driver
	engine *Engine
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	drv := memblob.New()
	b := blob.NewBucket(drv)
	// Small segments so that tests see many of them.
	opts = append([]Option{WithSegmentSize(1<<10, 16<<10, 16), WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	e, err := New(st, b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ctx: ctx, store: st, bucket: b, drv: drv, engine: e}
}

func (h *harness) snapshot(g graph.Reader, kind Kind) *meta.Snapshot {
	h.t.Helper()
	row, err := h.engine.Snapshot(h.ctx, "g1", g, SnapshotOptions{Kind: kind})
	if err != nil {
		h.t.Fatalf("snapshot: %v", err)
	}
	if row.Status != meta.SnapshotCompleted {
		h.t.Fatalf("status %s, want completed", row.Status)
	}
	return row
}

// manifest returns the manifest of a completed snapshot.
func (h *harness) manifest(id string) *Manifest {
	h.t.Helper()
	m, err := h.engine.Manifest(h.ctx, id)
	if err != nil {
		h.t.Fatalf("manifest of %s: %v", id, err)
	}
	return m
}

// restoreEqual restores a snapshot into a fresh graph and compares it with want.
func (h *harness) restoreEqual(id string, want graphtest.Content, directed bool) {
	h.t.Helper()
	var opts []memgraph.Option
	if directed {
		opts = append(opts, memgraph.Directed())
	}
	// Into memgraph, records go across encoded (wire.Sink); into a writer that
	// does not take them so, decoded.
	for _, plain := range []bool{false, true} {
		got := memgraph.New(opts...)
		var w graph.Writer = got
		if plain {
			w = plainWriter{got}
		}
		if _, err := h.engine.Restore(h.ctx, id, w, RestoreOptions{}); err != nil {
			h.t.Fatalf("restore %s (plain writer %t): %v", id, plain, err)
		}
		gotC, err := graphtest.Read(h.ctx, got)
		if err != nil {
			h.t.Fatal(err)
		}
		if d := graphtest.DiffContent(want, gotC); d != "" {
			h.t.Fatalf("restored snapshot %s (plain writer %t) differs from the graph at snapshot time: %s", id, plain, d)
		}
	}
}

// plainWriter hides the optional interfaces of a writer.
type plainWriter struct{ graph.Writer }

func content(t *testing.T, r graph.Reader) graphtest.Content {
	t.Helper()
	c, err := graphtest.Read(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loadGenerated(t *testing.T, nodes, edges int, directed bool) *memgraph.Graph {
	t.Helper()
	var opts []memgraph.Option
	if directed {
		opts = append(opts, memgraph.Directed())
	}
	g := memgraph.New(opts...)
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: nodes, Edges: edges, Directed: directed, Seed: 7, Labels: true})
	if err := gen.Replace(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

// mutate changes a fraction of the graph: property updates, new nodes and edges,
// deleted edges and deleted nodes.
func mutate(t *testing.T, g *memgraph.Graph, r *rand.Rand, round int) {
	t.Helper()
	mutateGraph(t, g, r, round, true)
}

// mutateKeepingNodes is mutate without the node deletion, which a journal cannot
// describe record by record.
func mutateKeepingNodes(t *testing.T, g *memgraph.Graph, r *rand.Rand, round int) {
	t.Helper()
	mutateGraph(t, g, r, round, false)
}

func mutateGraph(t *testing.T, g *memgraph.Graph, r *rand.Rand, round int, deleteNode bool) {
	t.Helper()
	ctx := context.Background()
	c := content(t, g)
	var ops []graph.Op
	for i, n := range c.Nodes {
		if r.IntN(20) == 0 {
			n.Props = map[string]any{"description": fmt.Sprintf("changed in round %d", round), "rank": int64(i), "score": 1.0}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		}
	}
	for i, e := range c.Edges {
		if r.IntN(25) == 0 {
			ops = append(ops, graph.Op{Kind: graph.OpDeleteEdge, Edge: e})
		} else if i%30 == round%30 {
			e.Props = map[string]any{"weight": float64(round), "keywords": []any{"a", "b"}}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
		}
	}
	for i := range 5 {
		id := fmt.Sprintf("new node %d/%d \"quoted\" ü", round, i)
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"fresh"}, Props: map[string]any{"round": int64(round)}}})
		if len(c.Nodes) > 0 {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: id, Target: c.Nodes[r.IntN(len(c.Nodes))].ID, Type: "links"}})
		}
	}
	if deleteNode && len(c.Nodes) > 10 {
		ops = append(ops, graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: c.Nodes[r.IntN(len(c.Nodes))].ID}})
	}
	if err := g.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotChainsRestoreEqual(t *testing.T) {
	for _, directed := range []bool{false, true} {
		t.Run(fmt.Sprintf("directed=%v", directed), func(t *testing.T) {
			h := newHarness(t, WithChainPolicy(ChainPolicy{MaxLayers: 4, MaxDeltaRatio: 10}))
			g := loadGenerated(t, 300, 900, directed)
			r := rand.New(rand.NewPCG(1, 2))
			type taken struct {
				row  *meta.Snapshot
				want graphtest.Content
			}
			var all []taken
			for round := range 9 {
				if round > 0 {
					mutate(t, g, r, round)
				}
				row := h.snapshot(g, KindAuto)
				all = append(all, taken{row, content(t, g)})
			}
			kinds := map[string]int{}
			for _, s := range all {
				kinds[s.row.Kind]++
			}
			if kinds["full"] != 1 || kinds["incremental"] == 0 || kinds["synthetic"] == 0 {
				t.Fatalf("kinds %v: want one full, some incremental, some synthetic", kinds)
			}
			for _, s := range all {
				h.restoreEqual(s.row.ID, s.want, directed)
				rep, err := h.engine.Verify(h.ctx, s.row.ID, true)
				if err != nil || !rep.OK {
					t.Fatalf("verify %s (%s): %v %+v", s.row.ID, s.row.Kind, err, rep)
				}
				if rep.Nodes != int64(len(s.want.Nodes)) || rep.Edges != int64(len(s.want.Edges)) {
					t.Fatalf("verify counted %d/%d, want %d/%d", rep.Nodes, rep.Edges, len(s.want.Nodes), len(s.want.Edges))
				}
			}
		})
	}
}

func TestUnchangedGraphWritesAlmostNothing(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 500, 1500, false)
	full := h.snapshot(g, KindAuto)
	again := h.snapshot(g, KindAuto)
	if again.Kind != "incremental" {
		t.Fatalf("kind %s, want incremental", again.Kind)
	}
	if again.BytesNew*100 > full.BytesNew {
		t.Fatalf("unchanged graph wrote %d bytes, full wrote %d: want < 1%%", again.BytesNew, full.BytesNew)
	}
	// A forced full snapshot of the same content stores no segment twice.
	forced := h.snapshot(g, KindFull)
	if forced.BytesNew*100 > full.BytesNew {
		t.Fatalf("forced full of unchanged graph wrote %d bytes, first full %d", forced.BytesNew, full.BytesNew)
	}
	// Through a view that does not vouch for its content every record is checked,
	// and encodes to the same bytes: again nothing new.
	checked := h.snapshot(plainReader{g}, KindFull)
	if checked.BytesNew*100 > full.BytesNew {
		t.Fatalf("checked full of unchanged graph wrote %d bytes, first full %d", checked.BytesNew, full.BytesNew)
	}
	// Records taken encoded from a view that does not vouch for them are checked,
	// and are the same bytes.
	encoded := h.snapshot(encodedReader{g}, KindFull)
	if encoded.BytesNew*100 > full.BytesNew {
		t.Fatalf("checked encoded full of unchanged graph wrote %d bytes, first full %d", encoded.BytesNew, full.BytesNew)
	}
}

// encodedReader keeps wire.Source of a graph's views and hides graph.Normalized.
type encodedReader struct{ r graph.Reader }

func (p encodedReader) View(ctx context.Context) (graph.View, error) {
	v, err := p.r.View(ctx)
	if err != nil {
		return nil, err
	}
	return struct {
		graph.View
		wire.Source
	}{v, v.(wire.Source)}, nil
}

// plainReader hides the optional interfaces of a graph and its views.
type plainReader struct{ r graph.Reader }

func (p plainReader) View(ctx context.Context) (graph.View, error) {
	v, err := p.r.View(ctx)
	return plainView{v}, err
}

type plainView struct{ graph.View }

func TestIncrementalCostsWhatChanged(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 2000, 6000, false)
	full := h.snapshot(g, KindAuto)
	c := content(t, g)
	var ops []graph.Op
	for i := 0; i < len(c.Nodes); i += 100 { // 1% of nodes
		n := c.Nodes[i]
		n.Props = map[string]any{"description": "updated"}
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
	}
	if err := g.Apply(h.ctx, ops); err != nil {
		t.Fatal(err)
	}
	inc := h.snapshot(g, KindAuto)
	if inc.BytesNew*20 > full.BytesNew {
		t.Fatalf("1%% change wrote %d bytes, full wrote %d: want <= 5%%", inc.BytesNew, full.BytesNew)
	}
	h.restoreEqual(inc.ID, content(t, g), false)
}

func TestPartialRestore(t *testing.T) {
	h := newHarness(t)
	g := memgraph.New()
	ops := []graph.Op{}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"L" + id}}})
	}
	for _, e := range [][2]string{{"a", "b"}, {"b", "c"}, {"c", "d"}, {"d", "e"}} {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: e[0], Target: e[1]}})
	}
	if err := g.Apply(h.ctx, ops); err != nil {
		t.Fatal(err)
	}
	row := h.snapshot(g, KindAuto)
	tests := []struct {
		name      string
		opts      RestoreOptions
		wantNodes string
		wantEdges int
	}{
		{"one node", RestoreOptions{NodeIDs: []string{"c"}}, "c", 0},
		{"one hop", RestoreOptions{NodeIDs: []string{"c"}, Hops: 1}, "b c d", 2},
		{"two hops", RestoreOptions{NodeIDs: []string{"a"}, Hops: 2}, "a b c", 2},
		{"by label", RestoreOptions{Labels: []string{"La", "Le"}}, "a e", 0},
		{"one hop replacing", RestoreOptions{NodeIDs: []string{"c"}, Hops: 1, Replace: true}, "b c d", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := memgraph.New()
			res, err := h.engine.Restore(h.ctx, row.ID, out, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			c := content(t, out)
			var ids []string
			for _, n := range c.Nodes {
				ids = append(ids, n.ID)
			}
			if got := strings.Join(ids, " "); got != tt.wantNodes || len(c.Edges) != tt.wantEdges {
				t.Fatalf("got nodes %q and %d edges, want %q and %d", got, len(c.Edges), tt.wantNodes, tt.wantEdges)
			}
			if !res.Partial || res.Nodes != int64(len(ids)) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

func TestCorruptionIsDetectedAndRestoreRefuses(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 200, 600, false)
	row := h.snapshot(g, KindAuto)
	m := h.manifest(row.ID)
	seg := m.Layers[0].Segments[len(m.Layers[0].Segments)-1].Key
	orig, err := h.bucket.Get(h.ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		damage func()
		full   bool // only a full verify can see it
	}{
		{"flipped bit", func() {
			b := append([]byte(nil), orig...)
			b[len(b)/2] ^= 0x10
			h.bucket.Put(h.ctx, seg, b)
		}, true},
		{"truncated", func() { h.bucket.Put(h.ctx, seg, orig[:len(orig)-3]) }, false},
		{"deleted", func() { h.bucket.Delete(h.ctx, seg) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.damage()
			defer h.bucket.Put(h.ctx, seg, orig)
			rep, err := h.engine.Verify(h.ctx, row.ID, true)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.Problems[0].Object != seg {
				t.Fatalf("full verify: %+v, want a problem naming %s", rep, seg)
			}
			quick, err := h.engine.Verify(h.ctx, row.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			if quick.OK != tt.full {
				t.Fatalf("quick verify OK=%v, want %v", quick.OK, !tt.full)
			}
			target := loadGenerated(t, 3, 2, false)
			before := content(t, target)
			_, err = h.engine.Restore(h.ctx, row.ID, target, RestoreOptions{})
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Key != seg {
				t.Fatalf("restore: got %v, want ErrCorrupt naming %s", err, seg)
			}
			if d := graphtest.DiffContent(before, content(t, target)); d != "" {
				t.Fatalf("failed restore changed the target: %s", d)
			}
		})
	}
	if rep, err := h.engine.Verify(h.ctx, row.ID, true); err != nil || !rep.OK {
		t.Fatalf("after repair: %v %+v", err, rep)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	g := memgraph.New()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"bad graph id", func() error { _, err := h.engine.Snapshot(h.ctx, "../x", g, SnapshotOptions{}); return err }(), ErrInvalid},
		{"long graph id", func() error {
			_, err := h.engine.Snapshot(h.ctx, strings.Repeat("a", 300), g, SnapshotOptions{})
			return err
		}(), ErrInvalid},
		{"bad kind", func() error { _, err := h.engine.Snapshot(h.ctx, "g", g, SnapshotOptions{Kind: "weird"}); return err }(), ErrInvalid},
		{"unknown snapshot", func() error {
			_, err := h.engine.Restore(h.ctx, meta.NewID(), g, RestoreOptions{})
			return err
		}(), ErrNotFound},
		{"malformed snapshot id", func() error { _, err := h.engine.Verify(h.ctx, "../../etc", true); return err }(), ErrInvalid},
		{"delete unknown", h.engine.Delete(h.ctx, meta.NewID()), ErrNotFound},
		{"bad key size", func() error { _, err := New(h.store, h.bucket, WithEncryptionKey([]byte("short"))); return err }(), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	h := newHarness(t)
	g := memgraph.New()
	apply := func(ops ...graph.Op) {
		t.Helper()
		if err := g.Apply(h.ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	node := func(id string, props map[string]any, labels ...string) graph.Op {
		return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: labels, Props: props}}
	}
	apply(node("a", map[string]any{"x": int64(1), "y": "keep"}), node("b", nil), node("c", nil, "L"),
		graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "a", Target: "b", Props: map[string]any{"w": 1.0}}})
	first := h.snapshot(g, KindAuto)
	apply(node("a", map[string]any{"x": int64(2), "y": "keep", "z": true}), node("d", nil),
		graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "c"}},
		graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "b", Target: "a", Props: map[string]any{"w": 2.0}}})
	second := h.snapshot(g, KindAuto)

	d, err := h.engine.Diff(h.ctx, first.ID, second.ID, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Nodes != (DiffCounts{Added: 1, Removed: 1, Changed: 1}) || d.Edges != (DiffCounts{Changed: 1}) {
		t.Fatalf("counts: nodes %+v edges %+v", d.Nodes, d.Edges)
	}
	got := fmt.Sprint(d.NodeDiffs)
	want := "[{a changed [] [] false [{x changed 1 2} {z added <nil> true}]} {c removed [L] [] true []} {d added [] [] false []}]"
	if got != want {
		t.Fatalf("node changes:\n got %s\nwant %s", got, want)
	}
	if len(d.EdgeDiffs) != 1 || d.EdgeDiffs[0].Props[0] != (PropChange{Name: "w", Change: Changed, Before: 1.0, After: 2.0}) {
		t.Fatalf("edge changes: %+v", d.EdgeDiffs)
	}
	limited, err := h.engine.Diff(h.ctx, first.ID, second.ID, DiffOptions{Limit: 1})
	if err != nil || !limited.Truncated || len(limited.NodeDiffs)+len(limited.EdgeDiffs) != 1 || limited.Nodes.Added != 1 {
		t.Fatalf("limited diff: %v %+v", err, limited)
	}
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(3, 4)) }

// storeAsRows rewrites a snapshot's segments the way format 1 stored them, as
// zstd of the rows, after passing each raw segment through edit, and commits the
// changed manifest and row as if the snapshot had been written so. It returns the
// new key of each segment by its place in the layers.
func storeAsRows(t *testing.T, h *harness, row *meta.Snapshot, format int, edit func(layer, seg int, raw []byte) []byte) [][]string {
	t.Helper()
	m := h.manifest(row.ID)
	var keys [][]string
	for li := range m.Layers {
		keys = append(keys, nil)
		var entries []indexEntry // the layer's index, for formats that have one
		for si := range m.Layers[li].Segments {
			seg := &m.Layers[li].Segments[si]
			raw, err := h.engine.loadSegment(h.ctx, seg.Object, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			raw = edit(li, si, raw)
			if _, err := forEachRecord(raw, raw[len(segmentMagic)], func(r segmentRecord) error {
				entries = append(entries, indexEntry{kh: r.kh, rh: indexValueHash(r.value), tombstone: r.op == opTombstone})
				return nil
			}); err != nil && format < 3 {
				t.Fatal(err)
			}
			key, stored, err := h.engine.pack(dataPrefix, raw, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.bucket.Put(h.ctx, key, stored); err != nil {
				t.Fatal(err)
			}
			seg.Object = Object{Key: key, Size: int64(len(stored)), Raw: int64(len(raw))}
			keys[li] = append(keys[li], key)
		}
		if format < 3 {
			m.Layers[li].Index = storeOldIndex(t, h, entries)
		}
	}
	m.Format = format
	rewriteManifest(t, h, row, m)
	return keys
}

// rewriteManifest stores m, with its root hash made anew, as the manifest of row,
// as only a writer other than this package could.
func rewriteManifest(t *testing.T, h *harness, row *meta.Snapshot, m *Manifest) {
	t.Helper()
	m.Root = ""
	var err error
	if m.Root, err = m.rootHash(); err != nil {
		t.Fatal(err)
	}
	b, err := marshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bucket.Put(h.ctx, manifestKey(m.GraphID, m.ID), b); err != nil {
		t.Fatal(err)
	}
	row.RootHash = m.Root
	if err := h.store.UpdateSnapshot(h.ctx, row); err != nil {
		t.Fatal(err)
	}
}

// A manifest whose counts or sizes are negative, hashed right, is refused as
// corrupt by restore, verify and the next snapshot; one whose counts are absurdly
// large is named by verify, and nothing allocates by them: no panic either way.
func TestManifestWithBadCounts(t *testing.T) {
	edits := map[string]func(m *Manifest){
		"negative nodes":            func(m *Manifest) { m.Nodes = -1 },
		"negative layer records":    func(m *Manifest) { m.Layers[1].Records = -5 },
		"negative layer tombstones": func(m *Manifest) { m.Layers[1].Tombstones = -5 },
		"negative segment records":  func(m *Manifest) { m.Layers[0].Segments[0].Records = -1 },
		"negative segment raw size": func(m *Manifest) { m.Layers[0].Segments[0].Raw = -1 },
		"negative segment size":     func(m *Manifest) { m.Layers[0].Segments[0].Size = -1 },
		"negative bytes stored":     func(m *Manifest) { m.BytesStored = -1 },
		"huge nodes":                func(m *Manifest) { m.Nodes = 1 << 50 },
		"huge layer records":        func(m *Manifest) { m.Layers[1].Records = 1 << 50 },
		"huge segment records":      func(m *Manifest) { m.Layers[0].Segments[0].Records = 1 << 50 },
		"huge segment raw size":     func(m *Manifest) { m.Layers[0].Segments[0].Raw = 1 << 50 },
		"huge layer tombstones":     func(m *Manifest) { m.Layers[1].Tombstones = 1 << 50 },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			negative := strings.HasPrefix(name, "negative")
			h := newHarness(t)
			g := loadGenerated(t, 100, 300, false)
			h.snapshot(g, KindFull)
			mutate(t, g, rand.New(rand.NewPCG(3, 4)), 1)
			row := h.snapshot(g, KindIncremental)
			m := h.manifest(row.ID)
			edit(m)
			rewriteManifest(t, h, row, m)
			if _, err := h.engine.Restore(h.ctx, row.ID, memgraph.New(), RestoreOptions{}); negative && !errors.Is(err, ErrCorrupt) {
				t.Errorf("restore: %v, want ErrCorrupt", err)
			}
			if rep, err := h.engine.Verify(h.ctx, row.ID, true); err != nil || rep.OK {
				t.Errorf("verify: %v, %+v; want a problem", err, rep)
			}
			// Node deletions make the next snapshot read the chain's live records.
			mutate(t, g, rand.New(rand.NewPCG(5, 6)), 2)
			if _, err := h.engine.Snapshot(h.ctx, "g1", g, SnapshotOptions{Kind: KindIncremental}); negative && !errors.Is(err, ErrCorrupt) {
				t.Errorf("next snapshot: %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestFormat1SegmentsStillRead: a snapshot whose segments are stored as rows, as
// format 1 wrote them, verifies and restores equal.
func TestFormat1SegmentsStillRead(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 200, 600, false)
	want := content(t, g)
	row := h.snapshot(g, KindFull)
	storeAsRows(t, h, row, 1, func(_, _ int, raw []byte) []byte { return raw })
	rep, err := h.engine.Verify(h.ctx, row.ID, true)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	h.restoreEqual(row.ID, want, false)
}

// TestRestoreRefusesARecordThatDoesNotDecode rewrites a segment so that one record
// is malformed while every hash matches, as only a writer other than this package
// could store it: restore must refuse it, name the segment and leave the target as
// it was, whether the writer takes records encoded or decoded.
func TestRestoreRefusesARecordThatDoesNotDecode(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 50, 100, false)
	row := h.snapshot(g, KindFull)
	// Stored as rows, since columns could not hold the bad value.
	keys := storeAsRows(t, h, row, FormatVersion, func(layer, seg int, raw []byte) []byte {
		if layer != 0 || seg != 0 {
			return raw
		}
		return editFirstValue(t, raw, func(v []byte) []byte {
			return append(slices.Clone(v), 0) // trailing bytes
		})
	})
	key := keys[0][0]
	for _, plain := range []bool{false, true} {
		target := memgraph.New()
		if err := target.Apply(h.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "kept"}}}); err != nil {
			t.Fatal(err)
		}
		var w graph.Writer = target
		if plain {
			w = plainWriter{target}
		}
		_, err := h.engine.Restore(h.ctx, row.ID, w, RestoreOptions{})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Key != key {
			t.Fatalf("plain writer %t: restore gave %v, want a CorruptError naming %s", plain, err, key)
		}
		if n, e := target.Len(); n != 1 || e != 0 || target.Position() != 1 {
			t.Fatalf("plain writer %t: the target changed: %d nodes, %d edges", plain, n, e)
		}
	}
}

// TestCompressionLevels: every level restores equal, and a snapshot taken at one
// level restores with an engine set to another.
func TestCompressionLevels(t *testing.T) {
	g := loadGenerated(t, 300, 900, false)
	want := content(t, g)
	h := newHarness(t)
	sizes := map[Compression]int64{}
	for _, level := range []Compression{CompressionFast, CompressionSmall, CompressionSmallest} {
		e, err := New(h.store, h.bucket, WithCompression(level), WithSegmentSize(1<<10, 16<<10, 16), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		row, err := e.Snapshot(h.ctx, "g1", g, SnapshotOptions{Kind: KindFull})
		if err != nil {
			t.Fatal(err)
		}
		sizes[level] = row.BytesStored
		h.restoreEqual(row.ID, want, false) // h's engine compresses fast
	}
	if !(sizes[CompressionSmallest] < sizes[CompressionFast]) {
		t.Errorf("stored bytes by level %v: smallest is not smaller than fast", sizes)
	}
	if _, err := New(h.store, h.bucket, WithCompression(7)); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown level: %v, want ErrInvalid", err)
	}
}

// Stored segments carry no zstd content checksum: the SHA-256 that names an
// object covers its bytes. Segments with one, as earlier versions wrote, are read.
func TestSegmentsCarryNoFrameChecksum(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 50, 100, false)
	row := h.snapshot(g, KindFull)
	m := h.manifest(row.ID)
	for _, s := range m.Layers[0].Segments {
		stored, err := h.bucket.Get(h.ctx, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		// Frame header descriptor, after the 4-byte magic; bit 2 is Content_Checksum_flag.
		if len(stored) < 5 || stored[4]&0x04 != 0 {
			t.Fatalf("segment %s has a frame checksum", s.Key)
		}
	}
	// A segment written with a checksum reads back the same.
	withCRC, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := h.engine.loadSegment(h.ctx, m.Layers[0].Segments[0].Object, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := columnize(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	stored := withCRC.EncodeAll(cols, nil)
	if stored[4]&0x04 == 0 {
		t.Fatal("the reference encoder wrote no checksum")
	}
	key := contentKey(dataPrefix, sha256.Sum256(stored))
	if err := h.bucket.Put(h.ctx, key, stored); err != nil {
		t.Fatal(err)
	}
	got, err := h.engine.loadSegment(h.ctx, Object{Key: key, Size: int64(len(stored)), Raw: int64(len(cols))}, nil, nil)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("segment with a checksum: %v, equal %t", err, bytes.Equal(got, raw))
	}
}

// TestVerifyChecksWhatRestoreChecks stores a node whose label is not a valid id,
// with every hash matching: a full verify must report the segment, since restore
// refuses it. A verify that passes promises a restore that does.
func TestVerifyChecksWhatRestoreChecks(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 50, 100, false)
	row := h.snapshot(g, KindFull)
	keys := storeAsRows(t, h, row, FormatVersion, func(layer, seg int, raw []byte) []byte {
		kind := raw[len(segmentMagic)]
		if layer != 0 || seg != 0 || kind != kindNode {
			return raw
		}
		return editFirstValue(t, raw, func(v []byte) []byte {
			_, props, err := wire.DecodeNode(v)
			if err != nil {
				t.Fatal(err)
			}
			v, err = wire.AppendNode(nil, []string{"a\x00b"}, props)
			if err != nil {
				t.Fatal(err)
			}
			return v
		})
	})
	key := keys[0][0]
	if _, err := h.engine.Restore(h.ctx, row.ID, memgraph.New(), RestoreOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restore gave %v, want ErrCorrupt", err)
	}
	rep, err := h.engine.Verify(h.ctx, row.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if !errors.As(rep.Err(), &ce) || ce.Key != key {
		t.Fatalf("full verify: %+v, want a problem naming %s", rep, key)
	}
}

// editFirstValue returns a raw segment of rows like raw, with edit's result as the
// value of its first record.
func editFirstValue(t *testing.T, raw []byte, edit func(v []byte) []byte) []byte {
	t.Helper()
	kind := raw[len(segmentMagic)]
	out := append([]byte(segmentMagic), kind)
	first := true
	if _, err := forEachRecord(raw, kind, func(r segmentRecord) error {
		v := r.value
		if first {
			v, first = edit(v), false
		}
		out = appendPut(out, []byte(r.key), v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
