// Command bench measures graphvault against the ways a LightRAG-shaped graph is
// otherwise backed up: a plain copy of its GraphML file, zstd of a JSON-lines
// export, and restic and borg over the export folder (restic with a password,
// borg with `init -e none` and its lz4: each with its defaults).
//
//	go run ./examples/bench -nodes 200000 -edges 600000 -json out.json
//	go run ./examples/bench -source graphml -nodes 200000 -edges 600000 -json out.json
//
// With -source graphml it measures the path a LightRAG user takes instead: the graph
// is the GraphML file LightRAG keeps, which graphvault reads and writes through
// store/lightrag as examples/lightrag does and restic backs up and restores as it
// is. Steps: full, unchanged (the same file again: graphvault compares the file's
// stamp with the one the full snapshot recorded and takes no snapshot), incremental
// (1% of the nodes and edges changed and the file rewritten whole, in place, as
// NetworkX writes it) and restore (to a GraphML file, compared with the source byte
// for byte: a wrong restore fails the run).
//
// It builds a generated graph in a memgraph, then times a full snapshot, an
// incremental snapshot after 1% of the nodes and edges changed, a restore into a
// fresh memgraph (compared with the source: a wrong restore fails the run) and a
// full verify, beside `restic check --read-data` and `borg check --verify-data`.
// The peers run on the same graph exported once, each only when its program is on
// PATH; the others are listed as skipped. Everything is written below
// a temporary directory, removed at the end unless -keep is given.
//
// With -replication-rate N it also measures journal replication: a leader graph
// takes N changes a second for -replication-duration while its journal is shipped
// to a file target, and a follower applies it as examples/replica does; the step
// "replication" reports the 99th percentile of the lag from a change's commit at
// the leader to its application at the follower, and the changes a second
// achieved (see replication.go).
//
// For every step it reports the wall time, the bytes written (new bytes in the
// bucket or repository, or the size of the output) and the peak memory: for
// graphvault the peak heap above the heap before the step, sampled every 5 ms; for
// an external program the peak resident set of the child.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// Systems and steps as they appear in the results.
const (
	sysGraphvault = "graphvault"
	sysRestic     = "restic"
	sysZstd       = "zstd"
	sysCopy       = "copy"

	stepFull        = "full"
	stepIncremental = "incremental"
	stepRestore     = "restore"
	stepVerify      = "verify"
)

// peers are the external programs compared with, in the order they run.
var peers = []string{sysRestic, sysBorg, sysZstd}

// sampleInterval is how often the heap is sampled during a graphvault step.
const sampleInterval = 5 * time.Millisecond

// Result is one measured step of one system.
type Result struct {
	System        string  `json:"system"`
	Step          string  `json:"step"`
	Seconds       float64 `json:"seconds"`
	BytesWritten  int64   `json:"bytes_written"`
	PeakHeapBytes int64   `json:"peak_heap_bytes"`
	Rate          float64 `json:"rate,omitempty"` // the replication step's changes a second
}

// Report is what a run measured; it is written as the -json file.
type Report struct {
	Nodes   int      `json:"nodes"`
	Edges   int      `json:"edges"`
	Results []Result `json:"results"`
	Skipped []string `json:"skipped"`
}

// find returns the result of system and step, if measured.
func (r *Report) find(system, step string) (Result, bool) {
	for _, x := range r.Results {
		if x.System == system && x.Step == step {
			return x, true
		}
	}
	return Result{}, false
}

// config is what one run does.
type config struct {
	nodes, edges int
	seed         uint64
	change       float64  // fraction of nodes and of edges changed before the incremental step
	dir          string   // parent of the temporary directory; "" for the system default
	keep         bool     // keep the temporary directory
	skip         []string // peers not to run even when installed
	cpuProfile   string   // per graphvault step CPU profiles, named from this path
	memProfile   string   // per graphvault step heap profiles, named from this path
	probe        bool     // measure the engine's heap apart in a child process (see probe.go)
	compression  backup.Compression
	dropBehind   bool   // open the bucket with fileblob.DropBehind
	source       string // sourceMemory or sourceGraphML
	// compareGenerator: the source graph is dropped before the restore and the
	// restored graph compared with the generator, so that a large run does not
	// hold two graphs.
	compareGenerator bool
	log              io.Writer

	replicationRate     int           // changes a second of the replication step; 0: no step
	replicationDuration time.Duration // how long the leader takes them
}

