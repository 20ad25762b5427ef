package lightrag

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/zeebo/xxh3"

	"github.com/graphvault/graphvault/store/graph"
)

// A chunked GraphML file (see [Chunked]) is kept as its own bytes, cut into
// pieces at the starts of its elements, without decoding a single one:
//
//   - A piece is a run of whole lines, cut before a line that starts a node or
//     an edge whose hash meets a condition once the piece holds pieceMin
//     bytes, before any such line at pieceMax, and at any line end (or any
//     byte, for a line longer than that) at pieceHard. The same elements give
//     the same cuts, and changing a node's data never moves a cut.
//   - A piece is named by the hash of its first line (a node's or an edge's
//     opening tag): the name stays while the elements in it change, so a
//     rewritten file changes the content of a piece, not the set of pieces.
//   - A piece record holds the piece's lines taken apart by data key: the
//     structure of the lines in one property, the values of each key in
//     another, and the other lines in a third, so that the engine, which stores
//     each property of a segment's records together, compresses like with like.
//   - A piece whose elements changed is kept as a patch record against the piece
//     record the snapshots already hold: which of its elements to copy and the
//     bytes of the others. A patch is replaced while its literal bytes stay under
//     half the piece; past that, the piece record is written again.
const (
	pieceMin  = 16 << 10
	pieceMask = 63 // cut before an element whose first line's hash has these bits clear
	pieceMax  = 256 << 10
	pieceHard = 512 << 10
)

// pieceID and patchID name a piece's records by the piece's name.
func pieceID(name string) string { return idMark + "piece" + idMark + name }
func patchID(name string) string { return idMark + "patch" + idMark + name }

// Labels of a chunked file's records.
const (
	LabelPiece = "lightrag.piece" // a run of a chunked GraphML file's lines
	LabelPatch = "lightrag.patch" // how a piece differs from its piece record
)

// isElementStart says whether line opens a node or an edge.
func isElementStart(line []byte) bool {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	line = line[i:]
	if len(line) < 6 || line[0] != '<' {
		return false
	}
	if string(line[1:5]) != "node" && string(line[1:5]) != "edge" {
		return false
	}
	switch line[5] {
	case ' ', '>', '/', '\t', '\n':
		return true
	}
	return false
}

// lineEnd returns the end of the line starting at i (after its '\n'), or
// len(b).
func lineEnd(b []byte, i int) int {
	if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(b)
}

// pieceLook is how many bytes cutPiece needs to see, unless the file ends
// sooner.
const pieceLook = 2*pieceHard + 256

// cutPiece returns the length of the piece at the start of b, which holds at
// least pieceLook bytes or runs to the end of the file, and appends to starts
// where its elements start (as elementStarts does). Only the first 256 bytes
// of a line decide whether it starts an element and a piece, and a line
// running past twice pieceHard is cut there, so the cuts do not depend on how
// much of the file b holds.
func cutPiece(b []byte, starts []int) (int, []int) {
	starts = append(starts[:0], 0)
	limit := min(len(b), 2*pieceHard)
	for i := lineEnd(b, 0); i < limit; i = lineEnd(b, i) {
		if i >= pieceHard {
			return i, starts
		}
		if head, ok := elementHead(b, i); ok {
			if i >= pieceMax || i >= pieceMin && xxh3.Hash(head)&pieceMask == 0 {
				return i, starts
			}
			starts = append(starts, i)
		}
	}
	return limit, starts
}

// elementHead returns the first 256 bytes at most of the line at i, up to
// its end, and whether they open a node or an edge.
func elementHead(b []byte, i int) ([]byte, bool) {
	head := b[i:min(len(b), i+256)]
	if k := bytes.IndexByte(head, '\n'); k >= 0 {
		head = head[:k+1]
	}
	return head, isElementStart(head)
}

// elementStarts returns the offsets at which the elements of a piece start:
// 0 and each line opening a node or an edge.
func elementStarts(p []byte, dst []int) []int {
	dst = append(dst[:0], 0)
	for i := lineEnd(p, 0); i < len(p); i = lineEnd(p, i) {
		if _, ok := elementHead(p, i); ok {
			dst = append(dst, i)
		}
	}
	return dst
}

// elementHashes returns the hash of each element of p.
func elementHashes(p []byte, starts []int, dst []uint64) []uint64 {
	dst = dst[:0]
	for i, s := range starts {
		e := len(p)
		if i+1 < len(starts) {
			e = starts[i+1]
		}
		dst = append(dst, xxh3.Hash(p[s:e]))
	}
	return dst
}

// pieceName names a piece by its first line (at most 4 KiB of it).
func pieceName(p []byte) string {
	first := p[:min(lineEnd(p, 0), 4<<10)]
	s := xxh3.Hash128(first).Bytes()
	return hex.EncodeToString(s[:])
}

