package recovery

import (
	"fmt"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// TestPointInTimeAfterRestart plans and runs point-in-time restores after the
// sequence that made failover restore an older state: full snapshot A (2000
// nodes); two partial restores (replace mode) shrink the graph to one node; B
// (1 node); a restart; whole restore of A; C (2000 nodes). The graph after the
// restart counts in a new journal, either going on from B's position (restored
// from B, as a Vault does) or from 1 (loaded by the host). Now is C; the moment B
// committed is B; the moment A committed is A, whatever positions say.
func TestPointInTimeAfterRestart(t *testing.T) {
	for _, restart := range []string{"restored from the newest snapshot", "loaded by the host"} {
		t.Run(restart, func(t *testing.T) {
			f := newFixture(t)
			gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 2000, Edges: 3000, Seed: 3})
			g := memgraph.New()
			if err := gen.Replace(f.ctx, g); err != nil {
				t.Fatal(err)
			}
			f.reg.Register("g1", g)
			a := f.snapshot("g1", g)
			ten := make([]string, 10)
			for i := range ten {
				ten[i] = gen.NodeID(i)
			}
			for _, ids := range [][]string{ten, ten[:1]} {
				if _, err := f.e.Restore(f.ctx, a.ID, g, backup.RestoreOptions{NodeIDs: ids, Replace: true}); err != nil {
					t.Fatal(err)
				}
			}
			b := f.snapshot("g1", g)

			g2 := memgraph.New()
			switch restart {
			case "restored from the newest snapshot":
				if _, err := f.e.Restore(f.ctx, b.ID, g2, backup.RestoreOptions{}); err != nil {
					t.Fatal(err)
				}
			default:
				n, ok := g.Node(ten[0]) // the host brings back what it kept: B's one node
				if !ok {
					t.Fatal("node missing")
				}
				f.apply(g2, []graph.Op{{Kind: graph.OpUpsertNode, Node: n}})
			}
			f.reg.Register("g1", g2)
			if _, err := f.e.Restore(f.ctx, a.ID, g2, backup.RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			c := f.snapshot("g1", g2)
			if a.Nodes != 2000 || b.Nodes != 1 || c.Nodes != 2000 {
				t.Fatalf("snapshots hold %d, %d and %d nodes; want 2000, 1, 2000", a.Nodes, b.Nodes, c.Nodes)
			}

			for i, tt := range []struct {
				name  string
				at    time.Time
				want  *meta.Snapshot
				nodes int
			}{
				{"now", time.Time{}, c, 2000},
				{"when B committed", b.FinishedAt, b, 1},
				{"when A committed", a.FinishedAt, a, 2000},
			} {
				t.Run(tt.name, func(t *testing.T) {
					plan, err := f.svc.Plan(f.ctx, PlanRequest{GraphID: "g1", At: tt.at, AllowEarlier: true})
					if err != nil {
						t.Fatal(err)
					}
					st := plan.Steps[0]
					if st.SnapshotID != tt.want.ID || !plan.Executable {
						t.Fatalf("plan takes snapshot %s (executable %t, %s); want %s (A %s, B %s, C %s)",
							st.SnapshotID, plan.Executable, plan.Reason, tt.want.ID, a.ID, b.ID, c.ID)
					}
					if tt.want == c && !plan.Exact {
						t.Errorf("plan for now is not exact: %s", plan.Reason)
					}
					if st.ReplayTo > 0 && tt.want != c {
						t.Errorf("plan replays batches %d..%d of the new journal after a snapshot of the old one", st.ReplayFrom, st.ReplayTo)
					}
					into := memgraph.New()
					target := fmt.Sprintf("into-%d", i)
					f.reg.Register(target, into)
					plan, err = f.svc.Plan(f.ctx, PlanRequest{GraphID: "g1", At: tt.at, AllowEarlier: true, Targets: map[string]string{"g1": target}})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := f.svc.Execute(f.ctx, plan); err != nil {
						t.Fatal(err)
					}
					if n, _ := into.Len(); n != tt.nodes {
						t.Errorf("restored graph has %d nodes, want %d", n, tt.nodes)
					}
				})
			}
		})
	}
}
