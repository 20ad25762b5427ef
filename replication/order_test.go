package replication

import (
	"context"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// restartScenario is the sequence that made failover restore an older state: a
// full snapshot A of 2000 nodes; two partial restores (replace mode) shrink the
// graph to one node while its journal advances; snapshot B (1 node); a restart
// (a new graph, brought back by restart); whole restore of A; snapshot C (2000
// nodes again). The graph after the restart is returned with the three rows.
func restartScenario(t *testing.T, h *harness, restart func(b *meta.Snapshot) *memgraph.Graph) (g *memgraph.Graph, a, b, c *meta.Snapshot) {
	t.Helper()
	ctx := h.ctx
	a = h.snapshot(backup.KindFull)
	var ten []string
	for i := range 10 {
		ten = append(ten, h.gen.NodeID(i))
	}
	for _, ids := range [][]string{ten, ten[:1]} {
		if _, err := h.engine.Restore(ctx, a.ID, h.graph, backup.RestoreOptions{NodeIDs: ids, Replace: true}); err != nil {
			t.Fatalf("partial restore of %d nodes: %v", len(ids), err)
		}
	}
	b = h.snapshot(backup.KindAuto)
	if a.Nodes != 2000 || b.Nodes != 1 {
		t.Fatalf("snapshot A holds %d nodes, B %d: want 2000 and 1", a.Nodes, b.Nodes)
	}
	g = restart(b)
	if _, err := h.engine.Restore(ctx, a.ID, g, backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore A after the restart: %v", err)
	}
	c, err := h.engine.Snapshot(ctx, "g1", g, backup.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes != 2000 {
		t.Fatalf("snapshot C holds %d nodes, want 2000", c.Nodes)
	}
	return g, a, b, c
}

// restarts are the two ways a graph comes back after a restart: restored from its
// newest snapshot (as a Vault does: its positions then go on from the snapshot's),
// or loaded by the host itself, whose journal counts from 1 again (a journal of
// its own: its positions are not comparable with the old one's).
func restarts(h *harness) map[string]func(b *meta.Snapshot) *memgraph.Graph {
	return map[string]func(b *meta.Snapshot) *memgraph.Graph{
		"restored from the newest snapshot": func(b *meta.Snapshot) *memgraph.Graph {
			g := memgraph.New()
			if _, err := h.engine.Restore(h.ctx, b.ID, g, backup.RestoreOptions{}); err != nil {
				h.t.Fatal(err)
			}
			return g
		},
		"loaded by the host": func(b *meta.Snapshot) *memgraph.Graph {
			tmp := memgraph.New()
			if _, err := h.engine.Restore(h.ctx, b.ID, tmp, backup.RestoreOptions{}); err != nil {
				h.t.Fatal(err)
			}
			g := memgraph.New()
			for bt, err := range tmp.Changes(h.ctx, tmp.Position()-1) {
				if err != nil {
					h.t.Fatal(err)
				}
				if err := g.Apply(h.ctx, bt.Ops); err != nil {
					h.t.Fatal(err)
				}
			}
			if g.Position() != 1 {
				h.t.Fatalf("the host's graph is at position %d, want 1", g.Position())
			}
			return g
		},
	}
}

// TestFailoverAfterRestartTakesTheLastCommitted: after a restart, failover restores
// the state committed last (C), not an older snapshot (B) whose position is higher
// in the journal the graph had before the restart. Both the primary bucket and a
// replica hold the three snapshots; then the primary's copy of C is damaged and
// the replica's C must be taken, not B.
func TestFailoverAfterRestartTakesTheLastCommitted(t *testing.T) {
	for _, name := range []string{"restored from the newest snapshot", "loaded by the host"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			replica := h.target("replica")
			g, _, b, c := restartScenario(t, h, restarts(h)[name])
			for _, id := range []string{b.ID, c.ID} {
				h.replicate(id, replica.ID, false)
			}
			check := func(wantSource string) {
				t.Helper()
				got := memgraph.New()
				res, err := h.svc.Failover(h.ctx, "g1", got, FailoverOptions{})
				if err != nil {
					t.Fatalf("failover: %v (%+v)", err, res)
				}
				if res.SnapshotID != c.ID || res.Source != wantSource {
					t.Fatalf("failover took snapshot %s from %s (%d nodes), want C %s from %s; B is %s. Sources: %+v",
						res.SnapshotID, res.Source, res.Nodes, c.ID, wantSource, b.ID, res.Sources)
				}
				sameContent(t, g, got)
			}
			check(PrimarySource)

			// The primary's C is damaged: the replica's C is the newest intact state.
			m, err := h.engine.Manifest(h.ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			objs := m.Objects()
			if len(objs) == 0 {
				t.Fatal("snapshot C lists no object")
			}
			if err := h.engine.Bucket().Delete(context.Background(), objs[len(objs)-1].Key); err != nil {
				t.Fatal(err)
			}
			check("replica")
		})
	}
}
