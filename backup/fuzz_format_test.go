package backup

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

// FuzzSegment: decoding a raw segment of either kind never panics, every record
// decodes or fails with an error, and the records of a segment that decodes encode
// to a segment that decodes to the same records.
func FuzzSegment(f *testing.F) {
	f.Add([]byte("GVS1n"), byte('n'))
	f.Add(appendTombstone([]byte("GVS1e"), hashKey("e:a\x00b\x00")), byte('e'))
	f.Fuzz(func(t *testing.T, raw []byte, kind byte) {
		if kind != kindNode {
			kind = kindEdge
		}
		rebuilt := append([]byte(segmentMagic), kind)
		_, err := forEachRecord(raw, kind, func(r segmentRecord) error {
			if r.op == opTombstone {
				rebuilt = appendTombstone(rebuilt, r.kh)
				return nil
			}
			rebuilt = appendPut(rebuilt, []byte(r.key), r.value)
			if kind == kindNode {
				_, err := decodeNodeRecord(r)
				return err
			}
			_, err := decodeEdgeRecord(r)
			return err
		})
		// Lengths may be non-minimal uvarints: the canonical encoding is never longer,
		// and encoding it again changes nothing.
		if err != nil {
			return
		}
		if len(rebuilt) > len(raw) {
			t.Fatalf("segment re-encodes longer:\n%q\n%q", raw, rebuilt)
		}
		again := append([]byte(segmentMagic), kind)
		if _, err := forEachRecord(rebuilt, kind, func(r segmentRecord) error {
			if r.op == opTombstone {
				again = appendTombstone(again, r.kh)
			} else {
				again = appendPut(again, []byte(r.key), r.value)
			}
			return nil
		}); err != nil || !bytes.Equal(again, rebuilt) {
			t.Fatalf("re-encoded segment does not round-trip: %v\n%q\n%q", err, rebuilt, again)
		}
	})
}

// FuzzIndex: decoding a raw layer index never panics, and the entries of an index
// that decodes encode to an index that decodes to the same entries.
func FuzzIndex(f *testing.F) {
	f.Add(encodeIndex(nil))
	f.Add(encodeIndex([]indexEntry{{kh: hashKey("n:a"), rh: 7}, {kh: hashKey("e:a\x00b\x00"), tombstone: true}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeIndex(b)
		if err != nil {
			return
		}
		// The count may be a non-minimal uvarint, so compare entries, not bytes.
		again, err := decodeIndex(encodeIndex(slices.Clone(entries)))
		if err != nil || !slices.Equal(again, entries) {
			t.Fatalf("index decodes but its entries do not re-encode the same: %v", err)
		}
	})
}

// encodeIndex encodes a layer index as formats 1 and 2 wrote it (FORMAT.md), for
// tests of reading such indexes.
func encodeIndex(entries []indexEntry) []byte {
	slices.SortFunc(entries, func(a, b indexEntry) int { return a.kh.compare(b.kh) })
	b := append([]byte(indexMagic), binary.AppendUvarint(nil, uint64(len(entries)))...)
	for _, e := range entries {
		b = append(b, e.kh[:]...)
		b = binary.LittleEndian.AppendUint64(b, e.rh)
		var flag byte
		if e.tombstone {
			flag = 1
		}
		b = append(b, flag)
	}
	return b
}