// pieceNode is the piece record of p: its lines taken apart by data key.
// A piece that is not valid UTF-8 keeps its bytes in base64.
func pieceNode(name string, p []byte) graph.Node {
	n := graph.Node{ID: pieceID(name), Labels: []string{LabelPiece}}
	if !utf8.Valid(p) {
		n.Props = map[string]any{"b64": encodeB64(p)}
		return n
	}
	var shape, other bytes.Buffer
	type column struct {
		key string
		buf []byte
	}
	var cols []column
	col := func(key []byte) *[]byte {
		for i := range cols {
			if cols[i].key == string(key) {
				return &cols[i].buf
			}
		}
		cols = append(cols, column{key: string(key)})
		return &cols[len(cols)-1].buf
	}
	for i := 0; i < len(p); {
		end := lineEnd(p, i)
		line := p[i:end]
		if indent, key, rest, ok := dataLine(line); ok {
			shape.WriteString(strconv.Itoa(indent))
			shape.WriteByte(' ')
			shape.Write(key)
			shape.WriteByte('\n')
			c := col(key)
			*c = append(*c, rest...)
		} else {
			shape.WriteByte('\n')
			other.Write(line)
		}
		i = end
	}
	// The buffers are this call's own and never written again: the strings
	// share their bytes instead of copying them.
	props := make(map[string]any, len(cols)+2)
	props["shape"] = ownedString(shape.Bytes())
	if other.Len() > 0 {
		props["lines"] = ownedString(other.Bytes())
	}
	for _, c := range cols {
		props["k."+c.key] = ownedString(c.buf)
	}
	n.Props = props
	return n
}

// dataLine takes apart a line `<indent><data key="K">rest`, K of at most 64
// letters, digits, '_', '-' and '.'.
func dataLine(line []byte) (indent int, key, rest []byte, ok bool) {
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	const open = `<data key="`
	b := line[indent:]
	if !bytes.HasPrefix(b, []byte(open)) {
		return 0, nil, nil, false
	}
	b = b[len(open):]
	j := bytes.IndexByte(b, '"')
	if j <= 0 || j > 64 || j+1 >= len(b) || b[j+1] != '>' {
		return 0, nil, nil, false
	}
	for _, c := range b[:j] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return 0, nil, nil, false
		}
	}
	return indent, b[:j], b[j+2:], true
}

// pieceBytes gives a piece record's bytes back, appended to dst.
func pieceBytes(n graph.Node, dst []byte) ([]byte, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: piece %s: %s", ErrCorrupt, strings.TrimPrefix(n.ID, pieceID("")), why)
	}
	if s, ok := n.Props["b64"].(string); ok {
		data, err := decodeB64(s)
		if err != nil {
			return nil, bad(err.Error())
		}
		return append(dst, data...), nil
	}
	shape, ok := n.Props["shape"].(string)
	if !ok {
		return nil, bad("no shape")
	}
	other, _ := n.Props["lines"].(string)
	cols := map[string]string{}
	for k, v := range n.Props {
		if key, ok := strings.CutPrefix(k, "k."); ok {
			s, ok := v.(string)
			if !ok {
				return nil, bad("a column is not text")
			}
			cols[key] = s
		}
	}
	take := func(s *string) (string, bool) {
		if *s == "" {
			return "", false
		}
		j := strings.IndexByte(*s, '\n')
		if j < 0 {
			j = len(*s) - 1
		}
		line := (*s)[:j+1]
		*s = (*s)[j+1:]
		return line, true
	}
	for shape != "" {
		j := strings.IndexByte(shape, '\n')
		if j < 0 {
			return nil, bad("shape without a line end")
		}
		entry := shape[:j]
		shape = shape[j+1:]
		if entry == "" {
			line, ok := take(&other)
			if !ok {
				return nil, bad("fewer lines than its shape")
			}
			dst = append(dst, line...)
			continue
		}
		ind, key, ok := strings.Cut(entry, " ")
		indent, err := strconv.Atoi(ind)
		if !ok || err != nil || indent < 0 || indent > len(dst)+pieceHard {
			return nil, bad("malformed shape")
		}
		c, found := cols[key]
		if !found {
			return nil, bad("shape names a key it has no column of")
		}
		rest, ok := take(&c)
		if !ok && shape != "" {
			// Only the piece's last line, with no line end, has an empty value.
			return nil, bad("fewer values than its shape")
		}
		cols[key] = c
		for range indent {
			dst = append(dst, ' ')
		}
		dst = append(dst, `<data key="`...)
		dst = append(dst, key...)
		dst = append(dst, `">`...)
		dst = append(dst, rest...)
	}
	if other != "" {
		return nil, bad("more lines than its shape")
	}
	for _, c := range cols {
		if c != "" {
			return nil, bad("more values than its shape")
		}
	}
	return dst, nil
}

// A patch is a list of operations over the elements of the piece record: a
// pair (start, count) copies count elements from start; a pair (-1, n) takes
// the next n literal bytes.
type patch struct {
	ops []int64
	lit []byte
}

