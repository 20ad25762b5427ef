package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// partialFixture is a chain a-b-c-d-e snapshotted, then changed: c and d edited,
// x added with an edge to c, the edge d-e deleted. It returns the graph and the
// snapshot's id.
func partialFixture(t *testing.T, h *harness) (*memgraph.Graph, string) {
	t.Helper()
	g := memgraph.New()
	var ops []graph.Op
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"L" + id}, Props: map[string]any{"v": int64(1)}}})
	}
	for _, e := range [][2]string{{"a", "b"}, {"b", "c"}, {"c", "d"}, {"d", "e"}} {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: e[0], Target: e[1], Type: "r", Props: map[string]any{"w": int64(1)}}})
	}
	if err := g.Apply(h.ctx, ops); err != nil {
		t.Fatal(err)
	}
	row := h.snapshot(g, KindAuto)
	later := []graph.Op{
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "c", Labels: []string{"Lc"}, Props: map[string]any{"v": int64(2)}}},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "d", Labels: []string{"Ld"}, Props: map[string]any{"v": int64(2)}}},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "x"}},
		{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "x", Target: "c", Type: "r"}},
		{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "b", Target: "c", Type: "r", Props: map[string]any{"w": int64(2)}}},
		{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "d", Target: "e", Type: "r"}},
	}
	if err := g.Apply(h.ctx, later); err != nil {
		t.Fatal(err)
	}
	return g, row.ID
}

// summary prints a graph's content compactly: "a:1 b:1 | a-b:1", with the v and w
// properties (0 when absent).
func summary(c graphtest.Content) string {
	num := func(p map[string]any, k string) string {
		if v, ok := p[k].(int64); ok {
			return string(rune('0' + v))
		}
		return "0"
	}
	var parts []string
	for _, n := range c.Nodes {
		parts = append(parts, n.ID+":"+num(n.Props, "v"))
	}
	parts = append(parts, "|")
	for _, e := range c.Edges {
		parts = append(parts, e.Source+"-"+e.Target+":"+num(e.Props, "w"))
	}
	return strings.Join(parts, " ")
}

func TestPartialRestoreMergesOrReplaces(t *testing.T) {
	tests := []struct {
		name             string
		opts             RestoreOptions
		want             string
		mode             string
		nodes, edges     int64
		journaledUpserts int // ops of the batch the restore journals, 0 for a replace
	}{
		{
			name: "merge keeps the rest of the graph",
			opts: RestoreOptions{NodeIDs: []string{"c"}, Hops: 1},
			// b, c, d and b-c, c-d back as snapshotted; a, e, x, a-b and x-c kept; d-e
			// stays deleted (merging upserts, it never deletes).
			want: "a:1 b:1 c:1 d:1 e:1 x:0 | a-b:1 b-c:1 c-d:1 x-c:0",
			mode: RestoreMerged, nodes: 3, edges: 2, journaledUpserts: 5,
		},
		{
			name: "merge by label",
			opts: RestoreOptions{Labels: []string{"Ld", "Le"}},
			want: "a:1 b:1 c:2 d:1 e:1 x:0 | a-b:1 b-c:2 c-d:1 x-c:0 d-e:1",
			mode: RestoreMerged, nodes: 2, edges: 1, journaledUpserts: 3,
		},
		{
			name: "replace makes the graph the selection",
			opts: RestoreOptions{NodeIDs: []string{"c"}, Hops: 1, Replace: true},
			want: "b:1 c:1 d:1 | b-c:1 c-d:1",
			mode: RestoreReplaced, nodes: 3, edges: 2,
		},
		{
			name: "whole restore replaces",
			opts: RestoreOptions{},
			want: "a:1 b:1 c:1 d:1 e:1 | a-b:1 b-c:1 c-d:1 d-e:1",
			mode: RestoreReplaced, nodes: 5, edges: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			g, sid := partialFixture(t, h)
			before := g.Position()
			res, err := h.engine.Restore(h.ctx, sid, g, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(content(t, g)); got != tt.want {
				t.Errorf("graph after restore:\n got %s\nwant %s", got, tt.want)
			}
			if res.Mode != tt.mode || res.Nodes != tt.nodes || res.Edges != tt.edges || res.Partial != (len(tt.opts.NodeIDs)+len(tt.opts.Labels) > 0) {
				t.Errorf("result %+v, want mode %s, %d nodes, %d edges", res, tt.mode, tt.nodes, tt.edges)
			}
			// Either way the restore is one journaled batch, so that incremental
			// snapshots and replication see it.
			if got := g.Position(); got != before+1 {
				t.Fatalf("journal position %d after restore, want %d", got, before+1)
			}
			var last graph.Batch
			for b, err := range g.Changes(h.ctx, before) {
				if err != nil {
					t.Fatal(err)
				}
				last = b
			}
			if tt.journaledUpserts > 0 {
				if len(last.Ops) != tt.journaledUpserts {
					t.Errorf("journaled %d ops, want %d", len(last.Ops), tt.journaledUpserts)
				}
				for _, op := range last.Ops {
					if op.Kind != graph.OpUpsertNode && op.Kind != graph.OpUpsertEdge {
						t.Errorf("a merge journaled %s", op.Kind)
					}
				}
			} else if len(last.Ops) == 0 || last.Ops[0].Kind != graph.OpReset {
				t.Errorf("a replace journaled %+v, want a reset first", last.Ops)
			}
			// An incremental snapshot taken now holds what the graph holds.
			h.restoreEqual(h.snapshot(g, KindIncremental).ID, content(t, g), false)
		})
	}
}

