package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"unicode/utf8"

	"github.com/graphvault/graphvault/store/graph"
)

// Record is one graph record in its encoded form: its key, as graph.NodeKey or
// graph.EdgeKey writes it, and its record value.
type Record struct {
	Key   string
	Value []byte
	// Owned says Key and Value are never written again: a Sink may keep them
	// instead of copying them.
	Owned bool
}

// Source is an optional method set of a graph.View whose records are held
// encoded, as memgraph holds them. A reader that wants the encoding (a snapshot)
// takes the records as they are instead of decoding and encoding them again.
// EncodedNodes and EncodedEdges yield the same records, in the same order, as the
// view's Nodes and Edges, and that order is by increasing key (a snapshot checks
// it, and relies on it for keys being unique); the records share memory with the
// view and must not be modified.
type Source interface {
	EncodedNodes(ctx context.Context) iter.Seq2[Record, error]
	EncodedEdges(ctx context.Context) iter.Seq2[Record, error]
}

// Sink is an optional method set of a graph.Writer that stores records encoded.
// ReplaceEncoded is graph.Writer.Replace for encoded records. The sink copies what
// it keeps of a record that is not Owned, so its Key and Value may be reused once
// the sequence goes on.
// It checks every record with CheckNode or CheckEdge unless meta.Normalized
// promises that the caller did.
type Sink interface {
	ReplaceEncoded(ctx context.Context, meta graph.Meta, nodes, edges iter.Seq2[Record, error]) error
}

// CheckNode checks a node record: a valid node key and a value ValidateNode
// accepts, with labels that are valid ids. Errors wrap ErrCorrupt.
func CheckNode(r Record) error {
	if err := CheckNodeKey(r.Key); err != nil {
		return err
	}
	return ValidateNode(r.Value, checkLabel)
}

// CheckNodeKey is CheckNode's check of the key alone.
func CheckNodeKey(key string) error {
	kind, _, err := graph.ParseKey(key)
	if err != nil || kind != 'n' {
		return fmt.Errorf("%w: bad node key %q: %v", ErrCorrupt, key, err)
	}
	return nil
}

// checkLabel checks that a label is a valid id.
func checkLabel(l []byte) error { return graph.ValidateID(string(l)) }

// CheckEdge checks an edge record: a valid edge key, with the smaller end first
// when the graph is undirected, and a value ValidateEdge accepts. Errors wrap
// ErrCorrupt.
func CheckEdge(r Record, directed bool) error {
	if err := CheckEdgeKey(r.Key, directed); err != nil {
		return err
	}
	return ValidateEdge(r.Value)
}

// CheckEdgeKey is CheckEdge's check of the key alone.
func CheckEdgeKey(key string, directed bool) error {
	kind, parts, err := graph.ParseKey(key)
	if err != nil || kind != 'e' {
		return fmt.Errorf("%w: bad edge key %q: %v", ErrCorrupt, key, err)
	}
	if !directed && parts[1] < parts[0] {
		return fmt.Errorf("%w: undirected edge key %q has the larger end first", ErrCorrupt, key)
	}
	return nil
}

// ValidateNode checks that b is a node's record value exactly as AppendNode writes
// it, without decoding it into Go values. label, when not nil, is called with each
// label, which aliases b.
func ValidateNode(b []byte, label func([]byte) error) error {
	c := checker{b: b}
	if err := c.labels(label); err != nil {
		return err
	}
	if err := c.mapBody(0, nil); err != nil {
		return err
	}
	return c.end()
}

// ValidateEdge checks that b is an edge's record value exactly as AppendEdge writes
// it, without decoding it into Go values.
func ValidateEdge(b []byte) error {
	c := checker{b: b}
	if err := c.mapBody(0, nil); err != nil {
		return err
	}
	return c.end()
}

// checker walks an encoding with the decoder's rules and keeps nothing. Every
// read checks bounds; varints must be minimal, so one value has one encoding.
type checker struct {
	b   []byte
	off int
	// shape, when set, checks the structure only and not that strings are UTF-8.
	shape bool
}

func (c *checker) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrCorrupt, what, c.off)
}

func (c *checker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(c.b[c.off:])
	if n <= 0 {
		return 0, c.fail("bad uvarint")
	}
	if n > 1 && c.b[c.off+n-1] == 0 {
		return 0, c.fail("non-minimal uvarint")
	}
	c.off += n
	return v, nil
}

func (c *checker) count() (int, error) {
	n, err := c.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(c.b)-c.off) {
		return 0, c.fail("count exceeds input")
	}
	return int(n), nil
}

func (c *checker) str() ([]byte, error) {
	n, err := c.count()
	if err != nil {
		return nil, err
	}
	s := c.b[c.off : c.off+n]
	if !c.shape && !utf8.Valid(s) {
		return nil, c.fail("string is not UTF-8")
	}
	c.off += n
	return s, nil
}

