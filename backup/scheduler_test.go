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

// TestSchedulersShareSlots runs two schedulers, each with its own store connection
// and engine, against one database and one bucket: every slot gets exactly one
// snapshot.
func TestSchedulersShareSlots(t *testing.T) {
	metatest.ForEachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dsn := metatest.OpenDSN(t, kind)
		drv := memblob.New()
		var cat graph.Registry
		cat.Register("g1", loadGenerated(t, 50, 100, false))
		every := 250 * time.Millisecond
		var scheds []*Scheduler
		var st0 *meta.Store
		for i := range 2 {
			st := metatest.OpenWith(t, dsn)
			if i == 0 {
				st0 = st
			}
			e, err := New(st, blob.NewBucket(drv), WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			s := NewScheduler(e, &cat, WithTick(20*time.Millisecond))
			if err := s.Add(Job{GraphID: "g1", Every: every, Retention: Retention{KeepLast: 100}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			scheds = append(scheds, s)
		}
		time.Sleep(8 * every)
		for _, s := range scheds {
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(ctx); err != nil {
				t.Fatalf("second close: %v", err)
			}
		}
		rows, _, err := st0.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "g1", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		slots := map[time.Time]int{}
		for _, r := range rows {
			if r.Status != meta.SnapshotCompleted {
				t.Fatalf("snapshot %s is %s: %s", r.ID, r.Status, r.Error)
			}
			slots[r.StartedAt.Truncate(every)]++
		}
		if len(rows) < 3 {
			t.Fatalf("%d snapshots in 8 periods, want at least 3", len(rows))
		}
		for slot, n := range slots {
			if n != 1 {
				t.Fatalf("slot %v has %d snapshots, want 1", slot, n)
			}
		}
		runs := 0
		for _, s := range scheds {
			for _, js := range s.Status() {
				runs += js.Runs
			}
		}
		if runs != len(rows) {
			t.Fatalf("schedulers report %d runs, store has %d snapshots", runs, len(rows))
		}
	})
}

func TestSchedulerRejectsBadJobs(t *testing.T) {
	h := newHarness(t)
	s := NewScheduler(h.engine, &graph.Registry{})
	for _, j := range []Job{{GraphID: "../x", Every: time.Hour}, {GraphID: "g", Every: time.Nanosecond}, {GraphID: "g", Every: time.Hour, Retention: Retention{KeepDaily: -1}}} {
		if err := s.Add(j); err == nil {
			t.Fatalf("job %+v accepted", j)
		}
	}
	// A job for a graph the catalog lacks records the failure.
	if err := s.Add(Job{GraphID: "missing", Every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunDue(h.ctx); err == nil {
		t.Fatal("missing graph ran without error")
	}
	if st := s.Status(); len(st) != 1 || st[0].Failures != 1 || st[0].LastError == "" {
		t.Fatalf("status %+v", st)
	}
}
