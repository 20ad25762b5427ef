package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
	"github.com/graphvault/graphvault/store/meta"
)

// Problem is one thing a verification found wrong.
type Problem struct {
	Object string `json:"object,omitempty"` // the object at fault, when one is
	Detail string `json:"detail"`
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	SnapshotID string        `json:"snapshot_id"`
	GraphID    string        `json:"graph_id"`
	Full       bool          `json:"full"`
	OK         bool          `json:"ok"`
	Objects    int           `json:"objects"`
	Bytes      int64         `json:"bytes"`
	Nodes      int64         `json:"nodes"`
	Edges      int64         `json:"edges"`
	Problems   []Problem     `json:"problems,omitempty"`
	Duration   time.Duration `json:"duration_ns"`

	// unsure is set when a problem may be passing (an object that could not be
	// stat'ed), so the report does not mark the snapshot damaged.
	unsure bool
}

// Err returns nil for a clean report, or a *CorruptError naming the first object at
// fault (ErrCorrupt).
func (r *VerifyReport) Err() error {
	if r.OK {
		return nil
	}
	p := r.Problems[0]
	return &CorruptError{Key: p.Object, Err: errors.New(p.Detail)}
}

func (r *VerifyReport) add(obj, format string, args ...any) {
	r.OK = false
	if obj != "" {
		for _, p := range r.Problems {
			if p.Object == obj {
				return // one problem per object is enough to name it
			}
		}
	}
	r.Problems = append(r.Problems, Problem{Object: obj, Detail: fmt.Sprintf(format, args...)})
}

// quickCheck stats every object a manifest needs. It returns a *CorruptError for the
// first missing or wrong-sized one.
func (e *Engine) quickCheck(ctx context.Context, m *Manifest) error {
	rep := &VerifyReport{OK: true}
	e.statAll(ctx, m, rep)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return rep.Err()
}

func (e *Engine) statAll(ctx context.Context, m *Manifest, rep *VerifyReport) {
	for _, o := range m.objects() {
		a, err := e.bucket.Stat(ctx, o.Key)
		rep.Objects++
		switch {
		case errors.Is(err, blob.ErrNotFound):
			rep.add(o.Key, "missing")
		case err != nil:
			rep.add(o.Key, "cannot stat: %v", err)
			rep.unsure = true
		case o.Size > 0 && a.Size != o.Size:
			rep.add(o.Key, "size %d, manifest says %d", a.Size, o.Size)
		default:
			rep.Bytes += a.Size
		}
	}
}

// DamagedPrefix starts the Error of a snapshot row whose data was found damaged:
// by [Engine.Verify] ("damaged, found by quick verification: ..." or "... full
// verification: ...", the row stays completed) or by a host at start-up that
// could not restore it (it marks the row failed). Health names such snapshots
// until they are deleted or, for a completed one, verify clean again: a full
// verification clears either mark, a quick one only a quick one's.
const DamagedPrefix = "damaged, "

// Verify checks a snapshot. Quick (full=false): every object the manifest lists is
// present with its recorded size. Full: every object is read, its SHA-256 checked
// against its key, decrypted, decompressed and decoded; no key appears twice in a
// layer and each layer holds the records and tombstones its manifest entry counts
// (and matches its index, in format 2 and before); the merged graph has no
// dangling edge and the node and edge counts the manifest records. The report lists every
// problem; an error is returned only when verification could not run. Damage
// found is recorded in the snapshot's Error ([DamagedPrefix]) and cleared by a
// later clean verification.
func (e *Engine) Verify(ctx context.Context, snapshotID string, full bool) (*VerifyReport, error) {
	start := time.Now()
	rep, err := e.verify(ctx, snapshotID, full)
	mode := "quick"
	if full {
		mode = "full"
	}
	result := "ok"
	if err != nil {
		result = "error"
	} else if !rep.OK {
		result = "corrupt"
	}
	e.m.verifyDone(ctx, mode, result, time.Since(start))
	if rep != nil {
		rep.Duration = time.Since(start)
		e.recordDamage(ctx, rep, mode)
	}
	return rep, err
}

// recordDamage writes what a verification found into the snapshot's Error: a
// damage mark ([DamagedPrefix]) when it found damage, nothing when the mark is
// already that; a clean verification removes a mark it is entitled to clear. A
// failure to record is logged: the verification itself stands.
func (e *Engine) recordDamage(ctx context.Context, rep *VerifyReport, mode string) {
	if rep.unsure || ctx.Err() != nil {
		return
	}
	row, err := e.store.GetSnapshot(ctx, rep.SnapshotID)
	if err != nil || row.Status != meta.SnapshotCompleted {
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			e.log.WarnContext(ctx, "verify: cannot read the snapshot to record its state", "snapshot", rep.SnapshotID, "err", err)
		}
		return
	}
	quickMark := DamagedPrefix + "found by quick verification: "
	var want string
	switch {
	case !rep.OK:
		want = DamagedPrefix + "found by " + mode + " verification: " + rep.Err().Error()
	case strings.HasPrefix(row.Error, DamagedPrefix) && (rep.Full || strings.HasPrefix(row.Error, quickMark)):
		want = "" // repaired
	default:
		return
	}
	if row.Error == want {
		return
	}
	row.Error = want
	if err := e.store.UpdateSnapshot(ctx, row); err != nil && !errors.Is(err, meta.ErrNotFound) {
		e.log.WarnContext(ctx, "verify: cannot record the snapshot's state", "snapshot", row.ID, "err", err)
	}
}

