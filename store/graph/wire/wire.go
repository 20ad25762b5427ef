// Package wire is the deterministic binary encoding of graph records used in
// snapshot segments.
//
// A value is a tag byte followed by its payload:
//
//	0x00 nil   0x01 false   0x02 true
//	0x03 int64   zig-zag uvarint
//	0x04 float64 8 bytes, IEEE 754 little endian
//	0x05 string  uvarint length, UTF-8 bytes
//	0x06 list    uvarint count, values
//	0x07 map     uvarint count, (uvarint length, key bytes, value) in strictly
//	             increasing key order
//
// A node's record value is its labels (uvarint count, then uvarint length and bytes
// each, strictly increasing) followed by its property map without the tag byte; an
// edge's is its property map without the tag byte. The same content always encodes
// to the same bytes, so a record's hash fingerprints it. Decoding is strict: anything
// an encoder could not have written is ErrCorrupt.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrCorrupt reports bytes that are not a valid encoding.
var ErrCorrupt = errors.New("wire: corrupt record")

// MaxDepth bounds the nesting of lists and maps.
const MaxDepth = 64

const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagList
	tagMap
)

// AppendValue appends the encoding of a property value. Besides the normalized
// types (nil, bool, int64, float64, string, []any, map[string]any) it takes the
// other Go integer and float types, []string and map[string]string, and encodes
// them exactly as their normalized form, so one content has one encoding whatever
// Go types carry it. Non-finite floats, strings that are not UTF-8 and other types
// are errors.
func AppendValue(b []byte, v any) ([]byte, error) {
	return encoder{check: true}.value(b, v, 0)
}

// encoder writes values; check says whether strings are checked for UTF-8.
type encoder struct{ check bool }

var (
	errNotUTF8     = errors.New("wire: string is not valid UTF-8")
	errNotFinite   = errors.New("wire: float is not finite")
	errIntOverflow = errors.New("wire: integer overflows int64")
)

