package graphml

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/graphvault/graphvault/store/graph"
)

// The fast scanner reads the nodes and edges of a graph in the form NetworkX's
// writers give them, straight from the input buffer, at several times the speed of
// encoding/xml:
//
//	<node id="...">
//	  <data key="d0">text</data>
//	  <data key="d1" />
//	</node>
//	<edge source="..." target="..."> ... </edge>
//
// with any white space between elements (or none), either quote around attribute
// values, and the five predefined entities and character references in text. It
// accepts an element only when it is sure the XML decoder would read it the same
// way and without error; anything else (another element, a comment, an attribute
// it does not know, a value that does not parse, a duplicate node, an element cut
// short by the end of input, the end of the graph) is left, unconsumed, to the XML
// decoder, which reads that element and gives the answer and the error it always
// gave. So results and errors are those of the XML decoder by construction; the
// scanner only decides faster.

// scanNext reads the next node or edge with the fast scanner. It reports false,
// having consumed nothing, when the XML decoder must read what comes next.
func (d *Decoder) scanNext() (graph.Node, graph.Edge, itemKind, bool) {
	if !d.synced {
		// The XML decoder read last: start from where it stands.
		d.fline, d.fcol = d.pos()
		d.synced = true
	}
	for {
		win := d.src.window()
		n, e, kind, used, st := d.scanElement(win)
		switch st {
		case scanOK:
			if d.onElement != nil {
				d.onElement(kind, win[skipSpace(win, 0):used], &n, &e)
			}
			d.consumed(win[:used])
			return n, e, kind, true
		case scanMore:
			if d.src.more() {
				continue
			}
		}
		// The XML decoder takes over here; its positions are corrected from now on
		// by what it did not see.
		xline, xcol := d.x.InputPos()
		d.lineAdj = d.fline - xline
		d.colLine = xline
		d.colFix = d.fcol - xcol
		d.synced = false
		d.handovers++
		return graph.Node{}, graph.Edge{}, 0, false
	}
}

// consumed advances the input and the scanner's position past b.
func (d *Decoder) consumed(b []byte) {
	d.src.advance(len(b))
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		d.fline += bytes.Count(b, []byte{'\n'})
		d.fcol = len(b) - i
	} else {
		d.fcol += len(b)
	}
}

type scanStatus uint8

const (
	scanOK       scanStatus = iota // an element was read
	scanMore                       // the window ends inside the element
	scanFallback                   // the XML decoder must read it
)

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }

func skipSpace(w []byte, i int) int {
	for i < len(w) && isSpace(w[i]) {
		i++
	}
	return i
}

// scanElement reads white space and one node or edge element at the start of w.
func (d *Decoder) scanElement(w []byte) (graph.Node, graph.Edge, itemKind, int, scanStatus) {
	i := skipSpace(w, 0)
	if len(w)-i < 6 {
		return graph.Node{}, graph.Edge{}, 0, 0, scanMore
	}
	if w[i] != '<' {
		return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
	}
	var elem string
	switch string(w[i+1 : i+5]) {
	case "node":
		elem = "node"
	case "edge":
		elem = "edge"
	default:
		return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
	}
	if c := w[i+5]; !isSpace(c) && c != '/' && c != '>' {
		return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
	}
	if elem == "node" && d.state == stateEdges {
		return graph.Node{}, graph.Edge{}, 0, 0, scanFallback // the XML decoder says why
	}

	// The start tag: id for a node, source and target for an edge, nothing else.
	p := i + 5
	var id, source, target string
	var hasID, hasSource, hasTarget, open bool
	for {
		p = skipSpace(w, p)
		if p >= len(w) {
			return graph.Node{}, graph.Edge{}, 0, 0, scanMore
		}
		if w[p] == '>' {
			p++
			open = true
			break
		}
		if w[p] == '/' {
			if p+1 >= len(w) {
				return graph.Node{}, graph.Edge{}, 0, 0, scanMore
			}
			if w[p+1] != '>' {
				return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
			}
			p += 2
			break
		}
		name, val, next, st := d.scanAttr(w, p)
		if st != scanOK {
			return graph.Node{}, graph.Edge{}, 0, 0, st
		}
		p = next
		switch {
		case elem == "node" && name == "id" && !hasID:
			hasID = true
			id = string(val)
		case elem == "edge" && name == "source" && !hasSource:
			hasSource = true
			source, hasSource = d.ids[string(val)]
		case elem == "edge" && name == "target" && !hasTarget:
			hasTarget = true
			target, hasTarget = d.ids[string(val)]
		default:
			return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
		}
		if p < len(w) && !isSpace(w[p]) && w[p] != '/' && w[p] != '>' {
			return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
		}
	}
	if elem == "node" {
		if !hasID || graph.ValidateID(id) != nil {
			return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
		}
		if _, dup := d.ids[id]; dup {
			return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
		}
	} else if !hasSource || !hasTarget {
		return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
	}

	var props map[string]any
	if open {
		var st scanStatus
		props, p, st = d.scanChildren(w, p, elem)
		if st != scanOK {
			return graph.Node{}, graph.Edge{}, 0, 0, st
		}
	}
	if elem == "node" {
		n, err := d.finishNode(id, props)
		if err != nil {
			return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
		}
		d.ids[id] = id
		return n, graph.Edge{}, itemNode, p, scanOK
	}
	e, err := d.finishEdge(graph.Edge{Source: source, Target: target}, props)
	if err != nil {
		return graph.Node{}, graph.Edge{}, 0, 0, scanFallback
	}
	d.state = stateEdges
	return graph.Node{}, e, itemEdge, p, scanOK
}

