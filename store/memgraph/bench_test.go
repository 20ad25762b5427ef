package memgraph_test

import (
	"flag"
	"runtime"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

// The graph size of the benchmarks. The defaults keep `go test -bench .` quick;
// for the full size run
//
//	go test -run '^$' -bench . -benchtime 1x ./store/memgraph -args -bench.nodes 1000000 -bench.edges 3000000
var (
	benchNodes = flag.Int("bench.nodes", 20_000, "nodes in the benchmark graph")
	benchEdges = flag.Int("bench.edges", 60_000, "edges in the benchmark graph")
)

const benchBatch = 1000

func benchGen() *graphtest.Generated {
	return graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Edges: *benchEdges, Seed: 1})
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkUpsert loads the graph in batches of 1000 upserts into an empty graph
// and reports upserted records per second and the graph's heap per record.
func BenchmarkUpsert(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []memgraph.Option
	}{
		{"journal=all", nil},
		{"journal=1", []memgraph.Option{memgraph.WithJournalLimit(1)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			gen := benchGen()
			nodes, edges := gen.Len()
			records := nodes + edges
			var perRecord float64
			for range b.N {
				b.StopTimer()
				base := heapAlloc()
				var batches [][]graph.Op
				for ops := range gen.Ops(benchBatch) {
					batches = append(batches, ops)
				}
				g := memgraph.New(bc.opts...)
				b.StartTimer()
				for _, ops := range batches {
					if err := g.Apply(b.Context(), ops); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				batches = nil
				perRecord = float64(heapAlloc()-base) / float64(records)
				runtime.KeepAlive(g)
				b.StartTimer()
			}
			b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(perRecord, "B/record")
		})
	}
}

// BenchmarkScan reads every node and edge of a view of the graph and reports
// records read per second.
func BenchmarkScan(b *testing.B) {
	gen := benchGen()
	base := heapAlloc()
	g := memgraph.New(memgraph.WithJournalLimit(1))
	if err := gen.Replace(b.Context(), g); err != nil {
		b.Fatal(err)
	}
	nodes, edges := g.Len()
	records := nodes + edges
	perRecord := float64(heapAlloc()-base) / float64(records)
	b.ResetTimer()
	for range b.N {
		v, err := g.View(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range v.Nodes(b.Context()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		for _, err := range v.Edges(b.Context()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		v.Close()
		if n != records {
			b.Fatalf("scanned %d records, want %d", n, records)
		}
	}
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(perRecord, "B/record")
}

// BenchmarkApplyWhileViewing applies single-upsert batches to a loaded graph,
// opening a view before each: the cost of copy-on-write after a view.
func BenchmarkApplyWhileViewing(b *testing.B) {
	gen := benchGen()
	g := memgraph.New(memgraph.WithJournalLimit(1000))
	if err := gen.Replace(b.Context(), g); err != nil {
		b.Fatal(err)
	}
	nodes, _ := gen.Len()
	b.ResetTimer()
	for i := range b.N {
		v, err := g.View(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		n := gen.Node(i % nodes)
		if err := g.Apply(b.Context(), []graph.Op{{Kind: graph.OpUpsertNode, Node: n}}); err != nil {
			b.Fatal(err)
		}
		v.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReplaceEncoded loads the graph's records, encoded, into an empty graph,
// as a restore does, and reports records loaded per second.
func BenchmarkReplaceEncoded(b *testing.B) {
	src := memgraph.New()
	gen := benchGen()
	if err := src.Replace(b.Context(), gen.Meta(), gen.Nodes(), gen.Edges()); err != nil {
		b.Fatal(err)
	}
	nodes, edges := encoded(b, src)
	for b.Loop() {
		g := memgraph.New()
		if err := g.ReplaceEncoded(b.Context(), graph.Meta{Normalized: true}, records(nodes), records(edges)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(nodes)+len(edges))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
