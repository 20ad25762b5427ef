package backup

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/graphvault/graphvault/store/graph"
)

// verifyStream is the full verification of a chain whose layers have no index
// (format 3), in one pass over its segments. They are read as a restore reads
// them — the nodes of every layer newest first, then the edges, as many at a time
// as a restore loads — and each is hashed, decrypted, decompressed and walked, and
// its records checked (checkRecord), in the goroutine that loaded it. What a segment
// leaves behind once checked is one key hash per record in its layer's key list (to
// refuse a key given twice in a layer), the key hashes of the live nodes (for the
// dangling-edge check, made while the edges are walked) and, in a chain, the keys
// newer layers hide. Memory is bounded by the segments in flight plus about 16
// bytes per record and 40 per node, never by the size of a segment's records
// decoded.
//
// A damaged segment is named and the pass goes on, so that every damaged one is
// named; graph invariants (dangling edges, the manifest's counts) are reported
// only when every layer checked clean, as what a damaged layer leaves out would
// break them anyway.
func (e *Engine) verifyStream(ctx context.Context, m *Manifest, keys [][]byte, rep *VerifyReport) error {
	v := &streamVerify{
		e: e, m: m, rep: rep,
		layers: make([]keyList, len(m.Layers)), damaged: make([]bool, len(m.Layers)),
		seen:  newShadows(m),
		nodes: make(map[keyHash]struct{}, sizeHint(m.Nodes, 1<<22)),
		free:  make(chan *checkedRecords, e.cfg.workers+2),
		bufs:  make(chan []byte, e.cfg.workers+1),
	}
	for _, l := range m.Layers {
		for _, s := range l.Segments {
			if s.Kind != "node" && s.Kind != "edge" {
				rep.add(s.Key, "segment kind %q, want node or edge", s.Kind)
			}
		}
	}
	for _, kind := range []byte{kindNode, kindEdge} {
		if err := v.pass(ctx, keys, kind); err != nil {
			return rep.absorb(err)
		}
	}
	v.finish()
	return nil
}

// streamVerify is the state of one verifyStream.
type streamVerify struct {
	e   *Engine
	m   *Manifest
	rep *VerifyReport

	layers  []keyList            // every key hash of each layer, with its counts
	damaged []bool               // layers with a segment that could not be checked
	seen    shadows              // keys met in newer layers
	nodes   map[keyHash]struct{} // the live nodes; read by the edge pass's loaders
	bufs    chan []byte          // segment buffers, shared by the two passes
	free    chan *checkedRecords // checked segments' slices, to be used again

	dangling      int
	graphProblems []string // dangling edges, reported if the layers are clean
}

// checkedRecords is what verifyStream keeps of a segment it checked: each
// record's key hash, whether it is a tombstone and how many of its edge's ends
// are missing from the live nodes; the message for each missing end; or the
// problem with the segment.
type checkedRecords struct {
	recs    []checkedRecord
	missing []string
	err     error
}

type checkedRecord struct {
	kh        keyHash
	tombstone bool
	missing   uint8
}

// pass checks the segments of one kind, newest layer first.
func (v *streamVerify) pass(ctx context.Context, keys [][]byte, kind byte) error {
	want := "node"
	if kind == kindEdge {
		want = "edge"
	}
	var (
		layerOf []int
		segs    []Segment
		objs    []Object
		objKeys [][]byte
	)
	for li := len(v.m.Layers) - 1; li >= 0; li-- {
		for _, s := range v.m.Layers[li].Segments {
			if s.Kind == want {
				layerOf, segs = append(layerOf, li), append(segs, s)
				objs, objKeys = append(objs, s.Object), append(objKeys, keys[li])
			}
		}
	}
	// An object that does not load intact is a problem of that object, not the end
	// of the pass: the loader leaves nil and the fault here for prep to pick up.
	var faults sync.Map
	load := func(ctx context.Context, o Object, dataKey, dst []byte) ([]byte, error) {
		// A buffer made for the largest usual segment serves every segment after
		// it: buffers sized to one segment would be garbage at the next larger one.
		if need := max(o.Raw, int64(v.e.cfg.maxSegment)+64<<10); int64(cap(dst)) < need {
			dst = make([]byte, 0, sizeHint(need, 64<<20))
		}
		raw, err := v.e.loadInto(ctx, o, dataKey, dst)
		var ce *CorruptError
		if errors.As(err, &ce) {
			faults.Store(o.Key, ce.Err)
			return nil, nil
		}
		return raw, err
	}
	directed := v.m.Directed
	prep := func(i int, raw []byte) (*checkedRecords, error) {
		c := v.take()
		if f, ok := faults.Load(objs[i].Key); ok && raw == nil {
			c.err = f.(error)
			return c, nil
		}
		var nodeKey []byte
		if want := sizeHint(segs[i].Records, len(raw)/3+1); cap(c.recs) < want {
			c.recs = make([]checkedRecord, 0, want)
		}
		c.err = eachSegmentRecord(raw, kind, true, func(r segmentRecord) error {
			rec := checkedRecord{kh: r.kh, tombstone: r.op == opTombstone}
			if !rec.tombstone {
				if err := checkRecord(r, kind, directed); err != nil {
					return err
				}
				if kind == kindEdge {
					rec.missing, nodeKey = v.missingEnds(c, r.key, nodeKey)
				}
			}
			c.recs = append(c.recs, rec)
			return nil
		})
		v.e.markIfMalformed(objs[i].Key, c.err)
		return c, nil
	}
	return fetchMapped(ctx, v.e, objs, objKeys, v.bufs, load, true, prep, func(i int, c *checkedRecords) error {
		v.add(kind, layerOf[i], segs[i], c)
		v.give(c)
		return nil
	})
}

