package memgraph

import "github.com/tidwall/btree"

// runs builds a tree from records that come as a few sorted runs, as a restore
// yields them: one run per layer of a snapshot chain, newest layer first. A record
// greater than the one before it is appended to the rightmost leaf of the current
// run's tree, which costs a walk down the right edge and one comparison; inserting
// it from the root instead would cost a search of the whole tree. A record that is
// not starts a new run, up to maxRuns; after that it is inserted from the root.
// merge makes one tree of the runs at the end, inserting the smaller runs' records
// into the largest run's tree. Input in key order is one run and costs no merge.
type runs[T any] struct {
	less  func(a, b T) bool
	trees []*btree.BTreeG[T] // in the order the runs came
	last  T                  // the greatest record of the last run
	hint  btree.PathHint     // the path of the last insert from the root
}

// maxRuns bounds the runs: a chain of up to 16 layers, the default policy's
// bound, is a run each, and records out of order in other ways cost an insert
// from the root each after the first few.
const maxRuns = 32

func newRuns[T any](less func(a, b T) bool) *runs[T] { return &runs[T]{less: less} }

// add adds r. When r's key is already in the current run's tree, r replaces the
// record there, which is returned; duplicates across runs are found by merge.
func (s *runs[T]) add(r T) (old T, replaced bool) {
	n := len(s.trees)
	switch {
	case n > 0 && s.less(s.last, r):
		s.last = r
		return s.trees[n-1].Load(r)
	case n < maxRuns:
		t := newTree(s.less)
		t.Load(r)
		s.trees, s.last = append(s.trees, t), r
		return old, false
	default:
		return s.trees[n-1].SetHint(r, &s.hint)
	}
}

// merge returns one tree of every run, where of records with one key the last
// added is kept; lost is called with each record so replaced. It returns an empty
// tree when nothing was added. The runs must not be used after.
func (s *runs[T]) merge(lost func(T)) *btree.BTreeG[T] {
	if len(s.trees) == 0 {
		return newTree(s.less)
	}
	big := 0
	for i, t := range s.trees {
		if t.Len() > s.trees[big].Len() {
			big = i
		}
	}
	into := s.trees[big]
	var hint btree.PathHint
	// Later runs, oldest first, replace what the tree holds: every record in it
	// came before theirs.
	for _, t := range s.trees[big+1:] {
		t.Scan(func(r T) bool {
			if old, replaced := into.SetHint(r, &hint); replaced {
				lost(old)
			}
			return true
		})
	}
	// Earlier runs, newest first, add only what the tree lacks: whatever it holds
	// came after theirs.
	for i := big - 1; i >= 0; i-- {
		s.trees[i].Scan(func(r T) bool {
			if newer, replaced := into.SetHint(r, &hint); replaced {
				into.SetHint(newer, &hint)
				lost(r)
			}
			return true
		})
	}
	s.trees = nil
	return into
}
