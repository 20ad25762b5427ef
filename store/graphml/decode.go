package graphml

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// errUnexpectedEOF is the detail of the ParseError for input that ends too early.
var errUnexpectedEOF = errors.New("unexpected EOF")

// nsGraphML is the GraphML namespace. Elements in it, or in no namespace, are GraphML.
const nsGraphML = "http://graphml.graphdrawing.org/xmlns"

// Reserved attribute names that carry Node.Labels and Edge.Type.
const (
	attrLabels = "__labels__"
	attrType   = "__type__"
)

// valueType is the attr.type of a key.
type valueType uint8

const (
	typeString valueType = iota + 1
	typeLong
	typeDouble
	typeBool
)

func (t valueType) String() string {
	switch t {
	case typeString:
		return "string"
	case typeLong:
		return "long"
	case typeDouble:
		return "double"
	case typeBool:
		return "boolean"
	}
	return "unknown"
}

// parseType maps an attr.type to a valueType; "integer" is what Gephi writes.
func parseType(s string) (valueType, bool) {
	switch s {
	case "string":
		return typeString, true
	case "long", "int", "integer":
		return typeLong, true
	case "double", "float":
		return typeDouble, true
	case "boolean":
		return typeBool, true
	}
	return 0, false
}

// parseValue reads the text of a <data> or <default> as its declared type.
func parseValue(t valueType, s string) (any, error) {
	switch t {
	case typeString:
		return s, nil
	case typeLong:
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a valid %s", s, t)
		}
		return v, nil
	case typeDouble:
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a valid %s", s, t)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: value %q is not a finite number", graph.ErrInvalidValue, s)
		}
		return v, nil
	case typeBool:
		switch s = strings.TrimSpace(s); {
		case strings.EqualFold(s, "true"), s == "1":
			return true, nil
		case strings.EqualFold(s, "false"), s == "0":
			return false, nil
		}
		return nil, fmt.Errorf("value %q is not a valid %s", s, t)
	}
	return nil, fmt.Errorf("unknown type %d", t)
}

// keyDecl is one <key> declaration.
type keyDecl struct {
	name   string
	domain string // node, edge, graph or all
	typ    valueType
	yfiles bool // yEd graphics: its data is skipped
	def    any
	hasDef bool
}

// Decoder states.
const (
	stateHead  = iota // before <graph>
	stateNodes        // inside <graph>, no edge seen yet
	stateEdges        // an edge has been seen
	stateDone         // the document has been read to its end
)

// Decoder reads one GraphML document as a stream: [Decoder.Meta], then
// [Decoder.Nodes], then [Decoder.Edges]. It holds the key declarations and the set of
// node IDs seen so far, never the whole graph. Edges may be ranged over without
// ranging over Nodes first: the nodes are then read and dropped. Each sequence can be
// ranged over once; a Decoder is used by one goroutine at a time.
//
// Once a call returns an error, every later call returns the same error.
type Decoder struct {
	x       *xml.Decoder
	src     *source
	keys    map[string]*keyDecl
	defs    []*keyDecl        // keys with a default, in declaration order
	ids     map[string]string // node IDs seen, each mapped to itself so edges share it
	meta    graph.Meta
	state   int
	err     error
	pending *graph.Edge // the first edge, read while ranging over Nodes
	line    int         // position of the element being read, for errors
	col     int

	// The fast scanner (scan.go) reads the elements of the graph that NetworkX
	// writes and leaves everything else to the XML decoder, which then does not see
	// what the scanner consumed; these fields keep the positions it reports true.
	fast      bool // the scanner may run: set once the head allows it
	synced    bool // fline and fcol are the position where the XML decoder stands
	fline     int  // position of the scanner, 1-based
	fcol      int
	lineAdj   int // lines the XML decoder did not see
	colLine   int // the XML decoder's line when it took over; on it, columns are off by colFix
	colFix    int
	scratch   []byte // decoded text with entities
	handovers int    // times the XML decoder took over from the scanner
	// onElement, when set, is called with the bytes of every element the scanner
	// read, and what it read from them.
	onElement func(kind itemKind, raw []byte, n *graph.Node, e *graph.Edge)
}

