package lightrag

import (
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
	"github.com/graphvault/graphvault/store/meta"
)

var (
	benchEntities  = flag.Int("bench.entities", 2000, "entities of BenchmarkWorkdir's working directory")
	benchRelations = flag.Int("bench.relations", 6000, "relations of BenchmarkWorkdir's working directory")
	benchDim       = flag.Int("bench.dim", 1024, "embedding dimension of BenchmarkWorkdir's working directory")
)

// treeSize is the bytes of the files under dir.
func treeSize(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// timed runs fn after a sync of the file systems and returns its seconds.
func timed(b *testing.B, fn func() error) float64 {
	b.Helper()
	syscall.Sync()
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start).Seconds()
}

// BenchmarkWorkdir snapshots a generated LightRAG working directory with
// graphvault and with restic: the full snapshot, an incremental one after 1% of
// the entries of every store changed, and a restore of it (checked byte for
// byte). Run it once:
//
//	go test ./store/lightrag -run '^$' -bench Workdir -benchtime 1x \
//	  -bench.entities 20000 -bench.relations 60000 -bench.dim 1024
func BenchmarkWorkdir(b *testing.B) {
	restic, err := exec.LookPath("restic")
	if err != nil {
		b.Skip("restic is not installed")
	}
	ctx := b.Context()
	tmp := b.TempDir()
	dir := filepath.Join(tmp, "rag_storage")
	w := lightragtest.New(lightragtest.Options{Seed: 1, Docs: *benchEntities / 20, Entities: *benchEntities, Relations: *benchRelations, Dim: *benchDim})
	if err := w.Write(dir); err != nil {
		b.Fatal(err)
	}
	size := treeSize(b, dir)

	st, err := meta.Open(ctx, filepath.Join(tmp, "graphvault.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bucketDir := filepath.Join(tmp, "bucket")
	drv, err := fileblob.Open(bucketDir)
	if err != nil {
		b.Fatal(err)
	}
	engine, err := backup.New(st, blob.NewBucket(drv), backup.WithLogger(slog.New(slog.DiscardHandler)), backup.WithLiveCache())
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(dir, WithScratch(tmp))
	if err != nil {
		b.Fatal(err)
	}
	repo := filepath.Join(tmp, "restic")
	resticCmd := func(args ...string) error {
		cmd := exec.CommandContext(ctx, restic, append([]string{"-r", repo, "--quiet"}, args...)...)
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=bench", "RESTIC_CACHE_DIR="+filepath.Join(tmp, "restic-cache"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("restic %v: %v\n%s", args, err, out)
		}
		return nil
	}
	if err := resticCmd("init"); err != nil {
		b.Fatal(err)
	}

	var gvSnap *meta.Snapshot
	gvFull := timed(b, func() (err error) {
		gvSnap, err = engine.Snapshot(ctx, "rag_storage", d, backup.SnapshotOptions{})
		return err
	})
	gvFullBytes := treeSize(b, bucketDir)
	rsFull := timed(b, func() error { return resticCmd("backup", dir) })
	rsFullBytes := treeSize(b, repo)

	// 1% of the entries of every store change, as LightRAG's inserts change them.
	counts := map[string]int{
		lightragtest.StoreGraph: len(w.Nodes) + *benchRelations, lightragtest.StoreEntities: len(w.Nodes),
		lightragtest.StoreRelations: *benchRelations, lightragtest.StoreVChunks: len(w.KV[lightragtest.StoreChunks].Keys),
	}
	for _, s := range []string{lightragtest.StoreFullDocs, lightragtest.StoreChunks, lightragtest.StoreCache, lightragtest.StoreDocStatus} {
		counts[s] = len(w.KV[s].Keys)
	}
	for _, s := range lightragtest.Stores {
		w.Mutate(s, max(1, counts[s]/100))
	}
	if err := w.Write(dir); err != nil {
		b.Fatal(err)
	}
	gvIncr := timed(b, func() (err error) {
		gvSnap, err = engine.Snapshot(ctx, "rag_storage", d, backup.SnapshotOptions{})
		return err
	})
	gvIncrBytes := treeSize(b, bucketDir) - gvFullBytes
	rsIncr := timed(b, func() error { return resticCmd("backup", dir) })
	rsIncrBytes := treeSize(b, repo) - rsFullBytes

	out := filepath.Join(tmp, "restored")
	gvRestore := timed(b, func() error {
		r, err := New(out, WithScratch(tmp))
		if err != nil {
			return err
		}
		_, err = engine.Restore(ctx, gvSnap.ID, r, backup.RestoreOptions{})
		return err
	})
	if err := compareTrees(dir, out); err != nil {
		b.Fatal(err)
	}
	rsOut := filepath.Join(tmp, "restic-restored")
	rsRestore := timed(b, func() error { return resticCmd("restore", "latest", "--target", rsOut) })

	if gvSnap.Kind != "incremental" || float64(gvIncrBytes) > 0.03*float64(gvFullBytes) {
		b.Errorf("incremental after 1%%: %s, %d bytes; the full took %d", gvSnap.Kind, gvIncrBytes, gvFullBytes)
	}
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	b.ReportMetric(gvFull, "full-s")
	b.ReportMetric(mib(gvFullBytes), "full-MiB")
	b.ReportMetric(gvIncr, "incr-s")
	b.ReportMetric(mib(gvIncrBytes), "incr-MiB")
	b.ReportMetric(gvRestore, "restore-s")
	b.ReportMetric(rsFull, "restic-full-s")
	b.ReportMetric(mib(rsFullBytes), "restic-full-MiB")
	b.ReportMetric(rsIncr, "restic-incr-s")
	b.ReportMetric(mib(rsIncrBytes), "restic-incr-MiB")
	b.ReportMetric(rsRestore, "restic-restore-s")
	b.Logf("working directory: %.1f MiB, %d entities, %d relations, dim %d", mib(size), len(w.Nodes), *benchRelations, *benchDim)
	b.Logf("| full snapshot | %.2f s, %.1f MiB stored | %.2f s, %.1f MiB |", gvFull, mib(gvFullBytes), rsFull, mib(rsFullBytes))
	b.Logf("| incremental, 1%% changed | %.2f s, %.2f MiB (%.2f%% of full) | %.2f s, %.2f MiB |", gvIncr, mib(gvIncrBytes), 100*float64(gvIncrBytes)/float64(gvFullBytes), rsIncr, mib(rsIncrBytes))
	b.Logf("| restore | %.2f s | %.2f s |", gvRestore, rsRestore)
}

// compareTrees fails unless the two trees hold the same files with the same bytes.
func compareTrees(want, got string) error {
	return filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		g, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			return err
		}
		if string(a) != string(g) {
			return fmt.Errorf("%s: restored bytes differ", rel)
		}
		return nil
	})
}

