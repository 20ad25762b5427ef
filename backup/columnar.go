package backup

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/graphvault/graphvault/store/graph/wire"
)

// Segments are stored in columns. A raw segment (see FORMAT.md) holds its records
// one after the other; before it is compressed it is rearranged so that like
// bytes sit together: the keys, the labels, the property names once, which
// properties each record has, then every property's values as one run. At zstd's
// fastest level, the segments of a LightRAG-shaped graph (examples/bench, 800,000
// records) take about 112 MiB so, against about 134 MiB as rows. Reading
// rearranges the columns back into the very same rows, so hashes and every reader
// of raw segments are unchanged.

// columnMagic starts a columnar segment; a stored segment that decompresses to
// segmentMagic instead holds rows, as format 1 wrote them.
const columnMagic = "GVC1"

// colField is one property of a put record: an index into the segment's names
// and its value as encoded, as offsets into the raw segment.
type colField struct {
	name       int
	start, end int
}

// colRecord is one record of a raw segment, as offsets into it.
type colRecord struct {
	op                byte
	key, keyEnd       int // the key, or the tombstone's key hash
	labels, labelsEnd int
	fields, fieldsEnd int // into columnizer.fields
}

// columnizer holds the scratch space of one columnize call.
type columnizer struct {
	recs   []colRecord
	fields []colField
	names  []string
	last   int   // the index name gave last, -1 at the start of a record
	at     []int // per column: its length, then where its next value goes
}

// name returns the index of a property name, adding it when new. Records of a
// segment mostly have the same few names, so the last one's successor is tried
// first, then the list.
func (c *columnizer) name(name []byte) int {
	if c.last+1 < len(c.names) && c.names[c.last+1] == string(name) {
		c.last++
		return c.last
	}
	for i, n := range c.names {
		if n == string(name) {
			c.last = i
			return i
		}
	}
	c.names = append(c.names, string(name))
	c.last = len(c.names) - 1
	return c.last
}

var columnizers = sync.Pool{New: func() any { return new(columnizer) }}

