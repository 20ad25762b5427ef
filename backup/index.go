package backup

// Layer indexes, written by formats 1 and 2 and read still (see FORMAT.md): a
// chain whose every layer has one gets its live records from them, and full
// verification holds such a layer's records to its index.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/zstd"
)

// An index is magic, uvarint count, then per entry a 16-byte key hash, an 8-byte
// value hash and a flag byte, sorted by key hash.

// indexEntry is one record of a layer: its key hash, its value hash, and whether it
// is a tombstone.
type indexEntry struct {
	kh        keyHash
	rh        uint64
	tombstone bool
}

// parseIndexEntry parses entry i, 25 bytes, of an index whose entry i-1 had key
// hash prev.
func parseIndexEntry(rec []byte, i uint64, prev keyHash) (indexEntry, error) {
	var e indexEntry
	copy(e.kh[:], rec[:16])
	e.rh = binary.LittleEndian.Uint64(rec[16:24])
	switch rec[24] {
	case 0:
	case 1:
		e.tombstone = true
	default:
		return e, fmt.Errorf("index: bad flag at entry %d", i)
	}
	if i > 0 && prev.compare(e.kh) >= 0 {
		return e, fmt.Errorf("index: entries not strictly increasing at %d", i)
	}
	return e, nil
}

func decodeIndex(b []byte) ([]indexEntry, error) {
	if !bytes.HasPrefix(b, []byte(indexMagic)) {
		return nil, fmt.Errorf("index: bad magic")
	}
	b = b[len(indexMagic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k)/25 || n*25 != uint64(len(b)-k) { // n*25 must not wrap
		return nil, fmt.Errorf("index: bad length")
	}
	b = b[k:]
	out := make([]indexEntry, n)
	var prev keyHash
	for i := range n {
		e, err := parseIndexEntry(b[25*i:25*i+25], i, prev)
		if err != nil {
			return nil, err
		}
		out[i], prev = e, e.kh
	}
	return out, nil
}

// mergeIndexes is liveIndex for a chain whose every layer has an index.
func (e *Engine) mergeIndexes(ctx context.Context, m *Manifest, keys [][]byte) ([]liveEntry, error) {
	var live []liveEntry
	var err error
	for i, l := range m.Layers {
		if i == 0 {
			// The base layer, the largest, is streamed straight into live entries.
			if live, err = e.liveBase(ctx, l.Index, keys[i]); err != nil {
				return nil, err
			}
			continue
		}
		raw, err := e.load(ctx, l.Index, keys[i])
		if err != nil {
			return nil, err
		}
		entries, err := decodeIndex(raw)
		if err != nil {
			return nil, &CorruptError{Key: l.Index.Key, Err: err}
		}
		raw = nil
		live = mergeLive(live, entries)
	}
	return live, nil
}

// mergeLive applies a sorted delta to a sorted live set. Updates and deletions
// happen in place; only new keys cost a merge into a fresh slice.
func mergeLive(live []liveEntry, delta []indexEntry) []liveEntry {
	var adds []liveEntry
	deleted := false
	for _, d := range delta {
		i, found := slices.BinarySearchFunc(live, d.kh, func(a liveEntry, k keyHash) int { return a.kh.compare(k) })
		switch {
		case found && d.tombstone:
			live[i].rh = tombstoneMark
			deleted = true
		case found:
			live[i].rh = d.rh
		case !d.tombstone:
			adds = append(adds, liveEntry{d.kh, d.rh})
		}
	}
	if deleted {
		live = slices.DeleteFunc(live, func(l liveEntry) bool { return l.rh == tombstoneMark })
	}
	if len(adds) == 0 {
		return live
	}
	out := make([]liveEntry, 0, len(live)+len(adds))
	i, j := 0, 0
	for i < len(live) && j < len(adds) {
		if live[i].kh.compare(adds[j].kh) < 0 {
			out = append(out, live[i])
			i++
		} else {
			out = append(out, adds[j])
			j++
		}
	}
	out = append(out, live[i:]...)
	return append(out, adds[j:]...)
}

// tombstoneMark marks a live entry for removal. A real value hash equal to it would
// drop that key from the live set, which only makes the next incremental snapshot
// write the record again: nothing is lost.
const tombstoneMark = ^uint64(0)

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