// details are figures a run keeps beside the report, for the summary.
type details struct {
	dir            string
	records        int64
	restoreChecked bool             // the restored graph was compared with the source
	fromGenerator  bool             // ... with the generated graph, by fingerprints
	live           map[string]int64 // graphvault step → peak live heap above the start
	retained       map[string]int64 // graphvault step → heap still held after the step
	gcs            map[string]uint64
	rowBytes       map[string]int64   // graphvault step → bytes new according to the snapshot row
	cpu            map[string]float64 // "system/step" → CPU seconds, user and system
	versions       map[string]string
	probe          []probeStep     // the engine's heap measured apart, when run
	source         string          // sourceMemory or sourceGraphML
	journal        map[string]bool // graphvault step → the snapshot followed the file's journal
	replication    *replicationRun // the replication step, when run
}

func main() {
	var (
		c        config
		jsonPath string
		skip     string
		probeDir string
		probeIn  [2]string
		level    string
	)
	flag.IntVar(&c.nodes, "nodes", 200000, "number of nodes")
	flag.IntVar(&c.edges, "edges", 600000, "number of edges")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the generated graph and of the change")
	flag.Float64Var(&c.change, "change", 0.01, "fraction of nodes and of edges changed before the incremental snapshot")
	flag.StringVar(&jsonPath, "json", "", "write the results as JSON to this file")
	flag.StringVar(&c.dir, "dir", "", "make the temporary directory in this directory")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory")
	flag.StringVar(&skip, "skip", "", "comma-separated peers not to run (restic, borg, zstd, copy); with all four and -probe=false, no export is made")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile per graphvault step (FILE becomes FILE.<step>)")
	flag.StringVar(&c.memProfile, "memprofile", "", "write heap profiles before and after each graphvault step (FILE.<step>-before, FILE.<step>)")
	flag.StringVar(&level, "compression", "fast", "graphvault's compression level: fast, small or smallest")
	flag.BoolVar(&c.dropBehind, "drop-behind", false, "open graphvault's bucket with fileblob.DropBehind: written objects leave the page cache")
	flag.BoolVar(&c.compareGenerator, "compare-generator", false, "drop the graph before the restore and compare the restored graph with the generator's (for scales where two graphs do not fit in memory)")
	flag.BoolVar(&c.probe, "probe", true, "also measure the engine's heap apart from the graph, in a child process (-source memory)")
	flag.StringVar(&c.source, "source", sourceMemory, "what graphvault snapshots: memory (a memgraph) or graphml (LightRAG's GraphML file, beside restic on the same file)")
	flag.IntVar(&c.replicationRate, "replication-rate", 0, "also measure journal replication: a leader taking N changes a second, a follower shipping its journal (0: not measured)")
	flag.DurationVar(&c.replicationDuration, "replication-duration", time.Minute, "how long the leader takes -replication-rate changes a second")
	flag.StringVar(&probeDir, "heap-probe", "", "run as the heap probe in this directory (used by the program itself)")
	flag.StringVar(&probeIn[0], "probe-base", "", "heap probe: JSON-lines export for the full snapshot")
	flag.StringVar(&probeIn[1], "probe-updated", "", "heap probe: JSON-lines export for the incremental snapshot")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if skip != "" {
		c.skip = strings.Split(skip, ",")
	}
	levels := map[string]backup.Compression{"fast": backup.CompressionFast, "small": backup.CompressionSmall, "smallest": backup.CompressionSmallest}
	var ok bool
	if c.compression, ok = levels[level]; !ok {
		fmt.Fprintf(os.Stderr, "bench: -compression %q: want fast, small or smallest\n", level)
		os.Exit(2)
	}
	c.log = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if probeDir != "" {
		err := writeFile(jsonPath, func(w io.Writer) error { return runProbe(ctx, probeIn[0], probeIn[1], probeDir, w) })
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: heap probe: %v\n", err)
			os.Exit(1)
		}
		return
	}
	rep, det, err := run(ctx, c)
	if rep != nil {
		printReport(os.Stdout, rep, det)
	}
	if err == nil && jsonPath != "" {
		err = writeJSON(jsonPath, rep)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// run builds the graph and measures every system. It returns what was measured
// so far even when it fails.
func run(ctx context.Context, c config) (*Report, *details, error) {
	if c.nodes < 0 || c.edges < 0 || c.change <= 0 || c.change > 1 {
		return nil, nil, errors.New("nodes and edges must be >= 0 and change in (0, 1]")
	}
	if c.replicationRate < 0 || c.replicationRate > 0 && c.replicationDuration <= 0 {
		return nil, nil, errors.New("-replication-rate must be >= 0, and -replication-duration positive with it")
	}
	if c.log == nil {
		c.log = io.Discard
	}
	switch c.source {
	case "":
		c.source = sourceMemory
	case sourceMemory:
	case sourceGraphML:
		// The file is the peers' input too: no export, no probe, only restic.
		c.probe = false
		c.skip = append(c.skip, sysZstd, sysCopy, sysBorg)
	default:
		return nil, nil, fmt.Errorf("-source %q: want memory or graphml", c.source)
	}
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: c.nodes, Edges: c.edges, Seed: c.seed})
	n, m := gen.Len()
	rep := &Report{Nodes: n, Edges: m, Results: []Result{}, Skipped: []string{}}
	det := &details{
		records: int64(n + m), live: map[string]int64{}, retained: map[string]int64{},
		gcs: map[string]uint64{}, rowBytes: map[string]int64{}, versions: map[string]string{},
		cpu: map[string]float64{}, source: c.source, journal: map[string]bool{},
	}

	dir, err := os.MkdirTemp(c.dir, "graphvault-bench-")
	if err != nil {
		return nil, nil, err
	}
	det.dir = dir
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	b := &bench{cfg: c, gen: gen, rep: rep, det: det, dir: dir}
	if contains(c.skip, sysCopy) {
		rep.Skipped = append(rep.Skipped, sysCopy)
	} else {
		b.peers = append(b.peers, sysCopy) // a copy needs no program
	}
	for _, p := range peers {
		switch {
		case contains(c.skip, p):
			rep.Skipped = append(rep.Skipped, p)
		default:
			if _, err := exec.LookPath(p); err != nil {
				rep.Skipped = append(rep.Skipped, p)
				continue
			}
			b.peers = append(b.peers, p)
		}
	}
	if c.source == sourceGraphML {
		err = b.runGraphML(ctx)
	} else {
		err = b.run(ctx)
	}
	if err == nil && c.replicationRate > 0 {
		err = b.replication(ctx)
	}
	if b.engine != nil {
		if cerr := b.close(); err == nil {
			err = cerr
		}
	}
	return rep, det, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