func TestEmptySelectionWritesNothing(t *testing.T) {
	for _, opts := range []RestoreOptions{
		{NodeIDs: []string{"zzz"}},
		{NodeIDs: []string{"zzz"}, Hops: 2},
		{Labels: []string{"nope"}, Replace: true},
	} {
		h := newHarness(t)
		g, sid := partialFixture(t, h)
		before, pos := content(t, g), g.Position()
		res, err := h.engine.Restore(h.ctx, sid, g, opts)
		if !errors.Is(err, ErrEmptySelection) || res != nil {
			t.Fatalf("%+v: restore = %+v, %v; want ErrEmptySelection", opts, res, err)
		}
		if d := graphtest.DiffContent(before, content(t, g)); d != "" || g.Position() != pos {
			t.Fatalf("%+v: the graph changed (position %d → %d): %s", opts, pos, g.Position(), d)
		}
	}
}

// creatingCatalog is a registry that creates memgraph graphs.
type creatingCatalog struct{ graph.Registry }

func (c *creatingCatalog) Create(ctx context.Context, id string, m graph.Meta, fill func(context.Context, graph.Graph) error) (graph.Graph, error) {
	if _, err := c.Graph(ctx, id); err == nil {
		return nil, fmt.Errorf("%w: %s", graph.ErrExists, id)
	}
	var opts []memgraph.Option
	if m.Directed {
		opts = append(opts, memgraph.Directed())
	}
	g := memgraph.New(opts...)
	if err := fill(ctx, g); err != nil {
		return nil, err
	}
	return g, c.Add(id, g)
}

