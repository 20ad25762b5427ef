package graphml

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// ErrNotNetworkX is what [ReadLayout] returns for a well-formed GraphML document
// that neither of NetworkX's writers could have written (comments, key defaults,
// edge id attributes, several graphs, elements NetworkX never writes). Such a file
// can still be read with [Decoder]; it just cannot be written back byte for byte.
var ErrNotNetworkX = errors.New("graphml: not laid out as NetworkX writes")

// Style is one of the two writers NetworkX's write_graphml uses.
type Style string

const (
	// StyleLxml is write_graphml_lxml, NetworkX's default when lxml is installed:
	// streamed, keys and elements one per line without indentation, "/>", the
	// document ending in "</graph></graphml>" without a newline, graph data first.
	StyleLxml Style = "lxml"
	// StyleElementTree is write_graphml_xml: the ElementTree document indented by
	// two spaces, " />", graph data after the edges, a final newline.
	StyleElementTree Style = "etree"
)

// Key is one <key> declaration as a file has it.
type Key struct {
	ID   string `json:"id"`
	For  string `json:"for"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Datum is one graph-level <data> element: graph data has no place in
// [graph.Meta], so a layout keeps it as written.
type Datum struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// NodeLayout is one <node> of a file, in file order. Keys lists the key ids of its
// <data> children in file order when that is not the order NetworkX creates keys
// in (the reverse of the declarations); nil otherwise.
type NodeLayout struct {
	ID   string
	Keys []string
}

// EdgeLayout is one <edge> of a file, in file order, with its ends as the file
// has them (the orientation of an undirected edge is the writer's). Type is the
// text of its __type__ data, if any; Keys as for [NodeLayout].
type EdgeLayout struct {
	Source, Target, Type string
	Keys                 []string
}

// Layout is what a NetworkX writer needs, beyond the nodes' and edges' data, to
// write a GraphML file again byte for byte: the writer, the key declarations in
// file order with their ids, the graph element, the graph data, the order of the
// nodes and of the edges, the orientation of each edge and, where it is not the
// usual one, the order of an element's data.
type Layout struct {
	Style     Style
	Directed  bool
	GraphID   *string // the id attribute of <graph>, when it has one
	Keys      []Key
	GraphData []Datum
	Nodes     []NodeLayout
	Edges     []EdgeLayout
}

// ReadLayout reads the layout of a GraphML document written by NetworkX. It reads
// the structure only, not the values (read them with [Decoder]). A document no
// NetworkX writer could have written is [ErrNotNetworkX]; bad XML is [ErrSyntax].
// Even a layout read without error may not reproduce the file (a value NetworkX
// would have formatted differently, say): write it and compare to be sure.
//
// When r is an [io.ReadSeeker] (a file), the nodes and edges of a file as NetworkX
// writes them are read by a fast scanner; anything else is read again from where r
// was with the XML reader, so results and errors are the same either way.
func ReadLayout(ctx context.Context, r io.Reader) (*Layout, error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if start, err := rs.Seek(0, io.SeekCurrent); err == nil {
			l, err := readLayoutFast(ctx, rs)
			if !errors.Is(err, errNotFast) {
				return l, err
			}
			if _, err := rs.Seek(start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("graphml: %w", err)
			}
		}
	}
	return readLayoutXML(ctx, r)
}

// readLayoutXML reads a layout with encoding/xml.
func readLayoutXML(ctx context.Context, r io.Reader) (*Layout, error) {
	lr := &layoutReader{x: xml.NewDecoder(bufio.NewReaderSize(r, 256<<10)), l: &Layout{}}
	if err := lr.read(ctx); err != nil {
		return nil, err
	}
	lr.l.defaultOrders()
	return lr.l, nil
}

type layoutReader struct {
	x   *xml.Decoder
	l   *Layout
	n   int
	err error
}

func (lr *layoutReader) token() (xml.Token, error) {
	tok, err := lr.x.Token()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		line, col := lr.x.InputPos()
		return nil, &ParseError{Line: line, Column: col, Kind: ErrSyntax, Err: err}
	}
	return tok, nil
}

func notNX(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotNetworkX}, args...)...)
}

// next returns the next element start or end, skipping whitespace; anything else
// (comments, text, processing instructions) is not NetworkX's.
func (lr *layoutReader) next() (xml.Token, string, error) {
	ws := ""
	for {
		tok, err := lr.token()
		if err != nil {
			return nil, ws, err
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, ws, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, ws, notNX("text %.20q between elements", string(t))
			}
			ws += string(t)
		default:
			return nil, ws, notNX("%T in the document", tok)
		}
	}
}

func attrs(t xml.StartElement, names ...string) (map[string]string, error) {
	m := make(map[string]string, len(t.Attr))
	for _, a := range t.Attr {
		if a.Name.Space != "" && a.Name.Space != "xmlns" && a.Name.Local != "schemaLocation" {
			return nil, notNX("attribute %s:%s on <%s>", a.Name.Space, a.Name.Local, t.Name.Local)
		}
		m[a.Name.Local] = a.Value
	}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return nil, notNX("<%s> without %s", t.Name.Local, n)
		}
	}
	return m, nil
}

func (lr *layoutReader) read(ctx context.Context) error {
	// The declaration.
	tok, err := lr.token()
	if err != nil {
		return err
	}
	if pi, ok := tok.(xml.ProcInst); !ok || pi.Target != "xml" {
		return notNX("no XML declaration")
	}
	tok, ws, err := lr.next()
	if err != nil {
		return err
	}
	root, ok := tok.(xml.StartElement)
	if !ok || root.Name.Local != "graphml" || ws != "\n" {
		return notNX("the document does not start with <graphml>")
	}
	l := lr.l
	for {
		tok, ws, err := lr.next()
		if err != nil {
			return err
		}
		if l.Style == "" {
			l.Style = StyleLxml
			if ws != "" {
				l.Style = StyleElementTree
			}
		}
		t, ok := tok.(xml.StartElement)
		if !ok {
			return notNX("<graphml> without <graph>")
		}
		switch t.Name.Local {
		case "key":
			a, err := attrs(t, "id", "for", "attr.name", "attr.type")
			if err != nil {
				return err
			}
			if _, ok := parseType(a["attr.type"]); !ok {
				return notNX("key %q of type %q", a["id"], a["attr.type"])
			}
			l.Keys = append(l.Keys, Key{ID: a["id"], For: a["for"], Name: a["attr.name"], Type: a["attr.type"]})
			if err := lr.end("key"); err != nil {
				return err
			}
		case "graph":
			a, err := attrs(t, "edgedefault")
			if err != nil {
				return err
			}
			l.Directed = a["edgedefault"] == "directed"
			if id, ok := a["id"]; ok {
				l.GraphID = &id
			}
			if err := lr.graph(ctx); err != nil {
				return err
			}
			return lr.tail()
		default:
			return notNX("<%s> in <graphml>", t.Name.Local)
		}
	}
}

// end reads the end of an element that has no children.
func (lr *layoutReader) end(name string) error {
	tok, _, err := lr.next()
	if err != nil {
		return err
	}
	if _, ok := tok.(xml.EndElement); !ok {
		return notNX("<%s> has children", name)
	}
	return nil
}

func (lr *layoutReader) tail() error {
	tok, _, err := lr.next()
	if err != nil {
		return err
	}
	if _, ok := tok.(xml.EndElement); !ok {
		return notNX("more than one graph")
	}
	for {
		tok, err := lr.token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
			return notNX("content after </graphml>")
		}
	}
}

func (lr *layoutReader) keyByID() map[string]*Key {
	m := make(map[string]*Key, len(lr.l.Keys))
	for i := range lr.l.Keys {
		m[lr.l.Keys[i].ID] = &lr.l.Keys[i]
	}
	return m
}

func (lr *layoutReader) graph(ctx context.Context) error {
	keys := lr.keyByID()
	l := lr.l
	for {
		tok, _, err := lr.next()
		if err != nil {
			return err
		}
		if _, ok := tok.(xml.EndElement); ok {
			return nil
		}
		t := tok.(xml.StartElement)
		if lr.n++; lr.n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch t.Name.Local {
		case "data":
			a, err := attrs(t, "key")
			if err != nil {
				return err
			}
			text, err := lr.text()
			if err != nil {
				return err
			}
			l.GraphData = append(l.GraphData, Datum{Key: a["key"], Text: text})
		case "node":
			a, err := attrs(t, "id")
			if err != nil {
				return err
			}
			if len(a) != 1 {
				return notNX("node %q has attributes besides its id", a["id"])
			}
			seq, _, err := lr.data(keys, "")
			if err != nil {
				return err
			}
			l.Nodes = append(l.Nodes, NodeLayout{ID: a["id"], Keys: seq})
		case "edge":
			a, err := attrs(t, "source", "target")
			if err != nil {
				return err
			}
			if len(a) != 2 {
				return notNX("edge %q-%q has attributes besides its ends", a["source"], a["target"])
			}
			seq, typ, err := lr.data(keys, attrType)
			if err != nil {
				return err
			}
			l.Edges = append(l.Edges, EdgeLayout{Source: a["source"], Target: a["target"], Type: typ, Keys: seq})
		default:
			return notNX("<%s> in <graph>", t.Name.Local)
		}
	}
}

// data reads the <data> children of a node or edge: their key ids in order, and
// the text of the one whose key is named want.
func (lr *layoutReader) data(keys map[string]*Key, want string) ([]string, string, error) {
	var seq []string
	var found string
	for {
		tok, _, err := lr.next()
		if err != nil {
			return nil, "", err
		}
		if _, ok := tok.(xml.EndElement); ok {
			return seq, found, nil
		}
		t := tok.(xml.StartElement)
		if t.Name.Local != "data" {
			return nil, "", notNX("<%s> in a node or edge", t.Name.Local)
		}
		a, err := attrs(t, "key")
		if err != nil {
			return nil, "", err
		}
		k := keys[a["key"]]
		if k == nil {
			return nil, "", notNX("undeclared key %q", a["key"])
		}
		text, err := lr.text()
		if err != nil {
			return nil, "", err
		}
		if want != "" && k.Name == want {
			found = text
		}
		seq = append(seq, a["key"])
	}
}

// text reads the text of a <data> element up to its end.
func (lr *layoutReader) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := lr.token()
		if err != nil {
			if err == io.EOF {
				err = &ParseError{Kind: ErrSyntax, Err: io.ErrUnexpectedEOF}
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		default:
			return "", notNX("%T in <data>", tok)
		}
	}
}

// ranks returns the creation rank of each key id: NetworkX declares each new key
// before the others, so the last declaration was made first.
func (l *Layout) ranks() map[string]int {
	r := make(map[string]int, len(l.Keys))
	for i, k := range l.Keys {
		r[k.ID] = len(l.Keys) - 1 - i
	}
	return r
}

// defaultOrders drops the key sequences that the writer derives by itself: those
// in creation order that name no key a (domain, name, kind) lookup confuses.
func (l *Layout) defaultOrders() {
	ranks := l.ranks()
	amb := l.ambiguous()
	plain := func(seq []string) bool {
		for i, id := range seq {
			if amb[id] || i > 0 && ranks[seq[i-1]] >= ranks[id] {
				return false
			}
		}
		return true
	}
	for i := range l.Nodes {
		if plain(l.Nodes[i].Keys) {
			l.Nodes[i].Keys = nil
		}
	}
	for i := range l.Edges {
		if plain(l.Edges[i].Keys) {
			l.Edges[i].Keys = nil
		}
	}
}

// kindOf is the Go kind a key type reads as.
func kindOf(typ string) valueType {
	t, _ := parseType(typ)
	return t
}

type sigKey struct {
	domain, name string
	kind         valueType
}

// ambiguous lists the key ids that share a domain, name and kind with another.
func (l *Layout) ambiguous() map[string]bool {
	seen := map[sigKey]string{}
	amb := map[string]bool{}
	for _, k := range l.Keys {
		s := sigKey{k.For, k.Name, kindOf(k.Type)}
		if other, ok := seen[s]; ok {
			amb[other], amb[k.ID] = true, true
		}
		seen[s] = k.ID
	}
	return amb
}

// WriteLayout writes the graph g holds as the GraphML document l describes: the
// nodes and edges l lists, in its order and orientation, each with the data g has
// for it, in l's writer style. The nodes and edges g holds beyond those are not
// written. A node or edge l lists that g lacks, or whose data the declared keys
// cannot carry, is an error wrapping [ErrMalformed]; writing a layout read from a
// NetworkX file with the graph read from it gives the file back.
func WriteLayout(ctx context.Context, w io.Writer, l *Layout, g graph.Getter) error {
	lw := &layoutWriter{l: l, bw: bufio.NewWriterSize(w, 256<<10), ranks: l.ranks(), keys: map[string]*Key{}, bySig: map[sigKey]string{}}
	amb := l.ambiguous()
	for i := range l.Keys {
		k := &l.Keys[i]
		lw.keys[k.ID] = k
		if !amb[k.ID] {
			lw.bySig[sigKey{k.For, k.Name, kindOf(k.Type)}] = k.ID
		}
	}
	lw.enc = newEncoder()
	if err := lw.write(ctx, g); err != nil {
		return err
	}
	if err := lw.bw.Flush(); err != nil {
		return fmt.Errorf("graphml: write: %w", err)
	}
	return nil
}

type layoutWriter struct {
	l     *Layout
	bw    *bufio.Writer
	ranks map[string]int
	keys  map[string]*Key
	bySig map[sigKey]string
	enc   *encoder
	items []item
	num   []byte
}

// item is one <data> to write.
type item struct {
	key  string
	text string
}

func (lw *layoutWriter) lxml() bool { return lw.l.Style == StyleLxml }

func (lw *layoutWriter) write(ctx context.Context, g graph.Getter) error {
	l, bw := lw.l, lw.bw
	bw.WriteString(xmlDecl)
	bw.WriteString(strings.TrimSuffix(graphmlTag, "\n"))
	if !lw.lxml() {
		bw.WriteByte('\n')
	}
	for _, k := range l.Keys {
		if !lw.lxml() {
			bw.WriteString("  ")
		}
		bw.WriteString(`<key id="`)
		lw.attr(k.ID)
		bw.WriteString(`" for="`)
		lw.attr(k.For)
		bw.WriteString(`" attr.name="`)
		lw.attr(k.Name)
		bw.WriteString(`" attr.type="`)
		lw.attr(k.Type)
		if lw.lxml() {
			bw.WriteString("\"/>\n")
		} else {
			bw.WriteString("\" />\n")
		}
	}
	if !lw.lxml() {
		bw.WriteString("  ")
	}
	bw.WriteString(`<graph edgedefault="`)
	if l.Directed {
		bw.WriteString("directed")
	} else {
		bw.WriteString("undirected")
	}
	if l.GraphID != nil {
		bw.WriteString(`" id="`)
		lw.attr(*l.GraphID)
	}
	empty := len(l.Nodes) == 0 && len(l.Edges) == 0 && len(l.GraphData) == 0
	switch {
	case lw.lxml():
		bw.WriteString(`">`)
	case empty:
		bw.WriteString("\" />\n</graphml>\n")
		return nil
	default:
		bw.WriteString("\">\n")
	}
	if lw.lxml() {
		lw.graphData()
	}
	for i, nl := range l.Nodes {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n, ok, err := g.Node(ctx, nl.ID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: node %q of the layout is not in the graph", ErrMalformed, nl.ID)
		}
		if err := lw.collect("node", n.Props, n.Labels, "", nl.Keys); err != nil {
			return fmt.Errorf("graphml: node %q: %w", nl.ID, err)
		}
		lw.element("node", [][2]string{{"id", nl.ID}})
	}
	for i, el := range l.Edges {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		e, ok, err := g.Edge(ctx, el.Source, el.Target, el.Type)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: edge %q-%q of the layout is not in the graph", ErrMalformed, el.Source, el.Target)
		}
		if err := lw.collect("edge", e.Props, nil, e.Type, el.Keys); err != nil {
			return fmt.Errorf("graphml: edge %q-%q: %w", el.Source, el.Target, err)
		}
		lw.element("edge", [][2]string{{"source", el.Source}, {"target", el.Target}})
	}
	if lw.lxml() {
		bw.WriteString("</graph></graphml>")
		return nil
	}
	lw.graphData()
	bw.WriteString("  </graph>\n</graphml>\n")
	return nil
}