// NewDecoder returns a Decoder reading from r. It buffers r itself.
func NewDecoder(r io.Reader) *Decoder { return newDecoder(r, sourceSize, true) }

// newDecoder returns a Decoder with a buffer of size bytes to start with, and the
// fast scanner allowed or not (the tests compare the two).
func newDecoder(r io.Reader, size int, fast bool) *Decoder {
	src := &source{r: r, buf: make([]byte, size)}
	return &Decoder{
		x:    xml.NewDecoder(src),
		src:  src,
		keys: make(map[string]*keyDecl),
		ids:  make(map[string]string),
		fast: fast,
	}
}

// pos returns the line and column of the input the XML decoder has reached,
// counting what the fast scanner consumed.
func (d *Decoder) pos() (int, int) {
	line, col := d.x.InputPos()
	if line == d.colLine {
		col += d.colFix
	}
	return line + d.lineAdj, col
}

// Err returns the error that stopped the decoder, or nil.
func (d *Decoder) Err() error { return d.err }

// Meta reads the document up to its <graph> element and returns the graph's
// metadata: Directed is true for edgedefault="directed". Position is always zero.
func (d *Decoder) Meta() (graph.Meta, error) {
	if d.state == stateHead && d.err == nil {
		d.err = d.head()
	}
	return d.meta, d.err
}

// Nodes yields every node of the graph, in file order, then stops at the first edge.
// Labels come back sorted and without duplicates.
func (d *Decoder) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		if _, err := d.Meta(); err != nil {
			yield(graph.Node{}, err)
			return
		}
		for d.state == stateNodes {
			if err := ctx.Err(); err != nil {
				d.err = err
				yield(graph.Node{}, err)
				return
			}
			n, e, kind, err := d.next()
			if err != nil {
				d.err = err
				yield(graph.Node{}, err)
				return
			}
			switch kind {
			case itemNode:
				if !yield(n, nil) {
					return
				}
			case itemEdge:
				d.pending = &e
				return
			}
		}
	}
}

// Edges yields every edge of the graph, in file order. Nodes not read yet are read
// (their IDs are needed to check the edges) and dropped. After the last edge it reads
// the document to its end, so a truncated file is an error.
func (d *Decoder) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		if _, err := d.Meta(); err != nil {
			yield(graph.Edge{}, err)
			return
		}
		if d.err != nil {
			yield(graph.Edge{}, d.err)
			return
		}
		if d.pending != nil {
			e := *d.pending
			d.pending = nil
			if !yield(e, nil) {
				return
			}
		}
		for d.state != stateDone {
			if err := ctx.Err(); err != nil {
				d.err = err
				yield(graph.Edge{}, err)
				return
			}
			_, e, kind, err := d.next()
			if err != nil {
				d.err = err
				yield(graph.Edge{}, err)
				return
			}
			if kind == itemEdge && !yield(e, nil) {
				return
			}
		}
	}
}

type itemKind uint8

const (
	itemEnd itemKind = iota
	itemNode
	itemEdge
)

// token returns the next XML token, turning XML errors into ParseErrors.
func (d *Decoder) token() (xml.Token, error) {
	tok, err := d.x.Token()
	if err == nil {
		return tok, nil
	}
	line, col := d.pos()
	switch {
	case d.src.rerr != nil && errors.Is(err, d.src.rerr):
		return nil, fmt.Errorf("graphml: read: %w", err)
	case err == io.EOF:
		return nil, &ParseError{Line: line, Column: col, Kind: ErrSyntax, Err: errUnexpectedEOF}
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return nil, &ParseError{Line: se.Line + d.lineAdj, Kind: ErrSyntax, Err: errors.New(se.Msg)}
	}
	return nil, &ParseError{Line: line, Column: col, Kind: ErrSyntax, Err: err}
}

