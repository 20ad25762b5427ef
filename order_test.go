package graphvault_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// TestNewestIsLastCommittedAcrossRestarts runs, on a Vault over a data folder, the
// sequence that made failover bring back an older state: full snapshot A of
// graph1 (2000 nodes); two partial restores (replace mode) shrink it to one node
// while its journal advances; snapshot B (1 node); a restart; a whole restore of A;
// snapshot C (2000 nodes). Failover, a point-in-time restore to now and the next
// restart must all come back with C's 2000 nodes; a point-in-time restore to the
// moment A committed with A's.
func TestNewestIsLastCommittedAcrossRestarts(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	open := func() *graphvault.Vault {
		t.Helper()
		v, err := graphvault.Open(ctx, graphvault.Config{Data: dir, Demo: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	closeVault := func(v *graphvault.Vault) {
		t.Helper()
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := v.Close(cctx); err != nil {
			t.Fatal(err)
		}
	}
	served := func(v *graphvault.Vault) graph.Graph {
		t.Helper()
		g, err := v.Graphs().Graph(ctx, graphvault.DemoGraph)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	nodes := func(g graph.Reader) int {
		t.Helper()
		view, err := g.View(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer view.Close()
		n := 0
		for _, err := range view.Nodes(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	snapshot := func(v *graphvault.Vault, kind backup.Kind) *meta.Snapshot {
		t.Helper()
		row, err := v.Engine().Snapshot(ctx, graphvault.DemoGraph, served(v), backup.SnapshotOptions{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return row
	}

	v := open()
	g := served(v)
	a := snapshot(v, backup.KindFull)
	var ids []string
	view, err := g.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n, err := range view.Nodes(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if ids = append(ids, n.ID); len(ids) == 10 {
			break
		}
	}
	view.Close()
	for _, sel := range [][]string{ids, ids[:1]} {
		if _, err := v.Engine().Restore(ctx, a.ID, g, backup.RestoreOptions{NodeIDs: sel, Replace: true}); err != nil {
			t.Fatalf("partial restore of %d nodes: %v", len(sel), err)
		}
	}
	b := snapshot(v, backup.KindAuto)
	if a.Nodes != 2000 || b.Nodes != 1 {
		t.Fatalf("A holds %d nodes, B %d; want 2000 and 1", a.Nodes, b.Nodes)
	}
	closeVault(v)

	v = open()
	if n := nodes(served(v)); n != 1 {
		t.Fatalf("after the restart graph1 has %d nodes, want B's 1", n)
	}
	if _, err := v.Engine().Restore(ctx, a.ID, served(v), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	c := snapshot(v, backup.KindAuto)
	if c.Nodes != 2000 {
		t.Fatalf("C holds %d nodes, want 2000", c.Nodes)
	}
	if c.JournalPos <= b.JournalPos {
		t.Errorf("C is at journal position %d, B at %d: positions went back across the restart", c.JournalPos, b.JournalPos)
	}

	res, err := v.Replication().Failover(ctx, graphvault.DemoGraph, served(v), replication.FailoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := nodes(served(v)); res.SnapshotID != c.ID || n != 2000 {
		t.Fatalf("failover restored snapshot %s, graph1 has %d nodes; want C %s and 2000 (B is %s)", res.SnapshotID, n, c.ID, b.ID)
	}

	for _, tt := range []struct {
		name string
		at   time.Time
		want *meta.Snapshot
	}{
		{"now", time.Time{}, c},
		{"when A committed", a.FinishedAt, a},
	} {
		plan, err := v.Recovery().Plan(ctx, recovery.PlanRequest{GraphID: graphvault.DemoGraph, At: tt.at, AllowEarlier: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := plan.Steps[0].SnapshotID; got != tt.want.ID || !plan.Executable {
			t.Errorf("plan %s: snapshot %q, executable %t (%s); want %s", tt.name, got, plan.Executable, plan.Reason, tt.want.ID)
		}
	}
	closeVault(v)

	v = open()
	defer closeVault(v)
	if n := nodes(served(v)); n != 2000 {
		t.Fatalf("after the second restart graph1 has %d nodes, want C's 2000", n)
	}
}
