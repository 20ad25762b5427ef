package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// The heap probe measures the engine's own working set, apart from the graph it
// reads and the graph it builds. In the main run the memgraph holds the whole
// graph on the heap, so the garbage collector lets garbage grow to about the size
// of the graph before it collects: the heap peak there is mostly slack. The probe
// is this program started again with -heap-probe: it reads the graph streamed from
// the JSON-lines exports, collects garbage often (the heap is small) and restores
// into a writer that drops what it is given.

// probeGCPercent keeps the probe's heap close to its live data.
const probeGCPercent = 20

// probeStep is one step measured by the probe.
type probeStep struct {
	Step      string  `json:"step"`
	Seconds   float64 `json:"seconds"`
	PeakBytes int64   `json:"peak_bytes"`
}

// runProbe snapshots base (full), then updated (incremental), restores the latest
// snapshot and verifies it in full, all into a fresh store and bucket below dir,
// and writes the steps as JSON to w.
func runProbe(ctx context.Context, base, updated, dir string, w io.Writer) error {
	defer debug.SetGCPercent(debug.SetGCPercent(probeGCPercent))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	st, err := meta.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	drv, err := fileblob.Open(filepath.Join(dir, "bucket"))
	if err != nil {
		return err
	}
	bucket := blob.NewBucket(drv)
	defer bucket.Close()
	engine, err := backup.New(st, bucket)
	if err != nil {
		return err
	}
	var steps []probeStep
	measure := func(step string, fn func() error) error {
		s := startHeapSampler(sampleInterval)
		start := time.Now()
		err := fn()
		secs := time.Since(start).Seconds()
		peak := s.Stop()
		steps = append(steps, probeStep{Step: step, Seconds: secs, PeakBytes: peak.Alloc})
		return err
	}
	var row *meta.Snapshot
	if err := measure(stepFull, func() error {
		row, err = engine.Snapshot(ctx, "probe", jsonLines(base), backup.SnapshotOptions{Kind: backup.KindFull})
		return err
	}); err != nil {
		return fmt.Errorf("full snapshot: %w", err)
	}
	if err := measure(stepIncremental, func() error {
		row, err = engine.Snapshot(ctx, "probe", jsonLines(updated), backup.SnapshotOptions{Kind: backup.KindIncremental})
		return err
	}); err != nil {
		return fmt.Errorf("incremental snapshot: %w", err)
	}
	var sink discardWriter
	if err := measure(stepRestore, func() error {
		_, err := engine.Restore(ctx, row.ID, &sink, backup.RestoreOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if sink.records != row.Records {
		return fmt.Errorf("restore: %d records, want %d", sink.records, row.Records)
	}
	if err := measure(stepVerify, func() error {
		rep, err := engine.Verify(ctx, row.ID, true)
		if err == nil {
			err = rep.Err()
		}
		return err
	}); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return json.NewEncoder(w).Encode(steps)
}

// startProbe runs the probe in a child process and returns its steps.
func startProbe(ctx context.Context, base, updated, dir string) ([]probeStep, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	out, err := os.CreateTemp(dir, "probe-*.json")
	if err != nil {
		return nil, err
	}
	out.Close()
	if _, err := runChild(ctx, nil, exe, "-heap-probe", dir, "-probe-base", base, "-probe-updated", updated, "-json", out.Name()); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		return nil, err
	}
	var steps []probeStep
	if err := json.Unmarshal(b, &steps); err != nil {
		return nil, fmt.Errorf("heap probe output: %w", err)
	}
	return steps, nil
}

// discardWriter is a graph.Writer that counts what Replace gives it and keeps nothing.
type discardWriter struct{ records int64 }

func (d *discardWriter) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	for _, err := range nodes {
		if err != nil {
			return err
		}
		d.records++
	}
	for _, err := range edges {
		if err != nil {
			return err
		}
		d.records++
	}
	return ctx.Err()
}

func (d *discardWriter) Apply(context.Context, []graph.Op) error {
	return errors.New("bench: discard writer takes no changes")
}

// jsonLines is a graph.Reader over a JSON-lines export, read as it is streamed.
type jsonLines string

func (p jsonLines) View(ctx context.Context) (graph.View, error) {
	if _, err := os.Stat(string(p)); err != nil {
		return nil, err
	}
	return jsonView{path: string(p)}, nil
}

type jsonView struct{ path string }

func (v jsonView) Meta() graph.Meta { return graph.Meta{} }
func (v jsonView) Close() error     { return nil }

var nodeLine = []byte(`{"kind":"node"`)

// lines yields the records of the file of one kind.
func (v jsonView) lines(ctx context.Context, nodes bool, yield func(jsonRecord, error) bool) {
	f, err := os.Open(v.path)
	if err != nil {
		yield(jsonRecord{}, err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for i := 0; sc.Scan(); i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			yield(jsonRecord{}, ctx.Err())
			return
		}
		isNode := bytes.HasPrefix(sc.Bytes(), nodeLine)
		if isNode != nodes {
			if nodes {
				return // nodes come first
			}
			continue
		}
		var r jsonRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			yield(jsonRecord{}, err)
			return
		}
		if !yield(r, nil) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		yield(jsonRecord{}, err)
	}
}

func (v jsonView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		v.lines(ctx, true, func(r jsonRecord, err error) bool {
			return yield(graph.Node{ID: r.ID, Labels: r.Labels, Props: r.Props}, err)
		})
	}
}

func (v jsonView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		v.lines(ctx, false, func(r jsonRecord, err error) bool {
			return yield(graph.Edge{Source: r.Source, Target: r.Target, Type: r.Type, Props: r.Props}, err)
		})
	}
}
