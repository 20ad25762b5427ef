package graphml

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"slices"
)

// The fast layout reader reads what ReadLayout needs of the nodes and edges of a
// file NetworkX wrote (ids, ends, the key ids of their data, an edge's __type__)
// straight from the input buffer, skipping the values, as the fast scanner reads
// records. The head (declaration, keys, the <graph> tag) is read by the XML
// reader. Anything the fast reader is not sure the XML reader would read the same
// way, without error, makes it give up with errNotFast; ReadLayout then reads the
// whole input again with the XML reader, so results and errors are the XML
// reader's.

// errNotFast: the fast layout reader leaves this input to the XML reader.
var errNotFast = errors.New("graphml: left to the XML layout reader")

// maxLayoutWindow bounds the buffer the fast reader grows to hold one element.
const maxLayoutWindow = 64 << 20

// headLimit bounds the head the fast reader looks for before the first node.
const headLimit = 4 << 20

// readLayoutFast reads a layout from r with the fast reader, or fails with
// errNotFast (having read some of r) when the XML reader must read it.
func readLayoutFast(ctx context.Context, r io.Reader) (*Layout, error) {
	s := &layoutScan{r: r, buf: make([]byte, 0, 1<<20)}
	// The head: up to the end of the <graph> start tag, read by the XML reader
	// as a document whose graph is empty.
	end := -1
	for end < 0 {
		if i := bytes.Index(s.buf, []byte("<graph ")); i >= 0 {
			if j := bytes.IndexByte(s.buf[i:], '>'); j >= 0 {
				end = i + j + 1
				break
			}
		}
		if len(s.buf) > headLimit || !s.more() {
			return nil, errNotFast
		}
	}
	if end >= 2 && s.buf[end-2] == '/' {
		return nil, errNotFast
	}
	head := append(slices.Clip(s.buf[:end]), "</graph></graphml>"...)
	lr := &layoutReader{x: xml.NewDecoder(bytes.NewReader(head)), l: &Layout{}}
	if err := lr.read(ctx); err != nil {
		return nil, errNotFast
	}
	s.i = end
	s.l = lr.l
	s.keys = lr.keyByID()
	s.ranks = s.l.ranks()
	s.amb = s.l.ambiguous()
	s.ids = map[string]string{}
	if err := s.graph(ctx); err != nil {
		return nil, err
	}
	if s.failed {
		return nil, errNotFast
	}
	// Edges were gathered in blocks: one slice grown by appends costs more
	// than the scan itself on a file of a million edges.
	n := 0
	for _, b := range s.edges {
		n += len(b)
	}
	if n > 0 {
		s.l.Edges = make([]EdgeLayout, 0, n)
	}
	for _, b := range s.edges {
		s.l.Edges = append(s.l.Edges, b...)
	}
	s.edges = nil
	s.l.defaultOrders()
	return s.l, nil
}

type layoutScan struct {
	r   io.Reader
	buf []byte
	i   int // buf[i:] is unread
	eof bool
	// failed: a read error ended the input, which the XML reader meets again.
	failed bool

	dec   Decoder // only its scratch, for decode
	l     *Layout
	keys  map[string]*Key
	ranks map[string]int
	amb   map[string]bool
	ids   map[string]string // node ids, so that edge ends share their strings
	edges [][]EdgeLayout    // the edges read, in blocks
	seq   []string
	n     int
}

// more reads more input behind the unread bytes; false at the end of the input,
// on a read error (which the XML reader meets again) or when an element would
// not fit the window.
func (s *layoutScan) more() bool {
	if s.eof {
		return false
	}
	if s.i > 0 {
		n := copy(s.buf, s.buf[s.i:])
		s.buf, s.i = s.buf[:n], 0
	}
	if len(s.buf) == cap(s.buf) {
		if cap(s.buf) >= maxLayoutWindow {
			return false
		}
		s.buf = slices.Grow(s.buf, cap(s.buf))
	}
	for {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.eof, s.failed = true, err != io.EOF
			return n > 0 && err == io.EOF
		}
		if n > 0 {
			return true
		}
	}
}