// columnize appends the columnar form of a raw segment, which must decode, to dst.
func columnize(dst, raw []byte) ([]byte, error) {
	c := columnizers.Get().(*columnizer)
	defer columnizers.Put(c)
	c.recs, c.fields, c.names = c.recs[:0], c.fields[:0], c.names[:0]

	kind := raw[len(segmentMagic)]
	if _, err := forEachRecordAt(raw, kind, func(op byte, key, value [2]int) error {
		r := colRecord{op: op, key: key[0], keyEnd: key[1], fields: len(c.fields)}
		if op == opPut {
			c.last = -1
			labels, err := wire.Fields(raw[value[0]:value[1]], kind == kindNode, func(name []byte, start, end int) {
				i := c.name(name)
				c.fields = append(c.fields, colField{name: i, start: value[0] + start, end: value[0] + end})
			})
			if err != nil {
				return formatErr("segment: record value: %v", err)
			}
			r.labels, r.labelsEnd = value[0], value[0]+len(labels)
		}
		r.fieldsEnd = len(c.fields)
		c.recs = append(c.recs, r)
		return nil
	}); err != nil {
		return dst, err
	}
	// Names are stored sorted; fields refer to them by their sorted place.
	order := make([]int, len(c.names))
	sorted := slices.Clone(c.names)
	slices.Sort(sorted)
	for i, n := range c.names {
		order[i], _ = slices.BinarySearch(sorted, n)
	}

	dst = append(dst, columnMagic...)
	dst = append(dst, kind)
	dst = binary.AppendUvarint(dst, uint64(len(c.recs)))
	section := func(fill func(b []byte) []byte) {
		// Written after a 10-byte gap for its length, then moved up to close the gap.
		at := len(dst)
		dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
		dst = fill(dst)
		n := len(dst) - at - binary.MaxVarintLen64
		var l [binary.MaxVarintLen64]byte
		ll := binary.PutUvarint(l[:], uint64(n))
		copy(dst[at:], l[:ll])
		copy(dst[at+ll:], dst[at+binary.MaxVarintLen64:])
		dst = dst[:at+ll+n]
	}
	section(func(b []byte) []byte { // ops
		for _, r := range c.recs {
			b = append(b, r.op)
		}
		return b
	})
	section(func(b []byte) []byte { // tombstones
		for _, r := range c.recs {
			if r.op == opTombstone {
				b = append(b, raw[r.key:r.keyEnd]...)
			}
		}
		return b
	})
	section(func(b []byte) []byte { // keys
		for _, r := range c.recs {
			if r.op == opPut {
				b = binary.AppendUvarint(b, uint64(r.keyEnd-r.key))
				b = append(b, raw[r.key:r.keyEnd]...)
			}
		}
		return b
	})
	section(func(b []byte) []byte { // labels
		for _, r := range c.recs {
			b = append(b, raw[r.labels:r.labelsEnd]...)
		}
		return b
	})
	section(func(b []byte) []byte { // names
		b = binary.AppendUvarint(b, uint64(len(sorted)))
		for _, n := range sorted {
			b = binary.AppendUvarint(b, uint64(len(n)))
			b = append(b, n...)
		}
		return b
	})
	section(func(b []byte) []byte { // shapes
		for _, r := range c.recs {
			if r.op != opPut {
				continue
			}
			b = binary.AppendUvarint(b, uint64(r.fieldsEnd-r.fields))
			for _, f := range c.fields[r.fields:r.fieldsEnd] {
				b = binary.AppendUvarint(b, uint64(order[f.name]))
			}
		}
		return b
	})
	// The columns, most of a segment's bytes, are laid out first and then filled
	// in one pass over the fields, so that each value is copied once.
	if cap(c.at) < len(sorted) {
		c.at = make([]int, len(sorted))
	}
	at := c.at[:len(sorted)]
	clear(at)
	for _, f := range c.fields {
		at[order[f.name]] += f.end - f.start
	}
	end := len(dst)
	for _, n := range at {
		end += uvarintLen(n) + n
	}
	start := len(dst)
	dst = slices.Grow(dst, end-start)[:end]
	for i, n := range at {
		start += binary.PutUvarint(dst[start:], uint64(n))
		at[i] = start
		start += n
	}
	for _, f := range c.fields {
		i := order[f.name]
		at[i] += copy(dst[at[i]:], raw[f.start:f.end])
	}
	return dst, nil
}

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// colReader reads the sections of a columnar segment; every read checks bounds.
type colReader struct {
	b   []byte
	err error
}

func (r *colReader) fail(what string) {
	if r.err == nil {
		r.err = formatErr("columnar segment: %s", what)
	}
}

