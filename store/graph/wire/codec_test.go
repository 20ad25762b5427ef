package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"false", false},
		{"true", true},
		{"zero", int64(0)},
		{"negative", int64(-123456789)},
		{"max", int64(math.MaxInt64)},
		{"min", int64(math.MinInt64)},
		{"float one stays float", 1.0},
		{"negative zero", math.Copysign(0, -1)},
		{"float", 3.14159},
		{"empty string", ""},
		{"unicode", "Zürich — 東京 \"quoted\" a/b"},
		{"list", []any{int64(1), "two", 3.0, nil, []any{true}}},
		{"map", map[string]any{"b": int64(2), "a": "x", "c": map[string]any{"z": 1.5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendValue(nil, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeValue(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !graph.EqualValues(got, tt.v) {
				t.Fatalf("got %#v, want %#v", got, tt.v)
			}
			if f, ok := tt.v.(float64); ok && math.Signbit(f) != math.Signbit(got.(float64)) {
				t.Fatalf("sign of %v lost", f)
			}
			b2, _ := AppendValue(nil, got)
			if !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs: %x vs %x", b, b2)
			}
		})
	}
}

func TestMapEncodingIsDeterministic(t *testing.T) {
	m := map[string]any{}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		m[k] = k
	}
	first, _ := AppendEdge(nil, m)
	for range 20 {
		again, _ := AppendEdge(nil, m)
		if !bytes.Equal(first, again) {
			t.Fatal("two encodings of one map differ")
		}
	}
}