func (en encoder) value(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, fmt.Errorf("wire: nesting deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int64:
		return appendInt(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case int16:
		return appendInt(b, int64(x)), nil
	case int8:
		return appendInt(b, int64(x)), nil
	case uint8:
		return appendInt(b, int64(x)), nil
	case uint16:
		return appendInt(b, int64(x)), nil
	case uint32:
		return appendInt(b, int64(x)), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return b, errIntOverflow
		}
		return appendInt(b, int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return b, errIntOverflow
		}
		return appendInt(b, int64(x)), nil
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case string:
		b = append(b, tagString)
		return en.str(b, x)
	case []any:
		b = append(b, tagList)
		b = binary.AppendUvarint(b, uint64(len(x)))
		var err error
		for _, e := range x {
			if b, err = en.value(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case []string:
		b = append(b, tagList)
		b = binary.AppendUvarint(b, uint64(len(x)))
		var err error
		for _, e := range x {
			b = append(b, tagString)
			if b, err = en.str(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	case map[string]any:
		b = append(b, tagMap)
		return en.mapBody(b, x, depth)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		b = append(b, tagMap)
		return en.mapBody(b, m, depth)
	}
	return b, fmt.Errorf("wire: cannot encode %T", v)
}

func appendInt(b []byte, x int64) []byte {
	b = append(b, tagInt)
	return binary.AppendVarint(b, x)
}

func appendFloat(b []byte, x float64) ([]byte, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return b, errNotFinite
	}
	b = append(b, tagFloat)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), nil
}

func (en encoder) str(b []byte, s string) ([]byte, error) {
	if en.check && !utf8.ValidString(s) {
		return b, errNotUTF8
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...), nil
}

func (en encoder) mapBody(b []byte, m map[string]any, depth int) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(m)))
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var err error
	for _, k := range keys {
		if b, err = en.str(b, k); err != nil {
			return b, err
		}
		if b, err = en.value(b, m[k], depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

// AppendNode appends a node's record value: labels, then properties. Labels are
// written sorted and without duplicates whatever order they come in.
func AppendNode(b []byte, labels []string, props map[string]any) ([]byte, error) {
	return encoder{check: true}.node(b, labels, props)
}

// AppendNodeValid is AppendNode for content that already passed graph.Normalize or
// graph.Adopt: it skips the UTF-8 checks, which are most of the encoding time of
// text-heavy records. Invalid UTF-8 given to it is written as is and refused by the
// decoder.
func AppendNodeValid(b []byte, labels []string, props map[string]any) ([]byte, error) {
	return encoder{}.node(b, labels, props)
}

func (en encoder) node(b []byte, labels []string, props map[string]any) ([]byte, error) {
	if !sortedUnique(labels) {
		labels = slices.Compact(slices.Sorted(slices.Values(labels)))
	}
	b = binary.AppendUvarint(b, uint64(len(labels)))
	var err error
	for _, l := range labels {
		if b, err = en.str(b, l); err != nil {
			return b, err
		}
	}
	return en.mapBody(b, props, 0)
}

func sortedUnique(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// AppendEdge appends an edge's record value: its properties.
func AppendEdge(b []byte, props map[string]any) ([]byte, error) {
	return encoder{check: true}.mapBody(b, props, 0)
}

// AppendEdgeValid is AppendEdge for content that already passed graph.Normalize or
// graph.Adopt; see AppendNodeValid.
func AppendEdgeValid(b []byte, props map[string]any) ([]byte, error) {
	return encoder{}.mapBody(b, props, 0)
}

// decoder reads from a byte slice; every read checks bounds. Its varint and
// count rules are the checker's.
type decoder struct {
	checker
	// s, when set, is b as a string: decoded strings are cut from it instead of
	// being allocated one by one, so the strings of one record share one
	// allocation, freed when the last of them is.
	s string
}

func (d *decoder) str() (string, error) {
	n, err := d.count()
	if err != nil {
		return "", err
	}
	var s string
	if d.s != "" {
		s = d.s[d.off : d.off+n]
	} else {
		s = string(d.b[d.off : d.off+n])
	}
	if !utf8.ValidString(s) {
		return "", d.fail("string is not UTF-8")
	}
	d.off += n
	return s, nil
}

func (d *decoder) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, d.fail("nesting too deep")
	}
	if d.off >= len(d.b) {
		return nil, d.fail("truncated value")
	}
	tag := d.b[d.off]
	d.off++
	switch tag {
	case tagNil:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagInt:
		start := d.off
		v, n := binary.Varint(d.b[d.off:])
		if n <= 0 {
			return nil, d.fail("bad varint")
		}
		if n > 1 && d.b[start+n-1] == 0 {
			return nil, d.fail("non-minimal varint")
		}
		d.off += n
		return v, nil
	case tagFloat:
		if len(d.b)-d.off < 8 {
			return nil, d.fail("truncated float")
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.fail("float is not finite")
		}
		d.off += 8
		return f, nil
	case tagString:
		return d.str()
	case tagList:
		n, err := d.count()
		if err != nil {
			return nil, err
		}
		l := make([]any, n)
		for i := range l {
			if l[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return l, nil
	case tagMap:
		return d.mapBody(depth)
	}
	return nil, d.fail(fmt.Sprintf("unknown tag 0x%02x", tag))
}

func (d *decoder) mapBody(depth int) (map[string]any, error) {
	n, err := d.count()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	m := make(map[string]any, n)
	prev := ""
	for i := range n {
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if i > 0 && strings.Compare(prev, k) >= 0 {
			return nil, d.fail("map keys not strictly increasing")
		}
		prev = k
		if m[k], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (d *decoder) end() error {
	if d.off != len(d.b) {
		return d.fail("trailing bytes")
	}
	return nil
}

// DecodeValue decodes one value that fills b.
func DecodeValue(b []byte) (any, error) {
	d := decoder{checker: checker{b: b}}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	return v, d.end()
}

// DecodeNode decodes a node's record value into its labels and properties. The
// strings it returns share one copy of b.
func DecodeNode(b []byte) (labels []string, props map[string]any, err error) {
	d := decoder{checker: checker{b: b}, s: string(b)}
	n, err := d.count()
	if err != nil {
		return nil, nil, err
	}
	if n > 0 {
		labels = make([]string, n)
		for i := range labels {
			if labels[i], err = d.str(); err != nil {
				return nil, nil, err
			}
			if i > 0 && labels[i-1] >= labels[i] {
				return nil, nil, d.fail("labels not strictly increasing")
			}
		}
	}
	if props, err = d.mapBody(0); err != nil {
		return nil, nil, err
	}
	return labels, props, d.end()
}

// DecodeEdge decodes an edge's record value into its properties. The strings it
// returns share one copy of b.
func DecodeEdge(b []byte) (map[string]any, error) {
	d := decoder{checker: checker{b: b}, s: string(b)}
	props, err := d.mapBody(0)
	if err != nil {
		return nil, err
	}
	return props, d.end()
}