func (c *checker) value(depth int) error {
	if depth > MaxDepth {
		return c.fail("nesting too deep")
	}
	if c.off >= len(c.b) {
		return c.fail("truncated value")
	}
	tag := c.b[c.off]
	c.off++
	switch tag {
	case tagNil, tagFalse, tagTrue:
		return nil
	case tagInt:
		start := c.off
		_, n := binary.Varint(c.b[c.off:])
		if n <= 0 {
			return c.fail("bad varint")
		}
		if n > 1 && c.b[start+n-1] == 0 {
			return c.fail("non-minimal varint")
		}
		c.off += n
		return nil
	case tagFloat:
		if len(c.b)-c.off < 8 {
			return c.fail("truncated float")
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(c.b[c.off:]))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return c.fail("float is not finite")
		}
		c.off += 8
		return nil
	case tagString:
		_, err := c.str()
		return err
	case tagList:
		n, err := c.count()
		if err != nil {
			return err
		}
		for range n {
			if err := c.value(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case tagMap:
		return c.mapBody(depth, nil)
	}
	return c.fail(fmt.Sprintf("unknown tag 0x%02x", tag))
}

// mapBody reads a map body; field, when not nil, is told where each top-level
// property's name is and where its value lies in b.
func (c *checker) mapBody(depth int, field func(name []byte, start, end int)) error {
	n, err := c.count()
	if err != nil {
		return err
	}
	var prev []byte
	for i := range n {
		k, err := c.str()
		if err != nil {
			return err
		}
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			return c.fail("map keys not strictly increasing")
		}
		prev = k
		start := c.off
		if err := c.value(depth + 1); err != nil {
			return err
		}
		if field != nil {
			field(k, start, c.off)
		}
	}
	return nil
}

// labels reads a node's labels, strictly increasing, calling label, when not
// nil, with each.
func (c *checker) labels(label func([]byte) error) error {
	n, err := c.count()
	if err != nil {
		return err
	}
	var prev []byte
	for i := range n {
		l, err := c.str()
		if err != nil {
			return err
		}
		if i > 0 && bytes.Compare(prev, l) >= 0 {
			return c.fail("labels not strictly increasing")
		}
		prev = l
		if label != nil {
			if err := label(l); err != nil {
				return fmt.Errorf("%w: label: %v", ErrCorrupt, err)
			}
		}
	}
	return nil
}

func (c *checker) end() error {
	if c.off != len(c.b) {
		return c.fail("trailing bytes")
	}
	return nil
}

// Labels decodes only the labels of a node's record value, nil when it has none.
func Labels(b []byte) ([]string, error) {
	var labels []string
	c := checker{b: b}
	err := c.labels(func(l []byte) error {
		labels = append(labels, string(l))
		return nil
	})
	return labels, err
}

// Fields splits a record value without decoding it: for a node, labels is its
// labels as encoded (count first); then fn gets each property's name and where its
// value, as encoded (tag first), lies in b, in order. labels and name alias b. It
// checks the structure as the decoder would, but not that strings are UTF-8:
// Fields, SkipLabels and SkipValue move encoded records around, whose readers
// check them in full.
func Fields(b []byte, node bool, fn func(name []byte, start, end int)) (labels []byte, err error) {
	c := checker{b: b, shape: true}
	if node {
		if err := c.labels(nil); err != nil {
			return nil, err
		}
		labels = b[:c.off]
	}
	if err := c.mapBody(0, fn); err != nil {
		return nil, err
	}
	return labels, c.end()
}

// SkipLabels returns the length of the encoded labels at the start of b.
func SkipLabels(b []byte) (int, error) {
	c := checker{b: b, shape: true}
	if err := c.labels(nil); err != nil {
		return 0, err
	}
	return c.off, nil
}

// SkipValue returns the length of the encoded value at the start of b.
func SkipValue(b []byte) (int, error) {
	c := checker{b: b, shape: true}
	if err := c.value(1); err != nil {
		return 0, err
	}
	return c.off, nil
}

// CheckLabels is SkipLabels making the checks CheckNode makes of labels: UTF-8,
// and valid ids.
func CheckLabels(b []byte) (int, error) {
	c := checker{b: b}
	if err := c.labels(checkLabel); err != nil {
		return 0, err
	}
	return c.off, nil
}

// CheckValue is SkipValue making the checks ValidateNode and ValidateEdge make of
// a property's value: its strings are UTF-8.
func CheckValue(b []byte) (int, error) {
	c := checker{b: b}
	if err := c.value(1); err != nil {
		return 0, err
	}
	return c.off, nil
}

// CheckName makes the checks ValidateNode and ValidateEdge make of a property
// name on its own: it is UTF-8.
func CheckName(name []byte) error {
	if !utf8.Valid(name) {
		return fmt.Errorf("%w: property name is not UTF-8", ErrCorrupt)
	}
	return nil
}
