package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
	"github.com/graphvault/graphvault/store/meta"
)

// Kind is what a snapshot holds.
type Kind string

// Snapshot kinds. KindAuto lets the chain policy choose.
const (
	KindAuto        Kind = ""
	KindFull        Kind = "full"
	KindIncremental Kind = "incremental"
	KindSynthetic   Kind = "synthetic"
)

// SnapshotOptions tune one snapshot. The zero value takes an incremental snapshot
// when a parent exists and a full one otherwise.
type SnapshotOptions struct {
	Kind     Kind              // KindFull or KindIncremental forces the kind
	Labels   map[string]string // stored with the snapshot
	Progress func(Progress)    // called from several goroutines, must be quick
}

// Snapshot takes a snapshot of the graph r under graphID and returns its metadata
// row once the snapshot is committed. The row is recorded pending first, so that a
// snapshot waiting for another of its graph shows, then moves running → completed,
// or failed with the error recorded; the manifest, written last with put-if-absent,
// is the commit point. Snapshots of one graph are serialized.
func (e *Engine) Snapshot(ctx context.Context, graphID string, r graph.Reader, opts SnapshotOptions) (*meta.Snapshot, error) {
	row, err := e.prepareSnapshot(ctx, graphID, r, opts)
	if err != nil {
		return nil, err
	}
	return e.takeSnapshot(ctx, row, r, opts)
}

// prepareSnapshot checks a snapshot request and records its pending row, for a
// caller that names the snapshot before it is taken (the HTTP handler answers with
// its id). The row must then go to takeSnapshot, or to failSnapshot if it never
// will.
func (e *Engine) prepareSnapshot(ctx context.Context, graphID string, r graph.Reader, opts SnapshotOptions) (*meta.Snapshot, error) {
	if !ValidGraphID(graphID) {
		return nil, fmt.Errorf("%w: graph id %q", ErrInvalid, graphID)
	}
	switch opts.Kind {
	case KindAuto, KindFull, KindIncremental:
	default:
		return nil, fmt.Errorf("%w: snapshot kind %q", ErrInvalid, opts.Kind)
	}
	if r == nil {
		return nil, fmt.Errorf("%w: nil graph reader", ErrInvalid)
	}
	row := &meta.Snapshot{
		GraphID: graphID, Kind: string(KindFull), Status: meta.SnapshotPending,
		StartedAt: time.Now().UTC(), Labels: e.labels(opts.Labels),
	}
	if err := e.store.CreateSnapshot(ctx, row); err != nil {
		return nil, fmt.Errorf("backup: record snapshot: %w", err)
	}
	return row, nil
}

// takeSnapshot takes the snapshot whose pending row prepareSnapshot recorded.
func (e *Engine) takeSnapshot(ctx context.Context, row *meta.Snapshot, r graph.Reader, opts SnapshotOptions) (*meta.Snapshot, error) {
	unlock := e.lockGraph(row.GraphID)
	defer unlock()
	e.gcMu.RLock()
	defer e.gcMu.RUnlock()

	start := time.Now()
	m, err := e.snapshot(ctx, row, r, opts)
	if err != nil {
		err = e.failSnapshot(ctx, row, err)
		e.m.snapshotDone(ctx, row.Kind, "failed", time.Since(start), nil)
		return row, err
	}
	fillRow(row, m)
	row.Status = meta.SnapshotCompleted
	row.FinishedAt = time.Now().UTC()
	if err := e.store.UpdateSnapshot(ctx, row); err != nil {
		// The manifest is committed; Reindex or ResolveInterrupted repairs the row.
		return row, fmt.Errorf("backup: snapshot %s committed but not recorded: %w", row.ID, err)
	}
	e.m.snapshotDone(ctx, row.Kind, "completed", time.Since(start), m)
	e.log.LogAttrs(ctx, slogInfo, "snapshot completed", attrsOf(row)...)
	e.committed(ctx, row)
	return row, nil
}