// element is what parseElement read.
type element struct {
	kind   int // elemNode, elemEdge, elemData, elemEnd
	a, b   []byte
	keys   []string // key ids of a node's or edge's data, in order
	typ    []byte   // an edge's __type__ text
	plain  bool     // keys in creation order, none ambiguous
	hasTyp bool
}

const (
	elemNode = iota + 1
	elemEdge
	elemData
	elemEnd
)

type status int

const (
	stOK status = iota
	stMore
	stNo
)

func (s *layoutScan) graph(ctx context.Context) error {
	var e element
	for {
		w := s.buf[s.i:]
		used, st := s.parseElement(w, &e)
		switch st {
		case stMore:
			if !s.more() {
				return errNotFast
			}
			continue
		case stNo:
			return errNotFast
		}
		if s.n++; s.n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch e.kind {
		case elemEnd:
			s.i += used
			return s.tail()
		case elemData:
			text, ok := s.dec.decodeText(e.b, false)
			if !ok {
				return errNotFast
			}
			s.l.GraphData = append(s.l.GraphData, Datum{Key: string(e.a), Text: text})
		case elemNode:
			id, ok := s.dec.decodeText(e.a, true)
			if !ok {
				return errNotFast
			}
			s.ids[id] = id
			s.l.Nodes = append(s.l.Nodes, NodeLayout{ID: id, Keys: e.order()})
		case elemEdge:
			src, ok1 := s.end(e.a)
			dst, ok2 := s.end(e.b)
			typ := ""
			ok3 := true
			if e.hasTyp {
				typ, ok3 = s.dec.decodeText(e.typ, false)
			}
			if !ok1 || !ok2 || !ok3 {
				return errNotFast
			}
			if len(s.edges) == 0 || len(s.edges[len(s.edges)-1]) == cap(s.edges[len(s.edges)-1]) {
				s.edges = append(s.edges, make([]EdgeLayout, 0, 1<<16))
			}
			last := &s.edges[len(s.edges)-1]
			*last = append(*last, EdgeLayout{Source: src, Target: dst, Type: typ, Keys: e.order()})
		}
		s.i += used
	}
}

// order is the element's key sequence as a layout keeps it: nil when plain.
func (e *element) order() []string {
	if e.plain {
		return nil
	}
	return slices.Clone(e.keys)
}

// end decodes an edge's end, sharing the node's string.
func (s *layoutScan) end(raw []byte) (string, bool) {
	b, ok := s.dec.decode(raw, true)
	if !ok {
		return "", false
	}
	if id, ok := s.ids[string(b)]; ok {
		return id, true
	}
	return string(b), true
}

// tail checks that only </graphml> and white space follow.
func (s *layoutScan) tail() error {
	for !s.eof {
		if len(s.buf)-s.i > 64 {
			return errNotFast
		}
		s.more()
	}
	rest := s.buf[s.i:]
	p := skipSpace(rest, 0)
	if !bytes.HasPrefix(rest[p:], []byte("</graphml>")) {
		return errNotFast
	}
	if skipSpace(rest, p+len("</graphml>")) != len(rest) {
		return errNotFast
	}
	return nil
}

