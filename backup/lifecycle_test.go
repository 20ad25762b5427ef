package backup

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestEncryptionAndKeyRotation(t *testing.T) {
	h := newHarness(t, WithEncryptionKey(key(1)))
	g := loadGenerated(t, 200, 600, false)
	full := h.snapshot(g, KindAuto)
	mutate(t, g, newRand(), 1)
	inc := h.snapshot(g, KindAuto)
	want := content(t, g)
	if !full.Encrypted || !inc.Encrypted {
		t.Fatal("snapshots not marked encrypted")
	}
	// No plaintext description reaches the bucket.
	sample := want.Nodes[0].Props["description"].(string)[:40]
	for a, err := range h.bucket.List(h.ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		b, _ := h.bucket.Get(h.ctx, a.Key)
		if bytes.Contains(b, []byte(sample)) {
			t.Fatalf("object %s holds plaintext", a.Key)
		}
	}
	h.restoreEqual(inc.ID, want, false)

	wrong, err := New(h.store, h.bucket, WithEncryptionKey(key(2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Restore(h.ctx, inc.ID, memgraph.New(), RestoreOptions{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("restore with wrong key: got %v, want ErrWrongKey", err)
	}
	none, _ := New(h.store, h.bucket)
	if _, err := none.Restore(h.ctx, inc.ID, memgraph.New(), RestoreOptions{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("restore without key: got %v, want ErrWrongKey", err)
	}

	segsBefore := dataObjects(t, h)
	n, err := h.engine.RotateKey(h.ctx, key(3))
	if err != nil || n != 2 {
		t.Fatalf("rotate: %d, %v; want 2 key objects", n, err)
	}
	if again, err := h.engine.RotateKey(h.ctx, key(3)); err != nil || again != 0 {
		t.Fatalf("second rotation to the same key: %d, %v", again, err)
	}
	if after := dataObjects(t, h); after != segsBefore {
		t.Fatal("rotation rewrote data objects")
	}
	h.restoreEqual(inc.ID, want, false)
	if _, err := New(h.store, h.bucket, WithEncryptionKey(key(1))); err != nil {
		t.Fatal(err)
	}
	old, _ := New(h.store, h.bucket, WithEncryptionKey(key(1)))
	if _, err := old.Restore(h.ctx, full.ID, memgraph.New(), RestoreOptions{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key after rotation: got %v, want ErrWrongKey", err)
	}
}

// dataObjects fingerprints the data objects of the bucket: their keys joined.
func dataObjects(t *testing.T, h *harness) string {
	t.Helper()
	var keys []string
	for a, err := range h.bucket.List(h.ctx, dataPrefix) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, a.Key)
	}
	return strings.Join(keys, ",")
}

func TestFailingBucketLeavesNothingVisible(t *testing.T) {
	ctx := context.Background()
	g := loadGenerated(t, 200, 600, false)
	boom := errors.New("disk on fire")
	tests := []struct {
		name string
		rule faultblob.Rule
	}{
		{"segment put fails", faultblob.Rule{Ops: faultblob.OpPut, Prefix: dataPrefix, Nth: 3, Err: boom}},
		{"manifest put fails", faultblob.Rule{Ops: faultblob.OpPutIfAbsent, Prefix: manifestPrefix, Err: boom}},
		{"segment lost silently", faultblob.Rule{Ops: faultblob.OpPut, Prefix: dataPrefix, Nth: 2, Write: faultblob.LoseWrite}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := meta.Open(ctx, ":memory:")
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			fd := faultblob.New(memblob.New())
			b := blob.NewBucket(fd)
			e, err := New(st, b, WithSegmentSize(1<<10, 16<<10, 16), WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			remove := fd.Inject(tt.rule)
			row, err := e.Snapshot(ctx, "g1", g, SnapshotOptions{Kind: KindFull})
			remove()
			if err == nil {
				t.Fatal("snapshot succeeded on a failing bucket")
			}
			if row == nil || row.Status != meta.SnapshotFailed || row.Error == "" {
				t.Fatalf("row %+v, want failed with an error", row)
			}
			got, err := st.GetSnapshot(ctx, row.ID)
			if err != nil || got.Status != meta.SnapshotFailed {
				t.Fatalf("stored row %+v, %v", got, err)
			}
			if ok, _ := b.Exists(ctx, manifestKey("g1", row.ID)); ok {
				t.Fatal("a failed snapshot left a manifest")
			}
			if _, err := e.Restore(ctx, row.ID, memgraph.New(), RestoreOptions{}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("restore of failed snapshot: %v", err)
			}
			// The next snapshot works and restores equal.
			next, err := e.Snapshot(ctx, "g1", g, SnapshotOptions{})
			if err != nil {
				t.Fatalf("next snapshot: %v", err)
			}
			if rep, err := e.Verify(ctx, next.ID, true); err != nil || !rep.OK {
				t.Fatalf("verify next: %v %+v", err, rep)
			}
		})
	}
}

func TestCancelledSnapshotIsFailedAndInvisible(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 300, 900, false)
	ctx, cancel := context.WithCancel(h.ctx)
	var once sync.Once
	row, err := h.engine.Snapshot(ctx, "g1", g, SnapshotOptions{Progress: func(p Progress) {
		once.Do(cancel)
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if row.Status != meta.SnapshotFailed {
		t.Fatalf("status %s", row.Status)
	}
	if ok, _ := h.bucket.Exists(h.ctx, manifestKey("g1", row.ID)); ok {
		t.Fatal("cancelled snapshot committed a manifest")
	}
}

func TestConcurrentSnapshotsOfOneGraphAreSerialized(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 100, 300, false)
	var wg sync.WaitGroup
	rows := make([]*meta.Snapshot, 6)
	errs := make([]error, 6)
	for i := range rows {
		wg.Go(func() {
			rows[i], errs[i] = h.engine.Snapshot(h.ctx, "g1", g, SnapshotOptions{})
		})
	}
	wg.Wait()
	full := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		if rows[i].Kind == "full" {
			full++
		}
	}
	if full != 1 {
		t.Fatalf("%d full snapshots, want 1: the others must chain on it", full)
	}
}

func TestPruneGCAndReindex(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 100, 300, false)
	var ids []string
	for round := range 5 {
		if round > 0 {
			mutate(t, g, newRand(), round)
		}
		ids = append(ids, h.snapshot(g, KindFull).ID)
	}
	want := content(t, g)

	dry, err := h.engine.Prune(h.ctx, "g1", Retention{KeepLast: 2}, true)
	if err != nil || len(dry.Removed) != 3 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if n, _ := h.store.CountSnapshots(h.ctx, meta.SnapshotFilter{GraphID: "g1"}); n != 5 {
		t.Fatalf("dry run removed rows: %d left", n)
	}
	res, err := h.engine.Prune(h.ctx, "g1", Retention{KeepLast: 2}, false)
	if err != nil || len(res.Removed) != 3 || len(res.Kept) != 2 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	if _, ok := res.Kept[ids[4]]; !ok {
		t.Fatalf("newest snapshot not kept: %+v", res)
	}
	before := h.drv
	_ = before
	gc, err := h.engine.GC(h.ctx, GCOptions{Grace: -1})
	if err != nil || gc.Deleted == 0 || gc.Manifests != 2 {
		t.Fatalf("gc: %+v %v", gc, err)
	}
	for _, id := range ids[3:] {
		if rep, err := h.engine.Verify(h.ctx, id, true); err != nil || !rep.OK {
			t.Fatalf("kept snapshot %s after GC: %v %+v", id, err, rep)
		}
	}
	h.restoreEqual(ids[4], want, false)
	if again, _ := h.engine.GC(h.ctx, GCOptions{Grace: -1}); again.Deleted != 0 {
		t.Fatalf("second GC deleted %d objects", again.Deleted)
	}

	// Reindex rebuilds lost rows from the bucket alone.
	for _, id := range ids[3:] {
		if err := h.store.DeleteSnapshot(h.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	created, failed, err := h.engine.Reindex(h.ctx)
	if err != nil || created != 2 || failed != 0 {
		t.Fatalf("reindex: created %d failed %d err %v", created, failed, err)
	}
	h.restoreEqual(ids[4], want, false)
}

func TestGCGraceProtectsYoungObjects(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 50, 100, false)
	row := h.snapshot(g, KindFull)
	if err := h.engine.Delete(h.ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	res, err := h.engine.GC(h.ctx, GCOptions{}) // default grace: one hour
	if err != nil || res.Deleted != 0 || res.Kept == 0 {
		t.Fatalf("gc inside grace: %+v %v", res, err)
	}
}

func TestRetentionRules(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	var snaps []meta.Snapshot
	for i := range 60 { // one every 12 hours, newest first
		snaps = append(snaps, meta.Snapshot{ID: string(rune('A' + i)), StartedAt: now.Add(-time.Duration(i) * 12 * time.Hour)})
	}
	count := func(r Retention) int {
		n := 0
		for _, why := range r.keep(snaps, now) {
			if len(why) > 0 {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name string
		r    Retention
		want int
	}{
		{"zero keeps all", Retention{}, 60},
		{"last 3", Retention{KeepLast: 3}, 3},
		{"daily 5", Retention{KeepDaily: 5}, 5},
		{"hourly 4", Retention{KeepHourly: 4}, 4},
		{"weekly 2", Retention{KeepWeekly: 2}, 2},
		{"monthly 12 (data spans 2 months)", Retention{KeepMonthly: 12}, 2},
		{"within 2 days", Retention{KeepWithin: 48 * time.Hour}, 5},
		{"union", Retention{KeepLast: 1, KeepDaily: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(tt.r); got != tt.want {
				t.Fatalf("kept %d, want %d", got, tt.want)
			}
		})
	}
	if err := (Retention{KeepLast: -1}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative: %v", err)
	}
}

func TestResolveInterrupted(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 20, 40, false)
	done := h.snapshot(g, KindFull)
	// A committed snapshot whose row never reached "completed", and a row that never
	// committed.
	done.Status = meta.SnapshotRunning
	if err := h.store.UpdateSnapshot(h.ctx, done); err != nil {
		t.Fatal(err)
	}
	stuck := &meta.Snapshot{GraphID: "g1", Status: meta.SnapshotRunning, StartedAt: time.Now().UTC()}
	if err := h.store.CreateSnapshot(h.ctx, stuck); err != nil {
		t.Fatal(err)
	}
	n, err := h.engine.ResolveInterrupted(h.ctx, 0)
	if err != nil || n != 2 {
		t.Fatalf("resolved %d, %v", n, err)
	}
	for id, want := range map[string]string{done.ID: meta.SnapshotCompleted, stuck.ID: meta.SnapshotFailed} {
		row, _ := h.store.GetSnapshot(h.ctx, id)
		if row.Status != want {
			t.Fatalf("%s: %s, want %s", id, row.Status, want)
		}
	}
}

func TestViewYieldingDuplicateKeysIsRefused(t *testing.T) {
	h := newHarness(t)
	dup := dupReader{}
	if _, err := h.engine.Snapshot(h.ctx, "g1", dup, SnapshotOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
}

type dupReader struct{}

func (dupReader) View(context.Context) (graph.View, error) { return dupView{}, nil }

type dupView struct{}

func (dupView) Meta() graph.Meta { return graph.Meta{} }
func (dupView) Close() error     { return nil }
func (dupView) Nodes(context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		_ = yield(graph.Node{ID: "x"}, nil) && yield(graph.Node{ID: "x"}, nil)
	}
}
func (dupView) Edges(context.Context) iter.Seq2[graph.Edge, error] {
	return func(func(graph.Edge, error) bool) {}
}

func TestSubscribersSeeCompletedRows(t *testing.T) {
	var got []string
	h := newHarness(t)
	cancel := h.engine.Subscribe(func(_ context.Context, row *meta.Snapshot) {
		got = append(got, row.Status+":"+row.Kind)
	})
	defer cancel()
	g := loadGenerated(t, 10, 20, false)
	h.snapshot(g, KindAuto)
	h.snapshot(g, KindAuto)
	if strings.Join(got, ",") != "completed:full,completed:incremental" {
		t.Fatalf("subscriber saw %v", got)
	}
}

func TestNextSnapshotRepairsDamagedObjects(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 100, 300, false)
	row := h.snapshot(g, KindFull)
	m := h.manifest(row.ID)
	flipped := m.Layers[0].Segments[0].Key
	truncated := m.Layers[0].Segments[1].Key
	b, _ := h.bucket.Get(h.ctx, flipped)
	b[len(b)/2] ^= 1
	h.bucket.Put(h.ctx, flipped, b)
	b, _ = h.bucket.Get(h.ctx, truncated)
	h.bucket.Put(h.ctx, truncated, b[:len(b)-1])

	rep, err := h.engine.Verify(h.ctx, row.ID, true)
	if err != nil || rep.OK {
		t.Fatalf("verify of damaged snapshot: %v %+v", err, rep)
	}
	// An unchanged graph snapshotted again rewrites both damaged objects: the
	// truncated one by its size, the flipped one because verification saw it.
	again := h.snapshot(g, KindFull)
	if again.BytesNew == 0 {
		t.Fatal("the new snapshot wrote nothing")
	}
	for _, id := range []string{row.ID, again.ID} {
		if rep, err := h.engine.Verify(h.ctx, id, true); err != nil || !rep.OK {
			t.Fatalf("after repair, snapshot %s: %v %+v", id, err, rep)
		}
	}
}