// failSnapshot records that the snapshot of row failed with err and returns err,
// joined with the error of recording it if that failed too.
func (e *Engine) failSnapshot(ctx context.Context, row *meta.Snapshot, err error) error {
	row.Status = meta.SnapshotFailed
	row.Error = err.Error()
	row.FinishedAt = time.Now().UTC()
	// The failure is recorded with a fresh context: the caller's may be cancelled.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if uerr := e.store.UpdateSnapshot(uctx, row); uerr != nil {
		err = errors.Join(err, fmt.Errorf("backup: record failure: %w", uerr))
	}
	return err
}

// labels are the labels a snapshot is stored with: the caller's, and the
// engine's instance (WithInstance) if it has one.
func (e *Engine) labels(given map[string]string) map[string]string {
	if e.cfg.instance == "" {
		return given
	}
	out := maps.Clone(given)
	if out == nil {
		out = map[string]string{}
	}
	out[InstanceLabel] = e.cfg.instance
	return out
}

func fillRow(row *meta.Snapshot, m *Manifest) {
	row.Kind = m.Kind
	row.ParentID = m.ParentID
	row.Nodes, row.Edges, row.Records = m.Nodes, m.Edges, m.Nodes+m.Edges
	row.BytesRaw, row.BytesStored, row.BytesNew = m.BytesRaw, m.BytesStored, m.BytesNew
	row.RootHash = m.Root
	row.ManifestKey = manifestKey(m.GraphID, m.ID)
	row.JournalPos = int64(m.Position)
	row.ChainLen = len(m.Layers)
	row.Encrypted = m.Encrypted
	row.StartedAt = m.StartedAt
	if len(m.Labels) > 0 {
		row.Labels = m.Labels
	}
}