// skip skips the element just started.
func (d *Decoder) skip() error {
	for depth := 1; depth > 0; {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

// mark records the current position as the place errors about the element just
// started point to.
func (d *Decoder) mark() { d.line, d.col = d.pos() }

// malformed returns a ParseError at the marked position.
func (d *Decoder) malformed(format string, args ...any) error {
	return &ParseError{Line: d.line, Column: d.col, Kind: ErrMalformed, Err: fmt.Errorf(format, args...)}
}

func isGraphML(n xml.Name) bool { return n.Space == nsGraphML || n.Space == "" }

func attr(t xml.StartElement, name string) (string, bool) {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// head reads the prologue, the root element and the key declarations, up to and
// including the <graph> start tag.
func (d *Decoder) head() error {
	root := false
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			d.mark()
			if !root {
				if !isGraphML(t.Name) || t.Name.Local != "graphml" {
					return d.malformed("root element is <%s>, not <graphml>", t.Name.Local)
				}
				root = true
				d.checkDefaultSpace(t)
				continue
			}
			if !isGraphML(t.Name) {
				if err := d.skip(); err != nil {
					return err
				}
				continue
			}
			switch t.Name.Local {
			case "key":
				if err := d.readKey(t); err != nil {
					return err
				}
			case "graph":
				switch v, _ := attr(t, "edgedefault"); v {
				case "directed":
					d.meta.Directed = true
				case "undirected", "":
				default:
					return d.malformed("edgedefault %q is neither directed nor undirected", v)
				}
				d.checkDefaultSpace(t)
				d.state = stateNodes
				return nil
			default:
				if err := d.skip(); err != nil {
					return err
				}
			}
		case xml.EndElement:
			d.mark()
			return d.malformed("no <graph> element")
		case xml.CharData:
			if root && len(strings.TrimSpace(string(t))) > 0 {
				d.mark()
				return d.malformed("unexpected text in <graphml>")
			}
		}
	}
}

// checkDefaultSpace turns the fast scanner off when t declares a default namespace
// other than GraphML's: unprefixed elements inside it would not be GraphML.
func (d *Decoder) checkDefaultSpace(t xml.StartElement) {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" && a.Value != nsGraphML && a.Value != "" {
			d.fast = false
		}
	}
}

// readKey reads a <key> declaration.
func (d *Decoder) readKey(t xml.StartElement) error {
	id, ok := attr(t, "id")
	if !ok {
		return d.malformed("<key> without id")
	}
	if _, dup := d.keys[id]; dup {
		return d.malformed("key %q declared twice", id)
	}
	k := &keyDecl{domain: "all"}
	if v, ok := attr(t, "for"); ok {
		k.domain = v
	}
	if _, ok := attr(t, "yfiles.type"); ok {
		k.yfiles = true
		d.keys[id] = k
		return d.skip()
	}
	name, ok := attr(t, "attr.name")
	if !ok {
		return d.malformed("key %q has no attr.name", id)
	}
	k.name = name
	k.typ = typeString
	if v, ok := attr(t, "attr.type"); ok {
		if k.typ, ok = parseType(v); !ok {
			return d.malformed("key %q has unknown attr.type %q", id, v)
		}
	}
	d.keys[id] = k
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !isGraphML(t.Name) || t.Name.Local != "default" {
				if err := d.skip(); err != nil {
					return err
				}
				continue
			}
			d.mark()
			text, err := d.readText("default")
			if err != nil {
				return err
			}
			v, err := parseValue(k.typ, text)
			if err != nil {
				return d.malformed("default of key %q: %w", id, err)
			}
			k.def, k.hasDef = v, true
			if k.domain == "node" || k.domain == "edge" || k.domain == "all" {
				d.defs = append(d.defs, k)
			}
		case xml.EndElement:
			return nil
		}
	}
}

// readText returns the character data of the element just started, which must hold
// no element.
func (d *Decoder) readText(elem string) (string, error) {
	var text string
	var buf []byte // only used when the text comes in several pieces
	pieces := 0
	for {
		tok, err := d.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			switch pieces {
			case 0:
				text = string(t)
			case 1:
				buf = append([]byte(text), t...)
			default:
				buf = append(buf, t...)
			}
			pieces++
		case xml.StartElement:
			d.mark()
			return "", d.malformed("element <%s> inside <%s>", t.Name.Local, elem)
		case xml.EndElement:
			if pieces > 1 {
				return string(buf), nil
			}
			return text, nil
		}
	}
}

