package backup

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
	"github.com/graphvault/graphvault/store/meta/metatest"
)

// TestInstanceLabel: an engine named with WithInstance labels every snapshot's
// row and manifest with its name, over a label of that name the caller gave.
func TestInstanceLabel(t *testing.T) {
	h := newHarness(t, WithInstance("node-a"))
	g := loadGenerated(t, 20, 40, false)
	row, err := h.engine.Snapshot(h.ctx, "g1", g, SnapshotOptions{Labels: map[string]string{"by": "test", InstanceLabel: "spoof"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.store.GetSnapshot(h.ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.engine.Manifest(h.ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	for where, labels := range map[string]map[string]string{"row": got.Labels, "manifest": m.Labels} {
		if labels[InstanceLabel] != "node-a" || labels["by"] != "test" {
			t.Errorf("%s labels %v, want instance node-a and by test", where, labels)
		}
	}
}

// TestResolveAbandoned settles only the rows the predicate picks: a running row
// of a live instance stays running.
func TestResolveAbandoned(t *testing.T) {
	h := newHarness(t)
	rows := map[string]*meta.Snapshot{}
	for _, inst := range []string{"live", "dead"} {
		r := &meta.Snapshot{GraphID: "g1", Status: meta.SnapshotRunning, StartedAt: time.Now().UTC(), Labels: map[string]string{InstanceLabel: inst}}
		if err := h.store.CreateSnapshot(h.ctx, r); err != nil {
			t.Fatal(err)
		}
		rows[inst] = r
	}
	n, err := h.engine.ResolveAbandoned(h.ctx, func(_ context.Context, r *meta.Snapshot) (bool, error) {
		return r.Labels[InstanceLabel] == "dead", nil
	})
	if err != nil || n != 1 {
		t.Fatalf("settled %d, %v; want 1", n, err)
	}
	for inst, want := range map[string]string{"live": meta.SnapshotRunning, "dead": meta.SnapshotFailed} {
		got, _ := h.store.GetSnapshot(h.ctx, rows[inst].ID)
		if got.Status != want {
			t.Errorf("row of %s instance is %s, want %s", inst, got.Status, want)
		}
	}
}

// slowGraph holds View until release is closed.
type slowGraph struct {
	graph.Graph
	started chan struct{}
	release chan struct{}
}

func (s *slowGraph) View(ctx context.Context) (graph.View, error) {
	close(s.started)
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Graph.View(ctx)
}

// TestSchedulerRenewsLease: a scheduled job that runs longer than the lease's
// time to live keeps its lease, so no other instance takes the job meanwhile.
func TestSchedulerRenewsLease(t *testing.T) {
	ctx := context.Background()
	dsn := metatest.OpenDSN(t, metatest.SQLite)
	st := metatest.OpenWith(t, dsn)
	e, err := New(st, blob.NewBucket(memblob.New()), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	g := &slowGraph{Graph: loadGenerated(t, 20, 40, false), started: make(chan struct{}), release: make(chan struct{})}
	var cat graph.Registry
	cat.Register("g1", g)
	const ttl = 150 * time.Millisecond
	s := NewScheduler(e, &cat, WithHolder("a"), WithLeaseTTL(ttl), WithTick(10*time.Millisecond))
	if err := s.Add(Job{GraphID: "g1", Every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	<-g.started
	time.Sleep(3 * ttl)
	other := metatest.OpenWith(t, dsn)
	ok, err := other.AcquireLease(ctx, "graphvault.schedule.g1", "b", ttl)
	close(g.release)
	if err != nil || ok {
		t.Fatalf("another holder took the lease of a running job after %v: %v, %v", 3*ttl, ok, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetLease(ctx, "graphvault.schedule.g1"); err == nil {
		t.Errorf("the lease outlived the job")
	}
}
