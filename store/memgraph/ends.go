package memgraph

import (
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/graphvault/graphvault/internal/arena"
)

// ends maps every node's id to the edges whose key ends with it, their hi end.
// With the edge tree, where a node's edges by their first end are one range, it
// finds every edge of a node, and it answers whether a node exists in O(1). Its
// lists belong to the graph's writers: views never see them.
//
// The index is cut into endsParts parts by a hash of the id, so that a bulk load
// can fill it a part at a time (see endsBuilder).
type ends struct {
	seed  maphash.Seed
	parts [endsParts]endsPart
}

// endsPart is one part of the index.
//
// The map holds a slot number, not the list: adding an edge to a list is one map
// lookup instead of a lookup and a store, and a map of small values is denser.
//
// The map's keys are copies of the ids, so that they do not keep a replaced
// record's bytes alive. A bulk load packs them in blocks of their own, a part
// after another, so that the keys a lookup compares lie together; later writes
// copy each id alone, so that the memory of a deleted node's id goes with it.
type endsPart struct {
	slot  map[string]int32 // node id → its list in lists
	lists [][]*edgeRec
	free  []int32 // slots of deleted nodes, for reuse
}

// endsParts is how many parts the index has. A graph of a million nodes has
// about 4,000 in each, a map of some 150 KiB, which stays in a core's cache
// while a bulk load fills it.
const endsParts = 256

func newEnds() *ends { return &ends{seed: maphash.MakeSeed()} }

func (m *ends) part(id string) *endsPart {
	return &m.parts[maphash.String(m.seed, id)%endsParts]
}

// len returns the number of nodes, for checks.
func (m *ends) len() int {
	n := 0
	for i := range m.parts {
		n += len(m.parts[i].slot)
	}
	return n
}

// addNode gives id a list, empty, unless it has one, and returns its part and slot.
func (m *ends) addNode(id string) (*endsPart, int32) {
	p := m.part(id)
	if i, ok := p.slot[id]; ok {
		return p, i
	}
	if p.slot == nil {
		p.slot = map[string]int32{}
	}
	var i int32
	if n := len(p.free); n > 0 {
		i, p.free = p.free[n-1], p.free[:n-1]
	} else {
		i = int32(len(p.lists))
		p.lists = append(p.lists, nil)
	}
	p.slot[strings.Clone(id)] = i
	return p, i
}

func (m *ends) has(id string) bool {
	_, ok := m.part(id).slot[id]
	return ok
}

// at returns the edges whose hi end is id; the slice is the index's own.
func (m *ends) at(id string) []*edgeRec {
	p := m.part(id)
	if i, ok := p.slot[id]; ok {
		return p.lists[i]
	}
	return nil
}

// put adds r, in the place of old when r replaced it.
func (m *ends) put(r, old *edgeRec) {
	p, i := m.addNode(r.hi())
	s := p.lists[i]
	if old != nil {
		if j := slices.Index(s, old); j >= 0 {
			s[j] = r
			return
		}
	}
	p.lists[i] = append(s, r)
}

func (m *ends) remove(r *edgeRec) {
	p := m.part(r.hi())
	i, ok := p.slot[r.hi()]
	if !ok {
		return
	}
	s := p.lists[i]
	if j := slices.Index(s, r); j >= 0 {
		last := len(s) - 1
		s[j], s[last] = s[last], nil
		p.lists[i] = s[:last]
	}
}

// deleteNode drops id and its list.
func (m *ends) deleteNode(id string) {
	p := m.part(id)
	if i, ok := p.slot[id]; ok {
		delete(p.slot, id)
		p.lists[i] = nil
		p.free = append(p.free, i)
	}
}

// all yields every node with its list, for checks.
func (m *ends) all(yield func(string, []*edgeRec) bool) {
	for pi := range m.parts {
		p := &m.parts[pi]
		for id, i := range p.slot {
			if !yield(id, p.lists[i]) {
				return
			}
		}
	}
}

// endsBuilder builds the index of a bulk load and checks that both ends of every
// edge are nodes. While records stream in, it only files each one under the part
// of the id it is indexed by (for an edge, its hi end), which reads bytes that are
// in cache anyway. build then fills the parts in parallel, each one's map small
// enough to stay in cache, with lists of exactly their length. Filing edge by edge
// into one map of a large graph misses the cache on nearly every lookup, and grows
// each list one edge at a time.
type endsBuilder struct {
	m     *ends
	nodes [endsParts]chunks[string]
	edges [endsParts]chunks[*edgeRec]
	los   [endsParts]chunks[*edgeRec] // the first edge of each run with one lo end
	dead  [endsParts]chunks[*edgeRec] // edges that a later one with their key replaced
	lo    string                      // the last edge's lo end
	some  bool                        // an edge was added
}

func newEndsBuilder() *endsBuilder { return &endsBuilder{m: newEnds()} }

func (b *endsBuilder) partOf(id string) int { return int(maphash.String(b.m.seed, id) % endsParts) }

// addNode notes a node; the loader adds every node before the first edge.
func (b *endsBuilder) addNode(id string) { b.nodes[b.partOf(id)].add(id) }

// addEdge notes an edge, which replaced old if old is not nil.
func (b *endsBuilder) addEdge(r, old *edgeRec) {
	p := b.partOf(r.hi())
	b.edges[p].add(r)
	if old != nil {
		b.addDead(old)
	}
	// Edges mostly come in key order, so the lo ends run; checking the first of
	// each run checks them all.
	if lo := r.lo(); !b.some || lo != b.lo {
		b.lo, b.some = lo, true
		b.los[b.partOf(lo)].add(r)
	}
}