func (lw *layoutWriter) graphData() {
	for _, d := range lw.l.GraphData {
		if !lw.lxml() {
			lw.bw.WriteString("    ")
		}
		lw.data(item{d.Key, d.Text}, "")
	}
}

// element writes a node or an edge with the data collected in lw.items.
func (lw *layoutWriter) element(name string, attrs [][2]string) {
	bw := lw.bw
	indent := ""
	if !lw.lxml() {
		indent = "    "
	}
	bw.WriteString(indent)
	bw.WriteByte('<')
	bw.WriteString(name)
	for _, a := range attrs {
		bw.WriteByte(' ')
		bw.WriteString(a[0])
		bw.WriteString(`="`)
		lw.attr(a[1])
		bw.WriteByte('"')
	}
	if len(lw.items) == 0 {
		if lw.lxml() {
			bw.WriteString("/>\n")
		} else {
			bw.WriteString(" />\n")
		}
		return
	}
	bw.WriteString(">\n")
	for _, it := range lw.items {
		bw.WriteString(indent)
		lw.data(it, "  ")
	}
	bw.WriteString(indent)
	bw.WriteString("</")
	bw.WriteString(name)
	bw.WriteString(">\n")
}

func (lw *layoutWriter) data(it item, indent string) {
	bw := lw.bw
	bw.WriteString(indent)
	bw.WriteString(`<data key="`)
	lw.attr(it.key)
	if it.text == "" && !lw.lxml() {
		bw.WriteString("\" />\n")
		return
	}
	bw.WriteString(`">`)
	lw.text(it.text)
	bw.WriteString("</data>\n")
}

