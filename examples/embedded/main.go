// Command embedded is the smallest program that protects a graph with graphvault
// through its Go API. It keeps everything in a temporary directory, removed on exit:
//
//  1. open a metadata store (SQLite) and a file bucket, and a backup engine on them;
//  2. build a small in-memory graph (store/memgraph) and take a snapshot: full;
//  3. change the graph and take another: incremental, it stores only the change;
//  4. restore each snapshot into a new graph and check that it equals the graph as
//     it was when the snapshot was taken.
//
// Run it with
//
//	go run ./examples/embedded
//
// It prints what it does on standard output and exits with status 1, the error on
// standard error, if anything fails or a restored graph differs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "graphvault-embedded-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()

	// 1. The metadata store (a file path means SQLite) and the bucket for the data.
	st, err := meta.Open(ctx, filepath.Join(dir, "graphvault.db"))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	drv, err := fileblob.Open(filepath.Join(dir, "bucket"))
	if err != nil {
		return err
	}
	bucket := blob.NewBucket(drv)
	defer func() { err = errors.Join(err, bucket.Close()) }()
	// In a graph this small any change is a large part of it, and the default chain
	// policy would fold the second snapshot into a synthetic full one; a looser
	// policy keeps it incremental for the demonstration.
	engine, err := backup.New(st, bucket,
		backup.WithLogger(slog.New(slog.DiscardHandler)),
		backup.WithChainPolicy(backup.ChainPolicy{MaxLayers: 16, MaxDeltaRatio: 2}))
	if err != nil {
		return err
	}

	// 2. A small graph, shaped like a LightRAG entity graph, and a first snapshot.
	g := memgraph.New() // undirected, as LightRAG's graph is
	if err := g.Apply(ctx, []graph.Op{
		upsertNode("Alan Turing", "person", "Mathematician, father of computer science."),
		upsertNode("Enigma", "artifact", "Cipher machine used in the Second World War."),
		upsertNode("Bletchley Park", "location", "Estate where the codebreakers worked."),
		upsertNode("Turing Machine", "concept", "Abstract model of computation."),
		upsertEdge("Alan Turing", "Enigma", 2, "Turing broke Enigma messages."),
		upsertEdge("Alan Turing", "Bletchley Park", 1, "Turing worked at Bletchley Park."),
		upsertEdge("Alan Turing", "Turing Machine", 3, "Turing described the machine in 1936."),
	}); err != nil {
		return fmt.Errorf("build graph: %w", err)
	}
	first, err := engine.Snapshot(ctx, "turing", g, backup.SnapshotOptions{})
	if err != nil {
		return err
	}
	report(out, "snapshot 1", first)
	atFirst, err := readAll(ctx, g)
	if err != nil {
		return err
	}

	// 3. Change the graph: one node more, one description longer, one edge fewer.
	if err := g.Apply(ctx, []graph.Op{
		upsertNode("Alonzo Church", "person", "Logician, Turing's doctoral advisor."),
		upsertEdge("Alonzo Church", "Alan Turing", 1, "Church supervised Turing's thesis."),
		upsertNode("Enigma", "artifact", "Cipher machine used in the Second World War.<SEP>Broken at Bletchley Park."),
		{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "Alan Turing", Target: "Bletchley Park"}},
	}); err != nil {
		return fmt.Errorf("change graph: %w", err)
	}
	second, err := engine.Snapshot(ctx, "turing", g, backup.SnapshotOptions{})
	if err != nil {
		return err
	}
	report(out, "snapshot 2", second)
	m, err := engine.Manifest(ctx, second.ID)
	if err != nil {
		return err
	}
	newest := m.Layers[len(m.Layers)-1]
	fmt.Fprintf(out, "snapshot 2 stored only what changed: %d new or changed records, %d deleted; parent is snapshot 1: %t\n",
		newest.Records, newest.Tombstones, second.ParentID == first.ID)
	now, err := readAll(ctx, g)
	if err != nil {
		return err
	}

	// 4. Restore each snapshot into a new graph and compare.
	for i, s := range []struct {
		row  *meta.Snapshot
		want content
	}{{first, atFirst}, {second, now}} {
		restored := memgraph.New()
		res, err := engine.Restore(ctx, s.row.ID, restored, backup.RestoreOptions{})
		if err != nil {
			return err
		}
		got, err := readAll(ctx, restored)
		if err != nil {
			return err
		}
		diff := s.want.diff(got)
		fmt.Fprintf(out, "restored snapshot %d: %d nodes, %d edges, equal to the graph at snapshot time: %t\n",
			i+1, res.Nodes, res.Edges, diff == "")
		if diff != "" {
			return fmt.Errorf("restored snapshot %d differs: %s", i+1, diff)
		}
	}
	return nil
}

func report(out io.Writer, name string, s *meta.Snapshot) {
	fmt.Fprintf(out, "%s: %s, %d nodes, %d edges\n", name, s.Kind, s.Nodes, s.Edges)
}

func upsertNode(id, typ, description string) graph.Op {
	return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Props: map[string]any{
		"entity_id": id, "entity_type": typ, "description": description,
	}}}
}

func upsertEdge(source, target string, weight float64, description string) graph.Op {
	return graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: source, Target: target, Props: map[string]any{
		"weight": weight, "description": description,
	}}}
}

// content is a graph read into memory, nodes by ID and edges by key.
type content struct {
	directed bool
	nodes    map[string]graph.Node
	edges    map[string]graph.Edge
}

func readAll(ctx context.Context, r graph.Reader) (_ content, err error) {
	v, err := r.View(ctx)
	if err != nil {
		return content{}, err
	}
	defer func() { err = errors.Join(err, v.Close()) }()
	c := content{directed: v.Meta().Directed, nodes: map[string]graph.Node{}, edges: map[string]graph.Edge{}}
	for n, err := range v.Nodes(ctx) {
		if err != nil {
			return content{}, err
		}
		c.nodes[n.ID] = n
	}
	for e, err := range v.Edges(ctx) {
		if err != nil {
			return content{}, err
		}
		c.edges[e.Key(c.directed)] = e
	}
	return c, nil
}

// diff describes the first difference between c and got, or returns "".
func (c content) diff(got content) string {
	if c.directed != got.directed {
		return fmt.Sprintf("directed %t, want %t", got.directed, c.directed)
	}
	if len(got.nodes) != len(c.nodes) || len(got.edges) != len(c.edges) {
		return fmt.Sprintf("%d nodes and %d edges, want %d and %d", len(got.nodes), len(got.edges), len(c.nodes), len(c.edges))
	}
	for id, n := range c.nodes {
		if g, ok := got.nodes[id]; !ok || !graph.EqualNodes(n, g) {
			return fmt.Sprintf("node %q is %+v, want %+v", id, g, n)
		}
	}
	for k, e := range c.edges {
		if g, ok := got.edges[k]; !ok || !graph.EqualEdges(e, g, c.directed) {
			return fmt.Sprintf("edge %s-%s is %+v, want %+v", e.Source, e.Target, g, e)
		}
	}
	return ""
}
