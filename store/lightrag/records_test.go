package lightrag

import (
	"reflect"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graphml"
)

// TestLayoutOrder: a layout's order stream reads back as written, ends as node
// indexes (and ids where an end is not a node), and the id-only streams of
// earlier snapshots still read.
func TestLayoutOrder(t *testing.T) {
	l := &graphml.Layout{
		Nodes: []graphml.NodeLayout{{ID: "a"}, {ID: "b", Keys: []string{"d1", "d0"}}, {ID: "c \"q\""}},
		Edges: []graphml.EdgeLayout{
			{Source: "a", Target: "b"}, {Source: "a", Target: "c \"q\""}, {Source: "b", Target: "a"},
			{Source: "b", Target: "b", Type: "T"}, {Source: "c \"q\"", Target: "a", Keys: []string{"d3", "d2"}},
			{Source: "c \"q\"", Target: "gone"}, {Source: "gone", Target: "a"},
		},
	}
	data := encodeLayout(l)
	if !strings.Contains(string(data), "\n[0,1]\n2\n") {
		t.Errorf("ends are not written as indexes:\n%s", data)
	}
	got, err := decodeLayout(data, &graphHead{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Nodes, l.Nodes) || !reflect.DeepEqual(got.Edges, l.Edges) {
		t.Errorf("read back\n%+v\n%+v\nwant\n%+v\n%+v", got.Nodes, got.Edges, l.Nodes, l.Edges)
	}
	old := `{"edges":3,"nodes":2}
"a"
"b"
["a","b"]
"a"
["b","a",{"t":"T"}]
`
	got, err = decodeLayout([]byte(old), &graphHead{})
	if err != nil {
		t.Fatal(err)
	}
	want := []graphml.EdgeLayout{{Source: "a", Target: "b"}, {Source: "a", Target: "a"}, {Source: "b", Target: "a", Type: "T"}}
	if !reflect.DeepEqual(got.Edges, want) {
		t.Errorf("an id-only stream reads as %+v, want %+v", got.Edges, want)
	}
	for _, bad := range []string{"{\"edges\":1,\"nodes\":1}\n\"a\"\n[0,5]\n", "{\"edges\":1,\"nodes\":1}\n\"a\"\n[-1,0]\n", "{\"edges\":1,\"nodes\":1}\n\"a\"\n7\n"} {
		if _, err := decodeLayout([]byte(bad), &graphHead{}); err == nil {
			t.Errorf("%q reads", bad)
		}
	}
}