func TestRestoreGraphCreatesTheTarget(t *testing.T) {
	h := newHarness(t)
	g, sid := partialFixture(t, h)
	cat := &creatingCatalog{}
	cat.Register("src", g)

	// A failed restore creates nothing.
	if _, err := h.engine.RestoreGraph(h.ctx, sid, cat, "new", RestoreOptions{NodeIDs: []string{"zzz"}}); !errors.Is(err, ErrEmptySelection) {
		t.Fatalf("empty selection into a new graph: %v", err)
	}
	if _, err := cat.Graph(h.ctx, "new"); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a failed restore left graph new behind: %v", err)
	}

	res, err := h.engine.RestoreGraph(h.ctx, sid, cat, "new", RestoreOptions{NodeIDs: []string{"a"}, Hops: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Target != "new" || res.Mode != RestoreMerged || res.Nodes != 2 || res.Edges != 1 {
		t.Fatalf("result %+v", res)
	}
	created, err := cat.Graph(h.ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(content(t, created)); got != "a:1 b:1 | a-b:1" {
		t.Fatalf("created graph holds %s", got)
	}

	// Into a graph that exists, nothing is created.
	res, err = h.engine.RestoreGraph(h.ctx, sid, cat, "new", RestoreOptions{})
	if err != nil || res.Created || res.Nodes != 5 {
		t.Fatalf("restore into the existing graph: %+v, %v", res, err)
	}

	// A catalog that cannot create answers ErrNotFound.
	var plain graph.Registry
	if _, err := h.engine.RestoreGraph(h.ctx, sid, &plain, "other", RestoreOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore into an unknown graph of a plain registry: %v", err)
	}
}

// A restore into a graph the catalog does not hold creates it when the catalog
// can, after a dry run and a refused restore that create nothing.
func TestHandlerRestoreCreatesTheTarget(t *testing.T) {
	a := newServer(t, api.Options{})
	cat := &creatingCatalog{}
	g1, _ := a.graphs.Graph(a.ctx, "g1")
	cat.Register("g1", g1)
	a.handler = NewHandler(a.engine, cat, api.Options{Operations: a.ops, Logger: slog.New(slog.DiscardHandler)})
	var snap meta.Snapshot
	a.want(a.do("POST", "/graphs/g1/snapshots?wait=true", nil), http.StatusCreated).decode(t, &snap)
	restore := "/snapshots/" + snap.ID + "/restore"
	n0 := content(t, g1).Nodes[0].ID

	var plan RestorePlan
	a.want(a.do("POST", restore, map[string]any{"target_graph": "fresh", "node_ids": []string{n0}, "dry_run": true}), http.StatusOK).decode(t, &plan)
	if !plan.CreatesGraph || plan.Mode != "merge" || plan.TargetGraph != "fresh" {
		t.Errorf("plan %+v, want one that creates fresh and merges", plan)
	}
	a.want(a.do("POST", restore+"?wait=true", map[string]any{"target_graph": "fresh", "node_ids": []string{"no such node"}}), http.StatusUnprocessableEntity).problem(t)
	if _, err := cat.Graph(a.ctx, "fresh"); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("a dry run or a refused restore created the graph: %v", err)
	}

	var rr RestoreResult
	a.want(a.do("POST", restore+"?wait=true", map[string]any{"target_graph": "fresh", "node_ids": []string{n0}, "hops": 1}), http.StatusOK).decode(t, &rr)
	fresh, err := cat.Graph(a.ctx, "fresh")
	if err != nil {
		t.Fatalf("the restore did not create the graph: %v", err)
	}
	c := content(t, fresh)
	if !rr.Created || rr.Target != "fresh" || rr.Mode != RestoreMerged || rr.Nodes < 1 || int64(len(c.Nodes)) != rr.Nodes || int64(len(c.Edges)) != rr.Edges {
		t.Errorf("result %+v; fresh holds %d nodes and %d edges", rr, len(c.Nodes), len(c.Edges))
	}
	var graphs api.Page[GraphInfo]
	a.want(a.do("GET", "/graphs", nil), http.StatusOK).decode(t, &graphs)
	if len(graphs.Items) != 2 || graphs.Items[0].ID != "fresh" || !graphs.Items[0].Registered {
		t.Errorf("GET /graphs: %+v", graphs.Items)
	}
	// The created graph is an ordinary one from now on: it can be snapshotted.
	a.want(a.do("POST", "/graphs/fresh/snapshots?wait=true", nil), http.StatusCreated)
}
