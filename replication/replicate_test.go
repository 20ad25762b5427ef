package replication

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

// snapshotBytes is what a full copy of a snapshot sends: every object of its
// manifest plus the manifest.
func snapshotBytes(t *testing.T, h *harness, sid string) (int64, int) {
	t.Helper()
	src, err := h.svc.loadSource(h.ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(src.manifest))
	for _, o := range src.objects {
		n += o.Size
	}
	return n, len(src.objects) + 1
}

func TestReplicateCopiesOnlyWhatIsMissing(t *testing.T) {
	// Segment sizes as in production, so that the manifest's share is realistic.
	h := newHarness(t, harnessOpts{nodes: 4000, edges: 8000, engine: []backup.Option{backup.WithSegmentSize(64<<10, 4<<20, 2048)}})
	tg := h.target("replica")
	full := h.snapshot(backup.KindFull)
	fullBytes, fullObjects := snapshotBytes(t, h, full.ID)

	first := h.replicate(full.ID, tg.ID, false)
	if !first.OK || first.Bytes != fullBytes || first.ObjectsCopied != int64(fullObjects) || first.ObjectsSkipped != 0 {
		t.Fatalf("first copy: got %+v, want ok, %d bytes, %d objects copied, 0 skipped", first, fullBytes, fullObjects)
	}

	again := h.replicate(full.ID, tg.ID, false)
	if !again.OK || again.Bytes != 0 || again.ObjectsCopied != 0 || again.ObjectsSkipped != int64(fullObjects) {
		t.Fatalf("second copy of the same snapshot: got %+v, want ok, 0 bytes, %d skipped", again, fullObjects)
	}
	verified := h.replicate(full.ID, tg.ID, true)
	if !verified.OK || verified.Bytes != 0 {
		t.Fatalf("verifying copy of an intact snapshot: got %+v, want ok and 0 bytes", verified)
	}

	h.change(0.01)
	inc := h.snapshot(backup.KindIncremental)
	delta := h.replicate(inc.ID, tg.ID, false)
	if !delta.OK {
		t.Fatalf("incremental copy failed: %s", delta.Error)
	}
	incBytes, _ := snapshotBytes(t, h, inc.ID)
	t.Logf("full snapshot %d bytes in %d objects; same again: %d bytes; after a 1%% change: %d bytes (%.2f%% of the full snapshot, %.2f%% of the new chain)",
		fullBytes, fullObjects, again.Bytes, delta.Bytes, 100*float64(delta.Bytes)/float64(fullBytes), 100*float64(delta.Bytes)/float64(incBytes))
	if limit := fullBytes * 5 / 100; delta.Bytes > limit {
		t.Errorf("after a 1%% change the copy sent %d bytes, want at most %d (5%% of %d)", delta.Bytes, limit, fullBytes)
	}

	want, err := graphtest.Read(h.ctx, h.graph)
	if err != nil {
		t.Fatal(err)
	}
	restoreFrom(t, h.fault("replica").Unwrap(), inc.ID, want)
}

func TestReplicateEventsMatchResults(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 200, edges: 400})
	a, b := h.target("a"), h.target("b")
	row := h.snapshot(backup.KindFull)
	res, err := h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("got %d results, want one per enabled target (2)", len(res))
	}
	for _, r := range res {
		evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: r.TargetID, Kind: meta.EventSnapshot})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("target %s: %d events, want 1", r.TargetName, len(evs))
		}
		ev := evs[0]
		if ev.ID != r.EventID || ev.Status != meta.EventOK || ev.Bytes != r.Bytes || ev.ObjectsCopied != r.ObjectsCopied ||
			ev.SnapshotID != row.ID || ev.GraphID != "g1" {
			t.Errorf("target %s: event %+v does not match result %+v", r.TargetName, ev, r)
		}
	}
	if _, err := h.svc.Disable(h.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	res, err = h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].TargetID != a.ID {
		t.Fatalf("with b disabled got results %+v, want only a", res)
	}
}