func (r *colReader) uvarint() int {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 || (n > 1 && r.b[n-1] == 0) {
		r.fail("bad length")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *colReader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		r.b = nil
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *colReader) section() colReader { return colReader{b: r.take(r.uvarint())} }

// decolumnize appends to dst the raw segment whose columnar form is col.
func decolumnize(dst, col []byte) ([]byte, error) {
	kind, err := columnKind(col)
	if err != nil {
		return dst, err
	}
	dst = append(dst, segmentMagic...)
	dst = append(dst, kind)
	err = walkColumns(col, false, func(op byte, key, value []byte) error {
		if op == opTombstone {
			dst = append(dst, opTombstone)
			dst = append(dst, key...)
		} else {
			dst = appendPut(dst, key, value)
		}
		return nil
	})
	return dst, err
}

// columnKind checks a columnar segment's magic and returns its kind.
func columnKind(col []byte) (byte, error) {
	if len(col) < len(columnMagic)+1 || string(col[:len(columnMagic)]) != columnMagic {
		return 0, formatErr("columnar segment: bad magic")
	}
	return col[len(columnMagic)], nil
}

// walkColumns calls fn with every record of a columnar segment in order, as the
// rows decolumnize writes would hold them: a tombstone's key hash, or a put's key
// and value. key aliases col; value is scratch, valid only until fn returns. A
// reader that only looks at each record once, as a restore does, is spared
// writing the rows and parsing them again.
//
// With check, every value fn is given passes wire.ValidateNode (with labels
// that are valid ids) or wire.ValidateEdge: the walk makes their checks of the
// labels, names and values as it meets them, each name once, instead of a check
// walking every value again.
//
// When the segment is malformed, what fn was given may be garbage: its error is
// returned, also when fn failed on that garbage first.
func walkColumns(col []byte, check bool, fn func(op byte, key, value []byte) error) error {
	kind, err := columnKind(col)
	if err != nil {
		return err
	}
	in := colReader{b: col[len(columnMagic)+1:]}
	n := in.uvarint()
	ops, tombs, keys, labels, namesSec, shapes := in.section(), in.section(), in.section(), in.section(), in.section(), in.section()
	m := namesSec.uvarint()
	if m > len(namesSec.b) {
		return formatErr("columnar segment: %d names in %d bytes", m, len(namesSec.b))
	}
	names := make([][]byte, m)
	for i := range names {
		names[i] = namesSec.take(namesSec.uvarint())
		if i > 0 && string(names[i-1]) >= string(names[i]) {
			namesSec.fail("names not strictly increasing")
		}
	}
	skipLabels, skipValue := wire.SkipLabels, wire.SkipValue
	var named []bool // with check: whether a name was checked
	if check {
		skipLabels, skipValue = wire.CheckLabels, wire.CheckValue
		named = make([]bool, m)
	}
	cols := make([]colReader, m)
	for i := range cols {
		cols[i] = in.section()
		if len(cols[i].b) == 0 {
			in.fail("empty column")
		}
	}
	if len(ops.b) != n {
		in.fail("op count differs from record count")
	}
	for _, r := range []*colReader{&in, &namesSec} {
		if r.err != nil {
			return r.err
		}
	}
	// A section read past its end gives nothing and notes it.
	readErr := func() error {
		for _, r := range append([]colReader{in, tombs, keys, labels, shapes}, cols...) {
			if r.err != nil {
				return r.err
			}
		}
		return nil
	}
	var value []byte
	for _, op := range ops.b {
		var err error
		switch op {
		case opTombstone:
			err = fn(opTombstone, tombs.take(16), nil)
		case opPut:
			key := keys.take(keys.uvarint())
			value = value[:0]
			if kind == kindNode {
				l, err := skipLabels(labels.b)
				if err != nil {
					return formatErr("columnar segment: labels: %v", err)
				}
				value = append(value, labels.take(l)...)
			}
			c := shapes.uvarint()
			if c > len(shapes.b) {
				shapes.fail("field count exceeds input")
			}
			value = binary.AppendUvarint(value, uint64(c))
			prev := -1
			for range c {
				i := shapes.uvarint()
				if i <= prev || i >= m {
					shapes.fail("field names out of order")
					break
				}
				prev = i
				if check && !named[i] {
					if err := wire.CheckName(names[i]); err != nil {
						return formatErr("columnar segment: %v", err)
					}
					named[i] = true
				}
				l, err := skipValue(cols[i].b)
				if err != nil {
					return formatErr("columnar segment: %s value: %v", names[i], err)
				}
				value = binary.AppendUvarint(value, uint64(len(names[i])))
				value = append(value, names[i]...)
				value = append(value, cols[i].take(l)...)
			}
			err = fn(opPut, key, value)
		default:
			return formatErr("columnar segment: unknown op %d", op)
		}
		if err != nil {
			if rerr := readErr(); rerr != nil {
				return rerr
			}
			return err
		}
	}
	if err := readErr(); err != nil {
		return err
	}
	for _, r := range append([]colReader{in, tombs, keys, labels, shapes}, cols...) {
		if len(r.b) != 0 {
			return formatErr("columnar segment: trailing bytes in a section")
		}
	}
	return nil
}
