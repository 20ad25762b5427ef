package backup

// Layer indexes, written by formats 1 and 2 and read still (see FORMAT.md): full
// verification holds such a layer's records to its index. Live records are read
// from segments, as for any chain, so that their value fingerprints are this
// process's (see hashValue).

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/zeebo/xxh3"
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

// indexValueHash is the value hash format 1 and 2 indexes store: xxh3, unkeyed.
func indexValueHash(v []byte) uint64 { return xxh3.Hash(v) }
