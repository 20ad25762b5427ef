package graphml

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"math"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

const head = `<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
`

// doc wraps keys and graph content into a document.
func doc(keys, body string) []byte {
	return []byte(head + keys + `<graph edgedefault="undirected">` + body + "</graph></graphml>\n")
}

func TestReadTypes(t *testing.T) {
	tests := []struct {
		typ, text string
		want      any
	}{
		{"string", "plain", "plain"},
		{"string", "  spaced\n text  ", "  spaced\n text  "},
		{"string", "", ""},
		{"long", "1751000000", int64(1751000000)},
		{"long", " -42 ", int64(-42)},
		{"int", "7", int64(7)},
		{"integer", "8", int64(8)},
		{"double", "1", float64(1)},
		{"double", "1.0", float64(1)},
		{"double", "8.5", 8.5},
		{"double", "1e-05", 1e-05},
		{"float", "-0.25", -0.25},
		{"boolean", "True", true},
		{"boolean", "False", false},
		{"boolean", "true", true},
		{"boolean", "false", false},
		{"boolean", "TRUE", true},
		{"boolean", "1", true},
		{"boolean", "0", false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.text, func(t *testing.T) {
			keys := `<key id="d0" for="node" attr.name="v" attr.type="` + tt.typ + `"/>`
			g, err := readAll(doc(keys, `<node id="n"><data key="d0">`+tt.text+`</data></node>`))
			if err != nil {
				t.Fatal(err)
			}
			got := g.nodes[0].Props["v"]
			if got != tt.want {
				t.Errorf("got %#v (%T), want %#v (%T)", got, got, tt.want, tt.want)
			}
			// The value keeps its type through a round trip.
			again, err := readAll(writeAll(t, g))
			if err != nil {
				t.Fatal(err)
			}
			if v := again.nodes[0].Props["v"]; v != tt.want {
				t.Errorf("after round trip got %#v (%T), want %#v (%T)", v, v, tt.want, tt.want)
			}
		})
	}
}