// scanChildren reads the <data> children of an element up to and including its end
// tag, from p.
func (d *Decoder) scanChildren(w []byte, p int, elem string) (map[string]any, int, scanStatus) {
	var props map[string]any
	for {
		p = skipSpace(w, p)
		if len(w)-p < 7 {
			return nil, 0, scanMore
		}
		if w[p] != '<' {
			return nil, 0, scanFallback
		}
		if w[p+1] == '/' {
			// </node> or </edge>
			if string(w[p+2:p+6]) != elem || w[p+6] != '>' {
				return nil, 0, scanFallback
			}
			return props, p + 7, scanOK
		}
		if string(w[p+1:p+5]) != "data" || !isSpace(w[p+5]) {
			return nil, 0, scanFallback
		}
		p += 5
		var key []byte
		hasKey, open := false, false
		for {
			p = skipSpace(w, p)
			if p >= len(w) {
				return nil, 0, scanMore
			}
			if w[p] == '>' {
				p++
				open = true
				break
			}
			if w[p] == '/' {
				if p+1 >= len(w) {
					return nil, 0, scanMore
				}
				if w[p+1] != '>' {
					return nil, 0, scanFallback
				}
				p += 2
				break
			}
			name, val, next, st := d.scanAttr(w, p)
			if st != scanOK {
				return nil, 0, st
			}
			if name != "key" || hasKey {
				return nil, 0, scanFallback
			}
			hasKey, key, p = true, val, next
			if p < len(w) && !isSpace(w[p]) && w[p] != '/' && w[p] != '>' {
				return nil, 0, scanFallback
			}
		}
		if !hasKey {
			return nil, 0, scanFallback
		}
		k := d.keys[string(key)]
		if k == nil || k.yfiles {
			return nil, 0, scanFallback
		}
		var text string
		if open {
			lt := bytes.IndexByte(w[p:], '<')
			if lt < 0 {
				return nil, 0, scanMore
			}
			end := p + lt
			if len(w)-end < 7 {
				return nil, 0, scanMore
			}
			if string(w[end:end+7]) != "</data>" {
				return nil, 0, scanFallback
			}
			raw := w[p:end]
			p = end + 7
			var ok bool
			if text, ok = d.decodeText(raw, false); !ok {
				return nil, 0, scanFallback
			}
		}
		v, err := parseValue(k.typ, text)
		if err != nil {
			return nil, 0, scanFallback
		}
		if props == nil {
			props = make(map[string]any, 8)
		}
		props[k.name] = v
	}
}

// scanAttr reads name="value" (or 'value') at p. The value is decoded; it may be
// d.scratch, valid until the next call.
func (d *Decoder) scanAttr(w []byte, p int) (string, []byte, int, scanStatus) {
	start := p
	for p < len(w) && (w[p] >= 'a' && w[p] <= 'z' || w[p] >= 'A' && w[p] <= 'Z') {
		p++
	}
	if len(w)-p < 2 {
		return "", nil, 0, scanMore
	}
	var name string
	switch string(w[start:p]) {
	case "id":
		name = "id"
	case "source":
		name = "source"
	case "target":
		name = "target"
	case "key":
		name = "key"
	default:
		return "", nil, 0, scanFallback
	}
	q := w[p+1]
	if w[p] != '=' || q != '"' && q != '\'' {
		return "", nil, 0, scanFallback
	}
	p += 2
	end := bytes.IndexByte(w[p:], q)
	if end < 0 {
		return "", nil, 0, scanMore
	}
	raw := w[p : p+end]
	val, ok := d.decode(raw, true)
	if !ok {
		return "", nil, 0, scanFallback
	}
	return name, val, p + end + 1, scanOK
}