func TestNodeAndEdgeRoundTrip(t *testing.T) {
	labels := []string{"org", "person"}
	props := map[string]any{"description": "long text", "weight": 2.0, "n": int64(7)}
	b, err := AppendNode(nil, labels, props)
	if err != nil {
		t.Fatal(err)
	}
	gotL, gotP, err := DecodeNode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !graph.EqualNodes(graph.Node{ID: "x", Labels: gotL, Props: gotP}, graph.Node{ID: "x", Labels: labels, Props: props}) {
		t.Fatalf("got %v %v", gotL, gotP)
	}
	unsorted, _ := AppendNode(nil, []string{"b", "a", "b"}, nil)
	sorted, _ := AppendNode(nil, []string{"a", "b"}, nil)
	if !bytes.Equal(unsorted, sorted) {
		t.Fatal("unsorted labels with a duplicate encode differently from sorted ones")
	}
	loose, err := AppendEdge(nil, map[string]any{"n": 7, "f": float32(1.5), "l": []string{"x"}, "m": map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := AppendEdge(nil, map[string]any{"n": int64(7), "f": 1.5, "l": []any{"x"}, "m": map[string]any{"k": "v"}})
	if !bytes.Equal(loose, strict) {
		t.Fatal("Go integer and slice types encode differently from their normalized form")
	}
	for _, bad := range []any{math.NaN(), "\xff", uint64(math.MaxUint64), struct{}{}} {
		if _, err := AppendValue(nil, bad); err == nil {
			t.Fatalf("%#v encoded without error", bad)
		}
	}
	e, _ := AppendEdge(nil, props)
	gotE, err := DecodeEdge(e)
	if err != nil || !graph.EqualProps(gotE, props) {
		t.Fatalf("edge: got %v, %v", gotE, err)
	}
	empty, _ := AppendEdge(nil, nil)
	if p, err := DecodeEdge(empty); err != nil || p != nil {
		t.Fatalf("empty edge: got %v, %v", p, err)
	}
}

func TestCorruptInputIsAnError(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown tag", []byte{0x42}},
		{"truncated float", []byte{tagFloat, 1, 2}},
		{"NaN", append([]byte{tagFloat}, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f)},
		{"string longer than input", []byte{tagString, 10, 'a'}},
		{"bad utf8", []byte{tagString, 1, 0xff}},
		{"non-minimal uvarint", []byte{tagString, 0x80, 0x00}},
		{"non-minimal varint", []byte{tagInt, 0x82, 0x00}},
		{"huge list count", []byte{tagList, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"unsorted map", []byte{tagMap, 2, 1, 'b', tagNil, 1, 'a', tagNil}},
		{"duplicate map key", []byte{tagMap, 2, 1, 'a', tagNil, 1, 'a', tagNil}},
		{"trailing bytes", []byte{tagNil, tagNil}},
		{"bad varint", []byte{tagInt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeValue(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
	deep := bytes.Repeat([]byte{tagList, 1}, MaxDepth+2)
	if _, err := DecodeValue(append(deep, tagNil)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("deep nesting: got %v", err)
	}
	if _, _, err := DecodeNode([]byte{2, 1, 'b', 1, 'a', 0}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unsorted labels: got %v", err)
	}
	if _, err := AppendValue(nil, struct{}{}); err == nil {
		t.Fatal("struct encoded without error")
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range []any{nil, true, int64(-5), 2.5, "s", []any{int64(1), "x"}, map[string]any{"a": []any{nil}}} {
		b, _ := AppendValue(nil, v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The checkers accept exactly what the decoders accept.
		_, _, nerr := DecodeNode(b)
		if cerr := ValidateNode(b, nil); (nerr == nil) != (cerr == nil) {
			t.Fatalf("DecodeNode says %v, ValidateNode says %v", nerr, cerr)
		}
		_, eerr := DecodeEdge(b)
		if cerr := ValidateEdge(b); (eerr == nil) != (cerr == nil) {
			t.Fatalf("DecodeEdge says %v, ValidateEdge says %v", eerr, cerr)
		}
		v, err := DecodeValue(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: one value, one encoding.
		again, err := AppendValue(nil, v)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b)
		}
		// And it is already in normal form: restore hands decoded values to
		// writers as normalized content.
		// Adopt keeps a map that is normal and copies one that is not.
		props := map[string]any{"v": v}
		n, err := graph.Node{ID: "x", Props: props}.Adopt()
		if err != nil || reflect.ValueOf(n.Props).UnsafePointer() != reflect.ValueOf(props).UnsafePointer() {
			t.Fatalf("decoded %#v is not normal: Adopt gives %#v, %v", v, n.Props, err)
		}
	})
}

func BenchmarkAppendNode(b *testing.B) {
	props := map[string]any{
		"entity_id":   "Ancient Egyptian Tombs",
		"entity_type": "geo",
		"description": strings.Repeat("Historical sites where archaeologists found honey. ", 6),
		"source_id":   "chunk-ca25e1b95daef467c64a9046e8200eec<SEP>chunk-0b8d4e",
		"file_path":   "docs/history.txt",
		"created_at":  int64(1732600000),
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendNode(buf[:0], nil, props)
	}
	b.SetBytes(int64(len(buf)))
}

func TestValidVariantsWriteTheSameBytes(t *testing.T) {
	labels := []string{"org", "person"}
	props := map[string]any{"description": "long text, ünïcode", "tags": []any{"a", int64(1)}, "m": map[string]any{"k": "v"}}
	checked, err := AppendNode(nil, labels, props)
	if err != nil {
		t.Fatal(err)
	}
	valid, err := AppendNodeValid(nil, labels, props)
	if err != nil || !bytes.Equal(checked, valid) {
		t.Fatalf("node: AppendNodeValid gives %x, %v; AppendNode %x", valid, err, checked)
	}
	checked, _ = AppendEdge(nil, props)
	valid, err = AppendEdgeValid(nil, props)
	if err != nil || !bytes.Equal(checked, valid) {
		t.Fatalf("edge: AppendEdgeValid gives %x, %v; AppendEdge %x", valid, err, checked)
	}
	// What the unchecked variant lets through, the decoder refuses.
	bad, err := AppendEdgeValid(nil, map[string]any{"k": "\xff"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AppendEdge(nil, map[string]any{"k": "\xff"}); err == nil {
		t.Fatal("AppendEdge took invalid UTF-8")
	}
	if _, err := DecodeEdge(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("decoding invalid UTF-8: %v, want ErrCorrupt", err)
	}
}

func TestValidateMatchesDecode(t *testing.T) {
	node, err := AppendNode(nil, []string{"b", "a"}, map[string]any{"k": []any{int64(1), 2.5, "x", map[string]any{"z": nil}}, "t": true})
	if err != nil {
		t.Fatal(err)
	}
	edge, err := AppendEdge(nil, map[string]any{"w": 1.5, "d": "text"})
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	if err := ValidateNode(node, func(l []byte) error { labels = append(labels, string(l)); return nil }); err != nil {
		t.Fatalf("ValidateNode: %v", err)
	}
	if !slices.Equal(labels, []string{"a", "b"}) {
		t.Errorf("labels %q, want [a b]", labels)
	}
	if err := ValidateNode(node, func([]byte) error { return errors.New("no") }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a refused label: %v, want ErrCorrupt", err)
	}
	if err := ValidateEdge(edge); err != nil {
		t.Fatalf("ValidateEdge: %v", err)
	}
	// Every truncation and every single-byte change is judged as the decoder judges it.
	for _, b := range [][]byte{node, edge} {
		for i := range len(b) {
			cut := b[:i]
			_, _, nerr := DecodeNode(cut)
			if cerr := ValidateNode(cut, nil); (nerr == nil) != (cerr == nil) {
				t.Fatalf("cut %x: DecodeNode %v, ValidateNode %v", cut, nerr, cerr)
			}
			for _, x := range []byte{0x00, 0x01, 0x7f, 0x80, 0xff} {
				bad := slices.Clone(b)
				bad[i] = x
				_, eerr := DecodeEdge(bad)
				if cerr := ValidateEdge(bad); (eerr == nil) != (cerr == nil) {
					t.Fatalf("%x: DecodeEdge %v, ValidateEdge %v", bad, eerr, cerr)
				}
				_, _, nerr := DecodeNode(bad)
				if cerr := ValidateNode(bad, nil); (nerr == nil) != (cerr == nil) {
					t.Fatalf("%x: DecodeNode %v, ValidateNode %v", bad, nerr, cerr)
				}
			}
		}
	}
}
