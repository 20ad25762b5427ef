package backup

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// scanned is one record of a view, encoded. key and value alias a buffer that is
// reused once the callback returns.
type scanned struct {
	kind   byte
	key    []byte
	value  []byte
	kh     keyHash
	rh     uint64
	labels []string
}

// scanBatch is a run of records of one kind, encoded together by one worker.
type scanBatch struct {
	kind    byte
	nodes   []graph.Node
	edges   []graph.Edge
	encoded []wire.Record // from a wire.Source view, instead of nodes and edges
	// Filled by the worker.
	touched byte // see touch
	buf     []byte
	recs    []scannedAt
	err     error
	done    chan struct{}
}

// scannedAt is a scanned record whose key and value are offsets into the batch's buf.
type scannedAt struct {
	kh         keyHash
	rh         uint64
	klen, vlen int
	labels     []string
}

// A batch is cut at scanBatchSize records, or sooner once the text of its
// records passes scanBatchBytes: a view of large records (a chunked file's
// pieces are tens of KiB each) would otherwise hold hundreds of MiB in the
// batches in flight.
const (
	scanBatchSize  = 256
	scanBatchBytes = 1 << 20
)

// textSize is the length of the strings among props, which is most of a large
// record.
func textSize(props map[string]any) int {
	n := 0
	for _, v := range props {
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return n
}

// scanRecords streams every record of the view, nodes then edges, to fn in the
// view's order, calling onKind before the nodes and before the edges. Encoding and
// hashing, most of a scan's work, run on `workers` goroutines while one reads the
// view; fn runs on the calling goroutine.
func scanRecords(parent context.Context, view graph.View, workers int, onKind func(byte) error, fn func(r *scanned) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	meta := view.Meta()
	nv, ok := view.(graph.Normalized)
	normal := ok && nv.Normalized()

	// Batches travel to the workers through todo and to the caller, in order,
	// through ordered; free recycles them.
	todo := make(chan *scanBatch, workers)
	ordered := make(chan *scanBatch, 2*workers)
	free := make(chan *scanBatch, 3*workers+2)
	newBatch := func(kind byte) *scanBatch {
		var b *scanBatch
		select {
		case b = <-free:
			b.nodes, b.edges, b.encoded, b.buf, b.recs, b.err = b.nodes[:0], b.edges[:0], b.encoded[:0], b.buf[:0], b.recs[:0], nil
		default:
			b = &scanBatch{}
		}
		b.kind, b.done = kind, make(chan struct{})
		return b
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range todo {
				b.encode(meta.Directed, normal)
				close(b.done)
			}
		})
	}

	// The reader: one goroutine iterates the view and cuts it into batches.
	readErr := make(chan error, 1)
	go func() {
		defer close(todo)
		defer close(ordered)
		send := func(b *scanBatch) bool {
			select {
			case ordered <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case todo <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// A view that holds its records encoded hands them over as they are.
		src, encoded := view.(wire.Source)
		readErr <- func() error {
			for _, kind := range []byte{kindNode, kindEdge} {
				b := newBatch(kind)
				// flush sends a full batch and starts the next; false means stop.
				size := 0
				flush := func(n int) bool {
					size += n
					if len(b.nodes)+len(b.edges)+len(b.encoded) < scanBatchSize && size < scanBatchBytes {
						return true
					}
					ok := send(b)
					b = newBatch(kind)
					size = 0
					return ok
				}
				var err error
				switch {
				case encoded && kind == kindNode:
					err = readInto(src.EncodedNodes(ctx), func(r wire.Record) bool { b.encoded = append(b.encoded, r); return flush(len(r.Value)) })
				case encoded:
					err = readInto(src.EncodedEdges(ctx), func(r wire.Record) bool { b.encoded = append(b.encoded, r); return flush(len(r.Value)) })
				case kind == kindNode:
					err = readInto(view.Nodes(ctx), func(n graph.Node) bool { b.nodes = append(b.nodes, n); return flush(textSize(n.Props)) })
				default:
					err = readInto(view.Edges(ctx), func(e graph.Edge) bool { b.edges = append(b.edges, e); return flush(textSize(e.Props)) })
				}
				if errors.Is(err, errStop) {
					return ctx.Err()
				}
				if err != nil {
					return fmt.Errorf("backup: read %s: %w", kindPhase(kind), err)
				}
				// The last batch of a kind is sent even when empty: it marks the end of the nodes.
				if !send(b) {
					return ctx.Err()
				}
			}
			return nil
		}()
	}()

	err := func() error {
		if err := onKind(kindNode); err != nil {
			return err
		}
		kind := kindNode
		var r scanned
		for b := range ordered {
			select {
			case <-b.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if b.err != nil {
				return b.err
			}
			if b.kind != kind {
				if err := onKind(b.kind); err != nil {
					return err
				}
				kind = b.kind
			}
			off := 0
			for i := range b.recs {
				a := &b.recs[i]
				r = scanned{kind: b.kind, kh: a.kh, rh: a.rh, labels: a.labels}
				r.key = b.buf[off : off+a.klen]
				off += a.klen
				r.value = b.buf[off : off+a.vlen]
				off += a.vlen
				if err := fn(&r); err != nil {
					return err
				}
			}
			select {
			case free <- b:
			default:
			}
		}
		return nil // the reader's error, if any, says why it stopped
	}()
	cancel()
	for range ordered { // let the reader finish
	}
	wg.Wait()
	if rerr := <-readErr; err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	return parent.Err()
}

// readInto hands what seq yields to add; it returns errStop when add says stop.
func readInto[T any](seq iter.Seq2[T, error], add func(T) bool) error {
	for v, err := range seq {
		if err != nil {
			return err
		}
		if !add(v) {
			return errStop
		}
	}
	return nil
}

// encode encodes and hashes the batch's records into its buffer.
func (b *scanBatch) encode(directed, normal bool) {
	var kbuf, vbuf []byte
	var err error
	add := func(labels []string) {
		kh := hashKeyBytes(kbuf)
		b.buf = append(append(b.buf, kbuf...), vbuf...)
		b.recs = append(b.recs, scannedAt{kh: kh, rh: hashValue(vbuf), klen: len(kbuf), vlen: len(vbuf), labels: labels})
	}
	for _, n := range b.nodes {
		if kbuf, vbuf, err = encodeNode(kbuf, vbuf, n, normal); err != nil {
			b.err = fmt.Errorf("backup: node %q: %w", n.ID, err)
			return
		}
		add(n.Labels)
	}
	for _, ed := range b.edges {
		if kbuf, vbuf, err = encodeEdge(kbuf, vbuf, ed, directed, normal); err != nil {
			b.err = fmt.Errorf("backup: edge %q-%q: %w", ed.Source, ed.Target, err)
			return
		}
		add(nil)
	}
	b.touch()
	for _, r := range b.encoded {
		var labels []string
		if b.kind == kindNode {
			if !normal {
				err = wire.CheckNode(r)
			}
			if err == nil {
				labels, err = wire.Labels(r.Value)
			}
		} else if !normal {
			err = wire.CheckEdge(r, directed)
		}
		if err != nil {
			b.err = fmt.Errorf("backup: record %q: %w", r.Key, err)
			return
		}
		kbuf, vbuf = append(kbuf[:0], r.Key...), r.Value
		add(labels)
	}
}

// touch reads every cache line of the batch's encoded records before they are
// checked and copied. A view that holds its records encoded shares their memory,
// and in a large graph each record is a cache miss: touched in a row, the misses
// overlap, where one by one the copy would wait for each in turn.
func (b *scanBatch) touch() {
	var t byte
	for i := range b.encoded {
		r := &b.encoded[i]
		if len(r.Key) > 0 {
			t += r.Key[0]
		}
		for j := 0; j < len(r.Value); j += 64 {
			t += r.Value[j]
		}
		if len(r.Value) > 0 {
			t += r.Value[len(r.Value)-1]
		}
	}
	b.touched = t // kept, so that the compiler keeps the reads
}
