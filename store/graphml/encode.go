package graphml

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/graphvault/graphvault/store/graph"
)

const (
	xmlDecl    = "<?xml version='1.0' encoding='utf-8'?>\n"
	graphmlTag = `<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">` + "\n"
	footer     = "  </graph>\n</graphml>\n"
)

// lightragOrder ranks the attributes LightRAG writes in the order it creates them,
// so its files are written back unchanged. Other attributes follow, by name.
var lightragOrder = map[string]map[string]int{
	"node": {attrLabels: 0, "entity_id": 1, "entity_type": 2, "description": 3, "source_id": 4, "file_path": 5, "created_at": 6},
	"edge": {attrType: 0, "weight": 1, "description": 2, "keywords": 3, "source_id": 4, "file_path": 5, "created_at": 6},
}

// Write writes the view as a GraphML document to w, in NetworkX's shape (see the
// package documentation). It ranges over the view's nodes and edges twice: once to
// collect the key declarations, which come first in the file, and once to write. It
// holds the set of node IDs, to reject duplicate nodes and edges to missing nodes,
// but never the graph. Nothing is buffered beyond w's own buffering and 64 KiB.
func Write(ctx context.Context, w io.Writer, v graph.View) error {
	meta := v.Meta()
	e := newEncoder()
	if nv, ok := v.(graph.Normalized); ok && nv.Normalized() {
		e.normalized = true
	}
	e.ids = make(map[string]struct{})
	if err := e.walk(ctx, v.Nodes(ctx), v.Edges(ctx)); err != nil {
		return err
	}
	// Second pass: the key table is complete and fixed.
	e.ids, e.frozen = nil, true
	bw := bufio.NewWriterSize(w, 64<<10)
	e.bw = bw
	e.header(bw, meta)
	if err := e.walk(ctx, v.Nodes(ctx), v.Edges(ctx)); err != nil {
		return err
	}
	e.footer(bw)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graphml: write: %w", err)
	}
	return nil
}

