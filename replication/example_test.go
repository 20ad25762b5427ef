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
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// A snapshot is pushed to a directory target; pushing it again sends nothing.
func Example() {
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
	svc, err := replication.New(engine, replication.WithLogger(quiet)) // subscribes to engine's commits
	if err != nil {
		panic(err)
	}
	defer svc.Close(ctx)

	dir, err := os.MkdirTemp("", "replica")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	target, err := svc.Register(ctx, replication.TargetSpec{
		Name: "second-disk", Kind: replication.KindFile,
		Config: map[string]string{"path": filepath.Join(dir, "graphvault")}, Verify: true,
	})
	if err != nil {
		panic(err)
	}

	g := memgraph.New()
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 100, Edges: 200, Seed: 1}).Replace(ctx, g); err != nil {
		panic(err)
	}
	row, err := engine.Snapshot(ctx, "kg", g, backup.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
	for range 2 {
		res, err := svc.Replicate(ctx, row.ID, replication.ReplicateOptions{TargetID: target.ID})
		if err != nil {
			panic(err)
		}
		fmt.Printf("ok=%t copied=%d skipped=%d\n", res[0].OK, res[0].ObjectsCopied, res[0].ObjectsSkipped)
	}
	// Output:
	// ok=true copied=3 skipped=0
	// ok=true copied=0 skipped=3
}
