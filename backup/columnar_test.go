package backup

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
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
			v, err = wire.AppendNode(nil, labels, props)
		} else {
			v, err = wire.AppendEdge(nil, props)
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
// restore does, gives the records the rows rebuilt from it give (a segment
// stored as rows gives its own), and refuses what
// they refuse, for either kind it may be read as; and that a walk that checks
// values refuses exactly what the rows and a check of every value refuse.
func checkWalkMatchesRows(t *testing.T, col []byte) {
	t.Helper()
	validLabel := func(l []byte) error { return graph.ValidateID(string(l)) }
	for _, kind := range []byte{kindNode, kindEdge} {
		for _, check := range []bool{false, true} {
			var fromRows, walked []segmentRecord
			keep := func(to *[]segmentRecord) func(segmentRecord) error {
				return func(r segmentRecord) error {
					r.key, r.value = strings.Clone(r.key), bytes.Clone(r.value)
					*to = append(*to, r)
					return nil
				}
			}
			// A segment stored as rows is walked as rows, and its values are
			// left to the record checks.
			raw, err, columnar := col, error(nil), bytes.HasPrefix(col, []byte(columnMagic))
			if columnar {
				raw, err = decolumnize(nil, col)
			}
			if err == nil {
				_, err = forEachRecord(raw, kind, keep(&fromRows))
			}
			for i, r := range fromRows {
				if err != nil || !check || !columnar || r.op != opPut {
					continue
				}
				if kind == kindNode {
					err = wire.ValidateNode(r.value, validLabel)
				} else {
					err = wire.ValidateEdge(r.value)
				}
				fromRows[i].checked = true
			}
			werr := eachSegmentRecord(col, kind, check, keep(&walked))
			if (err == nil) != (werr == nil) {
				t.Fatalf("kind %c, check %t: rows say %v, the walk %v", kind, check, err, werr)
			}
			if err == nil && !reflect.DeepEqual(fromRows, walked) {
				t.Fatalf("kind %c, check %t: the walk gives %d records, the rows %d, or others", kind, check, len(walked), len(fromRows))
			}
		}
	}
}

// TestWalkChecksValues checks that a walk that checks values refuses a string,
// a label and a property name that are not UTF-8, and a label that is not an id,
// where a walk that does not check gives them on.
func TestWalkChecksValues(t *testing.T) {
	for _, c := range []struct {
		name   string
		kind   byte
		labels []string
		props  map[string]any
	}{
		{"string value", kindEdge, nil, map[string]any{"d": "ok\xff"}},
		{"nested string", kindNode, nil, map[string]any{"d": []any{"a", "b\xfe"}}},
		{"property name", kindEdge, nil, map[string]any{"n\xff": int64(1)}},
		{"label", kindNode, []string{"l\xff"}, nil},
		{"label not an id", kindNode, []string{"a\x00b"}, nil},
	} {
		var v []byte
		var err error
		key := "e:a\x00b\x00"
		if c.kind == kindNode {
			key = "n:a"
			v, err = wire.AppendNodeValid(nil, c.labels, c.props)
		} else {
			v, err = wire.AppendEdgeValid(nil, c.props)
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		raw := appendPut(append([]byte(segmentMagic), c.kind), []byte(key), v)
		col, err := columnize(nil, raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := eachSegmentRecord(col, c.kind, false, func(segmentRecord) error { return nil }); err != nil {
			t.Errorf("%s: a walk without checks refuses it: %v", c.name, err)
		}
		if err := eachSegmentRecord(col, c.kind, true, func(segmentRecord) error { return nil }); err == nil {
			t.Errorf("%s: a walk with checks gives it on", c.name)
		}
	}
}