// decodeText is decode as a new string.
func (d *Decoder) decodeText(raw []byte, attr bool) (string, bool) {
	b, ok := d.decode(raw, attr)
	if !ok {
		return "", false
	}
	return string(b), true
}

// Byte classes for decode.
const (
	clPlain  = iota
	clAmp    // &
	clHigh   // a byte of a multi-byte UTF-8 sequence
	clBad    // what the scanner leaves to the XML decoder: control bytes, \r
	clLt     // <, which an attribute must not hold
	clSquare // ], which may start ]]>, refused in text
)

var byteClass = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = clBad
	}
	t['\t'], t['\n'] = clPlain, clPlain
	t['&'] = clAmp
	t['<'] = clLt
	t[']'] = clSquare
	for c := 0x80; c < 0x100; c++ {
		t[c] = clHigh
	}
	return t
}()

// decode returns the text raw stands for, entities replaced, or false when the XML
// decoder must read it: a byte or entity the scanner does not handle, or anything
// encoding/xml would refuse. The result is raw itself when raw holds no entity.
func (d *Decoder) decode(raw []byte, attr bool) ([]byte, bool) {
	amp, high := false, false
	// Eight bytes at a time while they are plain: no byte below 0x20, at or above
	// 0x80, nor &, < or ].
	i := 0
	for ; i+8 <= len(raw); i += 8 {
		w := binary.LittleEndian.Uint64(raw[i:])
		if w&hi8 != 0 || hasLess(w, 0x20) || hasByte(w, '&') || hasByte(w, '<') || hasByte(w, ']') {
			break
		}
	}
	for _, c := range raw[i:] {
		switch byteClass[c] {
		case clPlain:
		case clAmp:
			amp = true
		case clHigh:
			high = true
		case clSquare:
			if !attr && bytes.Contains(raw, []byte("]]>")) {
				return nil, false
			}
		case clLt:
			// Text never holds < (it ends there), an attribute must not.
			return nil, false
		default:
			return nil, false
		}
	}
	if high && !validXMLText(raw) {
		return nil, false
	}
	if !amp {
		return raw, true
	}
	out := d.scratch[:0]
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			out = append(out, raw...)
			break
		}
		out = append(out, raw[:i]...)
		raw = raw[i:]
		semi := bytes.IndexByte(raw, ';')
		if semi < 0 || semi > 12 {
			return nil, false
		}
		ent := raw[1:semi]
		raw = raw[semi+1:]
		switch string(ent) {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			r, ok := charRef(ent)
			if !ok {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		}
	}
	d.scratch = out
	return out, true
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// hasLess reports whether a byte of w is below n (n <= 128), for w without bytes
// at or above 0x80.
func hasLess(w uint64, n uint64) bool { return (w-lo8*n)&^w&hi8 != 0 }

// hasByte reports whether a byte of w is c.
func hasByte(w uint64, c byte) bool {
	x := w ^ (lo8 * uint64(c))
	return (x-lo8)&^x&hi8 != 0
}

// charRef reads the #NN or #xHH of a character reference, accepting only what
// encoding/xml turns into a character XML allows.
func charRef(ent []byte) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	for _, c := range digits {
		if !(c >= '0' && c <= '9' || base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil || !isXMLChar(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// validXMLText reports whether b is valid UTF-8 of characters XML allows (the
// bytes below 0x20 were checked by the caller).
func validXMLText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	// U+FFFE and U+FFFF are the only characters valid UTF-8 can hold above 0x7F
	// that XML refuses: EF BF BE and EF BF BF.
	for {
		i := bytes.Index(b, []byte{0xEF, 0xBF})
		if i < 0 || i+2 >= len(b) {
			return true
		}
		if b[i+2] == 0xBE || b[i+2] == 0xBF {
			return false
		}
		b = b[i+2:]
	}
}
