package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/graphvault/graphvault/internal/kmerge"
	"github.com/klauspost/compress/zstd"
)

// keyRunSize is how many key hashes one run holds (1 MiB).
const keyRunSize = 1 << 16

// keyList collects the key hashes of the records and tombstones a layer is given,
// to count them and to refuse a key given twice. Hashes are kept in fixed-size
// runs, so that millions of them never need one large allocation nor a copy to
// grow, and a run is sorted on a goroutine of its own as soon as it is full,
// beside the scan, so that little sorting is left for the end. Records that
// arrive in strictly increasing key order (addInOrder) cannot repeat a key: they
// are only counted, and checked against the key before them.
type keyList struct {
	runs                [][]keyHash
	records, tombstones int64
	sorting             sync.WaitGroup
	prev                []byte // the last key given to addInOrder
	prevKind            byte
}

// addInOrder adds a record from a view that yields its keys in increasing order,
// nodes then edges (a codec.Source). A key not above the one before it is an
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

// liveBase reads the index of a chain's base layer straight into live entries,
// decompressing it as a stream: the decoded index, as large as the live set, is
// never all in memory. It checks what decodeIndex checks.
func (e *Engine) liveBase(ctx context.Context, obj Object, dataKey []byte) ([]liveEntry, error) {
	compressed, err := e.readChecked(ctx, obj, dataKey)
	if err != nil {
		return nil, err
	}
	corrupt := func(format string, args ...any) error {
		return &CorruptError{Key: obj.Key, Err: fmt.Errorf("index: "+format, args...)}
	}
	zr, err := zstd.NewReader(bytes.NewReader(compressed), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 64<<10)
	magic := make([]byte, len(indexMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != indexMagic {
		return nil, corrupt("bad magic")
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, corrupt("bad length")
	}
	if obj.Raw > 0 && (n > uint64(obj.Raw)/25 || int64(len(indexMagic)+uvarintLen(n))+25*int64(n) != obj.Raw) {
		return nil, corrupt("%d entries do not fill %d bytes", n, obj.Raw)
	}
	// n is bounded by the recorded size of the hash-checked object; without a
	// recorded size, the slice grows as entries arrive.
	size := n
	if obj.Raw <= 0 {
		size = min(n, 1<<20)
	}
	live := make([]liveEntry, 0, size)
	var rec [25]byte
	var prev keyHash
	for i := range n {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return nil, corrupt("entry %d: %v", i, err)
		}
		en, err := parseIndexEntry(rec[:], i, prev)
		if err != nil {
			return nil, &CorruptError{Key: obj.Key, Err: err}
		}
		prev = en.kh
		if !en.tombstone { // a tombstone in a base layer hides nothing
			live = append(live, liveEntry{en.kh, en.rh})
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, corrupt("trailing bytes")
		}
		return nil, corrupt("%v", err)
	}
	return live, nil
}

func uvarintLen(n uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], n)
}