// addDead notes an added edge that a later one with its key replaced.
func (b *endsBuilder) addDead(old *edgeRec) { b.dead[b.partOf(old.hi())].add(old) }

// build fills the index and returns it, or an error that names the first edge,
// in key order, with an end that is not a node.
func (b *endsBuilder) build() (*ends, error) {
	var (
		next   atomic.Int32
		misses [endsParts]missingEnd
		wg     sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), endsParts) {
		wg.Go(func() {
			ids := arena.NewBulk()
			for p := int(next.Add(1)) - 1; p < endsParts; p = int(next.Add(1)) - 1 {
				misses[p] = b.buildPart(p, ids)
			}
		})
	}
	wg.Wait()
	var first missingEnd
	for _, m := range misses {
		first.note(m.edge, m.id, m.lo)
	}
	if first.edge != nil {
		s, t := first.edge.ends()
		return nil, fmt.Errorf("memgraph: replace: %w: edge %q-%q: node %q", ErrMissingEnd, s, t, first.id)
	}
	return b.m, nil
}

// buildPart fills part p, copying its ids into ids.
//
// A part's records lie all over the graph's memory, so reading each one's id
// misses the cache. The ids are read readAhead at a time, each batch's first
// bytes touched in a loop of their own, so that the processor waits for those
// misses together instead of one after the other.
func (b *endsBuilder) buildPart(p int, ids *arena.Arena) missingEnd {
	part := &b.m.parts[p]
	part.slot = make(map[string]int32, b.nodes[p].n)
	var touch byte
	for batch := range b.nodes[p].batches {
		for _, id := range batch {
			touch += first(id)
		}
		for _, id := range batch {
			if _, ok := part.slot[id]; !ok {
				part.slot[ids.String(id)] = int32(len(part.slot))
			}
		}
	}
	var dead map[*edgeRec]bool
	if b.dead[p].n > 0 {
		dead = make(map[*edgeRec]bool, b.dead[p].n)
		for batch := range b.dead[p].batches {
			for _, r := range batch {
				dead[r] = true
			}
		}
	}
	var (
		miss   missingEnd
		end    [readAhead]string
		at     = make([]int32, 0, b.edges[p].n) // each edge's slot, -1 for a dead one
		counts = make([]int32, len(part.slot))
	)
	for batch := range b.edges[p].batches {
		touch += readEnds(batch, &end, (*edgeRec).hi)
		for k, r := range batch {
			i := int32(-1)
			if !dead[r] {
				if s, ok := part.slot[end[k]]; ok {
					i = s
					counts[s]++
				} else {
					miss.note(r, end[k], false)
				}
			}
			at = append(at, i)
		}
	}
	for batch := range b.los[p].batches {
		touch += readEnds(batch, &end, (*edgeRec).lo)
		for k, r := range batch {
			if _, ok := part.slot[end[k]]; !ok {
				miss.note(r, end[k], true)
			}
		}
	}
	touched.Add(uint32(touch))
	if miss.edge != nil {
		return miss
	}
	// One array holds the part's lists, each as long as its capacity, so that a
	// later write to one list moves it out.
	all := make([]*edgeRec, len(at))
	part.lists = make([][]*edgeRec, len(counts))
	off := 0
	for s, c := range counts {
		part.lists[s] = all[off : off : off+int(c)]
		off += int(c)
	}
	j := 0
	for batch := range b.edges[p].batches {
		for _, r := range batch {
			if s := at[j]; s >= 0 {
				part.lists[s] = append(part.lists[s], r)
			}
			j++
		}
	}
	return miss
}

// readEnds reads one end of each edge of a batch into end, then touches the
// first byte of each, and returns the sum of what it touched.
func readEnds(batch []*edgeRec, end *[readAhead]string, of func(*edgeRec) string) byte {
	for k, r := range batch {
		end[k] = of(r)
	}
	var t byte
	for k := range batch {
		t += first(end[k])
	}
	return t
}

// first returns the first byte of s, or 0.
func first(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// missingEnd is an edge with an end that is not a node: the lo end when lo is set.
type missingEnd struct {
	edge *edgeRec
	id   string
	lo   bool
}

// note keeps the first of the edges it is given in key order, and for one edge
// its lo end before its hi end.
func (m *missingEnd) note(r *edgeRec, id string, lo bool) {
	if r == nil {
		return
	}
	if m.edge != nil {
		if c := strings.Compare(r.key(), m.edge.key()); c > 0 || c == 0 && (m.lo || !lo) {
			return
		}
	}
	*m = missingEnd{edge: r, id: id, lo: lo}
}

// chunks is an append-only list held in chunks that double in size up to
// chunkMax, so that it grows without copying what it holds.
type chunks[T any] struct {
	full [][]T
	cur  []T
	n    int
}

const chunkMax = 4096

func (c *chunks[T]) add(v T) {
	if len(c.cur) == cap(c.cur) {
		if c.cur != nil {
			c.full = append(c.full, c.cur)
		}
		c.cur = make([]T, 0, min(max(2*cap(c.cur), 16), chunkMax))
	}
	c.cur = append(c.cur, v)
	c.n++
}

// batches yields the values in the order they were added, at most readAhead at
// a time.
func (c *chunks[T]) batches(yield func([]T) bool) {
	for _, s := range append(c.full[:len(c.full):len(c.full)], c.cur) {
		for len(s) > 0 {
			n := min(len(s), readAhead)
			if !yield(s[:n]) {
				return
			}
			s = s[n:]
		}
	}
}
