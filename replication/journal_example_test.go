package replication_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// The journal of a graph is shipped to a directory target after its snapshot; a
// failover then restores from the target, the freshest source, and replays the
// journal past the snapshot.
func ExampleService_Failover() {
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
	svc, err := replication.New(engine, replication.WithLogger(quiet), replication.WithJournal(graphs))
	if err != nil {
		panic(err)
	}
	defer svc.Close(ctx)
	dir, err := os.MkdirTemp("", "replica")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if _, err := svc.Register(ctx, replication.TargetSpec{Name: "second-disk", Kind: replication.KindFile,
		Config: map[string]string{"path": filepath.Join(dir, "graphvault")}}); err != nil {
		panic(err)
	}

	g := memgraph.New()
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 100, Edges: 200, Seed: 1}).Replace(ctx, g); err != nil {
		panic(err)
	}
	graphs.Register("kg", g)
	row, err := engine.Snapshot(ctx, "kg", g, backup.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
	if _, err := svc.Replicate(ctx, row.ID, replication.ReplicateOptions{}); err != nil {
		panic(err)
	}
	for i := range 3 { // changes after the snapshot, in the journal only
		n := graph.Node{ID: fmt.Sprintf("new-%d", i)}
		if err := g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: n}}); err != nil {
			panic(err)
		}
	}
	if err := svc.ShipJournal(ctx); err != nil { // Start does this every second
		panic(err)
	}
	fmt.Println("graph at", g.Position(), "snapshot at", row.JournalPos)

	restored := memgraph.New()
	res, err := svc.Failover(ctx, "kg", restored, replication.FailoverOptions{})
	if err != nil {
		panic(err)
	}
	nodes, _ := restored.Len()
	fmt.Printf("from %s: position %d, %d batches replayed, %d nodes\n", res.Source, res.Position, res.BatchesReplayed, nodes)
	// Output:
	// graph at 4 snapshot at 1
	// from second-disk: position 4, 3 batches replayed, 103 nodes
}