var (
	benchFileNodes = flag.Int("bench.filenodes", 20000, "nodes of BenchmarkFileRestore's GraphML file")
	benchFileEdges = flag.Int("bench.fileedges", 60000, "edges of BenchmarkFileRestore's GraphML file")
)

// BenchmarkFileRestore restores a snapshot of one generated GraphML file (taken
// through a File, as examples/lightrag takes it) into a Dir, checks it byte for
// byte, and reports the restore's seconds and its peak heap above the heap
// before it (sampled every 5 ms). Run it once:
//
//	go test ./store/lightrag -run '^$' -bench FileRestore -benchtime 1x -benchmem \
//	  -bench.filenodes 200000 -bench.fileedges 600000
func BenchmarkFileRestore(b *testing.B) {
	ctx := b.Context()
	tmp := b.TempDir()
	src := filepath.Join(tmp, "src", graphFileName)
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		b.Fatal(err)
	}
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchFileNodes, Edges: *benchFileEdges, Seed: 1})
	view, err := gen.View(ctx)
	if err != nil {
		b.Fatal(err)
	}
	out, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := graphml.Write(ctx, out, view); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := meta.Open(ctx, filepath.Join(tmp, "graphvault.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	drv, err := fileblob.Open(filepath.Join(tmp, "bucket"))
	if err != nil {
		b.Fatal(err)
	}
	engine, err := backup.New(st, blob.NewBucket(drv), backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	snap, err := engine.Snapshot(ctx, "file", NewFile(src, filepath.Join(tmp, "index")), backup.SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	restored := filepath.Join(tmp, "restored", graphFileName)
	var peak uint64
	var secs float64
	for b.Loop() {
		os.Remove(restored)
		runtime.GC()
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(samples)
		base := samples[0].Value.Uint64()
		stop, done := make(chan struct{}), make(chan uint64)
		go func() {
			high := base
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				metrics.Read(samples)
				high = max(high, samples[0].Value.Uint64())
				select {
				case <-stop:
					done <- high
					return
				case <-t.C:
				}
			}
		}()
		secs += timed(b, func() error {
			d, err := New(restored)
			if err != nil {
				return err
			}
			if _, err := engine.Restore(ctx, snap.ID, d, backup.RestoreOptions{}); err != nil {
				return err
			}
			if re := d.LastRestore().Reencoded; len(re) > 0 {
				return fmt.Errorf("re-encoded %v", re)
			}
			return nil
		})
		close(stop)
		peak = max(peak, <-done-base)
	}
	if err := compareTrees(filepath.Dir(src), filepath.Dir(restored)); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(secs/float64(b.N), "restore-s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.Logf("%d nodes, %d edges, %.1f MiB", *benchFileNodes, *benchFileEdges, float64(fi.Size())/(1<<20))
}