// missingEnds counts the ends of a checked edge key that are not live nodes, and
// adds a message for each to c. nodeKey is scratch space for the node keys, which
// it returns for the next call.
func (v *streamVerify) missingEnds(c *checkedRecords, key string, nodeKey []byte) (uint8, []byte) {
	// The key was checked: three fields, valid ids.
	source, rest, _ := strings.Cut(key[len(graph.EdgePrefix):], "\x00")
	target, _, _ := strings.Cut(rest, "\x00")
	var n uint8
	for _, end := range [2]string{source, target} {
		nodeKey = append(append(nodeKey[:0], graph.NodePrefix...), end...)
		if _, ok := v.nodes[hashKeyBytes(nodeKey)]; !ok {
			n++
			c.missing = append(c.missing, "edge "+strconv.Quote(source)+"-"+strconv.Quote(target)+": node "+strconv.Quote(end)+" does not exist")
		}
	}
	return n, nodeKey
}

// add takes a checked segment of layer li, in order: its keys into the layer's
// list, its live records into the graph's counts and, for nodes, the live set.
func (v *streamVerify) add(kind byte, li int, s Segment, c *checkedRecords) {
	if c.err != nil {
		v.rep.add(s.Key, "%v", c.err)
		v.damaged[li] = true
		return
	}
	keys, base := &v.layers[li], li == 0
	missing := c.missing
	for _, r := range c.recs {
		keys.add(r.kh, r.tombstone)
		ends := missing[:r.missing]
		missing = missing[r.missing:]
		if v.seen.hidden(r.kh, base) || r.tombstone {
			continue
		}
		if kind == kindNode {
			v.nodes[r.kh] = struct{}{}
			v.rep.Nodes++
			continue
		}
		v.rep.Edges++
		for _, msg := range ends {
			if v.dangling++; v.dangling <= 10 {
				v.graphProblems = append(v.graphProblems, msg)
			}
		}
	}
	if int64(len(c.recs)) != s.Records {
		v.rep.add(s.Key, "%d records, manifest says %d", len(c.recs), s.Records)
	}
}

// finish checks the counts of each layer whose segments all checked, then the keys of every layer, then, if every layer is clean, the
// graph's.
func (v *streamVerify) finish() {
	m, rep := v.m, v.rep
	obj := manifestKey(m.GraphID, m.ID)
	for i, l := range m.Layers {
		records, tombstones := v.layers[i].counts()
		if !v.damaged[i] && (records != l.Records || tombstones != l.Tombstones) {
			rep.add(obj, "layer %d holds %d records and %d tombstones, manifest says %d and %d", i, records, tombstones, l.Records, l.Tombstones)
		}
	}
	if !rep.OK {
		return
	}
	for i := range v.layers {
		if v.layers[i].unique() != nil {
			rep.add(obj, "a record key appears twice in layer %d", i)
		}
	}
	if !rep.OK {
		return
	}
	for _, p := range v.graphProblems {
		rep.add("", "%s", p)
	}
	if rep.Nodes != m.Nodes || rep.Edges != m.Edges {
		rep.add(obj, "graph has %d nodes and %d edges, manifest says %d and %d", rep.Nodes, rep.Edges, m.Nodes, m.Edges)
	}
}

// take returns an empty checkedRecords, one used before when there is one.
func (v *streamVerify) take() *checkedRecords {
	select {
	case c := <-v.free:
		return c
	default:
		return &checkedRecords{}
	}
}

// give hands a checkedRecords back for use again.
func (v *streamVerify) give(c *checkedRecords) {
	c.recs, c.missing, c.err = c.recs[:0], c.missing[:0], nil
	select {
	case v.free <- c:
	default:
	}
}