// next reads up to the next node or edge of the graph and returns it. At the end of
// the graph it reads the rest of the document and returns itemEnd. The fast scanner
// reads what it can; the XML decoder reads the rest.
func (d *Decoder) next() (graph.Node, graph.Edge, itemKind, error) {
	if d.fast {
		if n, e, kind, ok := d.scanNext(); ok {
			return n, e, kind, nil
		}
	}
	return d.nextXML()
}

// nextXML is next with the XML decoder.
func (d *Decoder) nextXML() (graph.Node, graph.Edge, itemKind, error) {
	for {
		tok, err := d.token()
		if err != nil {
			return graph.Node{}, graph.Edge{}, 0, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			d.mark()
			if !isGraphML(t.Name) {
				if err := d.skip(); err != nil {
					return graph.Node{}, graph.Edge{}, 0, err
				}
				continue
			}
			switch t.Name.Local {
			case "node":
				if d.state == stateEdges {
					return graph.Node{}, graph.Edge{}, 0, d.malformed("node after an edge: nodes must come before edges")
				}
				n, err := d.readNode(t)
				return n, graph.Edge{}, itemNode, err
			case "edge":
				d.state = stateEdges
				e, err := d.readEdge(t)
				return graph.Node{}, e, itemEdge, err
			case "hyperedge":
				return graph.Node{}, graph.Edge{}, 0, d.malformed("hyperedges are not supported")
			case "data":
				// Graph-level data: checked, then dropped.
				if _, err := d.readData(t, nil); err != nil {
					return graph.Node{}, graph.Edge{}, 0, err
				}
			default:
				if err := d.skip(); err != nil {
					return graph.Node{}, graph.Edge{}, 0, err
				}
			}
		case xml.EndElement:
			// Token checks nesting, so this is </graph>.
			if err := d.tail(); err != nil {
				return graph.Node{}, graph.Edge{}, 0, err
			}
			d.state = stateDone
			return graph.Node{}, graph.Edge{}, itemEnd, nil
		}
	}
}

// tail reads the document after </graph>: further graphs are skipped, and nothing
// but comments and white space may follow </graphml>.
func (d *Decoder) tail() error {
	closed := false
	for {
		tok, err := d.token()
		if err == nil {
			switch t := tok.(type) {
			case xml.StartElement:
				d.mark()
				if closed {
					return d.malformed("element <%s> after </graphml>", t.Name.Local)
				}
				if err := d.skip(); err != nil {
					return err
				}
			case xml.EndElement:
				closed = true
			case xml.CharData:
				if closed && len(strings.TrimSpace(string(t))) > 0 {
					d.mark()
					return d.malformed("text after </graphml>")
				}
			}
			continue
		}
		if closed && errors.Is(err, errUnexpectedEOF) {
			return nil
		}
		return err
	}
}

// readNode reads a <node> element.
func (d *Decoder) readNode(t xml.StartElement) (graph.Node, error) {
	id, ok := attr(t, "id")
	if !ok {
		return graph.Node{}, d.malformed("node without id")
	}
	if err := graph.ValidateID(id); err != nil {
		return graph.Node{}, d.malformed("node id %q: %w", id, err)
	}
	if _, dup := d.ids[id]; dup {
		return graph.Node{}, d.malformed("duplicate node id %q", id)
	}
	d.ids[id] = id
	line, col := d.line, d.col
	props, err := d.readChildren("node")
	if err != nil {
		return graph.Node{}, err
	}
	d.line, d.col = line, col
	return d.finishNode(id, props)
}

// finishNode applies the key defaults to the data of the node and takes the labels
// out of it. Errors point at d.line and d.col.
func (d *Decoder) finishNode(id string, props map[string]any) (graph.Node, error) {
	props = d.applyDefaults(props, "node")
	n := graph.Node{ID: id}
	if v, ok := props[attrLabels]; ok {
		delete(props, attrLabels)
		s, ok := v.(string)
		if !ok {
			return graph.Node{}, d.malformed("node %q: reserved attribute %s is not a string", id, attrLabels)
		}
		if err := json.Unmarshal([]byte(s), &n.Labels); err != nil {
			return graph.Node{}, d.malformed("node %q: %s is not a JSON array of strings: %v", id, attrLabels, err)
		}
		for _, l := range n.Labels {
			if err := graph.ValidateID(l); err != nil {
				return graph.Node{}, d.malformed("node %q label: %w", id, err)
			}
		}
		if len(n.Labels) == 0 {
			n.Labels = nil
		} else {
			slices.Sort(n.Labels)
			n.Labels = slices.Compact(n.Labels)
		}
	}
	if len(props) > 0 {
		n.Props = props
	}
	return n, nil
}

