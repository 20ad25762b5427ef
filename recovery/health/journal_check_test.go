package health

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

func TestJournalCheck(t *testing.T) {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := backup.New(st, blob.NewBucket(memblob.New()), backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	write := func(g *memgraph.Graph, n int) {
		t.Helper()
		for i := range n {
			if err := g.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: fmt.Sprint("n", i)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	kept := memgraph.New()
	short := memgraph.New(memgraph.WithJournalLimit(2))
	var cat graph.Registry
	cat.Register("kept", kept)
	cat.Register("short", short)
	check := NewJournalCheck(st, &cat)

	write(kept, 3)
	write(short, 1)
	for _, id := range []string{"kept", "short"} {
		g, _ := cat.Graph(ctx, id)
		if _, err := e.Snapshot(ctx, id, g, backup.SnapshotOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if r := check.Check(ctx); r.Status != Pass {
		t.Fatalf("right after snapshots: %s %q", r.Status, r.Message)
	}
	write(kept, 10)
	write(short, 1)
	if r := check.Check(ctx); r.Status != Pass {
		t.Fatalf("journals still cover the snapshots: %s %q", r.Status, r.Message)
	}
	write(short, 5) // the short journal drops batches the snapshot needs
	r := check.Check(ctx)
	if r.Status != Fail || !strings.Contains(r.Message, "short:") || strings.Contains(r.Message, "kept:") {
		t.Fatalf("after the gap: %s %q", r.Status, r.Message)
	}
	states := r.Details["graphs"].(map[string]JournalState)
	if states["kept"].Batches != 10 || states["kept"].Status != Pass {
		t.Fatalf("kept journal: %+v", states["kept"])
	}
	// A fresh snapshot moves the starting point past the gap.
	if _, err := e.Snapshot(ctx, "short", short, backup.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := check.Check(ctx); r.Status != Pass {
		t.Fatalf("after a fresh snapshot: %s %q", r.Status, r.Message)
	}
	if r := NewJournalCheck(st, &graph.Registry{}).Check(ctx); r.Status != Pass || r.Message != "no graph keeps a journal" {
		t.Fatalf("no journals: %+v", r)
	}
}
