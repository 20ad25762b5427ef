package replication

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
)

// Snapshots an enabled target has not caught up with are kept by Prune until the
// target holds a newer copy; a disabled target pins nothing.
func TestPinsKeepWhatATargetStillNeeds(t *testing.T) {
	var svc *Service
	pinner := func(ctx context.Context, graphID string) (map[string]string, error) { return svc.Pins(ctx, graphID) }
	h := newHarness(t, harnessOpts{nodes: 50, edges: 50, engine: []backup.Option{backup.WithRetentionHold(pinner)}})
	svc = h.svc
	tg := h.target("replica")
	time.Sleep(time.Millisecond) // snapshots finish after the target was added
	var ids []string
	for range 3 {
		h.change(0.5)
		ids = append(ids, h.snapshot(backup.KindFull).ID)
	}
	res, err := h.engine.Prune(h.ctx, "g1", backup.Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 0 || res.Pinned != 2 {
		t.Fatalf("prune before any copy: removed %v, %d pinned; want none removed, 2 pinned", res.Removed, res.Pinned)
	}

	h.replicate(ids[2], tg.ID, false)
	res, err = h.engine.Prune(h.ctx, "g1", backup.Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Removed)
	if !slices.Equal(res.Removed, ids[:2]) || res.Pinned != 0 {
		t.Fatalf("prune after the target copied the newest: removed %v, %d pinned; want %v, 0", res.Removed, res.Pinned, ids[:2])
	}

	// A disabled target waits for nothing.
	h.change(0.5)
	newer := h.snapshot(backup.KindFull).ID
	off := false
	if _, err := h.svc.Update(h.ctx, tg.ID, TargetPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	h.change(0.5)
	h.snapshot(backup.KindFull)
	res, err = h.engine.Prune(h.ctx, "g1", backup.Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Removed, newer) || res.Pinned != 0 {
		t.Fatalf("prune with the target disabled: removed %v, %d pinned; want %s removed", res.Removed, res.Pinned, newer)
	}
}
