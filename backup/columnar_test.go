package backup

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/internal/codec"
)

// rowSegment builds a raw segment of the kind from records and tombstones.
func rowSegment(t testing.TB, kind byte, n int) []byte {
	raw := append([]byte(segmentMagic), kind)
	for i := range n {
		if i%7 == 3 {
			raw = appendTombstone(raw, hashKey(fmt.Sprintf("%c:gone%d", kind, i)))
			continue
		}
		props := map[string]any{"description": fmt.Sprintf("text %d", i), "weight": float64(i) / 3}
		if i%2 == 0 {
			props["nested"] = map[string]any{"list": []any{int64(i), "x", nil, true}}
		}
		if i%5 == 0 {
			props = nil
		}
		var v []byte
		var err error
		key := fmt.Sprintf("e:a%d\x00b%d\x00", i, i)
		if kind == kindNode {
			key = fmt.Sprintf("n:node %d", i)
			var labels []string
			if i%3 == 0 {
				labels = []string{"person", fmt.Sprint("l", i)}
			}
			v, err = codec.AppendNode(nil, labels, props)
		} else {
			v, err = codec.AppendEdge(nil, props)
		}
		if err != nil {
			t.Fatal(err)
		}
		raw = appendPut(raw, []byte(key), v)
	}
	return raw
}

func TestColumnarRoundTrip(t *testing.T) {
	for _, kind := range []byte{kindNode, kindEdge} {
		for _, n := range []int{0, 1, 2, 3, 4, 50, 1000} {
			raw := rowSegment(t, kind, n)
			col, err := columnize(nil, raw)
			if err != nil {
				t.Fatalf("%c %d: columnize: %v", kind, n, err)
			}
			back, err := decolumnize(nil, col)
			if err != nil {
				t.Fatalf("%c %d: decolumnize: %v", kind, n, err)
			}
			if !bytes.Equal(back, raw) {
				t.Fatalf("%c %d: rows differ after a round trip", kind, n)
			}
			again, err := columnize(nil, back)
			if err != nil || !bytes.Equal(again, col) {
				t.Fatalf("%c %d: columnize is not deterministic: %v", kind, n, err)
			}
			checkWalkMatchesRows(t, col)
		}
	}
}

func TestDecolumnizeRefusesDamage(t *testing.T) {
	col, err := columnize(nil, rowSegment(t, kindNode, 60))
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation fails; every byte change fails or gives other rows, never a panic.
	for i := range len(col) {
		if _, err := decolumnize(nil, col[:i]); err == nil {
			t.Fatalf("truncated at %d of %d: no error", i, len(col))
		}
		checkWalkMatchesRows(t, col[:i])
		bad := bytes.Clone(col)
		bad[i] ^= 0x41
		_, _ = decolumnize(nil, bad)
		checkWalkMatchesRows(t, bad)
	}
	if _, err := decolumnize(nil, append(bytes.Clone(col), 0)); err == nil {
		t.Fatal("trailing byte: no error")
	}
}

// FuzzColumnar: decolumnizing any bytes never panics, and rows that come out of it
// columnize back to the same bytes: one content, one stored form.
func FuzzColumnar(f *testing.F) {
	for _, kind := range []byte{kindNode, kindEdge} {
		for _, n := range []int{0, 1, 8} {
			col, err := columnize(nil, rowSegment(f, kind, n))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(col)
		}
	}
	f.Fuzz(func(t *testing.T, col []byte) {
		checkWalkMatchesRows(t, col)
		raw, err := decolumnize(nil, col)
		if err != nil {
			return
		}
		again, err := columnize(nil, raw)
		if err != nil {
			return // rows whose values do not decode: the record checks refuse them
		}
		if !bytes.Equal(again, col) {
			t.Fatalf("columnar form is not canonical:\n%x\n%x", col, again)
		}
	})
}

// checkWalkMatchesRows checks that walking a stored segment in its columns, as a
// restore does, gives the records the rows rebuilt from it give, and refuses what
// they refuse, for either kind it may be read as.
func checkWalkMatchesRows(t *testing.T, col []byte) {
	t.Helper()
	for _, kind := range []byte{kindNode, kindEdge} {
		var fromRows, walked []segmentRecord
		keep := func(to *[]segmentRecord) func(segmentRecord) error {
			return func(r segmentRecord) error {
				r.key, r.value = strings.Clone(r.key), bytes.Clone(r.value)
				*to = append(*to, r)
				return nil
			}
		}
		raw, err := decolumnize(nil, col)
		if err == nil {
			_, err = forEachRecord(raw, kind, keep(&fromRows))
		}
		werr := eachSegmentRecord(col, kind, keep(&walked))
		if (err == nil) != (werr == nil) {
			t.Fatalf("kind %c: rows say %v, the walk %v", kind, err, werr)
		}
		if err == nil && !reflect.DeepEqual(fromRows, walked) {
			t.Fatalf("kind %c: the walk gives %d records, the rows %d, or others", kind, len(walked), len(fromRows))
		}
	}
}
