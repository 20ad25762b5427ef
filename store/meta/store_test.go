package meta_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/meta"
	"github.com/graphvault/graphvault/store/meta/metatest"
)

func TestConformance(t *testing.T) {
	metatest.ForEachKind(t, func(t *testing.T, kind string) {
		t.Parallel()
		metatest.Run(t, metatest.OpenerFor(kind))
	})
}

// TestSharedDatabase opens several stores on one database at once, as several
// processes sharing a store do: the migrations run once, and a lease taken through
// one store is refused through the others.
func TestSharedDatabase(t *testing.T) {
	metatest.ForEachKind(t, func(t *testing.T, kind string) {
		t.Parallel()
		ctx := context.Background()
		dsn := metatest.OpenDSN(t, kind)
		const n = 4
		stores := make([]*meta.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = meta.Open(ctx, dsn)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("store %d: Open: %v", i, errs[i])
			}
			t.Cleanup(func() {
				if err := stores[i].Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
		}
		rows, err := stores[0].DB().NewSelect().Table(meta.MigrationsTable).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		current, latest, err := stores[3].SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if current != latest || latest < 1 || rows != int64(latest) {
			t.Errorf("schema version %d of %d with %d migration rows, want all equal and at least 1", current, latest, rows)
		}
		for i, s := range stores {
			got, err := s.AcquireLease(ctx, "scheduler", "instance-"+string(rune('a'+i)), time.Hour)
			if err != nil {
				t.Fatalf("store %d: acquire: %v", i, err)
			}
			if want := i == 0; got != want {
				t.Errorf("store %d: acquire = %v, want %v", i, got, want)
			}
		}
		sn := &meta.Snapshot{GraphID: "g"}
		if err := stores[1].CreateSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		if _, err := stores[2].GetSnapshot(ctx, sn.ID); err != nil {
			t.Errorf("snapshot written through one store, read through another: %v", err)
		}
	})
}

func TestSnapshotStatsCacheSeesOwnWrites(t *testing.T) {
	ctx := context.Background()
	s, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func() int64 {
		t.Helper()
		st, err := s.SnapshotStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, g := range st {
			n += g.Snapshots
		}
		return n
	}
	sn := &meta.Snapshot{GraphID: "g"}
	if err := s.CreateSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 1 {
		t.Fatalf("after create: %d snapshots", got)
	}
	sn.Status = meta.SnapshotCompleted
	sn.BytesStored = 10
	if err := s.UpdateSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	st, _ := s.SnapshotStats(ctx)
	if st[0].Completed != 1 || st[0].BytesStored != 10 {
		t.Fatalf("after update: %+v", st[0])
	}
	st[0].Completed = 99 // callers get copies
	if again, _ := s.SnapshotStats(ctx); again[0].Completed != 1 {
		t.Fatal("the cached answer was changed through a returned slice")
	}
	if err := s.DeleteSnapshot(ctx, sn.ID); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 0 {
		t.Fatalf("after delete: %d snapshots", got)
	}
}
