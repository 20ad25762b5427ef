package backup

import (
	"slices"
	"sync"
)

// With WithLiveCache the engine keeps, for each graph, the live records of the
// newest snapshot it took of it: the key hash and value hash of every record,
// sorted by key hash, as liveIndex reads them from a chain. An incremental
// snapshot that compares the whole graph with its parent (scanDelta) then starts
// from memory instead of reading and decompressing the parent's chain, which on a
// remote bucket means downloading it.
//
// An entry is named by the snapshot it describes, and a snapshot never changes
// once committed, so an entry is either right or unused. A snapshot takes its
// parent's entry out of the cache before it changes it, and puts the new one in
// only after its manifest is committed: a snapshot that fails leaves no entry
// behind, and the next one reads the chain.

// liveCache holds one entry per graph.
type liveCache struct {
	mu sync.Mutex
	m  map[string]liveCacheEntry // by graph id
}

type liveCacheEntry struct {
	snapshot string
	live     []liveEntry
}

// take removes the graph's entry and returns its records when it describes
// snapshot, nil otherwise.
func (c *liveCache) take(graphID, snapshot string) []liveEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	ent, ok := c.m[graphID]
	delete(c.m, graphID)
	if !ok || ent.snapshot != snapshot {
		return nil
	}
	return ent.live
}

// put makes live the graph's entry, for snapshot; nil live drops the entry.
func (c *liveCache) put(graphID, snapshot string, live []liveEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if live == nil {
		delete(c.m, graphID)
		return
	}
	if c.m == nil {
		c.m = map[string]liveCacheEntry{}
	}
	c.m[graphID] = liveCacheEntry{snapshot, live}
}

// forget drops the graph's entry if it describes snapshot, which is being
// deleted: its memory is not kept for a parent no snapshot will have.
// It reports whether it dropped one.
func (c *liveCache) forget(graphID, snapshot string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ent, ok := c.m[graphID]; ok && ent.snapshot == snapshot {
		delete(c.m, graphID)
		return true
	}
	return false
}

// liveChange turns a parent's live records into its child's as the child's layer
// is written: values that changed, keys that are new, keys that are gone. It owns
// parent and changes it in place.
type liveChange struct {
	live  []liveEntry // the parent's, sorted by key hash
	gone  []uint64    // bitmap over live
	added []liveEntry
}

func newLiveChange(parent []liveEntry) *liveChange {
	return &liveChange{live: parent, gone: make([]uint64, (len(parent)+63)/64)}
}

func (c *liveChange) find(kh keyHash) (int, bool) {
	return slices.BinarySearchFunc(c.live, kh, func(a liveEntry, k keyHash) int { return a.kh.compare(k) })
}

// apply records the state the child gives kh: held with a value hashing to rh
// when present, gone otherwise. It reports whether that differs from the
// parent's, that is whether the child has to write it.
func (c *liveChange) apply(kh keyHash, present bool, rh uint64) bool {
	i, found := c.find(kh)
	switch {
	case !found && !present:
		return false
	case !found:
		c.add(kh, rh)
	case !present:
		c.removeAt(i)
	case c.live[i].rh == rh && c.gone[i/64]&(1<<(i%64)) == 0:
		return false
	default:
		c.live[i].rh = rh
		c.gone[i/64] &^= 1 << (i % 64)
	}
	return true
}

// add records a key the parent does not hold.
func (c *liveChange) add(kh keyHash, rh uint64) { c.added = append(c.added, liveEntry{kh, rh}) }

// setAt records a new value hash for the key at index i of the parent's records.
func (c *liveChange) setAt(i int, rh uint64) { c.live[i].rh = rh }

// removeAt records that the child no longer holds the key at index i.
func (c *liveChange) removeAt(i int) { c.gone[i/64] |= 1 << (i % 64) }

// result returns the child's live records, sorted by key hash. A key set twice
// keeps its last value.
func (c *liveChange) result() []liveEntry {
	live := c.live[:0]
	for i, le := range c.live {
		if c.gone[i/64]&(1<<(i%64)) == 0 {
			live = append(live, le)
		}
	}
	slices.SortStableFunc(c.added, byKeyHash)
	added := c.added[:0]
	for i, le := range c.added {
		if i+1 < len(c.added) && c.added[i+1].kh == le.kh {
			continue // a later set of the same new key wins
		}
		added = append(added, le)
	}
	// Merge from the back, in place: live grows by the added records.
	n := len(live)
	live = slices.Grow(live, len(added))[:n+len(added)]
	i, j := n-1, len(added)-1
	for w := len(live) - 1; j >= 0; w-- {
		if i >= 0 && live[i].kh.compare(added[j].kh) > 0 {
			live[w] = live[i]
			i--
		} else {
			live[w] = added[j]
			j--
		}
	}
	return live
}
