package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// TestLiveCacheMatchesTheChain takes chains of every kind of snapshot with the
// live cache on and checks, after each one, that the cached live records are the
// ones its chain holds, and that every snapshot restores equal to the graph.
func TestLiveCacheMatchesTheChain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reader func(*memgraph.Graph) graph.Reader
		// deleteNodes makes the journal unable to name the changes.
		deleteNodes bool
	}{
		{"journal", func(g *memgraph.Graph) graph.Reader { return g }, false},
		{"journal with node deletions", func(g *memgraph.Graph) graph.Reader { return g }, true},
		{"no journal", func(g *memgraph.Graph) graph.Reader { return plainReader{g} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, WithLiveCache(), WithChainPolicy(ChainPolicy{MaxLayers: 4, MaxDeltaRatio: 10}))
			g := loadGenerated(t, 200, 600, false)
			r := rand.New(rand.NewPCG(5, 6))
			kinds := map[string]int{}
			for round := range 8 {
				if round > 0 && tc.deleteNodes {
					mutate(t, g, r, round)
				} else if round > 0 {
					mutateKeepingNodes(t, g, r, round)
				}
				kind := KindAuto
				if round == 5 {
					kind = KindFull
				}
				row := h.snapshot(tc.reader(g), kind)
				kinds[row.Kind]++
				cached := h.engine.live.take("g1", row.ID)
				if cached == nil {
					t.Fatalf("round %d: no cached live records for %s", round, row.ID)
				}
				want, err := h.engine.liveIndex(h.ctx, h.manifest(row.ID))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(cached, want) {
					t.Fatalf("round %d (%s): %d cached live records differ from the chain's %d", round, row.Kind, len(cached), len(want))
				}
				h.engine.live.put("g1", row.ID, cached)
				h.restoreEqual(row.ID, content(t, g), false)
			}
			if kinds["incremental"] == 0 || kinds["synthetic"] == 0 || kinds["full"] < 2 {
				t.Fatalf("kinds %v: want fulls, incrementals and synthetics", kinds)
			}
		})
	}
}

// TestLiveCacheSparesTheChain checks that an incremental snapshot that compares
// the whole graph reads no segment of its parent when the cache holds the
// parent, and that without the cache, or after a failed snapshot, it reads them.
func TestLiveCacheSparesTheChain(t *testing.T) {
	ctx := context.Background()
	noReads := faultblob.Rule{Ops: faultblob.OpGet, Prefix: dataPrefix, Err: errors.New("segment read")}
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%t", cache), func(t *testing.T) {
			st, err := meta.Open(ctx, ":memory:")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			fd := faultblob.New(memblob.New())
			opts := []Option{WithLogger(slog.New(slog.DiscardHandler))}
			if cache {
				opts = append(opts, WithLiveCache())
			}
			e, err := New(st, blob.NewBucket(fd), opts...)
			if err != nil {
				t.Fatal(err)
			}
			g := loadGenerated(t, 200, 600, false)
			r := rand.New(rand.NewPCG(7, 8))
			var last *meta.Snapshot
			snapshot := func() error {
				row, err := e.Snapshot(ctx, "g", plainReader{g}, SnapshotOptions{Kind: KindIncremental})
				if err == nil {
					last = row
				}
				return err
			}
			if err := snapshot(); err != nil {
				t.Fatal(err)
			}
			mutateKeepingNodes(t, g, r, 1)
			remove := fd.Inject(noReads)
			err = snapshot()
			remove()
			if cache != (err == nil) {
				t.Fatalf("incremental without segment reads: %v", err)
			}
			if !cache {
				return
			}
			// A snapshot that fails takes the cached records with it: the next one
			// reads the chain, and is right.
			mutate(t, g, r, 2)
			remove = fd.Inject(faultblob.Rule{Ops: faultblob.OpPutIfAbsent, Prefix: "manifests/", Err: errors.New("lost")})
			if err := snapshot(); err == nil {
				t.Fatal("snapshot with a failing manifest write succeeded")
			}
			remove()
			if _, cached := e.live.m["g"]; cached {
				t.Fatal("a failed snapshot left cached live records")
			}
			if err := snapshot(); err != nil {
				t.Fatal(err)
			}
			if last.Kind != string(KindIncremental) {
				t.Fatalf("last snapshot is %s, want incremental", last.Kind)
			}
			h := &harness{t: t, ctx: ctx, store: st, engine: e}
			h.restoreEqual(last.ID, content(t, g), false)
		})
	}
}

// TestLiveCacheForgetsDeletedSnapshots checks that deleting the snapshot the
// cache describes frees its records, and that deleting another one does not.
func TestLiveCacheForgetsDeletedSnapshots(t *testing.T) {
	h := newHarness(t, WithLiveCache())
	g := loadGenerated(t, 50, 150, false)
	first := h.snapshot(g, KindFull)
	mutate(t, g, newRand(), 1)
	second := h.snapshot(g, KindAuto)
	cached := func() bool {
		h.engine.live.mu.Lock()
		defer h.engine.live.mu.Unlock()
		return h.engine.live.m["g1"].snapshot == second.ID
	}
	if err := h.engine.Delete(h.ctx, first.ID); err != nil || !cached() {
		t.Fatalf("after deleting the parent: %v, cached %t, want the newest still cached", err, cached())
	}
	if err := h.engine.Delete(h.ctx, second.ID); err != nil || cached() {
		t.Fatalf("after deleting the newest: %v, cached %t", err, cached())
	}
	if _, ok := h.engine.live.m["g1"]; ok {
		t.Fatal("an entry is left for a deleted snapshot")
	}
}

// TestLiveCacheSkipsRewrites checks that, with the parent's live records cached, a
// snapshot from the journal leaves out the keys it touched that the parent holds
// as they are: values written again unchanged, an edge added and removed. Without
// the cache it writes them all. Either way the snapshot restores equal.
func TestLiveCacheSkipsRewrites(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%t", cache), func(t *testing.T) {
			var opts []Option
			if cache {
				opts = append(opts, WithLiveCache())
			}
			h := newHarness(t, opts...)
			g := loadGenerated(t, 100, 300, false)
			h.snapshot(g, KindFull)
			c := content(t, g)
			var ops []graph.Op
			for _, n := range c.Nodes[:20] {
				ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
			}
			added := graph.Edge{Source: c.Nodes[0].ID, Target: c.Nodes[1].ID, Type: "passing"}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: added}, graph.Op{Kind: graph.OpDeleteEdge, Edge: added})
			changed := c.Nodes[30]
			changed.Props = map[string]any{"description": "changed"}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: changed})
			if err := g.Apply(h.ctx, ops); err != nil {
				t.Fatal(err)
			}
			row := h.snapshot(g, KindIncremental)
			m := h.manifest(row.ID)
			l := m.Layers[len(m.Layers)-1]
			want := Layer{Records: 1}
			if !cache {
				want = Layer{Records: 21, Tombstones: 1}
			}
			if row.Kind != string(KindIncremental) || l.Records != want.Records || l.Tombstones != want.Tombstones {
				t.Fatalf("%s layer with %d records and %d tombstones, want %d and %d", row.Kind, l.Records, l.Tombstones, want.Records, want.Tombstones)
			}
			h.restoreEqual(row.ID, content(t, g), false)
		})
	}
}
