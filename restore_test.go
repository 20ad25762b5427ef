package graphvault_test

import (
	"context"
	"slices"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

// TestRestoreSelections drives restores through the Vault's handler with the
// document-checking client: a partial restore merges into the live graph, one
// with replace makes the graph the selection, a selection of nothing is 422 and
// changes nothing, and a restore into an id nothing serves creates a graph that
// is listed, takes changes and comes back after a restart.
func TestRestoreSelections(t *testing.T) {
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Token: testToken, MemoryGraphs: []string{"g"}})
	c := newAPIClient(t, serveVault(t, v.Handler()).URL)
	ctx := t.Context()
	served := func(id string) *memgraph.Graph {
		t.Helper()
		g, err := v.Graphs().Graph(ctx, id)
		if err != nil {
			t.Fatalf("graph %s is not served: %v", id, err)
		}
		return g.(*memgraph.Graph)
	}
	ids := func(g graph.Reader) []string {
		t.Helper()
		content, err := graphtest.Read(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range content.Nodes {
			out = append(out, n.ID+"="+n.Props["v"].(string))
		}
		return out
	}
	type result struct {
		Mode         string
		Nodes, Edges int64
		Partial      bool
		Created      bool
		Target       string `json:"target_graph"`
	}

	// a-b-c as snapshotted; then b changes and d joins.
	changes := bk + "/graphs/g/changes"
	c.do(req{method: "POST", path: changes, body: graphvault.Changes{
		UpsertNodes: []graph.Node{{ID: "a", Props: map[string]any{"v": "1"}}, {ID: "b", Props: map[string]any{"v": "1"}}, {ID: "c", Props: map[string]any{"v": "1"}}},
		UpsertEdges: []graph.Edge{{Source: "a", Target: "b"}, {Source: "b", Target: "c"}},
	}}, 200)
	var snap struct{ ID string }
	c.do(req{method: "POST", path: bk + "/graphs/g/snapshots?wait=true"}, 201).decode(t, &snap)
	c.do(req{method: "POST", path: changes, body: graphvault.Changes{
		UpsertNodes: []graph.Node{{ID: "b", Props: map[string]any{"v": "2"}}, {ID: "d", Props: map[string]any{"v": "2"}}},
		UpsertEdges: []graph.Edge{{Source: "c", Target: "d"}},
	}}, 200)
	restore := bk + "/snapshots/" + snap.ID + "/restore"

	// Merge: b is back as snapshotted, a, c and d (and c-d) are kept.
	var res result
	c.do(req{method: "POST", path: restore + "?wait=true", body: map[string]any{"node_ids": []string{"b"}}}, 200).decode(t, &res)
	g := served("g")
	if got := ids(g); !slices.Equal(got, []string{"a=1", "b=1", "c=1", "d=2"}) {
		t.Errorf("after a partial restore the graph holds %v, want a, c and d kept and b restored", got)
	}
	if _, e := g.Len(); e != 3 || res.Mode != backup.RestoreMerged || !res.Partial || res.Nodes != 1 || res.Edges != 0 {
		t.Errorf("merge: %+v, graph has %d edges, want 3", res, e)
	}

	// A selection of nothing: 422, nothing written, merging or replacing.
	pos, before := g.Position(), ids(g)
	for _, body := range []map[string]any{
		{"node_ids": []string{"nobody"}},
		{"labels": []string{"nothing"}, "replace": true},
	} {
		c.do(req{method: "POST", path: restore + "?wait=true", body: body}, 422)
	}
	if got := ids(g); g.Position() != pos || !slices.Equal(got, before) {
		t.Errorf("an empty selection changed the graph: position %d → %d, %v → %v", pos, g.Position(), before, got)
	}

	// Replace: the graph becomes the selection.
	c.do(req{method: "POST", path: restore + "?wait=true", body: map[string]any{"node_ids": []string{"b"}, "hops": 1, "replace": true}}, 200).decode(t, &res)
	if got := ids(g); !slices.Equal(got, []string{"a=1", "b=1", "c=1"}) || res.Mode != backup.RestoreReplaced || res.Nodes != 3 || res.Edges != 2 {
		t.Errorf("replace: %+v, graph holds %v", res, got)
	}

	// Into an id nothing serves: the graph is created, listed and takes changes.
	var plan struct {
		CreatesGraph bool `json:"creates_graph"`
		Mode         string
	}
	c.do(req{method: "POST", path: restore, body: map[string]any{"target_graph": "copy", "node_ids": []string{"a"}, "dry_run": true}}, 200).decode(t, &plan)
	if !plan.CreatesGraph || plan.Mode != "merge" || slices.Contains(v.GraphIDs(), "copy") {
		t.Errorf("dry run into a new graph: %+v, served %v", plan, v.GraphIDs())
	}
	c.do(req{method: "POST", path: restore + "?wait=true", body: map[string]any{"target_graph": "copy", "node_ids": []string{"nobody"}}}, 422)
	if slices.Contains(v.GraphIDs(), "copy") {
		t.Fatalf("a refused restore created the graph")
	}
	c.do(req{method: "POST", path: restore + "?wait=true", body: map[string]any{"target_graph": "copy", "node_ids": []string{"a"}, "hops": 1}}, 200).decode(t, &res)
	if !res.Created || res.Target != "copy" || res.Nodes != 2 || res.Edges != 1 {
		t.Errorf("restore into a new graph: %+v", res)
	}
	if got := ids(served("copy")); !slices.Equal(got, []string{"a=1", "b=1"}) {
		t.Errorf("created graph holds %v", got)
	}
	var list struct {
		Items []struct {
			ID         string
			Registered bool
		}
	}
	c.do(req{method: "GET", path: bk + "/graphs"}, 200).decode(t, &list)
	listed := false
	for _, it := range list.Items {
		listed = listed || it.ID == "copy" && it.Registered
	}
	if !listed || !slices.Contains(v.GraphIDs(), "copy") {
		t.Errorf("created graph not listed: %+v, served %v", list.Items, v.GraphIDs())
	}
	c.do(req{method: "POST", path: bk + "/graphs/copy/changes", body: graphvault.Changes{UpsertNodes: []graph.Node{{ID: "e", Props: map[string]any{"v": "3"}}}}}, 200)

	// The recovery restore creates a target too.
	var cp struct{ ID string }
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{"graph_ids": []string{"g"}}}, 201).decode(t, &cp)
	var rr struct {
		Graphs []struct {
			TargetGraph string `json:"target_graph"`
			Created     bool
		}
	}
	c.do(req{method: "POST", path: rec + "/restore?wait=true", body: map[string]any{"checkpoint_id": cp.ID, "targets": map[string]string{"g": "copy2"}}}, 200).decode(t, &rr)
	if len(rr.Graphs) != 1 || !rr.Graphs[0].Created || rr.Graphs[0].TargetGraph != "copy2" {
		t.Errorf("recovery restore into a new graph: %+v", rr)
	}
	if got := ids(served("copy2")); !slices.Equal(got, []string{"a=1", "b=1", "c=1"}) {
		t.Errorf("graph created by the recovery restore holds %v", got)
	}

	// After a restart the created graphs are served again.
	closeCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := v.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	v2 := openVault(t, graphvault.Config{Data: dir, MemoryGraphs: []string{"g"}})
	for _, id := range []string{"copy", "copy2"} {
		if !slices.Contains(v2.GraphIDs(), id) {
			t.Fatalf("after a restart graph %s is not served: %v", id, v2.GraphIDs())
		}
	}
}