// writeSpooled writes a GraphML document from sequences that may be ranged over only
// once: the body goes to spool while the keys are collected, then w receives the
// header, the keys, the body copied from spool, and the footer.
func writeSpooled(ctx context.Context, w io.Writer, spool io.ReadWriteSeeker, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	e := newEncoder()
	e.normalized = meta.Normalized
	e.ids = make(map[string]struct{})
	sb := bufio.NewWriterSize(spool, 64<<10)
	e.bw = sb
	if err := e.walk(ctx, nodes, edges); err != nil {
		return err
	}
	if err := sb.Flush(); err != nil {
		return fmt.Errorf("graphml: write spool: %w", err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("graphml: rewind spool: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	e.header(bw, meta)
	if _, err := io.Copy(bw, spool); err != nil {
		return fmt.Errorf("graphml: copy spool: %w", err)
	}
	e.footer(bw)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("graphml: write: %w", err)
	}
	return nil
}

// keySig is what NetworkX declares one key for.
type keySig struct {
	domain, name string
	typ          valueType
}

// prop is one property ready to be written.
type prop struct {
	name string
	typ  valueType
	text string
	rank int
	key  string // the id of its key, once declared
}

// encoder turns nodes and edges into GraphML elements and keeps the key table.
type encoder struct {
	bw     *bufio.Writer // nil while only collecting keys
	keys   map[keySig]string
	order  []keySig // by key id
	frozen bool     // a key not yet declared is an error; the text was checked
	// normalized: the nodes and edges are valid and normalized already (a view
	// that says so, or content decoded from a snapshot): they are not checked again.
	normalized bool
	ids        map[string]struct{}
	count      int // nodes and edges seen
	props      []prop
	num        []byte
	json       bytes.Buffer
}

func newEncoder() *encoder {
	return &encoder{keys: make(map[keySig]string)}
}

// walk encodes every node, then every edge.
func (e *encoder) walk(ctx context.Context, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	e.count = 0
	for n, err := range nodes {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := e.node(n); err != nil {
			return err
		}
	}
	for ed, err := range edges {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := e.edge(ed); err != nil {
			return err
		}
	}
	return nil
}

// header writes the XML declaration, the keys (last declared first, as NetworkX's
// writer inserts each new key at the top) and the <graph> start tag.
func (e *encoder) header(bw *bufio.Writer, meta graph.Meta) {
	bw.WriteString(xmlDecl)
	bw.WriteString(graphmlTag)
	for i := len(e.order) - 1; i >= 0; i-- {
		k := e.order[i]
		bw.WriteString(`  <key id="`)
		bw.WriteString(e.keys[k])
		bw.WriteString(`" for="`)
		bw.WriteString(k.domain)
		bw.WriteString(`" attr.name="`)
		writeEscaped(bw, k.name, true)
		bw.WriteString(`" attr.type="`)
		bw.WriteString(k.typ.String())
		bw.WriteString("\" />\n")
	}
	edgedefault := "undirected"
	if meta.Directed {
		edgedefault = "directed"
	}
	bw.WriteString(`  <graph edgedefault="`)
	bw.WriteString(edgedefault)
	if e.count == 0 {
		bw.WriteString("\" />\n</graphml>\n")
		return
	}
	bw.WriteString("\">\n")
}

func (e *encoder) footer(bw *bufio.Writer) {
	if e.count > 0 {
		bw.WriteString(footer)
	}
}

func (e *encoder) node(n graph.Node) error {
	if !e.normalized {
		var err error
		if n, err = n.Normalize(); err != nil {
			return fmt.Errorf("graphml: node: %w", err)
		}
	}
	if err := checkXML(n.ID); err != nil {
		return fmt.Errorf("graphml: node id %q: %w: %w", n.ID, graph.ErrInvalidID, err)
	}
	if e.ids != nil {
		if _, dup := e.ids[n.ID]; dup {
			return fmt.Errorf("%w: duplicate node id %q", ErrMalformed, n.ID)
		}
		e.ids[n.ID] = struct{}{}
	}
	e.count++
	if _, ok := n.Props[attrLabels]; ok {
		return fmt.Errorf("graphml: node %q: %w: property name %s is reserved for labels", n.ID, graph.ErrInvalidValue, attrLabels)
	}
	e.props = e.props[:0]
	if len(n.Labels) > 0 {
		text, err := e.jsonText(n.Labels)
		if err != nil {
			return fmt.Errorf("graphml: node %q labels: %w", n.ID, err)
		}
		e.props = append(e.props, prop{name: attrLabels, typ: typeString, text: text})
	}
	if err := e.collect("node", n.Props); err != nil {
		return fmt.Errorf("graphml: node %q: %w", n.ID, err)
	}
	if e.bw == nil {
		return nil
	}
	e.bw.WriteString(`    <node id="`)
	writeEscaped(e.bw, n.ID, true)
	e.bw.WriteByte('"')
	e.data()
	if len(e.props) > 0 {
		e.bw.WriteString("    </node>\n")
	}
	return nil
}

func (e *encoder) edge(ed graph.Edge) error {
	if !e.normalized {
		var err error
		if ed, err = ed.Normalize(); err != nil {
			return fmt.Errorf("graphml: edge: %w", err)
		}
	}
	for _, id := range []string{ed.Source, ed.Target} {
		if err := checkXML(id); err != nil {
			return fmt.Errorf("graphml: edge end %q: %w: %w", id, graph.ErrInvalidID, err)
		}
		if e.ids != nil {
			if _, ok := e.ids[id]; !ok {
				return fmt.Errorf("%w: edge %q-%q: node %q is not among the nodes", ErrMalformed, ed.Source, ed.Target, id)
			}
		}
	}
	e.count++
	if _, ok := ed.Props[attrType]; ok {
		return fmt.Errorf("graphml: edge %q-%q: %w: property name %s is reserved for the edge type", ed.Source, ed.Target, graph.ErrInvalidValue, attrType)
	}
	e.props = e.props[:0]
	if ed.Type != "" {
		e.props = append(e.props, prop{name: attrType, typ: typeString, text: ed.Type})
	}
	if err := e.collect("edge", ed.Props); err != nil {
		return fmt.Errorf("graphml: edge %q-%q: %w", ed.Source, ed.Target, err)
	}
	if e.bw == nil {
		return nil
	}
	e.bw.WriteString(`    <edge source="`)
	writeEscaped(e.bw, ed.Source, true)
	e.bw.WriteString(`" target="`)
	writeEscaped(e.bw, ed.Target, true)
	e.bw.WriteByte('"')
	e.data()
	if len(e.props) > 0 {
		e.bw.WriteString("    </edge>\n")
	}
	return nil
}

// collect formats the properties into e.props, orders them and declares their keys.
func (e *encoder) collect(domain string, props map[string]any) error {
	rank := lightragOrder[domain]
	for name, v := range props {
		p := prop{name: name, rank: len(rank)}
		if r, ok := rank[name]; ok {
			p.rank = r
		}
		switch x := v.(type) {
		case nil:
			continue // GraphML has no null
		case bool:
			p.typ, p.text = typeBool, "False"
			if x {
				p.text = "True"
			}
		case int64:
			e.num = strconv.AppendInt(e.num[:0], x, 10)
			p.typ, p.text = typeLong, string(e.num)
		case float64:
			e.num = appendPyFloat(e.num[:0], x)
			p.typ, p.text = typeDouble, string(e.num)
		case string:
			p.typ, p.text = typeString, x
		default: // []any, map[string]any
			text, err := e.jsonText(x)
			if err != nil {
				return fmt.Errorf("property %q: %w", name, err)
			}
			p.typ, p.text = typeString, text
		}
		e.props = append(e.props, p)
	}
	slices.SortFunc(e.props, func(a, b prop) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.name, b.name), cmp.Compare(a.typ, b.typ))
	})
	for i := range e.props {
		p := &e.props[i]
		if !e.frozen {
			if err := checkXML(p.name); err != nil {
				return fmt.Errorf("%w: property name %q: %w", graph.ErrInvalidValue, p.name, err)
			}
			if err := checkXML(p.text); err != nil {
				return fmt.Errorf("%w: property %q: %w", graph.ErrInvalidValue, p.name, err)
			}
		}
		sig := keySig{domain, p.name, p.typ}
		if id, ok := e.keys[sig]; ok {
			p.key = id
			continue
		}
		if e.frozen {
			return fmt.Errorf("%w: the view changed between the two passes (new %s attribute %q)", ErrMalformed, domain, p.name)
		}
		p.key = "d" + strconv.Itoa(len(e.order))
		e.keys[sig] = p.key
		e.order = append(e.order, sig)
	}
	return nil
}

