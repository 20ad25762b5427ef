package backup

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/graphvault/graphvault/store/meta"
)

func TestSubscribe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	g := loadGenerated(t, 10, 20, false)
	var got []string
	subscribe := func(name string) func() {
		return h.engine.Subscribe(func(_ context.Context, row *meta.Snapshot) {
			got = append(got, name+":"+row.Status)
		})
	}
	cancelA := subscribe("a")
	cancelB := subscribe("b")
	defer cancelB()
	h.engine.Subscribe(nil)() // subscribes nothing; its cancel is harmless

	h.snapshot(g, KindFull)
	if want := []string{"a:completed", "b:completed"}; !slices.Equal(got, want) {
		t.Fatalf("after a snapshot: got %v, want %v", got, want)
	}
	got = nil
	if _, err := h.engine.Snapshot(h.ctx, "g1", dupReader{}, SnapshotOptions{}); err == nil {
		t.Fatal("a snapshot of a view with duplicate keys succeeded")
	}
	if len(got) != 0 {
		t.Fatalf("a failed snapshot reached the subscribers: %v", got)
	}
	cancelA()
	cancelA() // idempotent: must not remove b
	h.snapshot(g, KindFull)
	if want := []string{"b:completed"}; !slices.Equal(got, want) {
		t.Fatalf("after cancelling a: got %v, want %v", got, want)
	}
}

// TestSubscribeConcurrent subscribes and cancels while snapshots of several graphs
// commit (run with -race): a subscription held throughout sees every snapshot once.
func TestSubscribeConcurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const graphs, rounds = 4, 3
	var steady atomic.Int64
	cancel := h.engine.Subscribe(func(context.Context, *meta.Snapshot) { steady.Add(1) })
	var wg sync.WaitGroup
	for i := range graphs {
		g := loadGenerated(t, 10, 20, false)
		id := fmt.Sprintf("g%d", i)
		wg.Go(func() {
			for range rounds {
				if _, err := h.engine.Snapshot(h.ctx, id, g, SnapshotOptions{}); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range rounds * 10 {
				c := h.engine.Subscribe(func(context.Context, *meta.Snapshot) {})
				c()
				c()
			}
		})
	}
	wg.Wait()
	cancel()
	if got := steady.Load(); got != graphs*rounds {
		t.Fatalf("the steady subscriber saw %d snapshots, want %d", got, graphs*rounds)
	}
}
