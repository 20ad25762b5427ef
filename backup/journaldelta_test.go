package backup

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// snapshotPhases takes an automatic snapshot and says whether it read the journal.
func (h *harness) snapshotPhases(g graph.Reader) (*meta.Snapshot, bool) {
	h.t.Helper()
	journal := false
	row, err := h.engine.Snapshot(h.ctx, "g1", g, SnapshotOptions{Progress: func(p Progress) {
		if p.Phase == "journal" {
			journal = true
		}
	}})
	if err != nil {
		h.t.Fatalf("snapshot: %v", err)
	}
	return row, journal
}

// upserts changes node properties, adds nodes and edges, updates and deletes
// edges, and writes one node unchanged: everything but node deletion.
func upserts(t *testing.T, g *memgraph.Graph, r *rand.Rand, round int) {
	t.Helper()
	c := content(t, g)
	var ops []graph.Op
	for i, n := range c.Nodes {
		switch {
		case r.IntN(20) == 0:
			n.Props = map[string]any{"description": fmt.Sprintf("round %d", round), "rank": int64(i)}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		case i == round:
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n}) // same value
		}
	}
	for i, e := range c.Edges {
		switch {
		case r.IntN(25) == 0:
			ops = append(ops, graph.Op{Kind: graph.OpDeleteEdge, Edge: e})
		case i%30 == round%30:
			e.Props = map[string]any{"weight": float64(round)}
			// Written with its ends swapped: one edge either way round when undirected.
			if !g.Directed() {
				e.Source, e.Target = e.Target, e.Source
			}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
		}
	}
	id := fmt.Sprintf("added in round %d ü", round)
	ops = append(ops,
		graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"fresh"}}},
		graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: id, Target: c.Nodes[r.IntN(len(c.Nodes))].ID, Type: "links"}},
		// An edge added and removed again between two snapshots leaves nothing.
		graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: id, Target: c.Nodes[0].ID, Type: "brief"}},
		graph.Op{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: id, Target: c.Nodes[0].ID, Type: "brief"}},
	)
	if err := g.Apply(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
}

func TestJournalDeltaRestoresEqual(t *testing.T) {
	for _, directed := range []bool{false, true} {
		t.Run(fmt.Sprintf("directed=%v", directed), func(t *testing.T) {
			h := newHarness(t, WithChainPolicy(ChainPolicy{MaxLayers: 5, MaxDeltaRatio: 10}))
			g := loadGenerated(t, 300, 900, directed)
			r := rand.New(rand.NewPCG(5, 6))
			if _, journal := h.snapshotPhases(g); journal {
				t.Fatal("the first snapshot read the journal")
			}
			for round := 1; round <= 8; round++ {
				// Every third round deletes a node, which the journal cannot follow.
				deletes := round%3 == 0
				if deletes {
					mutate(t, g, r, round)
				} else {
					upserts(t, g, r, round)
				}
				row, journal := h.snapshotPhases(g)
				if row.Kind == "incremental" && journal == deletes {
					t.Fatalf("round %d: read the journal %v, node deletions %v", round, journal, deletes)
				}
				want := content(t, g)
				h.restoreEqual(row.ID, want, directed)
				rep, err := h.engine.Verify(h.ctx, row.ID, true)
				if err != nil || !rep.OK {
					t.Fatalf("round %d: verify %s: %v %+v", round, row.Kind, err, rep)
				}
				if row.Nodes != int64(len(want.Nodes)) || row.Edges != int64(len(want.Edges)) {
					t.Fatalf("round %d: row counts %d/%d, graph has %d/%d", round, row.Nodes, row.Edges, len(want.Nodes), len(want.Edges))
				}
			}
		})
	}
}

// A change made through the journal costs what changed: an unchanged graph writes
// no segment, a one-record change one small segment.
func TestJournalDeltaWritesOnlyChanges(t *testing.T) {
	h := newHarness(t)
	g := loadGenerated(t, 500, 1500, false)
	full, _ := h.snapshotPhases(g)
	same, journal := h.snapshotPhases(g)
	if !journal || same.Kind != "incremental" || same.Records != full.Records {
		t.Fatalf("unchanged: journal %v, kind %s, records %d (full %d)", journal, same.Kind, same.Records, full.Records)
	}
	n, _ := g.Node(content(t, g).Nodes[7].ID)
	n.Props = map[string]any{"description": "one change"}
	if err := g.Apply(h.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: n}}); err != nil {
		t.Fatal(err)
	}
	one, journal := h.snapshotPhases(g)
	if !journal || one.BytesNew*50 > full.BytesNew {
		t.Fatalf("one change: journal %v, wrote %d bytes (full %d)", journal, one.BytesNew, full.BytesNew)
	}
	h.restoreEqual(one.ID, content(t, g), false)
}

// The journal is used only when it is the one the parent was taken from and still
// reaches back to it.
func TestJournalDeltaFallsBack(t *testing.T) {
	t.Run("another graph under the same id", func(t *testing.T) {
		h := newHarness(t)
		first := loadGenerated(t, 200, 600, false)
		h.snapshotPhases(first)
		// A new graph counts positions from 1 again: after as many writes as the
		// first had, its positions match, its content does not.
		second := memgraph.New()
		gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 150, Edges: 400, Seed: 99})
		if err := gen.Replace(h.ctx, second); err != nil {
			t.Fatal(err)
		}
		row, journal := h.snapshotPhases(second)
		if journal {
			t.Fatal("read the journal of a different graph")
		}
		h.restoreEqual(row.ID, content(t, second), false)
	})
	t.Run("journal no longer reaches the parent", func(t *testing.T) {
		h := newHarness(t)
		g := memgraph.New(memgraph.WithJournalLimit(2))
		if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 200, Edges: 600, Seed: 3}).Replace(h.ctx, g); err != nil {
			t.Fatal(err)
		}
		h.snapshotPhases(g)
		r := rand.New(rand.NewPCG(1, 1))
		for round := range 3 {
			upserts(t, g, r, round)
		}
		row, journal := h.snapshotPhases(g)
		if journal {
			t.Fatal("read a journal with a gap")
		}
		h.restoreEqual(row.ID, content(t, g), false)
	})
	t.Run("views that cannot count", func(t *testing.T) {
		h := newHarness(t)
		g := loadGenerated(t, 200, 600, false)
		h.snapshotPhases(uncounted{g})
		upserts(t, g, rand.New(rand.NewPCG(2, 2)), 1)
		row, journal := h.snapshotPhases(uncounted{g})
		if journal || row.Kind != "incremental" {
			t.Fatalf("journal %v, kind %s; want an incremental snapshot by comparison", journal, row.Kind)
		}
		h.restoreEqual(row.ID, content(t, g), false)
	})
	t.Run("replaced content", func(t *testing.T) {
		h := newHarness(t)
		g := loadGenerated(t, 200, 600, false)
		h.snapshotPhases(g)
		if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 120, Edges: 300, Seed: 8}).Replace(h.ctx, g); err != nil {
			t.Fatal(err)
		}
		row, journal := h.snapshotPhases(g)
		if journal {
			t.Fatal("read a journal holding a reset")
		}
		h.restoreEqual(row.ID, content(t, g), false)
	})
}

// uncounted is a graph with a journal whose views read single records but do not
// count them (no graph.Counter).
type uncounted struct{ *memgraph.Graph }

func (g uncounted) View(ctx context.Context) (graph.View, error) {
	v, err := g.Graph.View(ctx)
	if err != nil {
		return nil, err
	}
	return struct {
		graph.View
		graph.Getter
	}{v, v.(graph.Getter)}, nil
}