func TestPyFloat(t *testing.T) {
	// Expected texts are Python's repr of the same float.
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-3, "-3.0"},
		{8.5, "8.5"},
		{0.1, "0.1"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1.5e-7, "1.5e-07"},
		{123456789.125, "123456789.125"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{1.2345678901234568e+17, "1.2345678901234568e+17"},
		{1e100, "1e+100"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{1.0 / 3, "0.3333333333333333"},
	}
	for _, tt := range tests {
		if got := string(appendPyFloat(nil, tt.f)); got != tt.want {
			t.Errorf("appendPyFloat(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestWriteShapes(t *testing.T) {
	tests := []struct {
		name string
		v    *sliceView
		want string
	}{
		{
			name: "empty",
			v:    &sliceView{},
			want: xmlDecl + graphmlTag + "  <graph edgedefault=\"undirected\" />\n</graphml>\n",
		},
		{
			name: "directed, bare node and edge, empty string",
			v: &sliceView{
				meta:  graph.Meta{Directed: true},
				nodes: []graph.Node{{ID: "a"}, {ID: `"b" & <c>`, Props: map[string]any{"s": ""}}},
				edges: []graph.Edge{{Source: "a", Target: `"b" & <c>`}},
			},
			want: xmlDecl + graphmlTag +
				`  <key id="d0" for="node" attr.name="s" attr.type="string" />` + "\n" +
				`  <graph edgedefault="directed">` + "\n" +
				`    <node id="a" />` + "\n" +
				`    <node id="&quot;b&quot; &amp; &lt;c&gt;">` + "\n" +
				`      <data key="d0" />` + "\n" +
				`    </node>` + "\n" +
				`    <edge source="a" target="&quot;b&quot; &amp; &lt;c&gt;" />` + "\n" +
				footer,
		},
		{
			name: "labels, type, mixed types, json, nil",
			v: &sliceView{
				nodes: []graph.Node{
					{ID: "a", Labels: []string{"Person", "Author"}, Props: map[string]any{"x": 1, "list": []any{"p", 2.5}, "gone": nil}},
					{ID: "b", Props: map[string]any{"x": "one", "m": map[string]any{"k": true}}},
				},
				edges: []graph.Edge{{Source: "a", Target: "b", Type: "WROTE", Props: map[string]any{"x": true, "weight": 2.0}}},
			},
			want: xmlDecl + graphmlTag +
				`  <key id="d7" for="edge" attr.name="x" attr.type="boolean" />` + "\n" +
				`  <key id="d6" for="edge" attr.name="weight" attr.type="double" />` + "\n" +
				`  <key id="d5" for="edge" attr.name="__type__" attr.type="string" />` + "\n" +
				`  <key id="d4" for="node" attr.name="x" attr.type="string" />` + "\n" +
				`  <key id="d3" for="node" attr.name="m" attr.type="string" />` + "\n" +
				`  <key id="d2" for="node" attr.name="x" attr.type="long" />` + "\n" +
				`  <key id="d1" for="node" attr.name="list" attr.type="string" />` + "\n" +
				`  <key id="d0" for="node" attr.name="__labels__" attr.type="string" />` + "\n" +
				`  <graph edgedefault="undirected">` + "\n" +
				`    <node id="a">` + "\n" +
				`      <data key="d0">["Author","Person"]</data>` + "\n" +
				`      <data key="d1">["p",2.5]</data>` + "\n" +
				`      <data key="d2">1</data>` + "\n" +
				`    </node>` + "\n" +
				`    <node id="b">` + "\n" +
				`      <data key="d3">{"k":true}</data>` + "\n" +
				`      <data key="d4">one</data>` + "\n" +
				`    </node>` + "\n" +
				`    <edge source="a" target="b">` + "\n" +
				`      <data key="d5">WROTE</data>` + "\n" +
				`      <data key="d6">2.0</data>` + "\n" +
				`      <data key="d7">True</data>` + "\n" +
				`    </edge>` + "\n" +
				footer,
		},
		{
			name: "escapes",
			v: &sliceView{
				nodes: []graph.Node{{ID: "line\nbreak\ttab\rcr", Props: map[string]any{"d": "a\"b'c\n\td\re>f"}}},
			},
			want: xmlDecl + graphmlTag +
				`  <key id="d0" for="node" attr.name="d" attr.type="string" />` + "\n" +
				`  <graph edgedefault="undirected">` + "\n" +
				`    <node id="line&#10;break&#09;tab&#13;cr">` + "\n" +
				"      <data key=\"d0\">a\"b'c\n\td&#13;e&gt;f</data>\n" +
				`    </node>` + "\n" +
				footer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := writeAll(t, tt.v)
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			back, err := readAll(got)
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			// Lists and maps come back as their JSON text; nil values are dropped.
			want := &sliceView{meta: tt.v.meta}
			for _, n := range tt.v.nodes {
				want.nodes = append(want.nodes, graph.Node{ID: n.ID, Labels: n.Labels, Props: jsonProps(t, n.Props)})
			}
			for _, e := range tt.v.edges {
				want.edges = append(want.edges, graph.Edge{Source: e.Source, Target: e.Target, Type: e.Type, Props: jsonProps(t, e.Props)})
			}
			if d := diffGraphs(back, want); d != "" {
				t.Errorf("re-read:\n%s", d)
			}
		})
	}
}

// jsonProps is what props read back as: nil dropped, lists and maps as JSON text.
func jsonProps(t *testing.T, props map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	e := newEncoder()
	for k, v := range props {
		v, err := graph.NormalizeValue(v)
		if err != nil {
			t.Fatal(err)
		}
		switch v.(type) {
		case nil:
		case []any, map[string]any:
			if out[k], err = e.jsonText(v); err != nil {
				t.Fatal(err)
			}
		default:
			out[k] = v
		}
	}
	return out
}

// changingView yields different content on its second pass.
type changingView struct {
	sliceView
	passes int
}

func (v *changingView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	v.passes++
	if v.passes > 1 {
		v.nodes = []graph.Node{{ID: "a", Props: map[string]any{"new": 1}}}
	}
	return v.sliceView.Nodes(ctx)
}

// failingView fails while yielding nodes.
type failingView struct{ sliceView }

var errBoom = errors.New("boom")

func (v *failingView) Nodes(context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		if yield(graph.Node{ID: "a"}, nil) {
			yield(graph.Node{}, errBoom)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		v    graph.View
		want error
	}{
		{"reserved labels prop", &sliceView{nodes: []graph.Node{{ID: "a", Props: map[string]any{"__labels__": "x"}}}}, graph.ErrInvalidValue},
		{"reserved type prop", &sliceView{nodes: []graph.Node{{ID: "a"}}, edges: []graph.Edge{{Source: "a", Target: "a", Props: map[string]any{"__type__": "x"}}}}, graph.ErrInvalidValue},
		{"control char in id", &sliceView{nodes: []graph.Node{{ID: "a\x01"}}}, graph.ErrInvalidID},
		{"control char in edge end", &sliceView{nodes: []graph.Node{{ID: "a"}}, edges: []graph.Edge{{Source: "a", Target: "b\x02"}}}, graph.ErrInvalidID},
		{"control char in value", &sliceView{nodes: []graph.Node{{ID: "a", Props: map[string]any{"d": "x\x1fy"}}}}, graph.ErrInvalidValue},
		{"noncharacter in name", &sliceView{nodes: []graph.Node{{ID: "a", Props: map[string]any{"\uFFFE": "x"}}}}, graph.ErrInvalidValue},
		{"control char in json", &sliceView{nodes: []graph.Node{{ID: "a", Props: map[string]any{"l": []any{"\uFFFF"}}}}}, graph.ErrInvalidValue},
		{"empty id", &sliceView{nodes: []graph.Node{{ID: ""}}}, graph.ErrInvalidID},
		{"NaN", &sliceView{nodes: []graph.Node{{ID: "a", Props: map[string]any{"w": math.NaN()}}}}, graph.ErrInvalidValue},
		{"unsupported value", &sliceView{nodes: []graph.Node{{ID: "a", Props: map[string]any{"w": struct{}{}}}}}, graph.ErrInvalidValue},
		{"invalid edge", &sliceView{nodes: []graph.Node{{ID: "a"}}, edges: []graph.Edge{{Source: "a", Target: ""}}}, graph.ErrInvalidID},
		{"duplicate node", &sliceView{nodes: []graph.Node{{ID: "a"}, {ID: "a"}}}, ErrMalformed},
		{"dangling edge", &sliceView{nodes: []graph.Node{{ID: "a"}}, edges: []graph.Edge{{Source: "a", Target: "b"}}}, ErrMalformed},
		{"view changes between passes", &changingView{sliceView: sliceView{nodes: []graph.Node{{ID: "a"}}}}, ErrMalformed},
		{"view fails", &failingView{}, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(context.Background(), &bytes.Buffer{}, tt.v)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
}

func TestWriteCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Write(ctx, &bytes.Buffer{}, &sliceView{nodes: []graph.Node{{ID: "a"}}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBoom }

func TestWriteWriterError(t *testing.T) {
	err := Write(context.Background(), failWriter{}, &sliceView{nodes: []graph.Node{{ID: "a"}}})
	if !errors.Is(err, errBoom) {
		t.Errorf("got %v, want %v", err, errBoom)
	}
}

func TestReadDefaultsAndDomains(t *testing.T) {
	keys := `<key id="k0" for="node" attr.name="kind" attr.type="string"><desc>what</desc><default>thing</default></key>
<key id="k1" for="edge" attr.name="weight" attr.type="double"><default>1</default></key>
<key id="k2" for="all" attr.name="flag" attr.type="boolean"><default>false</default></key>
<key id="k3" for="graph" attr.name="title" attr.type="string"><default>ignored</default></key>
<key id="k4" for="node" attr.name="untyped"/>
<key id="k5" for="node" yfiles.type="nodegraphics"/>
`
	body := `<data key="k3">My graph</data>
<node id="a"><data key="k0">person</data><data key="k4">u</data>
  <data key="k5"><y:ShapeNode xmlns:y="http://www.yworks.com/xml/graphml"><y:Fill color="#FFCC00"/></y:ShapeNode></data>
  <port name="p"/><desc>a node</desc></node>
<node id="b"><data key="k2">True</data></node>
<edge source="a" target="b" directed="false"/>
<edge source="b" target="a"><data key="k1">2.5</data></edge>`
	got, err := readAll(doc(keys, body))
	if err != nil {
		t.Fatal(err)
	}
	want := &sliceView{
		nodes: []graph.Node{
			{ID: "a", Props: map[string]any{"kind": "person", "flag": false, "untyped": "u"}},
			{ID: "b", Props: map[string]any{"kind": "thing", "flag": true}},
		},
		edges: []graph.Edge{
			{Source: "a", Target: "b", Props: map[string]any{"weight": 1.0, "flag": false}},
			{Source: "b", Target: "a", Props: map[string]any{"weight": 2.5, "flag": false}},
		},
	}
	if d := diffGraphs(got, want); d != "" {
		t.Error(d)
	}
}

func TestReadVariants(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *sliceView
	}{
		{
			name: "no namespace, directed, comments and CDATA",
			doc: `<?xml version="1.0" encoding="UTF-8"?>
<!-- written by hand -->
<graphml><key id="d0" for="node" attr.name="d" attr.type="string"/>
<graph id="G" edgedefault="directed"><node id="a"><data key="d0">x<!-- c --><![CDATA[<y>]]>z</data></node>
<edge source="a" target="a" id="e0"/></graph></graphml>
<!-- trailer -->`,
			want: &sliceView{meta: graph.Meta{Directed: true},
				nodes: []graph.Node{{ID: "a", Props: map[string]any{"d": "x<y>z"}}},
				edges: []graph.Edge{{Source: "a", Target: "a"}}},
		},
		{
			name: "labels and type are mapped back, sorted",
			doc: head + `<key id="d0" for="node" attr.name="__labels__" attr.type="string"/>
<key id="d1" for="edge" attr.name="__type__" attr.type="string"/>
<key id="d2" for="edge" attr.name="__labels__" attr.type="string"/>
<key id="d3" for="node" attr.name="__type__" attr.type="string"/>
<graph edgedefault="undirected"><node id="a"><data key="d0">["b","a","b"]</data><data key="d3">t</data></node>
<node id="b"><data key="d0">[]</data></node>
<edge source="a" target="b"><data key="d1">KNOWS</data><data key="d2">l</data></edge></graph></graphml>`,
			want: &sliceView{
				nodes: []graph.Node{{ID: "a", Labels: []string{"a", "b"}, Props: map[string]any{"__type__": "t"}}, {ID: "b"}},
				edges: []graph.Edge{{Source: "a", Target: "b", Type: "KNOWS", Props: map[string]any{"__labels__": "l"}}},
			},
		},
		{
			name: "only the first graph, foreign elements skipped",
			doc: head + `<x:meta xmlns:x="urn:x"><x:y/></x:meta><desc>d</desc><graph edgedefault="undirected"><x:n xmlns:x="urn:x"/><node id="a"/><locator/></graph>
<graph edgedefault="directed"><node id="b"/></graph></graphml>`,
			want: &sliceView{nodes: []graph.Node{{ID: "a"}}},
		},
		{
			name: "empty graph",
			doc:  head + `<graph edgedefault="undirected"/></graphml>`,
			want: &sliceView{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraphs(got, tt.want); d != "" {
				t.Error(d)
			}
			again, err := readAll(writeAll(t, got))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraphs(again, tt.want); d != "" {
				t.Errorf("round trip: %s", d)
			}
		})
	}
}

func TestReadMalformed(t *testing.T) {
	const k = `<key id="d0" for="node" attr.name="n" attr.type="long"/>` + "\n"
	tests := []struct {
		name  string
		doc   string
		kind  error // ErrSyntax or ErrMalformed
		also  error // another error it must wrap, or nil
		line  int
		words string // the message must hold this
	}{
		{"empty", "", ErrSyntax, nil, 1, "unexpected EOF"},
		{"not xml", "hello", ErrSyntax, nil, 1, "unexpected EOF"},
		{"truncated in node", head + k + "<graph edgedefault=\"undirected\">\n<node id=\"a\">\n<data key=\"d0\">1", ErrSyntax, nil, 6, ""},
		{"truncated after graph", head + k + "<graph edgedefault=\"undirected\">\n<node id=\"a\"/>\n</graph>\n", ErrSyntax, nil, 7, "unexpected EOF"},
		{"truncated before graph", head + k, ErrSyntax, nil, 4, "unexpected EOF"},
		{"mismatched tags", head + "<graph>\n<node id=\"a\"></edge>", ErrSyntax, nil, 4, ""},
		{"bad char ref", head + "<graph>\n<node id=\"a&#1;\"/></graph></graphml>", ErrSyntax, nil, 4, ""},
		{"other encoding", "<?xml version='1.0' encoding='latin1'?><graphml/>", ErrSyntax, nil, 1, "latin1"},
		{"wrong root", "<?xml version='1.0'?>\n<gexf/>", ErrMalformed, nil, 2, "root element"},
		{"no graph", head + k + "</graphml>", ErrMalformed, nil, 4, "no <graph>"},
		{"text in graphml", head + "junk<graph/></graphml>", ErrMalformed, nil, 3, "unexpected text"},
		{"bad edgedefault", head + "<graph edgedefault=\"sideways\"/></graphml>", ErrMalformed, nil, 3, "sideways"},
		{"key without id", head + "<key attr.name=\"x\"/>", ErrMalformed, nil, 3, "without id"},
		{"key without name", head + "<key id=\"d0\" attr.type=\"long\"/>", ErrMalformed, nil, 3, "attr.name"},
		{"key declared twice", head + k + k, ErrMalformed, nil, 4, "twice"},
		{"unknown type", head + "<key id=\"d0\" attr.name=\"x\" attr.type=\"date\"/>", ErrMalformed, nil, 3, "date"},
		{"bad default", head + "<key id=\"d0\" attr.name=\"x\" attr.type=\"long\">\n<default>many</default></key>", ErrMalformed, nil, 4, "many"},
		{"element in default", head + "<key id=\"d0\" attr.name=\"x\" attr.type=\"long\">\n<default><b/></default></key>", ErrMalformed, nil, 4, "<b>"},
		{"undeclared key", head + "<graph>\n<node id=\"a\">\n<data key=\"d9\">1</data></node></graph></graphml>", ErrMalformed, nil, 5, `"d9"`},
		{"data without key", head + "<graph>\n<node id=\"a\"><data>1</data></node></graph></graphml>", ErrMalformed, nil, 4, "without key"},
		{"bad long", head + k + "<graph>\n<node id=\"a\">\n<data key=\"d0\">1.5</data></node></graph></graphml>", ErrMalformed, nil, 6, `"1.5"`},
		{"long overflow", head + k + "<graph>\n<node id=\"a\"><data key=\"d0\">99999999999999999999</data></node></graph></graphml>", ErrMalformed, nil, 5, "long"},
		{"bad double", head + "<key id=\"d0\" attr.name=\"x\" attr.type=\"double\"/>\n<graph>\n<node id=\"a\"><data key=\"d0\">heavy</data></node></graph></graphml>", ErrMalformed, nil, 5, "heavy"},
		{"infinite double", head + "<key id=\"d0\" attr.name=\"x\" attr.type=\"double\"/>\n<graph>\n<node id=\"a\"><data key=\"d0\">inf</data></node></graph></graphml>", ErrMalformed, graph.ErrInvalidValue, 5, "finite"},
		{"bad boolean", head + "<key id=\"d0\" attr.name=\"x\" attr.type=\"boolean\"/>\n<graph>\n<node id=\"a\"><data key=\"d0\">yes</data></node></graph></graphml>", ErrMalformed, nil, 5, "yes"},
		{"element in data", head + k + "<graph>\n<node id=\"a\"><data key=\"d0\">1<b/></data></node></graph></graphml>", ErrMalformed, nil, 5, "<b>"},
		{"node without id", head + "<graph>\n\n<node/></graph></graphml>", ErrMalformed, nil, 5, "without id"},
		{"empty id", head + "<graph>\n<node id=\"\"/></graph></graphml>", ErrMalformed, graph.ErrInvalidID, 4, "empty"},
		{"long id", head + "<graph>\n<node id=\"" + strings.Repeat("x", graph.MaxIDLen+1) + "\"/></graph></graphml>", ErrMalformed, graph.ErrInvalidID, 4, "longer"},
		{"duplicate node", head + "<graph>\n<node id=\"a\"/>\n<node id=\"a\"/></graph></graphml>", ErrMalformed, nil, 5, "duplicate"},
		{"edge to undeclared node", head + "<graph>\n<node id=\"a\"/>\n<edge source=\"a\" target=\"b\"/></graph></graphml>", ErrMalformed, nil, 5, `"b"`},
		{"edge before its node", head + "<graph>\n<edge source=\"a\" target=\"a\"/><node id=\"a\"/></graph></graphml>", ErrMalformed, nil, 4, `"a"`},
		{"edge without source", head + "<graph>\n<node id=\"a\"/><edge target=\"a\"/></graph></graphml>", ErrMalformed, nil, 4, "without source"},
		{"edge without target", head + "<graph>\n<node id=\"a\"/><edge source=\"a\"/></graph></graphml>", ErrMalformed, nil, 4, "without target"},
		{"invalid edge end", head + "<graph>\n<node id=\"a\"/><edge source=\"a\" target=\"\"/></graph></graphml>", ErrMalformed, graph.ErrInvalidID, 4, "target"},
		{"node after edge", head + "<graph>\n<node id=\"a\"/><edge source=\"a\" target=\"a\"/>\n<node id=\"b\"/></graph></graphml>", ErrMalformed, nil, 5, "before edges"},
		{"directed edge in undirected graph", head + "<graph edgedefault=\"undirected\">\n<node id=\"a\"/><edge source=\"a\" target=\"a\" directed=\"true\"/></graph></graphml>", ErrMalformed, nil, 4, "directed edge"},
		{"undirected edge in directed graph", head + "<graph edgedefault=\"directed\">\n<node id=\"a\"/><edge source=\"a\" target=\"a\" directed=\"false\"/></graph></graphml>", ErrMalformed, nil, 4, "undirected edge"},
		{"hyperedge", head + "<graph>\n<hyperedge/></graph></graphml>", ErrMalformed, nil, 4, "hyperedge"},
		{"nested graph", head + "<graph>\n<node id=\"a\"><graph/></node></graph></graphml>", ErrMalformed, nil, 4, "nested"},
		{"labels not a string", head + "<key id=\"d0\" for=\"node\" attr.name=\"__labels__\" attr.type=\"long\"/><graph>\n<node id=\"a\"><data key=\"d0\">1</data></node></graph></graphml>", ErrMalformed, nil, 4, "__labels__"},
		{"labels not json", head + "<key id=\"d0\" for=\"node\" attr.name=\"__labels__\"/><graph>\n<node id=\"a\"><data key=\"d0\">[x</data></node></graph></graphml>", ErrMalformed, nil, 4, "JSON"},
		{"invalid label", head + "<key id=\"d0\" for=\"node\" attr.name=\"__labels__\"/><graph>\n<node id=\"a\"><data key=\"d0\">[\"\"]</data></node></graph></graphml>", ErrMalformed, graph.ErrInvalidID, 4, "label"},
		{"type not a string", head + "<key id=\"d0\" for=\"edge\" attr.name=\"__type__\" attr.type=\"boolean\"/><graph>\n<node id=\"a\"/><edge source=\"a\" target=\"a\"><data key=\"d0\">true</data></edge></graph></graphml>", ErrMalformed, nil, 4, "__type__"},
		{"invalid type", head + "<key id=\"d0\" for=\"edge\" attr.name=\"__type__\"/><graph>\n<node id=\"a\"/><edge source=\"a\" target=\"a\"><data key=\"d0\">" + strings.Repeat("t", graph.MaxIDLen+1) + "</data></edge></graph></graphml>", ErrMalformed, graph.ErrInvalidID, 4, "type"},
		{"graph data undeclared", head + "<graph>\n<data key=\"g\">x</data></graph></graphml>", ErrMalformed, nil, 4, `"g"`},
		{"element after root", head + "<graph/></graphml>\n<graphml/>", ErrMalformed, nil, 4, "after </graphml>"},
		{"text after root", head + "<graph/></graphml>\nmore", ErrMalformed, nil, 4, "text after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll([]byte(tt.doc))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("got %v, want it to wrap %v", err, tt.kind)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("got %v, want it to wrap %v", err, tt.also)
			}
			if pe.Line != tt.line {
				t.Errorf("got line %d, want %d (%v)", pe.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.words) {
				t.Errorf("got %q, want it to mention %q", err, tt.words)
			}
		})
	}
}