// collect turns the data of a node or edge into lw.items, in the order seq gives
// or else in the order NetworkX created the keys.
func (lw *layoutWriter) collect(domain string, props map[string]any, labels []string, typ string, seq []string) error {
	lw.items = lw.items[:0]
	texts := make(map[string]string, len(props)+1)
	add := func(name string, kind valueType, text string) error {
		id, ok := lw.bySig[sigKey{domain, name, kind}]
		if !ok {
			id, ok = lw.bySig[sigKey{"all", name, kind}]
		}
		if !ok && seq == nil {
			return fmt.Errorf("%w: no key declared for %s %q of type %s", ErrMalformed, domain, name, kind)
		}
		if !ok {
			id = name + "\x00" + kind.String() // found below by name and kind
		}
		texts[id] = text
		return nil
	}
	if len(labels) > 0 {
		text, err := lw.enc.jsonText(labels)
		if err != nil {
			return err
		}
		if err := add(attrLabels, typeString, text); err != nil {
			return err
		}
	}
	if typ != "" {
		if err := add(attrType, typeString, typ); err != nil {
			return err
		}
	}
	for name, v := range props {
		kind, text, err := lw.format(v)
		if err != nil {
			return fmt.Errorf("property %q: %w", name, err)
		}
		if kind == 0 {
			continue
		}
		if err := add(name, kind, text); err != nil {
			return err
		}
	}
	if seq == nil {
		for id, text := range texts {
			lw.items = append(lw.items, item{id, text})
		}
		slices.SortFunc(lw.items, func(a, b item) int { return lw.ranks[a.key] - lw.ranks[b.key] })
		return nil
	}
	for _, id := range seq {
		k := lw.keys[id]
		if k == nil {
			return fmt.Errorf("%w: undeclared key %q", ErrMalformed, id)
		}
		text, ok := texts[id]
		if !ok {
			alt := k.Name + "\x00" + kindOf(k.Type).String()
			if text, ok = texts[alt]; ok {
				delete(texts, alt)
			}
		} else {
			delete(texts, id)
		}
		if !ok {
			return fmt.Errorf("%w: no value for key %q (%s)", ErrMalformed, id, k.Name)
		}
		lw.items = append(lw.items, item{id, text})
	}
	if len(texts) > 0 {
		return fmt.Errorf("%w: %d value(s) the layout does not place", ErrMalformed, len(texts))
	}
	return nil
}