func (e *Engine) verify(ctx context.Context, snapshotID string, full bool) (*VerifyReport, error) {
	row, err := e.completed(ctx, snapshotID)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{SnapshotID: row.ID, GraphID: row.GraphID, Full: full, OK: true}
	m, err := e.Manifest(ctx, snapshotID)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			rep.add(ce.Key, "%v", ce.Err)
			return rep, nil
		}
		return nil, err
	}
	rep.Objects++ // the manifest
	e.statAll(ctx, m, rep)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if !full {
		return rep, nil
	}
	// A full verification reads every object even when some are missing, so that
	// every damaged one is named (and rewritten by the next snapshot).
	keys, err := e.layerKeys(ctx, m)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			rep.add(ce.Key, "%v", ce.Err)
			return rep, nil
		}
		return nil, err
	}
	verifyFull := e.verifyStream
	if slices.ContainsFunc(m.Layers, func(l Layer) bool { return l.Index.Key != "" }) {
		verifyFull = e.verifyTwoPass
	}
	if err := verifyFull(ctx, m, keys, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// verifyTwoPass is the full verification of a chain with indexed layers (format 2
// and before): each layer is read and checked against its index, then the chain is
// read again, merged, for the graph invariants.
func (e *Engine) verifyTwoPass(ctx context.Context, m *Manifest, keys [][]byte, rep *VerifyReport) error {
	for i, l := range m.Layers {
		if err := e.verifyLayer(ctx, l, keys[i], manifestKey(m.GraphID, m.ID), m.Directed, rep); err != nil {
			return err
		}
	}
	if !rep.OK {
		return nil
	}
	return e.verifyGraph(ctx, m, keys, rep)
}

// verifyLayer reads every object of a layer and checks its records: each decodes,
// no key appears twice, the counts are the manifest's. A layer with an index
// (format 2 and before) must also match it record for record. Problems of the
// layer as a whole are reported against obj.
//
// Every record gets the checks a restore makes (wire.CheckNode, CheckEdge), which
// walk it with the decoder's rules, so that a snapshot that verifies restores.
func (e *Engine) verifyLayer(ctx context.Context, l Layer, dataKey []byte, obj string, directed bool, rep *VerifyReport) error {
	var index []indexEntry
	if l.Index.Key != "" {
		obj = l.Index.Key
		raw, err := e.load(ctx, l.Index, dataKey)
		if err != nil {
			return rep.absorb(err)
		}
		if index, err = decodeIndex(raw); err != nil {
			rep.add(l.Index.Key, "%v", err)
			return nil
		}
	}
	seen := make([]bool, len(index))
	var keys keyList
	var records, tombstones int64
	objs := make([]Object, len(l.Segments))
	dataKeys := make([][]byte, len(l.Segments))
	for i, s := range l.Segments {
		objs[i], dataKeys[i] = s.Object, dataKey
	}
	var err error
	if l.Index.Key == "" {
		// Without an index, each segment is walked and checked in the goroutine
		// that loaded it; only its key hashes come back, in order.
		prep := func(i int, raw []byte) (checkedSegment, error) {
			c := checkSegment(raw, l.Segments[i].Kind, directed)
			e.markIfMalformed(objs[i].Key, c.err)
			return c, nil
		}
		err = fetchMapped(ctx, e, objs, dataKeys, make(chan []byte, e.cfg.workers+1), e.loadInto, true, prep, func(i int, c checkedSegment) error {
			s := l.Segments[i]
			if c.err != nil {
				rep.add(s.Key, "%v", c.err)
				return nil
			}
			for j, kh := range c.khs {
				keys.add(kh, c.tombstone[j])
			}
			records += int64(c.records)
			tombstones += int64(len(c.khs) - c.records)
			if int64(len(c.khs)) != s.Records {
				rep.add(s.Key, "%d records, manifest says %d", len(c.khs), s.Records)
			}
			return nil
		})
	} else {
		err = e.fetchOrdered(ctx, objs, dataKeys, func(i int, raw []byte) error {
			s := l.Segments[i]
			kind := kindNode
			if s.Kind == "edge" {
				kind = kindEdge
			}
			n, err := forEachRecord(raw, kind, func(r segmentRecord) error {
				if err := checkIndexed(index, seen, r); err != nil {
					return err
				}
				if r.op == opTombstone {
					tombstones++
					return nil
				}
				records++
				return checkRecord(r, kind, directed)
			})
			if err != nil {
				rep.add(s.Key, "%v", err)
				return nil
			}
			if int64(n) != s.Records {
				rep.add(s.Key, "%d records, manifest says %d", n, s.Records)
			}
			return nil
		})
	}
	if err != nil {
		return rep.absorb(err)
	}
	if records != l.Records || tombstones != l.Tombstones {
		rep.add(obj, "layer holds %d records and %d tombstones, manifest says %d and %d", records, tombstones, l.Records, l.Tombstones)
	}
	if !rep.OK {
		return nil
	}
	if l.Index.Key != "" && slices.Contains(seen, false) {
		rep.add(obj, "index lists records no segment holds")
	}
	if l.Index.Key == "" && keys.unique() != nil {
		rep.add(obj, "a record key appears twice in the layer")
	}
	return nil
}

// checkedSegment is what verifyLayer keeps of a segment it checked: its key
// hashes in order, which of them are tombstones, how many records it holds, or the
// problem with it.
type checkedSegment struct {
	khs       []keyHash
	tombstone []bool
	records   int
	err       error
}

// checkSegment walks a segment as stored, decompressed, and checks every record
// as a restore does (see checkRecord).
func checkSegment(raw []byte, kindName string, directed bool) checkedSegment {
	kind := kindNode
	if kindName == "edge" {
		kind = kindEdge
	}
	var c checkedSegment
	c.err = eachSegmentRecord(raw, kind, true, func(r segmentRecord) error {
		c.khs = append(c.khs, r.kh)
		c.tombstone = append(c.tombstone, r.op == opTombstone)
		if r.op == opTombstone {
			return nil
		}
		c.records++
		return checkRecord(r, kind, directed)
	})
	return c
}

// checkRecord makes the checks a restore makes of a record (wire.CheckNode,
// CheckEdge), of its key alone when its value was checked as it was read.
// Errors wrap wire.ErrCorrupt.
func checkRecord(r segmentRecord, kind byte, directed bool) error {
	rec := wire.Record{Key: r.key, Value: r.value}
	var err error
	switch {
	case kind == kindNode && r.checked:
		err = wire.CheckNodeKey(r.key)
	case kind == kindNode:
		err = wire.CheckNode(rec)
	case r.checked:
		err = wire.CheckEdgeKey(r.key, directed)
	default:
		err = wire.CheckEdge(rec, directed)
	}
	switch {
	case err == nil:
		return nil
	case kind == kindNode:
		return fmt.Errorf("node %q: %w", r.key, err)
	default:
		return fmt.Errorf("edge %q: %w", r.key, err)
	}
}

// checkIndexed checks a record against its layer's index (format 2 and before),
// marking its entry seen.
func checkIndexed(index []indexEntry, seen []bool, r segmentRecord) error {
	j, found := slices.BinarySearchFunc(index, r.kh, func(a indexEntry, k keyHash) int { return a.kh.compare(k) })
	switch {
	case !found:
		return fmt.Errorf("record %q is not in the layer index", r.key)
	case seen[j]:
		return fmt.Errorf("record key appears twice in the layer")
	case index[j].tombstone != (r.op == opTombstone):
		return fmt.Errorf("record and index disagree on a tombstone")
	case r.op != opTombstone && index[j].rh != indexValueHash(r.value):
		return fmt.Errorf("record %q does not match its index hash", r.key)
	}
	seen[j] = true
	return nil
}

// absorb records a corruption in the report and returns other errors.
func (r *VerifyReport) absorb(err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		r.add(ce.Key, "%v", ce.Err)
		return nil
	}
	return err
}

