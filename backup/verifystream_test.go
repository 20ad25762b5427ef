package backup

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// TestFullVerifyReadsEachSegmentOnce: a full verification of a chain reads each
// object it needs once, checking every segment as it is read, instead of reading
// the chain again for the graph's invariants.
func TestFullVerifyReadsEachSegmentOnce(t *testing.T) {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	drv := faultblob.New(memblob.New())
	e, err := New(st, blob.NewBucket(drv), WithSegmentSize(1<<10, 16<<10, 16), WithLogger(slog.New(slog.DiscardHandler)), WithEncryptionKey(key(5)))
	if err != nil {
		t.Fatal(err)
	}
	g := loadGenerated(t, 300, 900, false)
	if _, err := e.Snapshot(ctx, "g1", g, SnapshotOptions{Kind: KindFull}); err != nil {
		t.Fatal(err)
	}
	mutate(t, g, rand.New(rand.NewPCG(7, 8)), 1)
	row, err := e.Snapshot(ctx, "g1", g, SnapshotOptions{Kind: KindIncremental})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Manifest(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	var segments int
	for _, l := range m.Layers {
		segments += len(l.Segments)
	}
	if len(m.Layers) != 2 || segments < 10 {
		t.Fatalf("%d layers and %d segments, want 2 and many", len(m.Layers), segments)
	}
	drv.Reset()
	rep, err := e.Verify(ctx, row.ID, true)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if rep.Nodes != m.Nodes || rep.Edges != m.Edges {
		t.Fatalf("verify counted %d nodes and %d edges, want %d and %d", rep.Nodes, rep.Edges, m.Nodes, m.Edges)
	}
	// At most the manifest and the layers' key objects besides the segments.
	if got, limit := drv.Calls(faultblob.OpGet), segments+1+len(m.Layers); got > limit {
		t.Fatalf("full verify made %d reads for %d segments, want at most %d", got, segments, limit)
	}
}

// TestFullVerifyNamesEveryDamagedSegment damages several segments of a chain,
// nodes and edges, in both layers: a full verification names each of them, not
// only the first it meets.
func TestFullVerifyNamesEveryDamagedSegment(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 300, 900, false)
	h.snapshot(g, KindFull)
	mutate(t, g, rand.New(rand.NewPCG(7, 8)), 1)
	row := h.snapshot(g, KindIncremental)
	m := h.manifest(row.ID)
	var damaged []string
	for _, l := range m.Layers {
		for _, kind := range []string{"node", "edge"} {
			var of []Segment
			for _, s := range l.Segments {
				if s.Kind == kind {
					of = append(of, s)
				}
			}
			if len(of) == 0 {
				t.Fatalf("layer %s has no %s segment", l.Snapshot, kind)
			}
			for _, s := range []Segment{of[0], of[len(of)-1]} {
				if slices.Contains(damaged, s.Key) {
					continue
				}
				b, err := h.bucket.Get(h.ctx, s.Key)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0x04
				if err := h.bucket.Put(h.ctx, s.Key, b); err != nil {
					t.Fatal(err)
				}
				damaged = append(damaged, s.Key)
			}
		}
	}
	rep, err := h.engine.Verify(h.ctx, row.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, p := range rep.Problems {
		named = append(named, p.Object)
	}
	for _, k := range damaged {
		if !slices.Contains(named, k) {
			t.Errorf("damaged segment %s not named; problems: %+v", k, rep.Problems)
		}
	}
	if len(rep.Problems) != len(damaged) {
		t.Errorf("%d problems for %d damaged segments: %+v", len(rep.Problems), len(damaged), rep.Problems)
	}
}

// BenchmarkVerifyHeap sets the full verification beside the two-pass one it
// replaced for format 3 chains and beside restores, on one snapshot in a folder:
// the graph is dropped once snapshotted and the collector runs at GOGC=20, as
// examples/bench's heap probe does, so that peak-heap-B (the highest heap above
// the start of an operation, sampled every millisecond) is the operation's own
// working set. "restore" restores into a writer that keeps nothing;
// "restore-memgraph" into a memgraph, as examples/bench does, for its time (its
// heap holds the restored graph).
//
//	go test ./backup -run '^$' -bench VerifyHeap -benchtime 3x -args -bench.nodes 200000 -bench.edges 600000
func BenchmarkVerifyHeap(b *testing.B) {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	d, err := fileblob.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(st, blob.NewBucket(d), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	row, err := func() (*meta.Snapshot, error) {
		g := memgraph.New(memgraph.WithJournalLimit(1))
		if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Edges: *benchEdges, Seed: 1}).Replace(ctx, g); err != nil {
			return nil, err
		}
		return e.Snapshot(ctx, "g", g, SnapshotOptions{Kind: KindFull})
	}()
	if err != nil {
		b.Fatal(err)
	}
	m, err := e.Manifest(ctx, row.ID)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := e.layerKeys(ctx, m)
	if err != nil {
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	verify := func(full func(context.Context, *Manifest, [][]byte, *VerifyReport) error) func() error {
		return func() error {
			rep := &VerifyReport{OK: true}
			if err := full(ctx, m, keys, rep); err != nil {
				return err
			}
			if !rep.OK || rep.Nodes+rep.Edges != row.Records {
				return fmt.Errorf("verify: %+v", rep)
			}
			return nil
		}
	}
	runs := []struct {
		name string
		run  func() error
	}{
		{"stream", verify(e.verifyStream)},
		{"two-pass", verify(e.verifyTwoPass)},
		{"restore", func() error {
			var sink countingSink
			_, err := e.Restore(ctx, row.ID, &sink, RestoreOptions{})
			return err
		}},
		// Into a memgraph, as examples/bench restores: its heap holds the graph.
		{"restore-memgraph", func() error {
			_, err := e.Restore(ctx, row.ID, memgraph.New(memgraph.WithJournalLimit(1)), RestoreOptions{})
			return err
		}},
	}
	for _, r := range runs {
		b.Run(r.name, func(b *testing.B) {
			var peak int64
			for b.Loop() {
				p, err := peakHeap(r.run)
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, p)
			}
			b.ReportMetric(float64(peak), "peak-heap-B")
			b.ReportMetric(float64(peak)/float64(row.Records), "peak-B/record")
			reportRecords(b, row)
		})
	}
}

// countingSink is a graph.Writer that reads what a restore gives it and keeps
// nothing, so that a restore's heap is the engine's.
type countingSink struct{ records int64 }

func (s *countingSink) Replace(ctx context.Context, _ graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	for _, err := range nodes {
		if err != nil {
			return err
		}
		s.records++
	}
	for _, err := range edges {
		if err != nil {
			return err
		}
		s.records++
	}
	return ctx.Err()
}

func (s *countingSink) Apply(context.Context, []graph.Op) error {
	return errors.New("counting sink takes no changes")
}

// peakHeap runs fn and returns the highest heap (live objects and garbage not yet
// swept) above the heap before it, sampled every millisecond.
func peakHeap(fn func() error) (int64, error) {
	runtime.GC()
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		rtmetrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	base := read()
	stop, done := make(chan struct{}), make(chan int64)
	go func() {
		peak := base
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				done <- max(peak, read())
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	}()
	err := fn()
	close(stop)
	return <-done - base, err
}
