package backup

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// The benchmark graph's size; go test ./backup -bench Restore -args -bench.nodes
// 1000000 -bench.edges 3000000 measures at the scale of examples/bench.
var (
	benchNodes = flag.Int("bench.nodes", 20_000, "nodes in the benchmark graph")
	benchEdges = flag.Int("bench.edges", 60_000, "edges in the benchmark graph")
)

// benchEngine returns an engine on an in-memory store and bucket, and a
// LightRAG-shaped graph of -bench.nodes nodes and -bench.edges edges.
func benchEngine(b *testing.B, opts ...Option) (*Engine, *memgraph.Graph) {
	b.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e, err := New(st, blob.NewBucket(memblob.New()), append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	g := memgraph.New()
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Edges: *benchEdges, Seed: 1}).Replace(ctx, g); err != nil {
		b.Fatal(err)
	}
	return e, g
}

// benchSnapshot returns benchEngine's engine with a full snapshot of its graph.
func benchSnapshot(b *testing.B) (*Engine, *meta.Snapshot) {
	b.Helper()
	e, g := benchEngine(b)
	row, err := e.Snapshot(context.Background(), "g", g, SnapshotOptions{Kind: KindFull})
	if err != nil {
		b.Fatal(err)
	}
	return e, row
}

func reportRecords(b *testing.B, row *meta.Snapshot) {
	b.ReportMetric(float64(row.Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(row.BytesNew), "bytes-new")
}

func BenchmarkSnapshotFull(b *testing.B) {
	e, g := benchEngine(b)
	ctx := context.Background()
	var row *meta.Snapshot
	for b.Loop() {
		var err error
		if row, err = e.Snapshot(ctx, "g", g, SnapshotOptions{Kind: KindFull}); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b, row)
}

// BenchmarkSnapshotIncremental changes 1% of the nodes before each snapshot. The
// snapshot reads the changes from the graph's journal, or compares the whole
// graph with its parent: without the journal, the parent's live records come from
// its chain, or with WithLiveCache from memory. Chains are not compacted.
func BenchmarkSnapshotIncremental(b *testing.B) {
	noCompaction := WithChainPolicy(ChainPolicy{MaxLayers: 1 << 20, MaxDeltaRatio: 1 << 20})
	for _, bc := range []struct {
		name    string
		journal bool
		opts    []Option
	}{
		{"journal", true, []Option{noCompaction}},
		{"compare", false, []Option{noCompaction}},
		{"compare/live-cache", false, []Option{noCompaction, WithLiveCache()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, g := benchEngine(b, bc.opts...)
			var r graph.Reader = g
			if !bc.journal {
				r = plainReader{g}
			}
			ctx := context.Background()
			if _, err := e.Snapshot(ctx, "g", r, SnapshotOptions{Kind: KindFull}); err != nil {
				b.Fatal(err)
			}
			ids := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Seed: 1})
			round := 0
			var row *meta.Snapshot
			for b.Loop() {
				b.StopTimer()
				round++
				var ops []graph.Op
				for i := range *benchNodes / 100 {
					n, _ := g.Node(ids.NodeID((i*97 + round) % *benchNodes))
					n.Props = map[string]any{"description": fmt.Sprint("round ", round)}
					ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
				}
				if err := g.Apply(ctx, ops); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var err error
				if row, err = e.Snapshot(ctx, "g", r, SnapshotOptions{}); err != nil {
					b.Fatal(err)
				}
				if row.Kind != string(KindIncremental) {
					b.Fatalf("snapshot is %s", row.Kind)
				}
			}
			reportRecords(b, row)
		})
	}
}

func BenchmarkRestore(b *testing.B) {
	e, row := benchSnapshot(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.Restore(ctx, row.ID, memgraph.New(), RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b, row)
}

// BenchmarkRestoreChain restores an incremental snapshot of 1% of the nodes and
// edges changed, on top of a full one: the restore reads two layers, as
// examples/bench's does.
func BenchmarkRestoreChain(b *testing.B) {
	e, g := benchEngine(b)
	ctx := context.Background()
	if _, err := e.Snapshot(ctx, "g", g, SnapshotOptions{Kind: KindFull}); err != nil {
		b.Fatal(err)
	}
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Edges: *benchEdges, Seed: 1})
	var ops []graph.Op
	for i := 0; i < *benchNodes; i += 100 {
		n := gen.Node(i)
		n.Props["description"] = "changed"
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
	}
	for j := 0; j < *benchEdges; j += 100 {
		ed := gen.Edge(j)
		ed.Props["description"] = "changed"
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: ed})
	}
	if err := g.Apply(ctx, ops); err != nil {
		b.Fatal(err)
	}
	row, err := e.Snapshot(ctx, "g", g, SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if row.Kind != string(KindIncremental) {
		b.Fatalf("snapshot is %s", row.Kind)
	}
	for b.Loop() {
		if _, err := e.Restore(ctx, row.ID, memgraph.New(), RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b, row)
}

// BenchmarkSnapshotFullFolder takes each full snapshot into a fresh folder, so that
// every segment is written and made durable, as in a first backup.
func BenchmarkSnapshotFullFolder(b *testing.B) {
	_, g := benchEngine(b)
	ctx := context.Background()
	var row *meta.Snapshot
	for range b.N {
		b.StopTimer()
		st, err := meta.Open(ctx, ":memory:")
		if err != nil {
			b.Fatal(err)
		}
		d, err := fileblob.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(st, blob.NewBucket(d), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if row, err = e.Snapshot(ctx, "g", g, SnapshotOptions{Kind: KindFull}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	reportRecords(b, row)
}

// BenchmarkScanUpserted reads every record of a graph built by upserts, as a host
// builds its graph, through the full snapshot's scan: records read and encoded,
// nothing stored. Such a graph's records lie wherever the allocator put them, so
// this measures the cache misses of a scan more than BenchmarkSnapshotFull does,
// whose graph is bulk-loaded into a few large blocks.
func BenchmarkScanUpserted(b *testing.B) {
	ctx := context.Background()
	g := memgraph.New(memgraph.WithJournalLimit(1))
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 60000, Edges: 180000, Seed: 1}).Apply(ctx, g, 1000); err != nil {
		b.Fatal(err)
	}
	view, err := g.View(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer view.Close()
	var n, size int
	for b.Loop() {
		n, size = 0, 0
		err := scanRecords(ctx, view, 2, func(byte) error { return nil }, func(r *scanned) error {
			n++
			size += len(r.key) + len(r.value)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(size)/float64(n), "bytes/record")
}

// BenchmarkVerifyFull reads, hashes and checks every record of a full snapshot.
func BenchmarkVerifyFull(b *testing.B) {
	e, row := benchSnapshot(b)
	ctx := context.Background()
	for b.Loop() {
		rep, err := e.Verify(ctx, row.ID, true)
		if err != nil || !rep.OK {
			b.Fatalf("verify: %v, %+v", err, rep)
		}
	}
	reportRecords(b, row)
}
