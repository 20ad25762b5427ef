package graphml

import (
	"bufio"
	"context"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/graph"
)

// genView generates a LightRAG-like graph of n nodes and n-1 edges on the fly,
// without holding it.
type genView struct {
	n    int
	desc string
}

func newGenView(n, descLen int) *genView {
	return &genView{n: n, desc: strings.Repeat("Entity description with <tags> & text. ", descLen/40+1)[:descLen]}
}

func genID(i int) string { return "Entity " + strconv.Itoa(i) + " «x»" }

func (v *genView) Meta() graph.Meta { return graph.Meta{} }
func (v *genView) Nodes(context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for i := range v.n {
			id := genID(i)
			if !yield(graph.Node{ID: id, Props: map[string]any{
				"entity_id": id, "entity_type": "person", "description": v.desc,
				"source_id": "chunk-ca25e1b95daef467c64a9046e8200eec<SEP>chunk-" + strconv.Itoa(i),
				"file_path": "unknown_source", "created_at": int64(1751000000 + i),
			}}, nil) {
				return
			}
		}
	}
}
func (v *genView) Edges(context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for i := 0; i+1 < v.n; i++ {
			if !yield(graph.Edge{Source: genID(i), Target: genID(i + 1), Props: map[string]any{
				"weight": float64(i%10) + 0.5, "description": v.desc[:len(v.desc)/2],
				"keywords": "relation, link", "source_id": "chunk-" + strconv.Itoa(i),
			}}, nil) {
				return
			}
		}
	}
}
func (v *genView) Close() error { return nil }

// writeGenerated writes a generated graph to a file and returns its path and size.
func writeGenerated(t testing.TB, n, descLen int) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "large.graphml")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(fh, 1<<20)
	if err := Write(context.Background(), bw, newGenView(n, descLen)); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, st.Size()
}

// peakHeap runs fn while sampling the heap in use (objects plus free space in
// in-use spans, which is HeapInuse) and returns its largest growth over the value
// before fn. runtime/metrics is read without stopping the world.
func peakHeap(fn func()) uint64 {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	inuse := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	runtime.GC()
	base := inuse()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := inuse(); h > base && h-base > peak.Load() {
				peak.Store(h - base)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// countFile reads a GraphML file through a Decoder and counts its records.
func countFile(t testing.TB, path string) (nodes, edges int) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	ctx := context.Background()
	d := NewDecoder(fh)
	for _, err := range d.Nodes(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		nodes++
	}
	for _, err := range d.Edges(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		edges++
	}
	return nodes, edges
}

// TestReadHeapBounded reads a large generated file and checks that the heap grows
// by far less than the file's size: the decoder streams.
func TestReadHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a large file")
	}
	n := 30000 // about 73 MB
	if raceEnabled {
		n = 12000 // the race detector makes it slow
	}
	path, size := writeGenerated(t, n, 1000)
	var nodes, edges int
	grow := peakHeap(func() { nodes, edges = countFile(t, path) })
	if nodes != n || edges != n-1 {
		t.Fatalf("read %d nodes, %d edges; want %d, %d", nodes, edges, n, n-1)
	}
	t.Logf("file %.1f MB, peak heap growth while reading %.1f MB", float64(size)/1e6, float64(grow)/1e6)
	if grow >= uint64(size)/4 {
		t.Errorf("heap grew by %d bytes reading a %d-byte file, want < %d", grow, size, size/4)
	}
	// Writing streams too.
	grow = peakHeap(func() { writeGenerated(t, n, 1000) })
	t.Logf("peak heap growth while writing %.1f MB", float64(grow)/1e6)
	if grow >= uint64(size)/4 {
		t.Errorf("heap grew by %d bytes writing a %d-byte file, want < %d", grow, size, size/4)
	}
}

// BenchmarkWriteRead writes then reads a generated LightRAG-like graph of 200k nodes
// and 200k edges, and reports throughput, allocation per record and peak heap.
func BenchmarkWriteRead(b *testing.B) {
	const n = 200_000
	path, size := writeGenerated(b, n, 300)
	records := float64(2*n - 1)
	b.Run("write", func(b *testing.B) {
		b.SetBytes(size)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		var peak uint64
		for b.Loop() {
			peak = max(peak, peakHeap(func() {
				fh, err := os.Create(filepath.Join(b.TempDir(), "out.graphml"))
				if err != nil {
					b.Fatal(err)
				}
				if err := Write(context.Background(), fh, newGenView(n, 300)); err != nil {
					b.Fatal(err)
				}
				if err := fh.Close(); err != nil {
					b.Fatal(err)
				}
			}))
		}
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/records/float64(b.N), "alloc-B/record")
		b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
		b.ReportMetric(float64(size)/1e6, "file-MB")
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(size)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		var peak uint64
		for b.Loop() {
			peak = max(peak, peakHeap(func() { countFile(b, path) }))
		}
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/records/float64(b.N), "alloc-B/record")
		b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
		b.ReportMetric(float64(size)/1e6, "file-MB")
	})
}
