package backup

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/graphvault/graphvault/internal/arena"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// fetchOrdered loads objects with bounded concurrency and hands them to fn in
// order. It stops at the first error.
// fn must not keep raw: the buffer is reused once fn returns.
func (e *Engine) fetchOrdered(ctx context.Context, objs []Object, keys [][]byte, fn func(i int, raw []byte) error) error {
	free := make(chan []byte, e.cfg.workers+1)
	return fetchMapped(ctx, e, objs, keys, free, e.loadSegment, false, func(_ int, raw []byte) ([]byte, error) { return raw, nil }, func(i int, raw []byte) error {
		err := fn(i, raw)
		select {
		case free <- raw:
		default:
		}
		return err
	})
}

// fetchMapped loads objects with load and bounded concurrency, turns each into a T
// with prep in the goroutine that loaded it, and hands the results to fn in order.
// It stops at the first error. Objects are loaded into buffers taken from free
// when it has one; with releaseAfterPrep the buffer goes back to free as soon as
// prep returns, so prep must copy whatever it keeps.
func fetchMapped[T any](ctx context.Context, e *Engine, objs []Object, keys [][]byte, free chan []byte, load func(context.Context, Object, []byte, []byte) ([]byte, error), releaseAfterPrep bool, prep func(i int, raw []byte) (T, error), fn func(i int, v T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	futures := make([]chan result, len(objs))
	for i := range futures {
		futures[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, e.cfg.workers+1)
	go func() {
		for i := range objs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				var r result
				var dst []byte
				select {
				case dst = <-free: // a nil channel never gives one
				default:
				}
				raw, err := load(ctx, objs[i], keys[i], dst)
				if err != nil {
					r.err = err
				} else {
					r.v, r.err = prep(i, raw)
					if releaseAfterPrep {
						select {
						case free <- raw:
						default:
						}
					}
				}
				futures[i] <- r
			}()
		}
	}()
	for i := range objs {
		var r result
		select {
		case r = <-futures[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		err := fn(i, r.v)
		<-sem
		if err != nil {
			return err
		}
	}
	return nil
}

// kindObjects lists the segments of one kind, newest layer first, with each one's
// data key and whether it belongs to the base layer.
func kindObjects(m *Manifest, keys [][]byte, kind byte) (segs []Segment, objs []Object, objKeys [][]byte, base []bool) {
	want := "node"
	if kind == kindEdge {
		want = "edge"
	}
	for li := len(m.Layers) - 1; li >= 0; li-- {
		for _, s := range m.Layers[li].Segments {
			if s.Kind == want {
				segs = append(segs, s)
				objs = append(objs, s.Object)
				objKeys = append(objKeys, keys[li])
				base = append(base, li == 0)
			}
		}
	}
	return segs, objs, objKeys, base
}

// shadows tracks the keys met in newer layers, which hide the same keys in older
// ones. Keys of the base layer need not be remembered: nothing older follows, and
// a layer never holds a key twice (full verification checks it). A single-layer
// snapshot needs no tracking at all.
type shadows map[keyHash]struct{}

func newShadows(m *Manifest) shadows {
	if len(m.Layers) < 2 {
		return nil
	}
	var newer int64
	for _, l := range m.Layers[1:] {
		newer += l.Records + l.Tombstones
	}
	return make(shadows, sizeHint(newer, 1<<22))
}

// hidden reports whether a record is hidden by a newer one, and remembers it
// otherwise.
func (s shadows) hidden(kh keyHash, base bool) bool {
	if s == nil {
		return false
	}
	if _, dup := s[kh]; dup {
		return true
	}
	if !base {
		s[kh] = struct{}{}
	}
	return false
}

// segmentErr names the segment in a decoding error.
func segmentErr(o Object, err error) error {
	var fe formatError
	if errors.As(err, &fe) || errors.Is(err, wire.ErrCorrupt) {
		return &CorruptError{Key: o.Key, Err: err}
	}
	return err
}

// mergedRecords calls fn with every live record of one kind in the snapshot: layers
// newest first, so the first record seen for a key is its latest state; tombstones
// hide older records and are not passed on. Memory is one key hash per record.
func (e *Engine) mergedRecords(ctx context.Context, m *Manifest, keys [][]byte, kind byte, fn func(r segmentRecord) error) error {
	_, objs, objKeys, base := kindObjects(m, keys, kind)
	seen := newShadows(m)
	return e.fetchOrdered(ctx, objs, objKeys, func(i int, raw []byte) error {
		_, err := forEachRecord(raw, kind, func(r segmentRecord) error {
			if seen.hidden(r.kh, base[i]) || r.op == opTombstone {
				return nil
			}
			return fn(r)
		})
		return segmentErr(objs[i], err)
	})
}

// decoded is one record of a segment decoded ahead of use.
type decoded[T any] struct {
	kh        keyHash
	tombstone bool
	v         T
}

// mergedDecoded is mergedRecords with every record decoded by decode in the
// goroutines that load the segments, so that decoding runs beside fn instead of
// before it. It is what a restore reads. decode must copy what it keeps of the
// record, segment buffers are reused; it may copy into the arena it is given,
// which the loaders share one at a time, so that blocks fill up across segments.
//
// With checkValues, the values of columnar segments are checked as they are
// walked (see eachSegmentRecord), for a decode that would check them anyway.
func mergedDecoded[T any](ctx context.Context, e *Engine, m *Manifest, keys [][]byte, kind byte, checkValues bool, decode func(segmentRecord, *arena.Arena) (T, error), fn func(kh keyHash, v T) error) error {
	segs, objs, objKeys, base := kindObjects(m, keys, kind)
	seen := newShadows(m)
	arenas := make(chan *arena.Arena, e.cfg.workers+1)
	// Decoded records are handed over in slices that are used again, as segment
	// buffers are: a new slice per segment would be new memory to fault in for
	// every segment, beside the gigabytes a restore fills anyway.
	outs := make(chan []decoded[T], e.cfg.workers+2)
	prep := func(i int, raw []byte) ([]decoded[T], error) {
		var a *arena.Arena
		select {
		case a = <-arenas:
		default:
			a = arena.NewBulk()
		}
		defer func() {
			select {
			case arenas <- a:
			default:
			}
		}()
		// Sized by the manifest's count, bounded by what the bytes can hold.
		want := int(min(segs[i].Records, int64(len(raw)/3)+1))
		var out []decoded[T]
		select {
		case out = <-outs:
		default:
		}
		if cap(out) < want {
			out = make([]decoded[T], 0, want)
		}
		err := eachSegmentRecord(raw, kind, checkValues, func(r segmentRecord) error {
			d := decoded[T]{kh: r.kh, tombstone: r.op == opTombstone}
			if !d.tombstone {
				var err error
				if d.v, err = decode(r, a); err != nil {
					return err
				}
			}
			out = append(out, d)
			return nil
		})
		e.markIfMalformed(objs[i].Key, err)
		return out, segmentErr(objs[i], err)
	}
	return fetchMapped(ctx, e, objs, objKeys, make(chan []byte, e.cfg.workers+1), e.loadInto, true, prep, func(i int, recs []decoded[T]) error {
		for _, d := range recs {
			if seen.hidden(d.kh, base[i]) || d.tombstone {
				continue
			}
			if err := fn(d.kh, d.v); err != nil {
				return err
			}
		}
		clear(recs) // so that a slice waiting to be used keeps nothing alive
		select {
		case outs <- recs[:0]:
		default:
		}
		return nil
	})
}

func decodeNodeRecord(r segmentRecord) (graph.Node, error) {
	id := strings.Clone(r.key[len(graph.NodePrefix):])
	if err := graph.ValidateID(id); err != nil {
		return graph.Node{}, fmt.Errorf("%w: node key: %v", wire.ErrCorrupt, err)
	}
	labels, props, err := wire.DecodeNode(r.value)
	if err != nil {
		return graph.Node{}, err
	}
	for _, l := range labels {
		if err := graph.ValidateID(l); err != nil {
			return graph.Node{}, fmt.Errorf("%w: node %q label: %v", wire.ErrCorrupt, id, err)
		}
	}
	return graph.Node{ID: id, Labels: labels, Props: props}, nil
}

func decodeEdgeRecord(r segmentRecord) (graph.Edge, error) {
	// One copy of the key holds all three parts.
	kind, parts, err := graph.ParseKey(strings.Clone(r.key))
	if err != nil || kind != 'e' {
		return graph.Edge{}, fmt.Errorf("%w: bad edge key: %v", wire.ErrCorrupt, err)
	}
	props, err := wire.DecodeEdge(r.value)
	if err != nil {
		return graph.Edge{}, err
	}
	return graph.Edge{Source: parts[0], Target: parts[1], Type: parts[2], Props: props}, nil
}

// RestoreOptions choose what to restore. The zero value restores the whole graph.
// With NodeIDs or Labels, only the matching nodes are restored, grown by Hops steps
// along edges (either direction), with every edge whose two ends are restored.
type RestoreOptions struct {
	NodeIDs []string
	Labels  []string
	Hops    int
	// Replace makes a partial restore replace the target's whole content with the
	// selection. Without it a partial restore merges: it upserts the selected
	// nodes and the edges among them and leaves every other node and edge of the
	// target as it was. A whole restore always replaces.
	Replace  bool
	Progress func(Progress)
}

func (o RestoreOptions) partial() bool { return len(o.NodeIDs) > 0 || len(o.Labels) > 0 }

// merges reports whether the restore upserts into the target instead of
// replacing its content.
func (o RestoreOptions) merges() bool { return o.partial() && !o.Replace }

// What a restore did to its target, in [RestoreResult].Mode.
const (
	// RestoreMerged: the selected records were upserted, the rest of the target
	// kept.
	RestoreMerged = "merged"
	// RestoreReplaced: the target's content became the snapshot, or the selection.
	RestoreReplaced = "replaced"
)

// RestoreResult says what a restore wrote: Nodes and Edges count the records
// written, Mode whether they replaced the target's content or were merged into
// it, and Created whether the target graph was made by the restore.
type RestoreResult struct {
	SnapshotID string        `json:"snapshot_id"`
	GraphID    string        `json:"graph_id"`
	Target     string        `json:"target_graph,omitempty"`
	Nodes      int64         `json:"nodes"`
	Edges      int64         `json:"edges"`
	Partial    bool          `json:"partial"`
	Mode       string        `json:"mode"`
	Created    bool          `json:"created,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
}

// Restore writes the snapshot (or the part opts selects) into w. A whole restore,
// and a partial one with opts.Replace, replaces the content of w (w.Replace); a
// partial restore without it merges the selection into w as one batch of upserts
// (w.Apply), which a journal records like any other change. A selection that
// matches no node is ErrEmptySelection, before anything is written.
//
// Every object is checked for presence and size before anything is written; each
// is hash-checked as it is read, and a failure aborts the write, which leaves the
// target as it was. The target may be the snapshot's own graph or any other.
func (e *Engine) Restore(ctx context.Context, snapshotID string, w graph.Writer, opts RestoreOptions) (*RestoreResult, error) {
	start := time.Now()
	res, err := e.restore(ctx, snapshotID, w, opts)
	result := "ok"
	if err != nil {
		result = "failed"
	}
	e.m.restoreDone(ctx, result, time.Since(start))
	if res != nil {
		res.Duration = time.Since(start)
	}
	return res, err
}

// RestoreGraph restores the snapshot into the graph graphs holds under id, as
// Restore does. When graphs holds no such graph and implements [graph.Creator],
// the graph is created for the restore (Created in the result) and added to
// graphs only if the restore succeeds; otherwise the answer wraps ErrNotFound.
func (e *Engine) RestoreGraph(ctx context.Context, snapshotID string, graphs graph.Catalog, id string, opts RestoreOptions) (*RestoreResult, error) {
	if graphs == nil {
		return nil, fmt.Errorf("%w: nil catalog", ErrInvalid)
	}
	g, err := graphs.Graph(ctx, id)
	if err == nil {
		res, err := e.Restore(ctx, snapshotID, g, opts)
		if res != nil {
			res.Target = id
		}
		return res, err
	}
	c, ok := graphs.(graph.Creator)
	if !ok || !errors.Is(err, graph.ErrNotFound) {
		return nil, targetError(id, err)
	}
	m, err := e.Manifest(ctx, snapshotID)
	if err != nil {
		return nil, err
	}
	var res *RestoreResult
	_, err = c.Create(ctx, id, graph.Meta{Directed: m.Directed}, func(ctx context.Context, g graph.Graph) error {
		var err error
		res, err = e.Restore(ctx, snapshotID, g, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Target, res.Created = id, true
	return res, nil
}

// targetError names the target graph in a catalog's error, keeping ErrNotFound
// in the chain.
func targetError(id string, err error) error {
	if errors.Is(err, graph.ErrNotFound) {
		return fmt.Errorf("%w: target graph %q: %w", ErrNotFound, id, err)
	}
	return fmt.Errorf("backup: target graph %q: %w", id, err)
}

func (e *Engine) restore(ctx context.Context, snapshotID string, w graph.Writer, opts RestoreOptions) (*RestoreResult, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: nil graph writer", ErrInvalid)
	}
	if opts.Hops < 0 || opts.Hops > 100 {
		return nil, fmt.Errorf("%w: hops must be between 0 and 100", ErrInvalid)
	}
	m, err := e.Manifest(ctx, snapshotID)
	if err != nil {
		return nil, err
	}
	report(opts.Progress, Progress{Phase: "verify"})
	if rep := e.quickCheck(ctx, m); rep != nil {
		return nil, rep
	}
	keys, err := e.layerKeys(ctx, m)
	if err != nil {
		return nil, err
	}
	// Restore reads segments only, but a damaged index (format 2 and before) would
	// break the next incremental snapshot of this chain: check them before writing.
	for i, l := range m.Layers {
		if l.Index.Key == "" {
			continue
		}
		if _, err := e.load(ctx, l.Index, keys[i]); err != nil {
			return nil, err
		}
	}
	var selected map[keyHash]struct{}
	if opts.partial() {
		if selected, err = e.selectNodes(ctx, m, keys, opts); err != nil {
			return nil, err
		}
		if len(selected) == 0 {
			return nil, fmt.Errorf("%w: snapshot %s holds no node of ids %q or labels %q", ErrEmptySelection, m.ID, opts.NodeIDs, opts.Labels)
		}
	}
	res := &RestoreResult{SnapshotID: m.ID, GraphID: m.GraphID, Partial: opts.partial(), Mode: RestoreReplaced}
	if opts.merges() {
		res.Mode = RestoreMerged
		if err := e.restoreMerged(ctx, m, keys, selected, w, opts, res); err != nil {
			return nil, fmt.Errorf("backup: restore %s: %w", snapshotID, err)
		}
		report(opts.Progress, Progress{Phase: "done", Records: res.Nodes + res.Edges})
		return res, nil
	}
	if sink, ok := w.(wire.Sink); ok && !opts.partial() {
		if err := e.restoreEncoded(ctx, m, keys, sink, opts, res); err != nil {
			return nil, fmt.Errorf("backup: restore %s: %w", snapshotID, err)
		}
		report(opts.Progress, Progress{Phase: "done", Records: res.Nodes + res.Edges})
		return res, nil
	}
	nodes := func(yield func(graph.Node, error) bool) {
		stopped := false
		err := mergedDecoded(ctx, e, m, keys, kindNode, false, withoutArena(decodeNodeRecord), func(kh keyHash, n graph.Node) error {
			if selected != nil {
				if _, ok := selected[kh]; !ok {
					return nil
				}
			}
			res.Nodes++
			if res.Nodes%65536 == 0 {
				report(opts.Progress, Progress{Phase: "nodes", Records: res.Nodes})
			}
			if !yield(n, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err != nil && !stopped {
			yield(graph.Node{}, err)
		}
	}
	edges := func(yield func(graph.Edge, error) bool) {
		stopped := false
		err := mergedDecoded(ctx, e, m, keys, kindEdge, false, withoutArena(decodeEdgeRecord), func(_ keyHash, ed graph.Edge) error {
			if selected != nil && !(inSet(selected, ed.Source) && inSet(selected, ed.Target)) {
				return nil
			}
			res.Edges++
			if res.Edges%65536 == 0 {
				report(opts.Progress, Progress{Phase: "edges", Records: res.Nodes + res.Edges})
			}
			if !yield(ed, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err == nil && !opts.partial() && (res.Nodes != m.Nodes || res.Edges != m.Edges) {
			// Checked before the sequence ends, so the writer discards the content.
			err = fmt.Errorf("%w: read %d nodes and %d edges, manifest says %d and %d", ErrCorrupt, res.Nodes, res.Edges, m.Nodes, m.Edges)
		}
		if err != nil && !stopped {
			yield(graph.Edge{}, err)
		}
	}
	// Decoding checked every record as Adopt would (ids, UTF-8, types), on the
	// goroutines that load segments: the writer need not check again.
	meta := graph.Meta{Directed: m.Directed, Position: m.Position, Normalized: true}
	if err := w.Replace(ctx, meta, iter.Seq2[graph.Node, error](nodes), iter.Seq2[graph.Edge, error](edges)); err != nil {
		return nil, fmt.Errorf("backup: restore %s: %w", snapshotID, err)
	}
	report(opts.Progress, Progress{Phase: "done", Records: res.Nodes + res.Edges})
	return res, nil
}

// restoreMerged upserts the selected nodes of the snapshot, and its edges whose two
// ends are selected, into w as one batch: nodes first, so that every edge finds
// its ends. The batch is applied whole or not at all, and journaled as any other.
func (e *Engine) restoreMerged(ctx context.Context, m *Manifest, keys [][]byte, selected map[keyHash]struct{}, w graph.Writer, opts RestoreOptions, res *RestoreResult) error {
	ops := make([]graph.Op, 0, len(selected))
	err := mergedDecoded(ctx, e, m, keys, kindNode, false, withoutArena(decodeNodeRecord), func(kh keyHash, n graph.Node) error {
		if _, ok := selected[kh]; !ok {
			return nil
		}
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		return nil
	})
	if err != nil {
		return err
	}
	res.Nodes = int64(len(ops))
	report(opts.Progress, Progress{Phase: "nodes", Records: res.Nodes})
	err = mergedDecoded(ctx, e, m, keys, kindEdge, false, withoutArena(decodeEdgeRecord), func(_ keyHash, ed graph.Edge) error {
		if inSet(selected, ed.Source) && inSet(selected, ed.Target) {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: ed})
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.Edges = int64(len(ops)) - res.Nodes
	report(opts.Progress, Progress{Phase: "edges", Records: res.Nodes + res.Edges})
	return w.Apply(ctx, ops)
}

// restoreEncoded restores the whole snapshot into a writer that stores records
// encoded: the goroutines that load the segments check each record and copy it,
// as it is, into blocks the writer keeps (see copyChecked) instead of decoding it.
func (e *Engine) restoreEncoded(ctx context.Context, m *Manifest, keys [][]byte, sink wire.Sink, opts RestoreOptions, res *RestoreResult) error {
	directed := m.Directed
	seq := func(kind byte, count *int64) iter.Seq2[wire.Record, error] {
		return func(yield func(wire.Record, error) bool) {
			stopped := false
			err := mergedDecoded(ctx, e, m, keys, kind, true, copyChecked(kind, directed), func(_ keyHash, r wire.Record) error {
				if *count++; (res.Nodes+res.Edges)%65536 == 0 {
					report(opts.Progress, Progress{Phase: kindPhase(kind), Records: res.Nodes + res.Edges})
				}
				if !yield(r, nil) {
					stopped = true
					return errStop
				}
				return nil
			})
			if err == nil && kind == kindEdge && (res.Nodes != m.Nodes || res.Edges != m.Edges) {
				// Checked before the sequence ends, so the writer discards the content.
				err = fmt.Errorf("%w: read %d nodes and %d edges, manifest says %d and %d", ErrCorrupt, res.Nodes, res.Edges, m.Nodes, m.Edges)
			}
			if err != nil && !stopped {
				yield(wire.Record{}, err)
			}
		}
	}
	nodes := seq(kindNode, &res.Nodes)
	edges := seq(kindEdge, &res.Edges)
	meta := graph.Meta{Directed: m.Directed, Position: m.Position, Normalized: true}
	return sink.ReplaceEncoded(ctx, meta, nodes, edges)
}

// copyChecked returns a decoder for restoreEncoded: it checks a record (see
// checkRecord) and copies it into the loader's arena, key and value in one
// region, so the writer gets Owned records it can keep as they are (memgraph
// keeps such a pair without a copy) and the copying (mostly first touches of
// fresh memory) runs beside the writer, not in it.
func copyChecked(kind byte, directed bool) func(segmentRecord, *arena.Arena) (wire.Record, error) {
	return func(r segmentRecord, a *arena.Arena) (wire.Record, error) {
		if err := checkRecord(r, kind, directed); err != nil {
			return wire.Record{}, err
		}
		key, value := a.Pair(r.key, r.value)
		return wire.Record{Key: key, Value: value, Owned: true}, nil
	}
}

// withoutArena adapts a decoder that allocates for itself to mergedDecoded.
func withoutArena[T any](decode func(segmentRecord) (T, error)) func(segmentRecord, *arena.Arena) (T, error) {
	return func(r segmentRecord, _ *arena.Arena) (T, error) { return decode(r) }
}

func kindPhase(kind byte) string {
	if kind == kindNode {
		return "nodes"
	}
	return "edges"
}

type stopError struct{}

func (stopError) Error() string { return "stopped" }

var errStop error = stopError{}

func inSet(set map[keyHash]struct{}, nodeID string) bool {
	_, ok := set[hashKey(graph.NodeKey(nodeID))]
	return ok
}

// selectNodes finds the nodes a partial restore takes: the ones named or labelled,
// then Hops rounds of their neighbours.
func (e *Engine) selectNodes(ctx context.Context, m *Manifest, keys [][]byte, opts RestoreOptions) (map[keyHash]struct{}, error) {
	sel := map[keyHash]struct{}{}
	ids := map[string]bool{}
	for _, id := range opts.NodeIDs {
		if err := graph.ValidateID(id); err != nil {
			return nil, fmt.Errorf("%w: node id: %v", ErrInvalid, err)
		}
		ids[id] = true
	}
	err := e.mergedRecords(ctx, m, keys, kindNode, func(r segmentRecord) error {
		id := r.key[len(graph.NodePrefix):]
		if ids[id] {
			sel[r.kh] = struct{}{}
			return nil
		}
		if len(opts.Labels) == 0 {
			return nil
		}
		labels, _, err := wire.DecodeNode(r.value)
		if err != nil {
			return err
		}
		for _, l := range labels {
			if slices.Contains(opts.Labels, l) {
				sel[r.kh] = struct{}{}
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for range opts.Hops {
		next := map[keyHash]struct{}{}
		err := e.mergedRecords(ctx, m, keys, kindEdge, func(r segmentRecord) error {
			_, parts, err := graph.ParseKey(r.key)
			if err != nil {
				return err
			}
			s, t := hashKey(graph.NodeKey(parts[0])), hashKey(graph.NodeKey(parts[1]))
			_, hasS := sel[s]
			_, hasT := sel[t]
			if hasS && !hasT {
				next[t] = struct{}{}
			}
			if hasT && !hasS {
				next[s] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(next) == 0 {
			break
		}
		for k := range next {
			sel[k] = struct{}{}
		}
	}
	return sel, nil
}

// compact replaces the chain of m by one synthetic layer holding its live records,
// read from the chain's objects rather than the graph. It returns the bytes written.
func (e *Engine) compact(ctx context.Context, m *Manifest, dataKey []byte, newest Layer) (int64, error) {
	keys, err := e.layerKeys(ctx, m)
	if err != nil {
		return 0, err
	}
	lw := e.newLayerWriter(ctx, dataKey, nil)
	var records int64 // the merge yields each key once
	for _, kind := range []byte{kindNode, kindEdge} {
		if err := lw.begin(kind); err != nil {
			lw.abort()
			return 0, err
		}
		err := e.mergedRecords(ctx, m, keys, kind, func(r segmentRecord) error {
			records++
			return lw.add(unsafe.Slice(unsafe.StringData(r.key), len(r.key)), r.kh, r.value)
		})
		if err != nil {
			lw.abort()
			return 0, err
		}
	}
	segs, err := lw.finish()
	if err != nil {
		return 0, err
	}
	written := lw.bytesNew.Load()
	layer := Layer{Snapshot: m.ID, Kind: string(KindSynthetic), Key: newest.Key, KeySize: newest.KeySize,
		Segments: segs, Records: records}
	m.Layers = []Layer{layer}
	m.Kind = string(KindSynthetic)
	return written, nil
}
