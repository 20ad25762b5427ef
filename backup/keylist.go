package backup

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/graphvault/graphvault/internal/kmerge"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// keyRunSize is how many key hashes one run holds (1 MiB).
const keyRunSize = 1 << 16

// keyList collects the key hashes of the records and tombstones a layer is given,
// to count them and to refuse a key given twice. Hashes are kept in fixed-size
// runs, so that millions of them never need one large allocation nor a copy to
// grow, and a run is sorted on a goroutine of its own as soon as it is full,
// beside the scan, so that little sorting is left for the end. Records that
// arrive in strictly increasing key order (ordered: from a wire.Source) cannot
// repeat a key: they are only counted, and checked against the key before them.
type keyList struct {
	ordered             bool
	runs                [][]keyHash
	records, tombstones int64
	sorting             sync.WaitGroup
	prev                []byte // the last key given to addInOrder
	prevKind            byte
}

// addScanned adds a put record of a scan: checked for order when the list is
// ordered, collected otherwise.
func (l *keyList) addScanned(r *scanned) error {
	if l.ordered {
		return l.addInOrder(r.kind, r.key)
	}
	l.add(r.kh, false)
	return nil
}

// addInOrder adds a record from a view that yields its keys in increasing order,
// nodes then edges (a wire.Source). A key not above the one before it is an
// ErrInvalid.
func (l *keyList) addInOrder(kind byte, key []byte) error {
	if l.prev != nil && kind == l.prevKind && bytes.Compare(key, l.prev) <= 0 {
		return fmt.Errorf("%w: the graph view yielded key %q after %q", ErrInvalid, key, l.prev)
	}
	l.prev, l.prevKind = append(l.prev[:0], key...), kind
	l.records++
	return nil
}

func (l *keyList) add(kh keyHash, tombstone bool) {
	if tombstone {
		l.tombstones++
	} else {
		l.records++
	}
	if len(l.runs) == 0 || len(l.runs[len(l.runs)-1]) == keyRunSize {
		l.runs = append(l.runs, make([]keyHash, 0, keyRunSize))
	}
	last := &l.runs[len(l.runs)-1]
	*last = append(*last, kh)
	if run := *last; len(run) == keyRunSize {
		l.sorting.Go(func() { slices.SortFunc(run, keyHash.compare) })
	}
}

// counts returns how many records and tombstones the list holds.
func (l *keyList) counts() (records, tombstones int64) { return l.records, l.tombstones }

// unique returns an ErrInvalid when two entries have one key hash: a view
// yielded one record key twice.
func (l *keyList) unique() error {
	if k := len(l.runs); k > 0 && len(l.runs[k-1]) < keyRunSize {
		slices.SortFunc(l.runs[k-1], keyHash.compare)
	}
	l.sorting.Wait()
	var prev keyHash
	first := true
	return kmerge.Merge(l.runs, keyHash.compare, func(kh keyHash) error {
		if !first && kh == prev {
			return fmt.Errorf("%w: the graph view yielded one record key twice", ErrInvalid)
		}
		first, prev = false, kh
		return nil
	})
}

// newKeyList returns the key list for a scan of view: ordered when the view hands
// over its records encoded, in key order (wire.Source).
func newKeyList(view graph.View) *keyList {
	_, ordered := view.(wire.Source)
	return &keyList{ordered: ordered}
}
