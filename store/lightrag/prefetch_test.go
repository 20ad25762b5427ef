package lightrag

import (
	"context"
	"errors"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// failing is a getter whose node "bad" cannot be read.
type failing struct{ *collected }

func (f failing) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	if id == "bad" {
		return graph.Node{}, false, errors.New("unreadable")
	}
	return f.collected.Node(ctx, id)
}

// TestPrefetched: records come back as the getter has them, in the layout's
// order and out of it, with the getter's errors; stopping early leaves nothing
// running.
func TestPrefetched(t *testing.T) {
	c := newCollected()
	l := &graphml.Layout{}
	for i := range 2*prefetchBatch + 7 {
		id := string(rune('a'+i%26)) + string(rune('A'+i/26%26)) + string(rune('0'+i/676))
		c.nodes[id] = graph.Node{ID: id, Props: map[string]any{"i": int64(i)}}
		l.Nodes = append(l.Nodes, graphml.NodeLayout{ID: id})
	}
	for i := 1; i < len(l.Nodes); i++ {
		e := graph.Edge{Source: l.Nodes[i-1].ID, Target: l.Nodes[i].ID, Props: map[string]any{"i": int64(i)}}
		c.edges[graph.EdgeKey(e.Source, e.Target, "", false)] = e
		l.Edges = append(l.Edges, graphml.EdgeLayout{Source: e.Source, Target: e.Target})
	}
	ctx := t.Context()

	p := newPrefetched(ctx, c, l)
	for _, nl := range l.Nodes {
		if n, ok, err := p.Node(ctx, nl.ID); err != nil || !ok || n.ID != nl.ID {
			t.Fatalf("node %s: %v %t %v", nl.ID, n, ok, err)
		}
	}
	for i, el := range l.Edges {
		if i == 300 {
			// Out of the layout's order: answered all the same.
			prev := l.Edges[0]
			if e, ok, err := p.Edge(ctx, prev.Source, prev.Target, ""); err != nil || !ok || e.Source != prev.Source {
				t.Fatalf("edge out of order: %v %t %v", e, ok, err)
			}
		}
		if e, ok, err := p.Edge(ctx, el.Source, el.Target, ""); err != nil || !ok || e.Props["i"] != int64(i+1) {
			t.Fatalf("edge %d: %v %t %v", i, e, ok, err)
		}
	}
	if _, ok, _ := p.Node(ctx, "missing"); ok {
		t.Error("a missing node was found")
	}
	p.close()

	bad := &graphml.Layout{Nodes: []graphml.NodeLayout{{ID: l.Nodes[0].ID}, {ID: "bad"}}}
	p = newPrefetched(ctx, failing{c}, bad)
	p.Node(ctx, l.Nodes[0].ID)
	if _, _, err := p.Node(ctx, "bad"); err == nil {
		t.Error("the getter's error was lost")
	}
	p.close()

	// Stopped after one request: the reader ends.
	p = newPrefetched(ctx, c, l)
	p.Node(ctx, l.Nodes[0].ID)
	p.close()
}
