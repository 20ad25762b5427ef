package graphml

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// shape is one way LightRAG has written its graph file over the versions.
type shape struct {
	quoted bool // older versions: ids and names wrapped in literal double quotes
	extra  bool // newer versions: file_path and created_at on nodes and edges
	indent bool // older versions wrote no indentation
}

func (s shape) String() string {
	return fmt.Sprintf("quoted=%t,extra=%t,indent=%t", s.quoted, s.extra, s.indent)
}

var shapes = func() []shape {
	var out []shape
	for _, q := range []bool{false, true} {
		for _, x := range []bool{false, true} {
			for _, i := range []bool{false, true} {
				out = append(out, shape{q, x, i})
			}
		}
	}
	return out
}()

// kv is an attribute in the order LightRAG sets it.
type kv struct {
	name string
	val  any
}

// lightragSample builds a graph in the given shape and the document NetworkX writes
// for it, by an emitter independent of the package's writer.
func lightragSample(s shape) ([]byte, *sliceView) { return lightragSampleN(s, 7, 200) }

// lightragSampleN is lightragSample with the first nNames entities and descriptions
// of about repeat*90 bytes.
func lightragSampleN(s shape, nNames, repeat int) ([]byte, *sliceView) {
	q := func(id string) string {
		if s.quoted {
			return `"` + strings.ToUpper(id) + `"`
		}
		return id
	}
	names := []string{"Alan Turing", "RABBITMQ", "C/C++", "Zürich 東京", `O'Reilly & <Sons> "Books"`, "tab\there", "Bletchley Park"}[:nNames]
	long := strings.Repeat("A long description with <angle> brackets & ampersands, 'quotes' and \"double quotes\".\n", repeat)
	type elem struct {
		id, src, dst string
		attrs        []kv
	}
	var nodes, edges []elem
	for i, n := range names {
		var a []kv
		if !s.quoted {
			a = append(a, kv{"entity_id", q(n)})
		}
		a = append(a,
			kv{"entity_type", q([]string{"person", "organization", "category", "geo"}[i%4])},
			kv{"description", fmt.Sprintf("%s is entity %d.<SEP>%s", q(n), i, long[:min(len(long), 100*(i+1))])},
			kv{"source_id", "chunk-ca25e1b95daef467c64a9046e8200eec<SEP>chunk-811da763d68ad10db6f29b2e30c32087"},
		)
		if s.extra {
			a = append(a, kv{"file_path", "docs/" + strconv.Itoa(i) + ".txt<SEP>unknown_source"}, kv{"created_at", int64(1751000000 + i)})
		}
		nodes = append(nodes, elem{id: q(n), attrs: a})
	}
	for i := 0; i+1 < len(names); i++ {
		a := []kv{
			{"weight", []float64{1, 8.5, 10, 0.25, 1e-05, 3, 2}[i]},
			{"description", q(names[i]) + " relates to " + q(names[i+1])},
			{"keywords", "relation, link " + strconv.Itoa(i)},
			{"source_id", "chunk-ca25e1b95daef467c64a9046e8200eec"},
		}
		if s.extra {
			a = append(a, kv{"file_path", "docs/x.txt"}, kv{"created_at", int64(1751000100 + i)})
		}
		edges = append(edges, elem{src: q(names[i]), dst: q(names[i+1]), attrs: a})
	}

	// The expected graph.
	want := &sliceView{}
	for _, n := range nodes {
		p := map[string]any{}
		for _, a := range n.attrs {
			p[a.name] = a.val
		}
		want.nodes = append(want.nodes, graph.Node{ID: n.id, Props: p})
	}
	for _, e := range edges {
		p := map[string]any{}
		for _, a := range e.attrs {
			p[a.name] = a.val
		}
		want.edges = append(want.edges, graph.Edge{Source: e.src, Target: e.dst, Props: p})
	}

	// The document, as ElementTree serializes it.
	text := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	attr := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", "&#10;", "\t", "&#09;")
	type keyT struct{ dom, name, typ string }
	var keys []keyT
	keyID := func(k keyT) string {
		i := slices.Index(keys, k)
		if i < 0 {
			i = len(keys)
			keys = append(keys, k)
		}
		return "d" + strconv.Itoa(i)
	}
	nl := func(level int) string {
		if !s.indent {
			return ""
		}
		return "\n" + strings.Repeat("  ", level)
	}
	var body strings.Builder
	emit := func(dom string, open string, attrs []kv) {
		body.WriteString(nl(2) + open)
		body.WriteString(">")
		for _, a := range attrs {
			var typ, v string
			switch x := a.val.(type) {
			case string:
				typ, v = "string", x
			case int64:
				typ, v = "long", strconv.FormatInt(x, 10)
			case float64:
				typ, v = "double", strconv.FormatFloat(x, 'f', -1, 64)
				if x < 1e-4 {
					v = strconv.FormatFloat(x, 'e', -1, 64)
				} else if !strings.Contains(v, ".") {
					v += ".0"
				}
			}
			fmt.Fprintf(&body, `%s<data key="%s">%s</data>`, nl(3), keyID(keyT{dom, a.name, typ}), text.Replace(v))
		}
		body.WriteString(nl(2) + "</" + dom + ">")
	}
	for _, n := range nodes {
		emit("node", `<node id="`+attr.Replace(n.id)+`"`, n.attrs)
	}
	for _, e := range edges {
		emit("edge", `<edge source="`+attr.Replace(e.src)+`" target="`+attr.Replace(e.dst)+`"`, e.attrs)
	}
	var doc bytes.Buffer
	doc.WriteString("<?xml version='1.0' encoding='utf-8'?>\n")
	doc.WriteString(`<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">`)
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		fmt.Fprintf(&doc, `%s<key id="d%d" for="%s" attr.name="%s" attr.type="%s" />`, nl(1), i, k.dom, k.name, k.typ)
	}
	doc.WriteString(nl(1) + `<graph edgedefault="undirected">`)
	doc.WriteString(body.String())
	doc.WriteString(nl(1) + "</graph>" + nl(0) + "</graphml>")
	if s.indent {
		doc.WriteString("\n")
	}
	return doc.Bytes(), want
}