// readEdge reads an <edge> element.
func (d *Decoder) readEdge(t xml.StartElement) (graph.Edge, error) {
	var e graph.Edge
	for _, end := range []struct {
		name string
		v    *string
	}{{"source", &e.Source}, {"target", &e.Target}} {
		id, ok := attr(t, end.name)
		if !ok {
			return e, d.malformed("edge without %s", end.name)
		}
		if err := graph.ValidateID(id); err != nil {
			return e, d.malformed("edge %s %q: %w", end.name, id, err)
		}
		canon, ok := d.ids[id]
		if !ok {
			return e, d.malformed("edge %s %q is not a node declared before the edge", end.name, id)
		}
		*end.v = canon
	}
	switch v, _ := attr(t, "directed"); {
	case v == "true" && !d.meta.Directed:
		return e, d.malformed("directed edge in an undirected graph")
	case v == "false" && d.meta.Directed:
		return e, d.malformed("undirected edge in a directed graph")
	}
	line, col := d.line, d.col
	props, err := d.readChildren("edge")
	if err != nil {
		return e, err
	}
	d.line, d.col = line, col
	return d.finishEdge(e, props)
}

// finishEdge applies the key defaults to the data of the edge and takes its type out
// of it. Errors point at d.line and d.col.
func (d *Decoder) finishEdge(e graph.Edge, props map[string]any) (graph.Edge, error) {
	props = d.applyDefaults(props, "edge")
	if v, ok := props[attrType]; ok {
		delete(props, attrType)
		s, ok := v.(string)
		if !ok {
			return e, d.malformed("edge %q-%q: reserved attribute %s is not a string", e.Source, e.Target, attrType)
		}
		if s != "" {
			if err := graph.ValidateID(s); err != nil {
				return e, d.malformed("edge %q-%q type: %w", e.Source, e.Target, err)
			}
		}
		e.Type = s
	}
	if len(props) > 0 {
		e.Props = props
	}
	return e, nil
}

// readChildren reads the children of a node or edge and returns its data.
func (d *Decoder) readChildren(elem string) (map[string]any, error) {
	var props map[string]any
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			d.mark()
			switch {
			case !isGraphML(t.Name):
				err = d.skip()
			case t.Name.Local == "data":
				props, err = d.readData(t, props)
			case t.Name.Local == "graph":
				err = d.malformed("nested graphs are not supported")
			default: // desc, port, locator
				err = d.skip()
			}
			if err != nil {
				return nil, err
			}
		case xml.EndElement:
			return props, nil
		}
	}
}

// readData reads one <data> element into props, which it allocates when nil.
func (d *Decoder) readData(t xml.StartElement, props map[string]any) (map[string]any, error) {
	id, ok := attr(t, "key")
	if !ok {
		return nil, d.malformed("<data> without key")
	}
	k := d.keys[id]
	if k == nil {
		return nil, d.malformed("undeclared key %q", id)
	}
	if k.yfiles {
		return props, d.skip()
	}
	line, col := d.line, d.col
	text, err := d.readText("data")
	if err != nil {
		return nil, err
	}
	v, err := parseValue(k.typ, text)
	if err != nil {
		d.line, d.col = line, col
		return nil, d.malformed("key %q (%s): %w", id, k.name, err)
	}
	if props == nil {
		props = make(map[string]any, 8)
	}
	props[k.name] = v
	return props, nil
}

// applyDefaults fills in the key defaults that apply to domain and are missing.
func (d *Decoder) applyDefaults(props map[string]any, domain string) map[string]any {
	for _, k := range d.defs {
		if k.domain != domain && k.domain != "all" {
			continue
		}
		if _, ok := props[k.name]; ok {
			continue
		}
		if props == nil {
			props = make(map[string]any, len(d.defs))
		}
		props[k.name] = k.def
	}
	return props
}
