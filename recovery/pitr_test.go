package recovery

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

// history changes g with n batches, each made one minute after the last by the
// graph's step clock, and returns the content after every batch (index 0 is the
// empty graph). Batches upsert, update and delete nodes and edges, and batch 6
// replaces the whole graph. snapAfter takes a snapshot after the batches named.
func history(t *testing.T, f *fixture, id string, g *memgraph.Graph, n int, snapAfter ...int) []graphtest.Content {
	t.Helper()
	copies := make([]graphtest.Content, n+1)
	read := func(i int) {
		c, err := graphtest.Read(f.ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		copies[i] = c
	}
	read(0)
	for i := 1; i <= n; i++ {
		node := func(k int) graph.Node {
			return graph.Node{ID: fmt.Sprintf("n%d", k), Labels: []string{"entity"}, Props: map[string]any{"v": int64(i), "desc": fmt.Sprintf("set by batch %d", i)}}
		}
		ops := []graph.Op{{Kind: graph.OpUpsertNode, Node: node(i)}, {Kind: graph.OpUpsertNode, Node: node(i % 3)}}
		if i > 1 {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: fmt.Sprintf("n%d", i), Target: fmt.Sprintf("n%d", i%3), Type: "rel", Props: map[string]any{"w": float64(i) / 2}}})
		}
		if i%4 == 0 {
			ops = append(ops, graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: fmt.Sprintf("n%d", i-2)}})
		}
		if i == 6 {
			if err := g.Replace(f.ctx, graph.Meta{}, sliceNodes(copies[i-1].Nodes, node(i)), sliceEdges(copies[i-1].Edges)); err != nil {
				t.Fatal(err)
			}
		} else if err := g.Apply(f.ctx, ops); err != nil {
			t.Fatal(err)
		}
		read(i)
		for _, s := range snapAfter {
			if s == i {
				f.snapshot(id, g)
			}
		}
	}
	return copies
}

func sliceNodes(nodes []graph.Node, extra graph.Node) func(func(graph.Node, error) bool) {
	return func(yield func(graph.Node, error) bool) {
		for _, n := range append(append([]graph.Node(nil), nodes...), extra) {
			if !yield(n, nil) {
				return
			}
		}
	}
}

