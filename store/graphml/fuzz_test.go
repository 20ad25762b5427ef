package graphml

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzRead(f *testing.F) {
	for _, s := range shapes {
		// Small seeds: the fuzzer minimizes every new input it finds.
		doc, _ := lightragSampleN(s, 3, 0)
		f.Add(doc)
	}
	f.Add(doc(`<key id="d0" for="all" attr.name="x" attr.type="boolean"><default>true</default></key>
<key id="d1" for="node" attr.name="__labels__"/><key id="d2" for="edge" attr.name="__type__"/>
<key id="d3" for="node" attr.name="w" attr.type="double"/><key id="d4" for="graph" attr.name="g"/>`,
		`<data key="d4">t</data><node id="a"><data key="d1">["x"]</data><data key="d3">1e-05</data></node>
<node id="b &amp; &quot;c&quot;"><data key="d0">0</data></node><edge source="a" target="b &amp; &quot;c&quot;"><data key="d2">T</data></edge>`))
	f.Add([]byte(head + `<graph edgedefault="directed"><node id="a&#10;&#13;b"/></graph></graphml>`))
	f.Add([]byte("<graphml><graph><node id='a'/><edge source='a' target='a'/></graph></graphml>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := readAll(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error wraps neither ErrSyntax nor ErrMalformed: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Write(t.Context(), &buf, g); err != nil {
			t.Fatalf("a graph that reads does not write: %v", err)
		}
		again, err := readAll(buf.Bytes())
		if err != nil {
			t.Fatalf("written graph does not read: %v\n%s", err, buf.Bytes())
		}
		if d := diffGraphs(again, g); d != "" {
			t.Fatalf("round trip differs:\n%s", d)
		}
		// Writing is deterministic.
		if again := writeAll(t, again); !bytes.Equal(again, buf.Bytes()) {
			t.Fatalf("second write differs from the first")
		}
	})
}

// FuzzScanAgrees reads every input twice, with the fast scanner and with the XML
// decoder alone, and checks that both give the same graph, or the same error (the
// same kind, detail and position). The scanner runs with a small buffer too, so
// that elements cut by the end of its window are read again once it has grown.
func FuzzScanAgrees(f *testing.F) {
	for _, s := range shapes {
		doc, _ := lightragSampleN(s, 3, 0)
		f.Add(doc)
	}
	for _, seed := range scanSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := readWith(data, sourceSize, false)
		for _, size := range []int{sourceSize, 1 + len(data)%61} {
			got, err := readWith(data, size, true)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("buffer %d: the scanner's error is %v, the XML decoder's %v", size, err, wantErr)
			}
			if err != nil {
				if errors.Is(err, ErrSyntax) != errors.Is(wantErr, ErrSyntax) || errors.Is(err, ErrMalformed) != errors.Is(wantErr, ErrMalformed) {
					t.Fatalf("buffer %d: errors of different kinds: %v and %v", size, err, wantErr)
				}
				continue
			}
			if d := diffGraphs(got, want); d != "" {
				t.Fatalf("buffer %d: the scanner reads another graph than the XML decoder:\n%s", size, d)
			}
		}
	})
}