func TestLightRAGShapes(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.String(), func(t *testing.T) {
			doc, want := lightragSample(s)
			got, err := readAll(doc)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if d := diffGraphs(got, want); d != "" {
				t.Fatalf("read:\n%s", d)
			}
			out := writeAll(t, got)
			// What we write is what NetworkX writes, with indentation.
			indented, _ := lightragSample(shape{s.quoted, s.extra, true})
			if !bytes.Equal(out, indented) {
				t.Errorf("written document differs from NetworkX's:\n got: %.600s\nwant: %.600s", out, indented)
			}
			again, err := readAll(out)
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if d := diffGraphs(again, want); d != "" {
				t.Errorf("re-read:\n%s", d)
			}
		})
	}
}

func TestRealFile(t *testing.T) {
	src := readRealFile(t)
	got, err := readAll(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.nodes) != 75 || len(got.edges) != 26 || got.meta.Directed {
		t.Fatalf("got %d nodes, %d edges, directed %t; want 75, 26, false", len(got.nodes), len(got.edges), got.meta.Directed)
	}
	for _, e := range got.edges {
		if _, ok := e.Props["weight"].(float64); !ok {
			t.Fatalf("edge %q-%q weight is %T, want float64", e.Source, e.Target, e.Props["weight"])
		}
	}
	out := writeAll(t, got)
	// Some nodes of the file hold their attributes in another order, which a map
	// does not keep: the lines are the same, and in the same order outside nodes.
	lines := func(b []byte) []string { return slices.Sorted(slices.Values(strings.Split(string(b), "\n"))) }
	if !slices.Equal(lines(out), lines(src)) {
		t.Errorf("written file does not hold the lines of the original")
	}
	again, err := readAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(again, got); d != "" {
		t.Errorf("round trip:\n%s", d)
	}
}