// parseElement reads white space and one element of <graph> at the start of w:
// a node or an edge with its data, a graph-level datum, or </graph>.
func (s *layoutScan) parseElement(w []byte, e *element) (int, status) {
	p := skipSpace(w, 0)
	if len(w)-p < len("</graph>") {
		return 0, stMore // at the end of the input, the XML reader says what is wrong
	}
	if w[p] != '<' {
		return 0, stNo
	}
	if bytes.HasPrefix(w[p:], []byte("</graph>")) {
		e.kind = elemEnd
		return p + len("</graph>"), stOK
	}
	name, attrs, open, q, st := s.startTag(w, p)
	if st != stOK {
		return 0, st
	}
	*e = element{keys: e.keys[:0]}
	switch {
	case name == "node" && len(attrs) == 1 && attrs[0].name == "id":
		e.kind, e.a = elemNode, attrs[0].val
	case name == "edge" && len(attrs) == 2 && attrs[0].name == "source" && attrs[1].name == "target":
		e.kind, e.a, e.b = elemEdge, attrs[0].val, attrs[1].val
	case name == "data" && len(attrs) == 1 && attrs[0].name == "key":
		e.kind, e.a = elemData, attrs[0].val
		if !open {
			return q, stOK
		}
		text, q2, st := dataText(w, q)
		if st != stOK {
			return 0, st
		}
		e.b = text
		return q2, stOK
	default:
		return 0, stNo
	}
	e.plain = true
	if !open {
		return q, stOK
	}
	closeTag := "</node>"
	if e.kind == elemEdge {
		closeTag = "</edge>"
	}
	prev := -1
	for {
		q = skipSpace(w, q)
		if len(w)-q < len(closeTag) {
			return 0, stMore
		}
		if bytes.HasPrefix(w[q:], []byte(closeTag)) {
			return q + len(closeTag), stOK
		}
		name, attrs, open, q2, st := s.startTag(w, q)
		if st != stOK {
			return 0, st
		}
		if name != "data" || len(attrs) != 1 || attrs[0].name != "key" {
			return 0, stNo
		}
		k := s.keys[string(attrs[0].val)]
		if k == nil {
			return 0, stNo
		}
		var text []byte
		if open {
			if text, q2, st = dataText(w, q2); st != stOK {
				return 0, st
			}
			if _, ok := s.dec.decode(text, false); !ok {
				return 0, stNo
			}
		}
		if e.kind == elemEdge && k.Name == attrType {
			e.typ, e.hasTyp = text, true
		}
		r := s.ranks[k.ID]
		if s.amb[k.ID] || r <= prev {
			e.plain = false
		}
		prev = r
		e.keys = append(e.keys, k.ID)
		q = q2
	}
}

type rawAttr struct {
	name string
	val  []byte // raw, not decoded
}

// startTag reads <name attr="v" ...> or <name .../> at p: the name, the raw
// attributes in order, whether the element is open (has content), and where
// the tag ends.
func (s *layoutScan) startTag(w []byte, p int) (string, []rawAttr, bool, int, status) {
	if p >= len(w) || w[p] != '<' {
		return "", nil, false, 0, stNo
	}
	q := p + 1
	for q < len(w) && w[q] >= 'a' && w[q] <= 'z' {
		q++
	}
	if q+2 > len(w) {
		return "", nil, false, 0, stMore
	}
	var name string
	switch string(w[p+1 : q]) {
	case "node":
		name = "node"
	case "edge":
		name = "edge"
	case "data":
		name = "data"
	default:
		return "", nil, false, 0, stNo
	}
	var attrs []rawAttr
	for {
		r := skipSpace(w, q)
		if r+2 > len(w) {
			return "", nil, false, 0, stMore
		}
		switch {
		case w[r] == '>':
			return name, attrs, true, r + 1, stOK
		case w[r] == '/' && w[r+1] == '>':
			return name, attrs, false, r + 2, stOK
		case r == q || len(attrs) == 2:
			return "", nil, false, 0, stNo // no space before an attribute, or a third
		}
		a := r
		for r < len(w) && w[r] >= 'a' && w[r] <= 'z' {
			r++
		}
		if r+2 > len(w) {
			return "", nil, false, 0, stMore
		}
		quote := w[r+1]
		if w[r] != '=' || quote != '"' && quote != '\'' {
			return "", nil, false, 0, stNo
		}
		var an string
		switch string(w[a:r]) {
		case "id":
			an = "id"
		case "source":
			an = "source"
		case "target":
			an = "target"
		case "key":
			an = "key"
		default:
			return "", nil, false, 0, stNo
		}
		v := r + 2
		end := bytes.IndexByte(w[v:], quote)
		if end < 0 {
			return "", nil, false, 0, stMore
		}
		if _, ok := s.dec.decode(w[v:v+end], true); !ok {
			return "", nil, false, 0, stNo
		}
		attrs = append(attrs, rawAttr{an, w[v : v+end]})
		q = v + end + 1
	}
}

// dataText reads the text of an open <data> at p up to and including </data>.
func dataText(w []byte, p int) ([]byte, int, status) {
	end := bytes.IndexByte(w[p:], '<')
	if end < 0 || len(w)-(p+end) < len("</data>") {
		return nil, 0, stMore
	}
	if !bytes.HasPrefix(w[p+end:], []byte("</data>")) {
		return nil, 0, stNo
	}
	return w[p : p+end], p + end + len("</data>"), stOK
}
