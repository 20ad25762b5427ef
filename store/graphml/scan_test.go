package graphml

import (
	"bytes"
	"context"
	"errors"

	"testing"
)

// scanSeeds are documents at the edges of what the fast scanner reads: each must
// read the same with and without it (FuzzScanAgrees, TestScanAgrees).
var scanSeeds = []string{
	// What the scanner reads: both quotes, no white space, empty data, entities.
	head + `<key id="d0" for="node" attr.name="d" attr.type="string"/><key id="d1" for="edge" attr.name="w" attr.type="double"/>
<graph edgedefault="undirected"><node id='a &amp; b'><data key='d0'>x &lt;y&gt; &#10;&#13;&#x1F600; &quot;&apos;</data></node><node id="c"/><node id="e"><data key="d0" /></node><node id="f"><data key="d0"></data></node>
<edge source="a &amp; b" target='c'><data key="d1"> 2.5 </data></edge><edge target="c" source="e"/></graph></graphml>`,
	// Left to the XML decoder: a comment, CDATA, an unknown attribute, an edge id,
	// a namespaced element, a carriage return, a character reference XML refuses.
	head + `<key id="d0" for="node" attr.name="d"/><graph edgedefault="directed">
<!-- c --><node id="a"><data key="d0"><![CDATA[<raw>]]></data></node><node id="b" x="1"/>
<node id="c"><y:z xmlns:y="urn:y"/></node><node id="d"><data key="d0">a` + "\r\n" + `b</data></node>
<edge id="e0" source="a" target="b"/><edge source="a" target="c" directed="true"/></graph></graphml>`,
	// Errors the XML decoder reports, with the lines the scanner skipped counted.
	head + `<key id="d0" for="node" attr.name="n" attr.type="long"/><graph edgedefault="undirected">
<node id="a"/>
<node id="b"><data key="d0">x</data></node></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/>
<node id="a"/></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/><node id="b"/>
<edge source="a" target="z"/></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/><edge source="a" target="a"/>
<node id="b"/></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/>  <node id="b"><data key="d9">x</data></node></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/><node id="b &foo; c"/></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/><node id="b &#0; c"/></graph></graphml>`,
	head + `<graph edgedefault="undirected">
<node id="a"/><node id="x]]>y"/><node id="c"><data key="d0">]]></data></node></graph></graphml>`,
	head + `<key id="d0" for="node" attr.name="__labels__"/><graph edgedefault="undirected">
<node id="a"><data key="d0">["x", "y"]</data></node>
<node id="b"><data key="d0">not json</data></node></graph></graphml>`,
	head + `<graph edgedefault="undirected">` + "\n<node id=\"a\xff\"/></graph></graphml>",
	head + `<graph edgedefault="undirected">` + "\n<node id=\"a\"/>\n<node id=\"b\">\xef\xbf\xbe</node></graph></graphml>",
	head + `<graph edgedefault="undirected">` + "\n<node id=\"a\"/>\n<node id=\"b\"",
	head + `<graph edgedefault="undirected">` + "\n<node id=\"a\"/><node",
	// A default namespace other than GraphML: its nodes are not GraphML.
	`<g:graphml xmlns:g="http://graphml.graphdrawing.org/xmlns" xmlns="urn:other"><g:graph><node id="a"/></g:graph></g:graphml>`,
	`<graphml><graph xmlns="urn:other"><node id="a"/></graph></graphml>`,
}

func TestScanAgrees(t *testing.T) {
	for i, seed := range scanSeeds {
		data := []byte(seed)
		want, wantErr := readWith(data, sourceSize, false)
		for _, size := range []int{sourceSize, 1, 5, 64} {
			got, err := readWith(data, size, true)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Errorf("seed %d, buffer %d: the scanner's error is %v, the XML decoder's %v", i, size, err, wantErr)
				continue
			}
			if err == nil {
				if d := diffGraphs(got, want); d != "" {
					t.Errorf("seed %d, buffer %d: graphs differ:\n%s", i, size, d)
				}
			}
		}
	}
}

// TestScanReadsNetworkX checks that the scanner, not the XML decoder, reads the
// nodes and edges of files in every shape LightRAG writes: the XML decoder only
// reads the head and the end.
func TestScanReadsNetworkX(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.String(), func(t *testing.T) {
			data, want := lightragSample(s)
			d := NewDecoder(bytes.NewReader(data))
			got, err := readDecoder(d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffGraphs(got, want); diff != "" {
				t.Fatal(diff)
			}
			if d.handovers != 1 {
				t.Errorf("the XML decoder took over %d times, want once (at </graph>)", d.handovers)
			}
		})
	}
}

// TestScanReadError checks that an error of the underlying reader in the middle of
// the graph is returned as it is, not as a syntax error.
func TestScanReadError(t *testing.T) {
	data, _ := lightragSample(shapes[len(shapes)-1])
	boom := errors.New("boom")
	r := &failingReader{data: data[:len(data)/2], err: boom}
	_, err := readDecoder(newDecoder(r, 64, true))
	if !errors.Is(err, boom) || errors.Is(err, ErrSyntax) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func readDecoder(d *Decoder) (*sliceView, error) {
	ctx := context.Background()
	meta, err := d.Meta()
	if err != nil {
		return nil, err
	}
	v := &sliceView{meta: meta}
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			return nil, err
		}
		v.nodes = append(v.nodes, n)
	}
	for e, err := range d.Edges(ctx) {
		if err != nil {
			return nil, err
		}
		v.edges = append(v.edges, e)
	}
	return v, nil
}
