package memgraph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/graphvault/graphvault/internal/codec"
	"github.com/graphvault/graphvault/store/graph"
)

// Records are held encoded: a record is its key and its value in the encoding of
// internal/codec, the one snapshots use. A stored record costs its bytes and a few
// words instead of a map and a boxed value per property, a snapshot copies it as
// it is, and a restore stores what it read without building Go values. Reads
// decode.

// nodeRec is a stored node. Records are immutable once stored: trees share them
// between clones.
type nodeRec struct {
	key string // graph.NodeKey(id)
	val []byte // codec node value
}

func (r *nodeRec) id() string { return r.key[len(graph.NodePrefix):] }

func (r *nodeRec) node() (graph.Node, error) {
	labels, props, err := codec.DecodeNode(r.val)
	if err != nil {
		return graph.Node{}, fmt.Errorf("memgraph: stored node %q: %w", r.id(), err)
	}
	return graph.Node{ID: r.id(), Labels: labels, Props: props}, nil
}

// newNodeRec encodes a node that passed Normalize or Adopt.
func newNodeRec(n graph.Node) (*nodeRec, error) {
	val, err := codec.AppendNodeValid(nil, n.Labels, n.Props)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.ID, err)
	}
	return &nodeRec{key: graph.NodeKey(n.ID), val: val}, nil
}

// edgeRec is a stored edge, immutable once stored like nodeRec.
type edgeRec struct {
	key  string // graph.EdgeKey: "e:" lo NUL hi NUL type
	val  []byte // codec edge value
	a, b uint32 // lo is key[2:a], hi is key[a+1:b], the type key[b+1:]
	swap bool   // undirected and given Target first: Source is hi
}

// edgeKeyRec returns a record for an edge key that parses (see graph.ParseKey).
func edgeKeyRec(key string, val []byte, swap bool) *edgeRec {
	p := len(graph.EdgePrefix)
	a := p + strings.IndexByte(key[p:], 0)
	b := a + 1 + strings.IndexByte(key[a+1:], 0)
	return &edgeRec{key: key, val: val, a: uint32(a), b: uint32(b), swap: swap}
}

// edgeProbe returns a record with the key of the edge, for lookups.
func edgeProbe(source, target, typ string, directed bool) *edgeRec {
	return edgeKeyRec(graph.EdgeKey(source, target, typ, directed), nil, !directed && target < source)
}

// newEdgeRec encodes an edge that passed Normalize or Adopt.
func newEdgeRec(e graph.Edge, directed bool) (*edgeRec, error) {
	val, err := codec.AppendEdgeValid(nil, e.Props)
	if err != nil {
		return nil, fmt.Errorf("edge %q-%q: %w", e.Source, e.Target, err)
	}
	r := edgeProbe(e.Source, e.Target, e.Type, directed)
	r.val = val
	return r, nil
}

// lo is the end the record key starts with.
func (r *edgeRec) lo() string { return r.key[len(graph.EdgePrefix):r.a] }

// hi is the other end.
func (r *edgeRec) hi() string { return r.key[r.a+1 : r.b] }

func (r *edgeRec) typ() string { return r.key[r.b+1:] }

// ends returns the edge's source and target as it was given.
func (r *edgeRec) ends() (source, target string) {
	if r.swap {
		return r.hi(), r.lo()
	}
	return r.lo(), r.hi()
}

func (r *edgeRec) edge() (graph.Edge, error) {
	s, t := r.ends()
	props, err := codec.DecodeEdge(r.val)
	if err != nil {
		return graph.Edge{}, fmt.Errorf("memgraph: stored edge %q-%q: %w", s, t, err)
	}
	return graph.Edge{Source: s, Target: t, Type: r.typ(), Props: props}, nil
}

// Record keys sort as the tuples they join: ids hold no NUL, the byte that
// separates the fields and the smallest there is. So nodes and edges are ordered
// by key, which is the order of their record keys.
func lessNode(a, b *nodeRec) bool { return a.key < b.key }

func lessEdge(a, b *edgeRec) bool { return a.key < b.key }

// ends maps every node's id to the edges whose key ends with it, their hi end.
// With the edge tree, where a node's edges by their first end are one range, it
// finds every edge of a node, and it answers whether a node exists in O(1). Its
// lists belong to the graph's writers: views never see them.
//
// The map holds a slot number, not the list: adding an edge to a list is one map
// lookup instead of a lookup and a store, which on a bulk load of millions of
// edges is a third of the index's work, and a map of small values is denser.
type ends struct {
	slot  map[string]int32 // node id → its list in lists
	lists [][]*edgeRec
	free  []int32 // slots of deleted nodes, for reuse
}

func newEnds() *ends { return &ends{slot: map[string]int32{}} }

func (m *ends) len() int { return len(m.slot) }

// addNode gives id a list, empty, unless it has one, and returns its slot.
func (m *ends) addNode(id string) int32 {
	if i, ok := m.slot[id]; ok {
		return i
	}
	var i int32
	if n := len(m.free); n > 0 {
		i, m.free = m.free[n-1], m.free[:n-1]
	} else {
		i = int32(len(m.lists))
		m.lists = append(m.lists, nil)
	}
	m.slot[id] = i
	return i
}

func (m *ends) has(id string) bool {
	_, ok := m.slot[id]
	return ok
}

// at returns the edges whose hi end is id; the slice is the index's own.
func (m *ends) at(id string) []*edgeRec {
	if i, ok := m.slot[id]; ok {
		return m.lists[i]
	}
	return nil
}

// put adds r, in the place of old when r replaced it.
func (m *ends) put(r, old *edgeRec) { m.putAt(m.addNode(r.hi()), r, old) }

// putAt is put for the slot of r's hi end.
func (m *ends) putAt(i int32, r, old *edgeRec) {
	s := m.lists[i]
	if old != nil {
		if j := slices.Index(s, old); j >= 0 {
			s[j] = r
			return
		}
	}
	m.lists[i] = append(s, r)
}

func (m *ends) remove(r *edgeRec) {
	i, ok := m.slot[r.hi()]
	if !ok {
		return
	}
	s := m.lists[i]
	if j := slices.Index(s, r); j >= 0 {
		last := len(s) - 1
		s[j], s[last] = s[last], nil
		m.lists[i] = s[:last]
	}
}

// deleteNode drops id and its list.
func (m *ends) deleteNode(id string) {
	if i, ok := m.slot[id]; ok {
		delete(m.slot, id)
		m.lists[i] = nil
		m.free = append(m.free, i)
	}
}

// all yields every node with its list, for checks.
func (m *ends) all(yield func(string, []*edgeRec) bool) {
	for id, i := range m.slot {
		if !yield(id, m.lists[i]) {
			return
		}
	}
}
