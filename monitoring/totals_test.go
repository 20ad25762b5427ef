package monitoring

import (
	"net/http"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
)

// TestTotalsSurvivePrune checks that bytes written, in the summary, the
// collector's samples and its gauge, stay what the snapshots wrote after a prune
// removes all but the newest.
func TestTotalsSurvivePrune(t *testing.T) {
	e := newEnv(t)
	g := e.addGraph("g1", 30)
	var written int64
	for i := range 3 {
		if i > 0 {
			if err := g.Apply(e.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{
				ID: "extra-" + string(rune('a'+i)), Props: map[string]any{"i": i}}}}); err != nil {
				t.Fatal(err)
			}
		}
		row, err := e.engine.Snapshot(e.ctx, "g1", g, backup.SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if row.BytesNew <= 0 {
			t.Fatalf("snapshot %d wrote %d bytes, want some", i, row.BytesNew)
		}
		written += row.BytesNew
	}
	read := func(when string) {
		t.Helper()
		var sum Summary
		e.getJSON("/metrics/summary", http.StatusOK, &sum)
		if len(sum.Graphs) != 1 || sum.Graphs[0].BytesWritten != written || sum.Totals.BytesWritten != written {
			t.Errorf("%s: summary bytes written %+v, totals %d; want %d", when, sum.Graphs, sum.Totals.BytesWritten, written)
		}
		res, err := e.col.Collect(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range res.Samples {
			if s.Name == SampleGraphStored && s.Labels == "graph=g1" {
				found = true
				if int64(s.Value) != written {
					t.Errorf("%s: sample %s = %v, want %d", when, SampleGraphStored, s.Value, written)
				}
			}
		}
		if !found {
			t.Errorf("%s: no %s sample", when, SampleGraphStored)
		}
	}
	read("after three snapshots")
	res, err := e.engine.Prune(e.ctx, "g1", backup.Retention{KeepLast: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 2 {
		t.Fatalf("prune deleted %v, want 2 snapshots", res.Removed)
	}
	read("after pruning to one")
}
