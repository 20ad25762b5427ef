package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag"
	"github.com/graphvault/graphvault/store/meta"
)

// Sources of the graph graphvault snapshots.
const (
	sourceMemory  = "memory"  // a memgraph built from the generated graph
	sourceGraphML = "graphml" // the GraphML file LightRAG keeps, as examples/lightrag reads it
)

// phasesMu guards the phases a snapshot reports (from several goroutines).
var phasesMu sync.Mutex

// stepUnchanged snapshots the GraphML file again, unchanged.
const stepUnchanged = "unchanged"

// graphmlName is the file LightRAG's default graph storage keeps.
const graphmlName = "graph_chunk_entity_relation.graphml"

// labelStamp and labelSum are the snapshot labels holding the file's stamp and
// SHA-256, as examples/lightrag records them.
const (
	labelStamp = "stamp"
	labelSum   = "sha256"
)

// racyWindow: a stamp recorded sooner than this after the file's last change is
// not trusted (examples/lightrag's rule).
const racyWindow = 2 * time.Second

// runGraphML measures the path a LightRAG user takes: the graph is the GraphML file,
// read and written through store/lightrag as examples/lightrag does, and restic backs
// up and restores that same file. Steps: full; unchanged (the same file again: a
// stat against the stamp the full snapshot recorded, no new snapshot); incremental
// (a fraction of the nodes and edges changed and the file rewritten whole in place,
// as NetworkX writes it); restore to a GraphML file, compared with the source byte
// for byte.
func (b *bench) runGraphML(ctx context.Context) error {
	n, m := b.gen.Len()
	path := b.path("graphml", graphmlName)
	b.logf("writing a GraphML file of %d nodes and %d edges in %s", n, m, b.dir)
	start := time.Now()
	if err := writeFile(path, func(w io.Writer) error { return graphml.Write(ctx, w, genView{b.gen}) }); err != nil {
		return fmt.Errorf("write graphml: %w", err)
	}
	size, _ := dirSize(path)
	b.logf("wrote %s in %.1fs", human(size), time.Since(start).Seconds())

	var err error
	if b.st, err = meta.Open(ctx, b.path("meta.db")); err != nil {
		return err
	}
	drv, err := fileblob.Open(b.path("bucket"))
	if err != nil {
		return err
	}
	b.bucket = blob.NewBucket(drv)
	logger := slog.New(slog.NewTextHandler(b.cfg.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if b.engine, err = backup.New(b.st, b.bucket, backup.WithLogger(logger), backup.WithCompression(b.cfg.compression)); err != nil {
		return err
	}
	restic := b.has(sysRestic)
	b.resticSource = filepath.Dir(path)

	if restic {
		if err := b.resticBackup(ctx, stepFull); err != nil {
			return err
		}
	}
	full, err := b.fileSnapshot(ctx, stepFull, path, nil)
	if err != nil {
		return err
	}
	if restic {
		if err := b.resticBackup(ctx, stepUnchanged); err != nil {
			return err
		}
	}
	same, err := b.fileSnapshot(ctx, stepUnchanged, path, full)
	if err != nil {
		return err
	}
	if same.ID != full.ID {
		return fmt.Errorf("the unchanged file got a new snapshot %s", same.ID)
	}

	// LightRAG's change: records changed, the whole file rewritten in place.
	ops := updateOps(b.gen, b.cfg.change, b.cfg.seed)
	changed := newChangedView(b.gen, ops)
	b.logf("changed %d records (%.2g%%); rewriting the file in place", len(ops), 100*b.cfg.change)
	if err := rewriteInPlace(ctx, path, changed); err != nil {
		return err
	}
	if restic {
		if err := b.resticBackup(ctx, stepIncremental); err != nil {
			return err
		}
	}
	inc, err := b.fileSnapshot(ctx, stepIncremental, path, full)
	if err != nil {
		return err
	}
	if inc.Kind != string(backup.KindIncremental) || inc.ParentID != full.ID {
		return fmt.Errorf("second snapshot is %s with parent %q, want incremental on %s", inc.Kind, inc.ParentID, full.ID)
	}

	out := b.path("restored", graphmlName)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	secs, peak, err := b.measure(stepRestore, func() error {
		d, err := lightrag.New(out)
		if err != nil {
			return err
		}
		if _, err := b.engine.Restore(ctx, inc.ID, d, backup.RestoreOptions{}); err != nil {
			return err
		}
		if re := d.LastRestore().Reencoded; len(re) > 0 {
			return fmt.Errorf("the restore re-encoded %v", re)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("graphvault restore: %w", err)
	}
	outSize, _ := dirSize(out)
	b.add(Result{System: sysGraphvault, Step: stepRestore, Seconds: secs, BytesWritten: outSize, PeakHeapBytes: peak.Alloc})
	if restic {
		if err := b.resticRestore(ctx); err != nil {
			return err
		}
	}
	start = time.Now()
	want, err := hashFile(path)
	if err != nil {
		return fmt.Errorf("hash the source: %w", err)
	}
	got, err := hashFile(out)
	if err != nil {
		return fmt.Errorf("hash the restored file: %w", err)
	}
	if got != want {
		return fmt.Errorf("the restored file's SHA-256 is %.12s, the source's %.12s", got, want)
	}
	b.det.restoreChecked = true
	b.logf("restored the file, byte for byte the source (compared in %.1fs)", time.Since(start).Seconds())
	return nil
}

// fileSnapshot is what examples/lightrag's snapshot does with a file, timed: with
// the latest snapshot given, a file whose stamp is the one it recorded is unchanged
// (a stat, and the latest snapshot is returned); otherwise the file is hashed, and
// unless its SHA-256 is the latest snapshot's, snapshotted through a chunked
// lightrag.File (the file's own bytes in pieces, a rewritten file as patches of
// the pieces whose elements changed, no element decoded) with its stamp and
// hash recorded. examples/lightrag copies the file aside while hashing
// it, for a file LightRAG may be writing; here nothing writes it, and the copy is
// left out.
func (b *bench) fileSnapshot(ctx context.Context, step, path string, latest *meta.Snapshot) (*meta.Snapshot, error) {
	before, err := dirSize(b.path("bucket"))
	if err != nil {
		return nil, err
	}
	var row *meta.Snapshot
	secs, peak, err := b.measure(step, func() error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		st := fileStamp(fi)
		if latest != nil {
			rec, readAt, ok := strings.Cut(latest.Labels[labelStamp], ";read=")
			ns, perr := strconv.ParseInt(readAt, 10, 64)
			read := time.Unix(0, ns)
			if ok && perr == nil && rec == st && read.Sub(fi.ModTime()) >= racyWindow && read.Sub(changeTime(fi)) >= racyWindow {
				row = latest
				return nil
			}
		}
		// The stamp moved, or is too close to the file's last change to be
		// trusted: the content decides.
		sum, err := hashFile(path)
		if err != nil {
			return err
		}
		if latest != nil && latest.Labels[labelSum] == sum {
			row = latest
			return nil
		}
		labels := map[string]string{labelSum: sum, labelStamp: st + ";read=" + strconv.FormatInt(time.Now().UnixNano(), 10)}
		index := b.path("index", "graph.index")
		if err := os.MkdirAll(filepath.Dir(index), 0o755); err != nil {
			return err
		}
		phases := map[string]bool{}
		row, err = b.engine.Snapshot(ctx, "bench", lightrag.NewFile(path, index, lightrag.Chunked()), backup.SnapshotOptions{
			Labels:   labels,
			Progress: func(p backup.Progress) { phasesMu.Lock(); phases[p.Phase] = true; phasesMu.Unlock() },
		})
		phasesMu.Lock()
		b.det.journal[step] = phases["journal"]
		phasesMu.Unlock()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("graphvault %s snapshot: %w", step, err)
	}
	after, err := dirSize(b.path("bucket"))
	if err != nil {
		return nil, err
	}
	if row != latest {
		b.det.rowBytes[step] = row.BytesNew
	}
	b.add(Result{System: sysGraphvault, Step: step, Seconds: secs, BytesWritten: after - before, PeakHeapBytes: peak.Alloc})
	return row, nil
}

// fileStamp is examples/lightrag's stamp: size, modification and change times, inode.
func fileStamp(fi fs.FileInfo) string {
	var ino uint64
	var ctime int64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino, ctime = st.Ino, st.Ctim.Nano()
	}
	return fmt.Sprintf("size=%d,mtime=%d,ctime=%d,ino=%d", fi.Size(), fi.ModTime().UnixNano(), ctime, ino)
}

// hashFile returns the hex SHA-256 of a file's content.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// changeTime is the file's change time, or its modification time where not read.
func changeTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(0, st.Ctim.Nano())
	}
	return fi.ModTime()
}

// rewriteInPlace writes the view over path as NetworkX does: the same file
// truncated and written again.
func rewriteInPlace(ctx context.Context, path string, v graph.View) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if err := graphml.Write(ctx, f, v); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// genView is the generated graph as a view, streamed.
type genView struct{ gen *graphtest.Generated }

func (v genView) Meta() graph.Meta                                   { return v.gen.Meta() }
func (v genView) Nodes(context.Context) iter.Seq2[graph.Node, error] { return v.gen.Nodes() }
func (v genView) Edges(context.Context) iter.Seq2[graph.Edge, error] { return v.gen.Edges() }
func (v genView) Close() error                                       { return nil }

// changedView is the generated graph with the records of upsert ops in place of
// the generated ones, in the same order.
type changedView struct {
	gen   *graphtest.Generated
	nodes map[string]graph.Node
	edges map[string]graph.Edge
}

func newChangedView(gen *graphtest.Generated, ops []graph.Op) *changedView {
	v := &changedView{gen: gen, nodes: map[string]graph.Node{}, edges: map[string]graph.Edge{}}
	directed := gen.Meta().Directed
	for _, op := range ops {
		switch op.Kind {
		case graph.OpUpsertNode:
			v.nodes[op.Node.ID] = op.Node
		case graph.OpUpsertEdge:
			v.edges[op.Edge.Key(directed)] = op.Edge
		}
	}
	return v
}

func (v *changedView) Meta() graph.Meta { return v.gen.Meta() }
func (v *changedView) Close() error     { return nil }

func (v *changedView) Nodes(context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for n, err := range v.gen.Nodes() {
			if c, ok := v.nodes[n.ID]; ok && err == nil {
				n = c
			}
			if !yield(n, err) {
				return
			}
		}
	}
}

func (v *changedView) Edges(context.Context) iter.Seq2[graph.Edge, error] {
	directed := v.gen.Meta().Directed
	return func(yield func(graph.Edge, error) bool) {
		for e, err := range v.gen.Edges() {
			if c, ok := v.edges[e.Key(directed)]; ok && err == nil {
				e = c
			}
			if !yield(e, err) {
				return
			}
		}
	}
}