func TestReplicateArguments(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 50, edges: 60})
	tg := h.target("a")
	row := h.snapshot(backup.KindFull)
	tests := []struct {
		name string
		sid  string
		opts ReplicateOptions
		want error
	}{
		{"malformed snapshot id", "nope", ReplicateOptions{}, ErrInvalid},
		{"unknown snapshot", meta.NewID(), ReplicateOptions{}, ErrNotFound},
		{"malformed target id", row.ID, ReplicateOptions{TargetID: "x"}, ErrInvalid},
		{"unknown target", row.ID, ReplicateOptions{TargetID: meta.NewID()}, ErrNotFound},
		{"fine", row.ID, ReplicateOptions{TargetID: tg.ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.Replicate(h.ctx, tt.sid, tt.opts)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplicateResumes(t *testing.T) {
	h := newHarness(t, harnessOpts{service: []Option{WithRetry(RetryPolicy{Attempts: 1}), WithConcurrency(1)}})
	tg := h.target("replica")
	row := h.snapshot(backup.KindFull)
	total, objects := snapshotBytes(t, h, row.ID)
	// The sixth write fails for good: the run stops there, as a crash would.
	h.fault("replica").Inject(faultRule(6))
	res, err := h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{TargetID: tg.ID})
	if err == nil || res[0].OK {
		t.Fatalf("interrupted run: got ok, want failure")
	}
	first := res[0]
	if ok, _ := blob.NewBucket(nopClose{h.fault("replica").Unwrap()}).Exists(h.ctx, row.ManifestKey); ok {
		t.Fatal("the manifest reached the target of an interrupted run")
	}
	h.fault("replica").Reset()
	second := h.replicate(row.ID, tg.ID, false)
	if !second.OK {
		t.Fatalf("rerun failed: %s", second.Error)
	}
	if got := first.Bytes + second.Bytes; got != total {
		t.Errorf("bytes sent by the two runs: %d + %d = %d, want %d (every object once)", first.Bytes, second.Bytes, got, total)
	}
	if second.ObjectsSkipped != first.ObjectsCopied || second.ObjectsCopied+second.ObjectsSkipped != int64(objects) {
		t.Errorf("rerun copied %d and skipped %d of %d; the first run copied %d", second.ObjectsCopied, second.ObjectsSkipped, objects, first.ObjectsCopied)
	}
}

func TestReplicateRefusesDamagedSource(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100})
	tg := h.target("replica")
	row := h.snapshot(backup.KindFull)
	src, err := h.svc.loadSource(h.ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	key := src.objects[0].Key
	b, err := h.engine.Bucket().Get(h.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	if err := h.engine.Bucket().Put(h.ctx, key, b); err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{TargetID: tg.ID})
	if err == nil || res[0].OK {
		t.Fatal("a damaged source object was replicated")
	}
	if ok, _ := blob.NewBucket(nopClose{h.fault("replica").Unwrap()}).Exists(h.ctx, key); ok {
		t.Error("the damaged object reached the target")
	}
	if ok, _ := blob.NewBucket(nopClose{h.fault("replica").Unwrap()}).Exists(h.ctx, row.ManifestKey); ok {
		t.Error("the manifest reached the target")
	}
}

func TestCloseTwice(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Start(h.ctx); err == nil {
		t.Error("second Start: got nil, want an error")
	}
	for i := range 2 {
		if err := h.svc.Close(context.Background()); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, err := h.svc.Replicate(h.ctx, meta.NewID(), ReplicateOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Replicate after Close: got %v, want ErrClosed", err)
	}
}

// A push that runs when Close is called finishes: Close stops the loops from
// starting new work and waits for the running one until its context ends.
func TestCloseLetsARunningPushFinish(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 200, edges: 400})
	h.target("slow")
	fd := h.fault("slow")
	fd.Inject(faultblob.Rule{Ops: faultblob.OpPut, Delay: 20 * time.Millisecond})
	fd.Reset()
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	want, err := graphtest.Read(h.ctx, h.graph)
	if err != nil {
		t.Fatal(err)
	}
	row := h.snapshot(backup.KindFull)
	deadline := time.Now().Add(10 * time.Second)
	for fd.Calls(faultblob.OpPut) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the committed snapshot was never pushed")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	if err := h.svc.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	restoreFrom(t, fd.Unwrap(), row.ID, want)
}