func sliceEdges(edges []graph.Edge) func(func(graph.Edge, error) bool) {
	return func(yield func(graph.Edge, error) bool) {
		for _, e := range edges {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func readContent(t *testing.T, f *fixture, r graph.Reader) graphtest.Content {
	t.Helper()
	c, err := graphtest.Read(f.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPointInTime changes a graph batch by batch, keeps a copy after each, and
// restores to times between batches: the restored graph equals the copy.
func TestPointInTime(t *testing.T) {
	f := newFixture(t)
	clock := &stepClock{base: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	g := memgraph.New(memgraph.WithClock(clock.now))
	f.reg.Register("g", g)
	const n = 12
	copies := history(t, f, "g", g, n, 3, 7)
	half := 30 * time.Second

	tests := []struct {
		name      string
		at        time.Time
		want      int    // the copy the restore must equal
		snapPos   uint64 // the snapshot's position
		from, to  uint64 // the batches replayed
		replaceIn bool   // a Replace batch is among them
	}{
		{"between batches 5 and 6", clock.at(5).Add(half), 5, 3, 4, 5, false},
		{"across the replace", clock.at(6).Add(half), 6, 3, 4, 6, true},
		{"exactly at a snapshot's last batch", clock.at(7), 7, 7, 0, 0, false},
		{"between batches 9 and 10", clock.at(9).Add(half), 9, 7, 8, 9, false},
		{"after the last batch", clock.at(n).Add(time.Hour), n, 7, 8, n, false},
		{"exactly at a batch", clock.at(4), 4, 3, 4, 4, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := fmt.Sprintf("restored-%d", i)
			into := memgraph.New()
			f.reg.Register(target, into)
			plan, err := f.svc.Plan(f.ctx, PlanRequest{GraphID: "g", At: tt.at, Targets: map[string]string{"g": target}})
			if err != nil {
				t.Fatal(err)
			}
			st := plan.Steps[0]
			if !plan.Exact || !plan.Executable || !st.Exact || st.Reason != "" {
				t.Fatalf("plan exact %t executable %t reason %q, want exact", plan.Exact, plan.Executable, plan.Reason)
			}
			if st.SnapshotPosition != tt.snapPos || st.ReplayFrom != tt.from || st.ReplayTo != tt.to {
				t.Errorf("plan: snapshot at %d, replay %d..%d; want %d, %d..%d", st.SnapshotPosition, st.ReplayFrom, st.ReplayTo, tt.snapPos, tt.from, tt.to)
			}
			if wantBatches := int(tt.to - tt.from + 1); tt.to > 0 && st.Batches != wantBatches {
				t.Errorf("plan: %d batches, want %d", st.Batches, wantBatches)
			}
			if st.Objects == 0 || st.Bytes == 0 || st.Records == 0 || plan.ExpectedDuration <= 0 || plan.EstimateBasis == "" {
				t.Errorf("plan lacks sources or estimate: %+v", plan)
			}
			m, err := f.e.Manifest(f.ctx, st.SnapshotID)
			if err != nil {
				t.Fatal(err)
			}
			if st.Objects != 1+len(m.Objects()) {
				t.Errorf("plan counts %d objects; the snapshot has its manifest and %d", st.Objects, len(m.Objects()))
			}
			res, err := f.svc.Execute(f.ctx, plan)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Graphs[0].Position; got != max(tt.snapPos, tt.to) {
				t.Errorf("result position %d, want %d", got, max(tt.snapPos, tt.to))
			}
			if d := graphtest.DiffContent(copies[tt.want], readContent(t, f, into)); d != "" {
				t.Errorf("restored graph differs from the graph after batch %d: %s", tt.want, d)
			}
		})
	}

	// Restoring a graph into itself reads its journal before the restore resets it.
	t.Run("into the same graph", func(t *testing.T) {
		plan, err := f.svc.Plan(f.ctx, PlanRequest{GraphID: "g", At: clock.at(5).Add(half)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Execute(f.ctx, plan); err != nil {
			t.Fatal(err)
		}
		if d := graphtest.DiffContent(copies[5], readContent(t, f, g)); d != "" {
			t.Errorf("graph differs from the graph after batch 5: %s", d)
		}
	})
}

// noJournal hides the journal of a graph.
type noJournal struct{ graph.Graph }

// TestPointInTimeRefusals plans points that cannot be reached exactly: the plan
// says why, Execute refuses unless the nearest earlier point is allowed, and then
// restores to it.
func TestPointInTimeRefusals(t *testing.T) {
	f := newFixture(t)
	half := 30 * time.Second

	clock := &stepClock{base: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	full := memgraph.New(memgraph.WithClock(clock.now))
	f.reg.Register("full", full)
	history(t, f, "full", full, 6, 3)

	gapClock := &stepClock{base: clock.base}
	short := memgraph.New(memgraph.WithClock(gapClock.now), memgraph.WithJournalLimit(3))
	f.reg.Register("short", short)
	shortCopies := history(t, f, "short", short, 10, 2)

	hidden := memgraph.New()
	f.reg.Register("hidden", noJournal{hidden})
	f.apply(hidden, peopleOps("alice", "bob"))
	f.snapshot("hidden", noJournal{hidden})
	hiddenCopy := readContent(t, f, hidden)
	f.apply(hidden, peopleOps("carol"))

	tests := []struct {
		name    string
		graph   string
		at      time.Time
		reason  string             // in the plan's reason
		earlier *graphtest.Content // what AllowEarlier restores; nil: nothing can run
	}{
		{"before any snapshot", "full", clock.at(1).Add(half), "no completed snapshot is at or before", nil},
		{"journal gap", "short", gapClock.at(9).Add(half), "journal gap", &shortCopies[2]},
		{"no journal", "hidden", time.Time{}, "no journal", &hiddenCopy},
		{"graph without snapshots", "empty", time.Time{}, "no completed snapshot", nil},
	}
	f.reg.Register("empty", memgraph.New())
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := fmt.Sprintf("target-%d", i)
			into := memgraph.New()
			f.reg.Register(target, into)
			req := PlanRequest{GraphID: tt.graph, At: tt.at, Targets: map[string]string{tt.graph: target}}
			plan, err := f.svc.Plan(f.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Exact || plan.Executable || !strings.Contains(plan.Reason, tt.reason) {
				t.Fatalf("plan exact %t executable %t reason %q, want neither and %q", plan.Exact, plan.Executable, plan.Reason, tt.reason)
			}
			if _, err := f.svc.Execute(f.ctx, plan); !errors.Is(err, ErrInexact) {
				t.Fatalf("Execute = %v, want ErrInexact", err)
			}
			if into.Position() != 0 {
				t.Fatalf("a refused restore wrote to the target")
			}
			req.AllowEarlier = true
			plan, err = f.svc.Plan(f.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.svc.Execute(f.ctx, plan)
			if tt.earlier == nil {
				if plan.Executable || !errors.Is(err, ErrInexact) {
					t.Fatalf("allow earlier: executable %t, Execute = %v; want refused, nothing earlier", plan.Executable, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := res.Graphs[0]
			if g.Exact || g.Note == "" || g.RecoveryPoint.IsZero() {
				t.Errorf("result %+v, want inexact with a note and the point reached", g)
			}
			if d := graphtest.DiffContent(*tt.earlier, readContent(t, f, into)); d != "" {
				t.Errorf("restored graph differs from the earlier point: %s", d)
			}
		})
	}

	t.Run("unknown graph", func(t *testing.T) {
		if _, err := f.svc.Plan(f.ctx, PlanRequest{GraphID: "nosuch"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Plan = %v, want ErrNotFound", err)
		}
	})
	t.Run("retention between plan and execute", func(t *testing.T) {
		plan, err := f.svc.Plan(f.ctx, PlanRequest{GraphID: "full", At: clock.at(5).Add(half), Targets: map[string]string{"full": "target-0"}})
		if err != nil || !plan.Exact {
			t.Fatalf("Plan = %+v, %v", plan, err)
		}
		f.reg.Register("full", noJournal{full})
		defer f.reg.Register("full", full)
		if _, err := f.svc.Execute(f.ctx, plan); !errors.Is(err, ErrInexact) {
			t.Errorf("Execute without the journal = %v, want ErrInexact", err)
		}
	})
}

func TestPlanRejects(t *testing.T) {
	f := newFixture(t)
	f.graph("a", "alice")
	cp, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  PlanRequest
		want error
	}{
		{"nothing", PlanRequest{}, ErrInvalid},
		{"both", PlanRequest{CheckpointID: cp.ID, GraphID: "a"}, ErrInvalid},
		{"bad checkpoint id", PlanRequest{CheckpointID: "x"}, ErrInvalid},
		{"bad graph id", PlanRequest{GraphID: "a/b"}, ErrInvalid},
		{"time with a checkpoint", PlanRequest{CheckpointID: cp.ID, At: time.Now()}, ErrInvalid},
		{"target for a graph not restored", PlanRequest{CheckpointID: cp.ID, Targets: map[string]string{"b": "c"}}, ErrInvalid},
		{"unknown checkpoint", PlanRequest{CheckpointID: "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.Plan(f.ctx, tt.req); !errors.Is(err, tt.want) {
				t.Errorf("Plan = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := f.svc.Execute(f.ctx, &Plan{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Execute(empty plan) = %v, want ErrInvalid", err)
	}
	plan, err := f.svc.Plan(f.ctx, PlanRequest{CheckpointID: cp.ID, Targets: map[string]string{"a": "nosuch"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Execute(f.ctx, plan); !errors.Is(err, ErrNotFound) {
		t.Errorf("Execute into an unknown target = %v, want ErrNotFound", err)
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc, err := New(f.e, f.reg, WithLogger(quietLog), WithClock(func() time.Time { return now }), WithRestoreRate(1<<20, 1000))
	if err != nil {
		t.Fatal(err)
	}
	f.graph("journaled", "alice", "bob")
	hidden := memgraph.New()
	f.apply(hidden, peopleOps("carol"))
	f.reg.Register("hidden", noJournal{hidden})
	f.reg.Register("bare", memgraph.New())
	if _, err := svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"journaled", "hidden"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Status(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]GraphStatus{}
	for _, g := range rep.Graphs {
		byID[g.GraphID] = g
	}
	tests := []struct {
		graph       string
		recoverable bool
		zeroRPO     bool
		checkpoint  bool
		problem     string
	}{
		{"journaled", true, true, true, ""},
		{"hidden", true, false, true, ""},
		{"bare", false, false, false, "no completed snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.graph, func(t *testing.T) {
			g, ok := byID[tt.graph]
			if !ok {
				t.Fatalf("no status for %s in %+v", tt.graph, rep.Graphs)
			}
			if g.Recoverable != tt.recoverable || (g.NewestCheckpoint != nil) != tt.checkpoint {
				t.Errorf("status %+v: want recoverable %t, checkpoint %t", g, tt.recoverable, tt.checkpoint)
			}
			if tt.recoverable && (g.RPO == 0) != tt.zeroRPO {
				t.Errorf("RPO %v, want zero: %t", g.RPO, tt.zeroRPO)
			}
			if tt.recoverable && (g.NewestVerifiedSnapshot == nil || g.EstimatedRestore <= 0) {
				t.Errorf("status %+v: want a verified snapshot and an estimate", g)
			}
			if tt.problem != "" && !strings.Contains(strings.Join(g.Problems, "; "), tt.problem) {
				t.Errorf("problems %q, want %q", g.Problems, tt.problem)
			}
		})
	}
}