// diffPiece makes the patch that turns the piece whose element hashes are base
// into p (whose elements start at starts and hash to hashes).
func diffPiece(base []uint64, p []byte, starts []int, hashes []uint64) patch {
	at := make(map[uint64][]int, len(base))
	for i, h := range base {
		at[h] = append(at[h], i)
	}
	var pt patch
	next := 0 // the base element after the last copied
	for i, h := range hashes {
		e := len(p)
		if i+1 < len(starts) {
			e = starts[i+1]
		}
		j := -1
		if next < len(base) && base[next] == h {
			j = next
		} else if cands := at[h]; len(cands) > 0 {
			j = cands[0]
			if k, _ := slices.BinarySearch(cands, next); k < len(cands) {
				j = cands[k]
			}
		}
		n := len(pt.ops)
		switch {
		case j < 0 && n > 0 && pt.ops[n-2] == -1:
			pt.ops[n-1] += int64(e - starts[i])
			pt.lit = append(pt.lit, p[starts[i]:e]...)
		case j < 0:
			pt.ops = append(pt.ops, -1, int64(e-starts[i]))
			pt.lit = append(pt.lit, p[starts[i]:e]...)
		case n > 0 && pt.ops[n-2] >= 0 && pt.ops[n-2]+pt.ops[n-1] == int64(j):
			pt.ops[n-1]++
			next = j + 1
		default:
			pt.ops = append(pt.ops, int64(j), 1)
			next = j + 1
		}
	}
	return pt
}

// identity says whether the patch gives the piece record back unchanged.
func (pt patch) identity(baseLen int) bool {
	return len(pt.ops) == 2 && pt.ops[0] == 0 && pt.ops[1] == int64(baseLen)
}

func (pt patch) node(name string) graph.Node {
	ops := make([]any, len(pt.ops))
	for i, o := range pt.ops {
		ops[i] = o
	}
	props := map[string]any{"ops": ops}
	if utf8.Valid(pt.lit) {
		props["lit"] = string(pt.lit)
	} else {
		props["lit64"] = encodeB64(pt.lit)
	}
	return graph.Node{ID: patchID(name), Labels: []string{LabelPatch}, Props: props}
}

// patchOf reads a patch record.
func patchOf(n graph.Node) (patch, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: patch %s: %s", ErrCorrupt, strings.TrimPrefix(n.ID, patchID("")), why)
	}
	ops, ok := n.Props["ops"].([]any)
	if !ok || len(ops)%2 != 0 {
		return patch{}, bad("malformed operations")
	}
	var pt patch
	for _, o := range ops {
		v, ok := o.(int64)
		if !ok {
			return patch{}, bad("malformed operations")
		}
		pt.ops = append(pt.ops, v)
	}
	if s, ok := n.Props["lit"].(string); ok {
		pt.lit = []byte(s)
	} else if s, ok := n.Props["lit64"].(string); ok {
		data, err := decodeB64(s)
		if err != nil {
			return patch{}, bad(err.Error())
		}
		pt.lit = data
	}
	return pt, nil
}

// apply appends to dst the piece the patch makes of base.
func (pt patch) apply(base []byte, dst []byte) ([]byte, error) {
	starts := elementStarts(base, nil)
	lit := pt.lit
	for i := 0; i < len(pt.ops); i += 2 {
		a, n := pt.ops[i], pt.ops[i+1]
		switch {
		case a == -1 && n >= 0 && n <= int64(len(lit)):
			dst = append(dst, lit[:n]...)
			lit = lit[n:]
		case a >= 0 && n > 0 && a+n <= int64(len(starts)):
			e := len(base)
			if int(a+n) < len(starts) {
				e = starts[a+n]
			}
			dst = append(dst, base[starts[a]:e]...)
		default:
			return nil, fmt.Errorf("%w: a patch operation (%d, %d) out of range", ErrCorrupt, a, n)
		}
	}
	if len(lit) != 0 {
		return nil, fmt.Errorf("%w: a patch with literal bytes left over", ErrCorrupt)
	}
	return dst, nil
}

// marshal and unmarshalPatch keep a patch in a spill file.
func (pt patch) marshal(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(pt.ops)))
	for _, o := range pt.ops {
		dst = binary.AppendVarint(dst, o)
	}
	return append(dst, pt.lit...)
}

func unmarshalPatch(b []byte) (patch, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return patch{}, io.ErrUnexpectedEOF
	}
	b = b[k:]
	pt := patch{ops: make([]int64, n)}
	for i := range pt.ops {
		v, k := binary.Varint(b)
		if k <= 0 {
			return patch{}, io.ErrUnexpectedEOF
		}
		pt.ops[i], b = v, b[k:]
	}
	pt.lit = b
	return pt, nil
}

// ownedString is b as a string without a copy; b must never be written again.
func ownedString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