// verifyGraph merges the chain and checks the graph invariants.
func (e *Engine) verifyGraph(ctx context.Context, m *Manifest, keys [][]byte, rep *VerifyReport) error {
	nodes := map[keyHash]struct{}{}
	err := e.mergedRecords(ctx, m, keys, kindNode, func(r segmentRecord) error {
		nodes[r.kh] = struct{}{}
		rep.Nodes++
		return nil
	})
	if err != nil {
		return rep.absorb(err)
	}
	dangling := 0
	err = e.mergedRecords(ctx, m, keys, kindEdge, func(r segmentRecord) error {
		rep.Edges++
		_, parts, err := graph.ParseKey(r.key)
		if err != nil {
			return err
		}
		for _, end := range parts[:2] {
			if _, ok := nodes[hashKey(graph.NodeKey(end))]; !ok {
				dangling++
				if dangling <= 10 {
					rep.add("", "edge %q-%q: node %q does not exist", parts[0], parts[1], end)
				}
			}
		}
		return nil
	})
	if err != nil {
		return rep.absorb(err)
	}
	if rep.Nodes != m.Nodes || rep.Edges != m.Edges {
		rep.add(manifestKey(m.GraphID, m.ID), "graph has %d nodes and %d edges, manifest says %d and %d", rep.Nodes, rep.Edges, m.Nodes, m.Edges)
	}
	return nil
}
