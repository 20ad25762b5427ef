package recovery_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// A checkpoint over two graphs is validated, planned and restored into a copy.
func ExampleService() {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		panic(err)
	}
	defer st.Close()
	quiet := slog.New(slog.DiscardHandler)
	engine, err := backup.New(st, blob.NewBucket(memblob.New()), backup.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	graphs := &graph.Registry{}
	for _, id := range []string{"people", "places"} {
		g := memgraph.New()
		if err := g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id + "-1"}}}); err != nil {
			panic(err)
		}
		graphs.Register(id, g)
	}
	copyOfPeople := memgraph.New()
	graphs.Register("people-copy", copyOfPeople)

	svc, err := recovery.New(engine, graphs, recovery.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	cp, err := svc.Create(ctx, recovery.CreateRequest{GraphIDs: []string{"people", "places"}, Description: "before the import"})
	if err != nil {
		panic(err)
	}
	v, err := svc.Validate(ctx, cp.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println("graphs:", len(cp.Graphs), "valid:", v.OK)

	plan, err := svc.Plan(ctx, recovery.PlanRequest{CheckpointID: cp.ID, Targets: map[string]string{"people": "people-copy"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("exact:", plan.Exact, "steps:", len(plan.Steps), "into:", plan.Steps[0].TargetGraph)
	if _, err := svc.Execute(ctx, plan); err != nil {
		panic(err)
	}
	_, ok := copyOfPeople.Node("people-1")
	fmt.Println("restored:", ok)

	_, err = svc.Create(ctx, recovery.CreateRequest{GraphIDs: []string{"nowhere"}})
	fmt.Println(err)
	// Output:
	// graphs: 2 valid: true
	// exact: true steps: 2 into: people-copy
	// restored: true
	// recovery: not found: graph "nowhere" does not exist and has no snapshots
}