// data closes the start tag of a node or edge and writes its <data> children.
func (e *encoder) data() {
	if len(e.props) == 0 {
		e.bw.WriteString(" />\n")
		return
	}
	e.bw.WriteString(">\n")
	for _, p := range e.props {
		e.bw.WriteString(`      <data key="`)
		e.bw.WriteString(p.key)
		if p.text == "" {
			e.bw.WriteString("\" />\n")
			continue
		}
		e.bw.WriteString(`">`)
		writeEscaped(e.bw, p.text, false)
		e.bw.WriteString("</data>\n")
	}
}

// jsonText is v as compact JSON without HTML escaping.
func (e *encoder) jsonText(v any) (string, error) {
	e.json.Reset()
	enc := json.NewEncoder(&e.json)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("%w: %w", graph.ErrInvalidValue, err)
	}
	return string(bytes.TrimSuffix(e.json.Bytes(), []byte("\n"))), nil
}

// appendPyFloat formats f as Python's repr does: the shortest text that reads back
// as f, in positional notation with at least one decimal when 1e-4 <= |f| < 1e16,
// in scientific notation with a two-digit or longer exponent otherwise.
func appendPyFloat(b []byte, f float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	i := bytes.LastIndexByte(b[start:], 'e')
	exp, _ := strconv.Atoi(string(b[start+i+1:]))
	if f != 0 && (exp < -4 || exp >= 16) {
		return b
	}
	b = strconv.AppendFloat(b[:start], f, 'f', -1, 64)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

// checkXML reports whether s holds only characters XML 1.0 can carry.
func checkXML(s string) error {
	// Eight bytes at a time while they are printable ASCII, tab or newline.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&hi8 != 0 || hasLess(w, 0x20) {
			break
		}
	}
	if i == len(s) {
		return nil
	}
	for j, r := range s[i:] {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i+j:]); size == 1 {
				return fmt.Errorf("invalid UTF-8 at byte %d", i+j)
			}
		}
		if !isXMLChar(r) {
			return fmt.Errorf("character %U cannot be written in XML", r)
		}
	}
	return nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// writeEscaped writes s escaped as ElementTree does: &, < and > always; in
// attributes also the double quote, newline and tab; carriage returns always, so
// they survive reading.
func writeEscaped(bw *bufio.Writer, s string, attr bool) {
	last := 0
	// Skip eight bytes at a time while none needs escaping.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if hasByte(w, '&') || hasByte(w, '<') || hasByte(w, '>') || hasByte(w, '\r') ||
			attr && (hasByte(w, '"') || hasByte(w, '\n') || hasByte(w, '\t')) {
			break
		}
	}
	for ; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#13;"
		case '"':
			if !attr {
				continue
			}
			esc = "&quot;"
		case '\n':
			if !attr {
				continue
			}
			esc = "&#10;"
		case '\t':
			if !attr {
				continue
			}
			esc = "&#09;"
		default:
			continue
		}
		bw.WriteString(s[last:i])
		bw.WriteString(esc)
		last = i + 1
	}
	bw.WriteString(s[last:])
}
