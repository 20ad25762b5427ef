package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// A host mounts the handler under a prefix and protects it with bearer tokens:
// changes need the write token, manifests and diffs the read or the write token.
func ExampleNewHandler() {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		panic(err)
	}
	defer st.Close()
	engine, err := backup.New(st, blob.NewBucket(memblob.New()), backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	g := memgraph.New()
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 10, Edges: 20, Seed: 1}).Replace(ctx, g); err != nil {
		panic(err)
	}
	graphs := &graph.Registry{}
	graphs.Register("graph1", g)

	ops := api.NewOperations()
	defer ops.Close(ctx)
	mux := http.NewServeMux()
	mux.Handle("/api/backup/backup/", http.StripPrefix("/api/backup/backup",
		backup.NewHandler(engine, graphs, api.Options{
			Authorizer: api.BearerToken(api.Tokens{Write: "s3cret", Read: "peek"}),
			Operations: ops,
		})))

	req := httptest.NewRequest("POST", "/api/backup/backup/graphs/graph1/snapshots?wait=true", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var row meta.Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &row); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, row.GraphID, row.Status, row.Nodes)
	// Output: 201 graph1 completed 10
}
