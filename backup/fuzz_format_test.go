package backup

import (
	"bytes"
	"testing"
)

// FuzzSegment: decoding a raw segment of either kind never panics, every record
// decodes or fails with an error, and a segment that decodes is the exact encoding
// of its records.
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
		if err == nil && !bytes.Equal(rebuilt, raw) {
			t.Fatalf("segment decodes but does not re-encode the same:\n%q\n%q", raw, rebuilt)
		}
	})
}

// FuzzIndex: decoding a raw layer index never panics, and an index that decodes is
// the exact encoding of its entries.
func FuzzIndex(f *testing.F) {
	f.Add(encodeIndex(nil))
	f.Add(encodeIndex([]indexEntry{{kh: hashKey("n:a"), rh: 7}, {kh: hashKey("e:a\x00b\x00"), tombstone: true}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeIndex(b)
		if err != nil {
			return
		}
		if again := encodeIndex(entries); !bytes.Equal(again, b) {
			t.Fatalf("index decodes but does not re-encode the same:\n%x\n%x", b, again)
		}
	})
}