// format is a value as Python's str() writes it, and the kind of key it needs;
// kind 0 for nil, which GraphML cannot hold.
func (lw *layoutWriter) format(v any) (valueType, string, error) {
	switch x := v.(type) {
	case nil:
		return 0, "", nil
	case bool:
		if x {
			return typeBool, "True", nil
		}
		return typeBool, "False", nil
	case int64:
		lw.num = strconv.AppendInt(lw.num[:0], x, 10)
		return typeLong, string(lw.num), nil
	case float64:
		lw.num = appendPyFloat(lw.num[:0], x)
		return typeDouble, string(lw.num), nil
	case string:
		return typeString, x, nil
	default:
		text, err := lw.enc.jsonText(x)
		return typeString, text, err
	}
}

// attr writes an attribute value escaped as the style's writer escapes it.
func (lw *layoutWriter) attr(s string) { lw.escape(s, true) }

// text writes element text escaped as the style's writer escapes it.
func (lw *layoutWriter) text(s string) { lw.escape(s, false) }

func (lw *layoutWriter) escape(s string, attr bool) {
	bw := lw.bw
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch c := s[i]; {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '\r' && (attr || lw.lxml()):
			esc = "&#13;"
		case c == '"' && attr:
			esc = "&quot;"
		case c == '\n' && attr:
			esc = "&#10;"
		case c == '\t' && attr && lw.lxml():
			esc = "&#9;"
		case c == '\t' && attr:
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
