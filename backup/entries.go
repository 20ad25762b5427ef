package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/graphvault/graphvault/internal/kmerge"
	"github.com/klauspost/compress/zstd"
)

// entryRunSize is how many index entries one run holds (1.5 MiB).
const entryRunSize = 1 << 16

// entryList collects the index entries of a layer in fixed-size runs, so that
// millions of them never need one large allocation, nor a copy of all of them to
// grow, nor a second copy to encode. Records are kept as 24-byte live entries;
// tombstones, few, apart. A run is sorted on a goroutine of its own as soon as it
// is full, beside the scan, so that little sorting is left for the end.
type entryList struct {
	runs    [][]liveEntry
	tombs   []keyHash
	n       int
	sorting sync.WaitGroup
}

func byKeyHash(a, b liveEntry) int { return a.kh.compare(b.kh) }

func (l *entryList) add(e indexEntry) {
	l.n++
	if e.tombstone {
		l.tombs = append(l.tombs, e.kh)
		return
	}
	if len(l.runs) == 0 || len(l.runs[len(l.runs)-1]) == entryRunSize {
		l.runs = append(l.runs, make([]liveEntry, 0, entryRunSize))
	}
	last := &l.runs[len(l.runs)-1]
	*last = append(*last, liveEntry{e.kh, e.rh})
	if run := *last; len(run) == entryRunSize {
		l.sorting.Go(func() { slices.SortFunc(run, byKeyHash) })
	}
}

func (l *entryList) len() int { return l.n }

// counts returns how many records and tombstones the list holds.
func (l *entryList) counts() (records, tombstones int64) {
	return int64(l.n - len(l.tombs)), int64(len(l.tombs))
}

// sorted sorts the last run, waits for the others, and yields all entries in
// key-hash order. Two entries with one key hash are an ErrInvalid: a view yielded
// one record key twice.
func (l *entryList) sorted(fn func(e indexEntry) error) error {
	if k := len(l.runs); k > 0 && len(l.runs[k-1]) < entryRunSize {
		slices.SortFunc(l.runs[k-1], byKeyHash)
	}
	l.sorting.Wait()
	slices.SortFunc(l.tombs, keyHash.compare)
	tombs := l.tombs
	var prev keyHash
	first := true
	emit := func(e indexEntry) error {
		if !first && e.kh == prev {
			return fmt.Errorf("%w: the graph view yielded one record key twice", ErrInvalid)
		}
		first, prev = false, e.kh
		return fn(e)
	}
	// Tombstones, few, are slipped in between the records.
	err := kmerge.Merge(l.runs, byKeyHash, func(le liveEntry) error {
		for len(tombs) > 0 && tombs[0].compare(le.kh) <= 0 {
			if err := emit(indexEntry{kh: tombs[0], tombstone: true}); err != nil {
				return err
			}
			tombs = tombs[1:]
		}
		return emit(indexEntry{kh: le.kh, rh: le.rh})
	})
	for ; err == nil && len(tombs) > 0; tombs = tombs[1:] {
		err = emit(indexEntry{kh: tombs[0], tombstone: true})
	}
	return err
}

// storeIndex encodes the list as a layer index (see FORMAT.md), compresses it as
// it goes, without the whole encoding in memory, encrypts it when dataKey is set,
// and stores it. It returns the index object and the bytes newly written.
func (e *Engine) storeIndex(ctx context.Context, l *entryList, dataKey []byte) (Object, int64, error) {
	rawLen := len(indexMagic) + uvarintLen(uint64(l.len())) + 25*l.len()
	// Index entries are hashes: they do not compress, so the output is about as
	// large as the input.
	out := bytes.NewBuffer(make([]byte, 0, rawLen+rawLen/64+1024))
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return Object{}, 0, err
	}
	chunk := make([]byte, 0, 64<<10)
	chunk = append(chunk, indexMagic...)
	chunk = binary.AppendUvarint(chunk, uint64(l.len()))
	err = l.sorted(func(en indexEntry) error {
		chunk = appendIndexEntry(chunk, en)
		if len(chunk) >= cap(chunk)-25 {
			if _, err := zw.Write(chunk); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
		return nil
	})
	if err == nil {
		_, err = zw.Write(chunk)
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Object{}, 0, err
	}
	stored := out.Bytes()
	if dataKey != nil {
		if stored, err = seal(dataKey, stored); err != nil {
			return Object{}, 0, err
		}
	}
	key := contentKey(indexPrefix, sha256.Sum256(stored))
	wrote, err := e.put(ctx, key, stored)
	if err != nil {
		return Object{}, 0, fmt.Errorf("backup: store index: %w", err)
	}
	obj := Object{Key: key, Size: int64(len(stored)), Raw: int64(rawLen)}
	if wrote {
		return obj, obj.Size, nil
	}
	return obj, 0, nil
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