func (e *Engine) snapshot(ctx context.Context, row *meta.Snapshot, r graph.Reader, opts SnapshotOptions) (*Manifest, error) {
	row.Status = meta.SnapshotRunning
	if err := e.store.UpdateSnapshot(ctx, row); err != nil {
		return nil, fmt.Errorf("backup: mark running: %w", err)
	}
	view, err := r.View(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: open view of %s: %w", row.GraphID, err)
	}
	defer view.Close()
	meta := view.Meta()
	master := e.key()

	m := &Manifest{
		Format: FormatVersion, ID: row.ID, GraphID: row.GraphID, Kind: string(KindFull),
		StartedAt: row.StartedAt, Directed: meta.Directed, Position: meta.Position, Journal: meta.Journal,
		Encrypted: master != nil, Labels: e.labels(opts.Labels),
	}
	var parent *Manifest
	if opts.Kind != KindFull {
		parent, err = e.latestManifest(ctx, row.GraphID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if parent != nil && (parent.Directed != meta.Directed || parent.Encrypted != m.Encrypted) {
			parent = nil // a changed graph shape or encryption setting starts a new chain
		}
		if parent == nil && opts.Kind == KindIncremental {
			e.log.InfoContext(ctx, "no usable parent, taking a full snapshot", "graph", row.GraphID)
		}
	}

	var dataKey []byte
	layer := Layer{Snapshot: row.ID, Kind: string(KindFull)}
	if m.Encrypted {
		if dataKey, err = newDataKey(); err != nil {
			return nil, err
		}
		layer.Key = keysPrefix + row.ID + ".json"
		wrapped, err := wrapKey(master, dataKey, layer.Key)
		if err != nil {
			return nil, err
		}
		layer.KeySize = int64(len(wrapped))
		if err := e.bucket.PutIfAbsent(ctx, layer.Key, wrapped); err != nil {
			return nil, fmt.Errorf("backup: store data key: %w", err)
		}
	}

	lw := e.newLayerWriter(ctx, dataKey, opts.Progress)
	var entries *keyList
	var counts scanCounts
	// With the live cache, next becomes this snapshot's live records (see livecache.go).
	var next *[]liveEntry
	if e.cfg.liveCache {
		next = new([]liveEntry)
	}
	if parent == nil {
		entries, counts, err = e.scanFull(ctx, view, lw, next)
	} else {
		layer.Kind = string(KindIncremental)
		m.Kind = string(KindIncremental)
		m.ParentID = parent.ID
		var cached []liveEntry
		if next != nil {
			cached = e.live.take(row.GraphID, parent.ID)
			e.log.DebugContext(ctx, "live cache", "graph", row.GraphID, "parent", parent.ID, "hit", cached != nil)
			e.m.liveCacheLookup(ctx, row.GraphID, cached != nil)
		}
		entries, counts, err = e.journalDelta(ctx, r, view, parent, lw, cached, next)
		if errors.Is(err, errNoJournalDelta) {
			entries, counts, err = e.scanDelta(ctx, view, parent, lw, cached, next)
		}
	}
	if err != nil {
		lw.abort()
		return nil, err
	}
	if layer.Segments, err = lw.finish(); err != nil {
		return nil, err
	}
	bytesNew := lw.bytesNew.Load()
	layer.Records, layer.Tombstones = entries.counts()
	if err := entries.unique(); err != nil {
		return nil, err
	}
	entries = nil

	m.Nodes, m.Edges, m.LabelCounts = counts.nodes, counts.edges, counts.labels
	if parent != nil {
		m.Layers = append(slices.Clone(parent.Layers), layer)
	} else {
		m.Layers = []Layer{layer}
	}
	if parent != nil && e.needsCompaction(m) {
		report(opts.Progress, Progress{Phase: "compact"})
		written, err := e.compact(ctx, m, dataKey, layer)
		if err != nil {
			return nil, fmt.Errorf("backup: compact chain: %w", err)
		}
		bytesNew += written
	}
	m.BytesNew = bytesNew
	m.BytesRaw, m.BytesStored = 0, 0
	for _, l := range m.Layers {
		for _, s := range l.Segments {
			m.BytesRaw += s.Raw
			m.BytesStored += s.Size
		}
		m.BytesStored += l.Index.Size // format 2 and before
	}
	if err := e.commit(ctx, m, opts.Progress); err != nil {
		return m, err
	}
	if next != nil {
		e.live.put(row.GraphID, m.ID, *next)
		e.m.liveCacheHeld(ctx, row.GraphID, len(*next))
	}
	return m, nil
}

// needsCompaction applies the chain policy to a manifest whose newest layer was
// just added.
func (e *Engine) needsCompaction(m *Manifest) bool {
	if len(m.Layers) > e.cfg.chain.MaxLayers {
		return true
	}
	// Both the records and the bytes of the delta layers must pass the ratio:
	// a graph of large records changed a little (a chunked file's patches)
	// adds many records of few bytes, and merging the chain again would cost
	// as much as the full snapshot every time.
	var delta, deltaBytes int64
	for _, l := range m.Layers[1:] {
		delta += l.Records + l.Tombstones
		deltaBytes += l.rawBytes()
	}
	base := max(m.Layers[0].Records, 1)
	baseBytes := max(m.Layers[0].rawBytes(), 1)
	return float64(delta)/float64(base) > e.cfg.chain.MaxDeltaRatio &&
		float64(deltaBytes)/float64(baseBytes) > e.cfg.chain.MaxDeltaRatio
}

// rawBytes is the size of the layer's segments before compression.
func (l Layer) rawBytes() int64 {
	var n int64
	for _, s := range l.Segments {
		n += s.Raw
	}
	return n
}

// commit makes the snapshot visible. Write order is the crash-safety argument:
// every segment and index object is already durable; we check that each one the
// manifest lists is still present (a concurrent GC in another process must not have
// collected an object we deduplicated against), then write the manifest with
// put-if-absent. A crash before this point leaves only unreferenced objects, which
// GC collects; after it, the snapshot is complete even if the row is not updated.
func (e *Engine) commit(ctx context.Context, m *Manifest, progress func(Progress)) error {
	report(progress, Progress{Phase: "manifest"})
	// Segments were stored unsynced (blob.Syncer): they become durable together,
	// before the manifest that names them exists.
	if err := e.bucket.Sync(ctx); err != nil {
		return fmt.Errorf("backup: sync bucket: %w", err)
	}
	for _, o := range m.objects() {
		a, err := e.bucket.Stat(ctx, o.Key)
		if err != nil {
			return fmt.Errorf("backup: object %q vanished before commit: %w", o.Key, err)
		}
		if o.Size > 0 && a.Size != o.Size {
			return &CorruptError{Key: o.Key, Err: fmt.Errorf("size %d before commit, written %d", a.Size, o.Size)}
		}
	}
	m.CreatedAt = time.Now().UTC()
	root, err := m.rootHash()
	if err != nil {
		return err
	}
	m.Root = root
	b, err := marshalManifest(m)
	if err != nil {
		return err
	}
	key := manifestKey(m.GraphID, m.ID)
	if err := e.bucket.PutIfAbsent(ctx, key, b); err != nil {
		if errors.Is(err, blob.ErrExists) {
			return fmt.Errorf("%w: manifest of %s already exists", ErrBusy, m.ID)
		}
		return fmt.Errorf("backup: write manifest: %w", err)
	}
	// Read the commit record back: a store that lost or cut the write must not leave
	// a snapshot marked completed without a whole manifest.
	if got, err := e.bucket.Get(ctx, key); err != nil || !bytes.Equal(got, b) {
		if err == nil {
			err = errors.New("stored manifest differs from the one written")
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := e.bucket.Delete(dctx, key); derr != nil && !errors.Is(derr, blob.ErrNotFound) {
			err = errors.Join(err, derr)
		}
		return &CorruptError{Key: key, Err: fmt.Errorf("manifest not stored whole: %w", err)}
	}
	return nil
}

type scanCounts struct {
	nodes, edges int64
	labels       map[string]int64
}

func (c *scanCounts) addNode(labels []string) {
	c.nodes++
	for _, l := range labels {
		if c.labels == nil {
			c.labels = map[string]int64{}
		}
		c.labels[l]++
	}
}

// encodeNode validates a node and appends its record key to kbuf and its value to
// vbuf. The encoding takes any Go integer or float type and unsorted labels and writes
// their canonical form, so no normalized copy of the node is made.
//
// A node from a graph.Normalized view (normal) is not checked again.
func encodeNode(kbuf, vbuf []byte, n graph.Node, normal bool) ([]byte, []byte, error) {
	if normal {
		vbuf, err := wire.AppendNodeValid(vbuf[:0], n.Labels, n.Props)
		if err != nil {
			return kbuf, vbuf, fmt.Errorf("%w: %v", graph.ErrInvalidValue, err)
		}
		return graph.AppendNodeKey(kbuf[:0], n.ID), vbuf, nil
	}
	if err := graph.ValidateID(n.ID); err != nil {
		return kbuf, vbuf, err
	}
	for _, l := range n.Labels {
		if err := graph.ValidateID(l); err != nil {
			return kbuf, vbuf, fmt.Errorf("label: %w", err)
		}
	}
	vbuf, err := wire.AppendNode(vbuf[:0], n.Labels, n.Props)
	if err != nil {
		return kbuf, vbuf, fmt.Errorf("%w: %v", graph.ErrInvalidValue, err)
	}
	return graph.AppendNodeKey(kbuf[:0], n.ID), vbuf, nil
}

func encodeEdge(kbuf, vbuf []byte, ed graph.Edge, directed, normal bool) ([]byte, []byte, error) {
	var err error
	if normal {
		vbuf, err = wire.AppendEdgeValid(vbuf[:0], ed.Props)
	} else {
		vbuf, err = checkedEdgeValue(vbuf, ed)
	}
	if err != nil {
		return kbuf, vbuf, err
	}
	return graph.AppendEdgeKey(kbuf[:0], ed.Source, ed.Target, ed.Type, directed), vbuf, nil
}

// checkedEdgeValue validates an edge from a view that does not vouch for its
// content and encodes its value.
func checkedEdgeValue(vbuf []byte, ed graph.Edge) ([]byte, error) {
	if err := graph.ValidateID(ed.Source); err != nil {
		return vbuf, fmt.Errorf("source: %w", err)
	}
	if err := graph.ValidateID(ed.Target); err != nil {
		return vbuf, fmt.Errorf("target: %w", err)
	}
	if ed.Type != "" {
		if err := graph.ValidateID(ed.Type); err != nil {
			return vbuf, fmt.Errorf("type: %w", err)
		}
	}
	vbuf, err := wire.AppendEdge(vbuf[:0], ed.Props)
	if err != nil {
		return vbuf, fmt.Errorf("%w: %v", graph.ErrInvalidValue, err)
	}
	return vbuf, nil
}

// scanFull writes every record of the view into one layer. With next, it also
// sets *next to the view's live records.
func (e *Engine) scanFull(ctx context.Context, view graph.View, lw *layerWriter, next *[]liveEntry) (*keyList, scanCounts, error) {
	entries := newKeyList(view)
	var c scanCounts
	var live []liveEntry
	if next != nil {
		if counter, ok := view.(graph.Counter); ok {
			n, m := counter.Counts()
			live = make([]liveEntry, 0, sizeHint(n+m, 1<<24))
		}
	}
	err := scanRecords(ctx, view, e.cfg.workers, lw.begin, func(r *scanned) error {
		if err := entries.addScanned(r); err != nil {
			return err
		}
		if next != nil {
			live = append(live, liveEntry{r.kh, r.rh})
		}
		if r.kind == kindNode {
			c.addNode(r.labels)
		} else {
			c.edges++
		}
		return lw.add(r.key, r.kh, r.value)
	})
	if err != nil {
		return nil, c, err
	}
	if next != nil {
		slices.SortFunc(live, byKeyHash)
		*next = live
	}
	// A key yielded twice is refused before the manifest is written.
	return entries, c, nil
}

// scanDelta compares every record of the view with the parent chain's live records
// (see liveIndex) and writes only what changed, plus a tombstone for every key
// that is gone.
//
// cached, when not nil, holds the parent's live records and is used instead of
// reading them; with next, *next is set to the view's live records.
func (e *Engine) scanDelta(ctx context.Context, view graph.View, parent *Manifest, lw *layerWriter, cached []liveEntry, next *[]liveEntry) (*keyList, scanCounts, error) {
	live := cached
	var err error
	if live == nil {
		if live, err = e.liveIndex(ctx, parent); err != nil {
			return nil, scanCounts{}, err
		}
	}
	var change *liveChange
	if next != nil {
		change = newLiveChange(live)
	}
	seen := make([]uint64, (len(live)+63)/64)
	entries := newKeyList(view)
	var c scanCounts
	var dup error
	err = scanRecords(ctx, view, e.cfg.workers, lw.begin, func(r *scanned) error {
		if r.kind == kindNode {
			c.addNode(r.labels)
		} else {
			c.edges++
		}
		kh, rh := r.kh, r.rh
		i, found := slices.BinarySearchFunc(live, kh, func(a liveEntry, k keyHash) int { return a.kh.compare(k) })
		if found {
			if seen[i/64]&(1<<(i%64)) != 0 {
				dup = fmt.Errorf("%w: the graph view yielded one record key twice", ErrInvalid)
				return dup
			}
			seen[i/64] |= 1 << (i % 64)
			if live[i].rh == rh {
				return nil
			}
		}
		if change != nil {
			if found {
				change.setAt(i, rh)
			} else {
				change.add(kh, rh)
			}
		}
		if err := entries.addScanned(r); err != nil {
			return err
		}
		return lw.add(r.key, kh, r.value)
	})
	if err != nil {
		return nil, c, err
	}
	// Keys of the parent that the view no longer has become tombstones, nodes first
	// (live is sorted by key hash, whose top bit is the kind).
	if err := lw.begin(kindNode); err != nil {
		return nil, c, err
	}
	for i, le := range live {
		if seen[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		if le.kh.isEdge() && lw.kind != kindEdge {
			if err := lw.begin(kindEdge); err != nil {
				return nil, c, err
			}
		}
		entries.add(le.kh, true)
		if change != nil {
			change.removeAt(i)
		}
		if err := lw.addTombstone(le.kh); err != nil {
			return nil, c, err
		}
	}
	if change != nil {
		*next = change.result()
	}
	return entries, c, nil
}
