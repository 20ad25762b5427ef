package backup

import (
	"context"
	"errors"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

func TestPruneKeepsPinnedSnapshots(t *testing.T) {
	var extra string
	h := newHarness(t, WithPinner(func(_ context.Context, graphID string) (map[string]string, error) {
		if extra == "" {
			return nil, nil
		}
		return map[string]string{extra: "replication to target t1"}, nil
	}))
	g := memgraph.New()
	var rows []*meta.Snapshot
	for i := range 4 {
		if err := g.Apply(h.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: string(rune('a' + i))}}}); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, h.snapshot(g, KindAuto))
	}
	cp := &meta.Checkpoint{Graphs: []meta.CheckpointGraph{{GraphID: "g1", SnapshotID: rows[0].ID}}}
	if err := h.store.CreateCheckpoint(h.ctx, cp); err != nil {
		t.Fatal(err)
	}
	extra = rows[1].ID

	if err := h.engine.Delete(h.ctx, rows[0].ID); !errors.Is(err, ErrBusy) {
		t.Fatalf("Delete of a checkpoint's snapshot = %v, want ErrBusy", err)
	}
	if err := h.engine.Delete(h.ctx, rows[1].ID); !errors.Is(err, ErrBusy) {
		t.Fatalf("Delete of a pinner's snapshot = %v, want ErrBusy", err)
	}
	res, err := h.engine.Prune(h.ctx, "g1", Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pinned != 2 || len(res.Removed) != 1 || res.Removed[0] != rows[2].ID {
		t.Fatalf("prune = %+v, want rows 0 and 1 pinned, row 2 removed", res)
	}
	if _, err := h.engine.Verify(h.ctx, rows[0].ID, true); err != nil {
		t.Fatalf("the checkpoint's snapshot after prune: %v", err)
	}

	// Deleting the checkpoint and ending the replication unpin.
	if err := h.store.DeleteCheckpoint(h.ctx, cp.ID); err != nil {
		t.Fatal(err)
	}
	extra = ""
	res, err = h.engine.Prune(h.ctx, "g1", Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pinned != 0 || len(res.Removed) != 2 {
		t.Fatalf("prune after unpinning = %+v, want the two old snapshots removed", res)
	}
}

// A retention hold keeps a snapshot from retention and Prune, but an explicit
// Delete removes it.
func TestRetentionHoldYieldsToDelete(t *testing.T) {
	var held string
	h := newHarness(t, WithRetentionHold(func(context.Context, string) (map[string]string, error) {
		return map[string]string{held: "not yet copied to target t1"}, nil
	}))
	g := memgraph.New()
	var rows []*meta.Snapshot
	for i := range 3 {
		if err := g.Apply(h.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: string(rune('a' + i))}}}); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, h.snapshot(g, KindAuto))
	}
	held = rows[0].ID
	res, err := h.engine.Prune(h.ctx, "g1", Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pinned != 1 || len(res.Removed) != 1 || res.Removed[0] != rows[1].ID {
		t.Fatalf("prune = %+v, want row 0 held, row 1 removed", res)
	}
	if err := h.engine.Delete(h.ctx, rows[0].ID); err != nil {
		t.Fatalf("Delete of a held snapshot: %v", err)
	}
}
