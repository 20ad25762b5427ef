package recovery

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

// creatingCatalog is a registry that creates memgraph graphs.
type creatingCatalog struct{ graph.Registry }

func (c *creatingCatalog) Create(ctx context.Context, id string, m graph.Meta, fill func(context.Context, graph.Graph) error) (graph.Graph, error) {
	if _, err := c.Graph(ctx, id); err == nil {
		return nil, fmt.Errorf("%w: %s", graph.ErrExists, id)
	}
	var opts []memgraph.Option
	if m.Directed {
		opts = append(opts, memgraph.Directed())
	}
	g := memgraph.New(opts...)
	if err := fill(ctx, g); err != nil {
		return nil, err
	}
	return g, c.Add(id, g)
}

// A restore into a target the catalog does not hold creates it when the catalog
// can, with the snapshot and the replayed journal; otherwise it is ErrNotFound.
func TestExecuteCreatesTheTarget(t *testing.T) {
	f := newFixture(t)
	cat := &creatingCatalog{}
	svc, err := New(f.e, cat, WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	a := memgraph.New()
	f.apply(a, peopleOps("alice", "bob"))
	cat.Register("a", a)
	cp, err := svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	f.apply(a, peopleOps("carol")) // after the snapshot: replayed by a point in time

	for _, req := range []PlanRequest{
		{CheckpointID: cp.ID, Targets: map[string]string{"a": "copy"}},
		{GraphID: "a", Targets: map[string]string{"a": "now"}},
	} {
		target := req.Targets["a"]
		plan, err := svc.Plan(f.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Execute(f.ctx, plan)
		if err != nil {
			t.Fatalf("restore into %s: %v", target, err)
		}
		if gr := res.Graphs[0]; !gr.Created || gr.TargetGraph != target {
			t.Errorf("restore into %s: %+v, want created", target, gr)
		}
		g, err := cat.Graph(f.ctx, target)
		if err != nil {
			t.Fatalf("graph %s not created: %v", target, err)
		}
		want := memgraph.New()
		if req.CheckpointID != "" {
			f.apply(want, peopleOps("alice", "bob"))
		} else {
			f.apply(want, append(peopleOps("alice", "bob"), peopleOps("carol")...))
		}
		if d := diffGraphs(t, want, g); d != "" {
			t.Errorf("graph %s: %s", target, d)
		}
	}

	// A second restore into a created graph writes it like any other.
	plan, err := svc.Plan(f.ctx, PlanRequest{CheckpointID: cp.ID, Targets: map[string]string{"a": "now"}})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Execute(f.ctx, plan); err != nil || res.Graphs[0].Created {
		t.Fatalf("restore into an existing graph: %+v, %v", res, err)
	}

	// A catalog that cannot create refuses before writing anything.
	f.reg.Register("a", a)
	plan, err = f.svc.Plan(f.ctx, PlanRequest{CheckpointID: cp.ID, Targets: map[string]string{"a": "elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Execute(f.ctx, plan); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore into an unknown graph of a plain registry: %v, want ErrNotFound", err)
	}
	if _, err := f.reg.Graph(f.ctx, "elsewhere"); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("graph elsewhere exists: %v", err)
	}
}
