package main

import (
	"os"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

// TestDiff checks that the comparison behind "equal to the graph at snapshot time"
// sees every kind of difference, so that the example's "true" means something.
func TestDiff(t *testing.T) {
	base := []graph.Op{
		upsertNode("A", "person", "first"),
		upsertNode("B", "person", "second"),
		upsertEdge("A", "B", 1, "knows"),
	}
	tests := []struct {
		name    string
		change  []graph.Op
		wantErr string // part of the difference described; "" for equal graphs
	}{
		{"same", nil, ""},
		{"same edge written the other way round", []graph.Op{upsertEdge("B", "A", 1, "knows")}, ""},
		{"node property", []graph.Op{upsertNode("B", "person", "changed")}, `node "B"`},
		{"property type", []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "A", Props: map[string]any{
			"entity_id": "A", "entity_type": "person", "description": int64(1)}}}}, `node "A"`},
		{"labels", []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "A", Labels: []string{"x"}, Props: map[string]any{
			"entity_id": "A", "entity_type": "person", "description": "first"}}}}, `node "A"`},
		{"edge weight", []graph.Op{upsertEdge("A", "B", 2, "knows")}, "edge A-B"},
		{"edge removed", []graph.Op{{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "A", Target: "B"}}}, "0 edges"},
		{"node added", []graph.Op{upsertNode("C", "person", "third")}, "3 nodes"},
		{"node swapped", []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "B"}}, upsertNode("C", "person", "second"), upsertEdge("A", "C", 1, "knows")}, `node "B"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, got := memgraph.New(), memgraph.New()
			for _, g := range []*memgraph.Graph{want, got} {
				if err := g.Apply(t.Context(), base); err != nil {
					t.Fatal(err)
				}
			}
			if len(tt.change) > 0 {
				if err := got.Apply(t.Context(), tt.change); err != nil {
					t.Fatal(err)
				}
			}
			w, err := readAll(t.Context(), want)
			if err != nil {
				t.Fatal(err)
			}
			g, err := readAll(t.Context(), got)
			if err != nil {
				t.Fatal(err)
			}
			d := w.diff(g)
			switch {
			case tt.wantErr == "" && d != "":
				t.Errorf("diff = %q, want none", d)
			case tt.wantErr != "" && !strings.Contains(d, tt.wantErr):
				t.Errorf("diff = %q, want one containing %q", d, tt.wantErr)
			}
		})
	}
}

// TestRun checks that the program succeeds and leaves nothing behind in the
// temporary directory it used.
func TestRun(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	if got := strings.Count(out.String(), "equal to the graph at snapshot time: true"); got != 2 {
		t.Errorf("output has %d restored graphs found equal, want 2:\n%s", got, out.String())
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("run left %d entries in the temporary directory: %v", len(entries), entries)
	}
}
