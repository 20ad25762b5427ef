package memgraph

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// Records are held encoded: a record is its key and its value in the encoding of
// store/graph/wire, the one snapshots use. A stored record costs its bytes and a few
// words instead of a map and a boxed value per property, a snapshot copies it as
// it is, and a restore stores what it read without building Go values. Reads
// decode.

// rec locates a record's bytes: its key, then its value, one after the other in
// one piece of memory (an arena block, or a buffer of the record's own). One
// pointer instead of a string and a slice makes a stored record 16 bytes instead
// of 40, and halves the pointers the collector follows for it, which in a graph
// of millions of records is most of what it marks.
type rec struct {
	p          *byte
	klen, vlen uint32
}

// errTooLarge is returned for a record whose key or value does not fit a rec.
var errTooLarge = fmt.Errorf("%w: record larger than 4 GiB", graph.ErrInvalidValue)

// keyRec returns a record with a key and no value, for lookups.
func keyRec(key string) rec { return rec{p: unsafe.StringData(key), klen: uint32(len(key))} }

// joinedRec returns the record of key and val when val follows key in memory, as
// the bytes of an arena region or a buffer that holds both do.
func joinedRec(key string, val []byte) (rec, bool) {
	if uint64(len(key)) > math.MaxUint32 || uint64(len(val)) > math.MaxUint32 {
		return rec{}, false
	}
	r := rec{p: unsafe.StringData(key), klen: uint32(len(key)), vlen: uint32(len(val))}
	switch {
	case len(val) == 0:
		return r, true
	case len(key) == 0:
		r.p = unsafe.SliceData(val)
		return r, true
	}
	// Compared as addresses: a pointer just past key would point outside its
	// allocation when val lives elsewhere.
	end := uintptr(unsafe.Pointer(r.p)) + uintptr(len(key))
	return r, end == uintptr(unsafe.Pointer(unsafe.SliceData(val)))
}

// scratch holds buffers that values are encoded into before they are copied into
// a buffer of the record's exact size.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// newRec returns a record of key and the value encode appends to its argument,
// in one new buffer of their size.
func newRec(key string, encode func([]byte) ([]byte, error)) (rec, error) {
	sp := scratch.Get().(*[]byte)
	defer scratch.Put(sp)
	val, err := encode((*sp)[:0])
	if err != nil {
		return rec{}, err
	}
	*sp = val
	buf := make([]byte, len(key)+len(val))
	copy(buf, key)
	copy(buf[len(key):], val)
	r, ok := joinedRec(unsafe.String(unsafe.SliceData(buf), len(key)), buf[len(key):])
	if !ok {
		return rec{}, errTooLarge
	}
	return r, nil
}

// touch reads the record's header, for viewSeq.
func (r *rec) touch() byte { return byte(r.klen) }

func (r rec) key() string { return unsafe.String(r.p, r.klen) }

// val returns the value; its capacity ends with it, so appending to it copies.
func (r rec) val() []byte {
	if r.vlen == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(r.p), r.klen)), r.vlen)
}

// nodeRec is a stored node. Records are immutable once stored: trees share them
// between clones.
type nodeRec struct {
	rec // key is graph.NodeKey(id), the value a wire node value
}

func nodeProbe(id string) *nodeRec { return &nodeRec{keyRec(graph.NodeKey(id))} }

func (r *nodeRec) id() string { return r.key()[len(graph.NodePrefix):] }

func (r *nodeRec) node() (graph.Node, error) {
	labels, props, err := wire.DecodeNode(r.val())
	if err != nil {
		return graph.Node{}, fmt.Errorf("memgraph: stored node %q: %w", r.id(), err)
	}
	return graph.Node{ID: r.id(), Labels: labels, Props: props}, nil
}

// newNodeRec encodes a node that passed Normalize or Adopt.
func newNodeRec(n graph.Node) (*nodeRec, error) {
	r, err := newRec(graph.NodeKey(n.ID), func(b []byte) ([]byte, error) { return wire.AppendNodeValid(b, n.Labels, n.Props) })
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.ID, err)
	}
	return &nodeRec{r}, nil
}

// edgeRec is a stored edge, immutable once stored like nodeRec.
type edgeRec struct {
	rec         // key is graph.EdgeKey: "e:" lo NUL hi NUL type; the value a wire edge value
	a, b uint32 // lo is key[2:a], hi is key[a+1:b], the type key[b+1:]
	swap bool   // undirected and given Target first: Source is hi
}

// edgeRecOf returns the edge record of r, whose key parses (see graph.ParseKey).
func edgeRecOf(r rec, swap bool) edgeRec {
	key := r.key()
	p := len(graph.EdgePrefix)
	a := p + strings.IndexByte(key[p:], 0)
	b := a + 1 + strings.IndexByte(key[a+1:], 0)
	return edgeRec{rec: r, a: uint32(a), b: uint32(b), swap: swap}
}

// edgeProbe returns a record with the key of the edge, for lookups.
func edgeProbe(source, target, typ string, directed bool) *edgeRec {
	e := edgeRecOf(keyRec(graph.EdgeKey(source, target, typ, directed)), !directed && target < source)
	return &e
}

// newEdgeRec encodes an edge that passed Normalize or Adopt.
func newEdgeRec(e graph.Edge, directed bool) (*edgeRec, error) {
	r, err := newRec(graph.EdgeKey(e.Source, e.Target, e.Type, directed), func(b []byte) ([]byte, error) { return wire.AppendEdgeValid(b, e.Props) })
	if err != nil {
		return nil, fmt.Errorf("edge %q-%q: %w", e.Source, e.Target, err)
	}
	er := edgeRecOf(r, !directed && e.Target < e.Source)
	return &er, nil
}

// lo is the end the record key starts with.
func (r *edgeRec) lo() string { return r.key()[len(graph.EdgePrefix):r.a] }

// hi is the other end.
func (r *edgeRec) hi() string { return r.key()[r.a+1 : r.b] }

func (r *edgeRec) typ() string { return r.key()[r.b+1:] }

// ends returns the edge's source and target as it was given.
func (r *edgeRec) ends() (source, target string) {
	if r.swap {
		return r.hi(), r.lo()
	}
	return r.lo(), r.hi()
}

func (r *edgeRec) edge() (graph.Edge, error) {
	s, t := r.ends()
	props, err := wire.DecodeEdge(r.val())
	if err != nil {
		return graph.Edge{}, fmt.Errorf("memgraph: stored edge %q-%q: %w", s, t, err)
	}
	return graph.Edge{Source: s, Target: t, Type: r.typ(), Props: props}, nil
}

// Record keys sort as the tuples they join: ids hold no NUL, the byte that
// separates the fields and the smallest there is. So nodes and edges are ordered
// by key, which is the order of their record keys.
func lessNode(a, b *nodeRec) bool { return a.key() < b.key() }

func lessEdge(a, b *edgeRec) bool { return a.key() < b.key() }
