package health

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// TestDamagedSnapshotsCheck checks that a snapshot a verification found damaged,
// or one marked failed as damaged at start-up, warns by name until it verifies
// clean again or is deleted, and that a newer good snapshot does not hide it.
func TestDamagedSnapshotsCheck(t *testing.T) {
	ctx := context.Background()
	h := newBackupHarness(t)
	check := NewDamagedSnapshotsCheck(h.st)
	expect := func(want Status, names ...string) {
		t.Helper()
		r := check.Check(ctx)
		if r.Status != want {
			t.Fatalf("check = %s %q, want %s", r.Status, r.Message, want)
		}
		for _, n := range names {
			if !strings.Contains(r.Message, n) {
				t.Fatalf("check message %q does not name %s", r.Message, n)
			}
			if _, ok := r.Details["snapshots"].(map[string]DamagedSnapshot)[n]; !ok {
				t.Fatalf("check details %v do not hold %s", r.Details, n)
			}
		}
	}
	verify := func(id string, full, wantOK bool) {
		t.Helper()
		rep, err := h.engine.Verify(ctx, id, full)
		if err != nil || rep.OK != wantOK {
			t.Fatalf("verify %s (full %v) = %+v, %v; want ok %v", id, full, rep, err, wantOK)
		}
	}

	a := h.snapshot(t)
	expect(Pass)

	// An object that cannot be stat'ed for a moment is no damage.
	remove := h.fd.Inject(faultblob.Rule{Ops: faultblob.OpStat, Err: errors.New("network down")})
	verify(a.ID, false, false)
	remove()
	expect(Pass)

	// A missing segment: a quick verification marks the snapshot damaged.
	man, err := h.engine.Manifest(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	seg := man.Layers[0].Segments[0].Key
	data, err := h.fd.Unwrap().Get(ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.fd.Unwrap().Delete(ctx, seg); err != nil {
		t.Fatal(err)
	}
	verify(a.ID, false, false)
	expect(Warn, a.ID)
	row, err := h.st.GetSnapshot(ctx, a.ID)
	if err != nil || row.Status != meta.SnapshotCompleted || !strings.HasPrefix(row.Error, backup.DamagedPrefix+"found by quick verification: ") {
		t.Fatalf("row after a failed verification: %+v, %v", row, err)
	}

	// The segment comes back and a newer snapshot succeeds: still named.
	if err := h.fd.Unwrap().Put(ctx, seg, data); err != nil {
		t.Fatal(err)
	}
	if err := h.g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "dave"}}}); err != nil {
		t.Fatal(err)
	}
	b := h.snapshot(t)
	expect(Warn, a.ID)

	// A flipped bit that only a full verification sees is not cleared by a quick one.
	remove = h.fd.Inject(faultblob.Rule{Ops: faultblob.OpGet, Prefix: seg, FlipBit: true})
	verify(a.ID, true, false)
	remove()
	verify(a.ID, false, true)
	expect(Warn, a.ID)
	// A clean full verification is the repair.
	verify(a.ID, true, true)
	expect(Pass)

	// A snapshot marked failed as damaged at start-up stays named until deleted.
	b.Status, b.Error = meta.SnapshotFailed, backup.DamagedPrefix+"found at start: manifest unreadable"
	if err := h.st.UpdateSnapshot(ctx, b); err != nil {
		t.Fatal(err)
	}
	expect(Warn, b.ID)
	if err := h.st.DeleteSnapshot(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	expect(Pass)
}