// bench holds the state of one run.
type bench struct {
	cfg   config
	gen   *graphtest.Generated
	rep   *Report
	det   *details
	dir   string
	peers []string // peers that run: the copy, and the installed programs not skipped

	g            *memgraph.Graph
	resticSource string // what restic backs up: the export folder, or the GraphML file's
	st           *meta.Store
	bucket       *blob.Bucket
	engine       *backup.Engine
}

func (b *bench) has(peer string) bool { return contains(b.peers, peer) }

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.log, "bench: "+format+"\n", args...)
}

func (b *bench) path(parts ...string) string {
	return filepath.Join(append([]string{b.dir}, parts...)...)
}

func (b *bench) add(r Result) {
	b.rep.Results = append(b.rep.Results, r)
	b.logf("%-10s %-11s %8.2fs (cpu %6.2fs) %12s written  peak %s", r.System, r.Step, r.Seconds,
		b.det.cpu[r.System+"/"+r.Step], human(r.BytesWritten), human(r.PeakHeapBytes))
}

func (b *bench) run(ctx context.Context) error {
	n, m := b.gen.Len()
	b.logf("building a graph of %d nodes and %d edges in %s", n, m, b.dir)
	start := time.Now()
	// The journal is not read by the engine: keep only the newest batch so that the
	// initial load is not held twice.
	b.g = memgraph.New(memgraph.WithJournalLimit(1))
	if err := b.gen.Replace(ctx, b.g); err != nil {
		return fmt.Errorf("build graph: %w", err)
	}
	b.logf("built in %.1fs", time.Since(start).Seconds())

	var err error
	if b.st, err = meta.Open(ctx, b.path("meta.db")); err != nil {
		return err
	}
	var bucketOpts []fileblob.Option
	if b.cfg.dropBehind {
		bucketOpts = append(bucketOpts, fileblob.DropBehind())
	}
	drv, err := fileblob.Open(b.path("bucket"), bucketOpts...)
	if err != nil {
		return err
	}
	b.bucket = blob.NewBucket(drv)
	logger := slog.New(slog.NewTextHandler(b.cfg.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if b.engine, err = backup.New(b.st, b.bucket, backup.WithLogger(logger), backup.WithCompression(b.cfg.compression)); err != nil {
		return err
	}

	// The peers back up exports of the graph, made once and not timed.
	start = time.Now()
	graphmlPath := b.path("graphml", "graph_chunk_entity_relation.graphml")
	jsonlPath := b.path("export", "graph.jsonl")
	if len(b.peers) > 0 || b.cfg.probe {
		if err := exportGraphML(ctx, b.g, graphmlPath); err != nil {
			return err
		}
		if err := exportJSONLines(ctx, b.g, jsonlPath); err != nil {
			return err
		}
		gmlSize, _ := dirSize(graphmlPath)
		jsonSize, _ := dirSize(jsonlPath)
		b.logf("exported GraphML (%s) and JSON lines (%s) in %.1fs", human(gmlSize), human(jsonSize), time.Since(start).Seconds())
	}

	if b.has(sysCopy) {
		if err := b.copyGraphML(graphmlPath); err != nil {
			return err
		}
	}
	if b.has(sysZstd) {
		if err := b.zstd(ctx, jsonlPath); err != nil {
			return err
		}
	}
	if b.has(sysRestic) {
		if err := b.resticBackup(ctx, stepFull); err != nil {
			return err
		}
	}
	if b.has(sysBorg) {
		if err := b.borgCreate(ctx, stepFull); err != nil {
			return err
		}
	}
	full, err := b.snapshot(ctx, stepFull, backup.KindFull)
	if err != nil {
		return err
	}

	// The same change for everyone: applied to the graph, then exported again. The
	// first export stays beside it for the heap probe (the new one replaces the file
	// by a rename, so a link keeps the old one).
	basePath := b.path("probe", "base.jsonl")
	if b.cfg.probe {
		if err := os.MkdirAll(filepath.Dir(basePath), 0o755); err != nil {
			return err
		}
		if err := os.Link(jsonlPath, basePath); err != nil {
			return err
		}
	}
	ops := updateOps(b.gen, b.cfg.change, b.cfg.seed)
	if err := b.g.Apply(ctx, ops); err != nil {
		return fmt.Errorf("apply change: %w", err)
	}
	b.logf("changed %d records (%.2g%%)", len(ops), 100*b.cfg.change)
	ops = nil
	if b.has(sysRestic) || b.cfg.probe {
		if err := exportJSONLines(ctx, b.g, jsonlPath); err != nil {
			return err
		}
	}
	if b.has(sysRestic) {
		if err := b.resticBackup(ctx, stepIncremental); err != nil {
			return err
		}
	}
	if b.has(sysBorg) {
		if err := b.borgCreate(ctx, stepIncremental); err != nil {
			return err
		}
	}
	inc, err := b.snapshot(ctx, stepIncremental, backup.KindIncremental)
	if err != nil {
		return err
	}
	if inc.Kind != string(backup.KindIncremental) || inc.ParentID != full.ID {
		return fmt.Errorf("second snapshot is %s with parent %q, want incremental on %s", inc.Kind, inc.ParentID, full.ID)
	}

	if b.cfg.compareGenerator {
		// Only the generator, and the change made again from its seed, stay.
		b.g = nil
		runtime.GC()
	}
	if err := b.restore(ctx, inc.ID); err != nil {
		return err
	}
	if b.has(sysRestic) {
		if err := b.resticRestore(ctx); err != nil {
			return err
		}
	}
	if b.has(sysBorg) {
		if err := b.borgExtract(ctx); err != nil {
			return err
		}
	}
	if err := b.verify(ctx, inc.ID); err != nil {
		return err
	}
	if b.has(sysRestic) {
		if err := b.resticCheck(ctx); err != nil {
			return err
		}
	}
	if b.has(sysBorg) {
		if err := b.borgCheck(ctx); err != nil {
			return err
		}
	}
	if b.cfg.probe {
		b.logf("heap probe: the engine alone, graph streamed from the exports, restore into a discarding writer")
		if b.det.probe, err = startProbe(ctx, basePath, jsonlPath, b.path("probe")); err != nil {
			return fmt.Errorf("heap probe: %w", err)
		}
		for _, p := range b.det.probe {
			b.logf("probe      %-11s %8.2fs peak %s", p.Step, p.Seconds, human(p.PeakBytes))
		}
	}
	return nil
}

func (b *bench) close() error {
	return errors.Join(b.bucket.Close(), b.st.Close())
}

// measure runs one graphvault step with the heap sampled and, when asked, CPU and
// heap profiles written.
func (b *bench) measure(step string, fn func() error) (float64, heapPeak, error) {
	if b.cfg.memProfile != "" {
		if err := writeHeapProfile(profilePath(b.cfg.memProfile, step+"-before")); err != nil {
			return 0, heapPeak{}, err
		}
	}
	settle()
	var stopCPU func()
	if b.cfg.cpuProfile != "" {
		f, err := os.Create(profilePath(b.cfg.cpuProfile, step))
		if err != nil {
			return 0, heapPeak{}, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return 0, heapPeak{}, err
		}
		stopCPU = func() { pprof.StopCPUProfile(); f.Close() }
	}
	s := startHeapSampler(sampleInterval)
	cpu0 := processCPU()
	start := time.Now()
	err := fn()
	secs := time.Since(start).Seconds()
	b.det.cpu[sysGraphvault+"/"+step] = processCPU() - cpu0
	peak := s.Stop()
	if stopCPU != nil {
		stopCPU()
	}
	if err == nil && b.cfg.memProfile != "" {
		err = writeHeapProfile(profilePath(b.cfg.memProfile, step))
	}
	b.det.live[step] = peak.Live
	b.det.gcs[step] = peak.GCs
	b.det.retained[step] = retainedHeap(s.base)
	return secs, peak, err
}

// profilePath inserts step before the extension of path: cpu.pprof → cpu.full.pprof.
func profilePath(path, step string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + step + ext
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (b *bench) snapshot(ctx context.Context, step string, kind backup.Kind) (*meta.Snapshot, error) {
	before, err := dirSize(b.path("bucket"))
	if err != nil {
		return nil, err
	}
	var row *meta.Snapshot
	secs, peak, err := b.measure(step, func() error {
		var err error
		row, err = b.engine.Snapshot(ctx, "bench", b.g, backup.SnapshotOptions{Kind: kind})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("graphvault %s snapshot: %w", step, err)
	}
	after, err := dirSize(b.path("bucket"))
	if err != nil {
		return nil, err
	}
	b.det.rowBytes[step] = row.BytesNew
	b.add(Result{System: sysGraphvault, Step: step, Seconds: secs, BytesWritten: after - before, PeakHeapBytes: peak.Alloc})
	return row, nil
}

// restore restores snapshotID into a fresh memgraph and compares it with the
// source graph, which has not changed since the snapshot.
func (b *bench) restore(ctx context.Context, snapshotID string) error {
	var dst *memgraph.Graph
	var res *backup.RestoreResult
	secs, peak, err := b.measure(stepRestore, func() error {
		dst = memgraph.New(memgraph.WithJournalLimit(1))
		var err error
		res, err = b.engine.Restore(ctx, snapshotID, dst, backup.RestoreOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("graphvault restore: %w", err)
	}
	// The restored graph is the result, not working memory: the peak reported is
	// what the restore held beyond the graph it built.
	graphHeap := b.det.retained[stepRestore]
	extra := max(peak.Alloc-graphHeap, 0)
	b.det.live[stepRestore] = max(b.det.live[stepRestore]-graphHeap, 0)
	b.add(Result{System: sysGraphvault, Step: stepRestore, Seconds: secs, PeakHeapBytes: extra})

	start := time.Now()
	if b.cfg.compareGenerator {
		want, err := fingerprint(ctx, newChangedView(b.gen, updateOps(b.gen, b.cfg.change, b.cfg.seed)))
		if err != nil {
			return fmt.Errorf("fingerprint the generated graph: %w", err)
		}
		gv, err := dst.View(ctx)
		if err != nil {
			return err
		}
		got, err := fingerprint(ctx, gv)
		gv.Close()
		if err != nil {
			return fmt.Errorf("fingerprint the restored graph: %w", err)
		}
		if got != want {
			return fmt.Errorf("restored graph differs from the generated one: %+v, want %+v", got, want)
		}
		b.det.fromGenerator = true
	} else {
		d, err := compareGraphs(ctx, b.g, dst)
		if err != nil {
			return fmt.Errorf("compare restored graph: %w", err)
		}
		if d != "" {
			return fmt.Errorf("restored graph differs from the source: %s", d)
		}
	}
	b.det.restoreChecked = true
	with := "the source"
	if b.det.fromGenerator {
		with = "the generated graph"
	}
	b.logf("restored %d nodes and %d edges, equal to %s (compared in %.1fs)", res.Nodes, res.Edges, with, time.Since(start).Seconds())
	return nil
}

func (b *bench) verify(ctx context.Context, snapshotID string) error {
	var rep *backup.VerifyReport
	secs, peak, err := b.measure(stepVerify, func() error {
		var err error
		rep, err = b.engine.Verify(ctx, snapshotID, true)
		return err
	})
	if err != nil {
		return fmt.Errorf("graphvault verify: %w", err)
	}
	if err := rep.Err(); err != nil {
		return fmt.Errorf("graphvault verify: %w", err)
	}
	if rep.Nodes+rep.Edges != b.det.records {
		return fmt.Errorf("graphvault verify: %d nodes and %d edges, want %d records", rep.Nodes, rep.Edges, b.det.records)
	}
	b.add(Result{System: sysGraphvault, Step: stepVerify, Seconds: secs, PeakHeapBytes: peak.Alloc})
	return nil
}

// copyGraphML copies the GraphML file to a backup folder, as the old system did.
func (b *bench) copyGraphML(src string) error {
	var n int64
	settle()
	s := startHeapSampler(sampleInterval)
	cpu0 := processCPU()
	start := time.Now()
	n, err := copyFile(src, b.path("copy", filepath.Base(src)))
	secs := time.Since(start).Seconds()
	b.det.cpu[sysCopy+"/"+stepFull] = processCPU() - cpu0
	peak := s.Stop()
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	b.add(Result{System: sysCopy, Step: stepFull, Seconds: secs, BytesWritten: n, PeakHeapBytes: peak.Alloc})
	return nil
}

func (b *bench) zstd(ctx context.Context, src string) error {
	out := b.path("zstd", filepath.Base(src)+".zst")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b.det.versions[sysZstd] = version(ctx, sysZstd, "--version")
	res, err := runChild(ctx, nil, sysZstd, "-T0", "-3", "-q", "-f", src, "-o", out)
	if err != nil {
		return err
	}
	size, err := dirSize(out)
	if err != nil {
		return err
	}
	b.det.cpu[sysZstd+"/"+stepFull] = res.CPU
	b.add(Result{System: sysZstd, Step: stepFull, Seconds: res.Seconds, BytesWritten: size, PeakHeapBytes: res.MaxRSS})
	return nil
}

func (b *bench) resticEnv() []string {
	return []string{
		"RESTIC_REPOSITORY=" + b.path("restic", "repo"),
		"RESTIC_PASSWORD=graphvault-bench",
		"RESTIC_CACHE_DIR=" + b.path("restic", "cache"),
		"RESTIC_PASSWORD_FILE=", "RESTIC_PASSWORD_COMMAND=", "RESTIC_REPOSITORY_FILE=",
	}
}

// resticBackup backs up the export folder; the first call initializes the
// repository (not timed).
func (b *bench) resticBackup(ctx context.Context, step string) error {
	repo := b.path("restic", "repo")
	env := b.resticEnv()
	if step == stepFull {
		b.det.versions[sysRestic] = version(ctx, sysRestic, "version")
		if _, err := runChild(ctx, env, sysRestic, "init", "-q"); err != nil {
			return err
		}
	}
	return b.peerBackup(ctx, env, sysRestic, step, repo, "backup", "-q", "--host", "bench")
}

// peerBackup runs a peer's backup command (args, then the source) as step and
// records its time, CPU, peak memory and the bytes its repository grew by.
func (b *bench) peerBackup(ctx context.Context, env []string, system, step, repo string, args ...string) error {
	before, err := dirSize(repo)
	if err != nil {
		return err
	}
	src := b.resticSource
	if src == "" {
		src = b.path("export")
	}
	res, err := runChild(ctx, env, system, append(args, src)...)
	if err != nil {
		return err
	}
	after, err := dirSize(repo)
	if err != nil {
		return err
	}
	b.det.cpu[system+"/"+step] = res.CPU
	b.add(Result{System: system, Step: step, Seconds: res.Seconds, BytesWritten: after - before, PeakHeapBytes: res.MaxRSS})
	return nil
}

func (b *bench) resticRestore(ctx context.Context) error {
	target := b.path("restic", "restored")
	res, err := runChild(ctx, b.resticEnv(), sysRestic, "restore", "latest", "-q", "--target", target)
	if err != nil {
		return err
	}
	size, err := dirSize(target)
	if err != nil {
		return err
	}
	b.det.cpu[sysRestic+"/"+stepRestore] = res.CPU
	b.add(Result{System: sysRestic, Step: stepRestore, Seconds: res.Seconds, BytesWritten: size, PeakHeapBytes: res.MaxRSS})
	return nil
}

// version returns the first line a program prints about its version, or "".
func version(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
