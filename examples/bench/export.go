package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zeebo/xxh3"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graphml"
)

// jsonRecord is one line of the JSON-lines export: a node or an edge.
type jsonRecord struct {
	Kind   string         `json:"kind"` // "node" or "edge"
	ID     string         `json:"id,omitempty"`
	Labels []string       `json:"labels,omitempty"`
	Source string         `json:"source,omitempty"`
	Target string         `json:"target,omitempty"`
	Type   string         `json:"type,omitempty"`
	Props  map[string]any `json:"props,omitempty"`
}

// writeFile creates path through a temporary file and renames it into place once
// write has succeeded and the data is synced.
func writeFile(path string, write func(w io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// exportGraphML writes one view of r as GraphML, streaming.
func exportGraphML(ctx context.Context, r graph.Reader, path string) error {
	v, err := r.View(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := writeFile(path, func(w io.Writer) error { return graphml.Write(ctx, w, v) }); err != nil {
		return fmt.Errorf("export graphml: %w", err)
	}
	return nil
}

// exportJSONLines writes one view of r as one JSON object per line, nodes first,
// streaming. Map keys are sorted by encoding/json, so an unchanged record always
// gives the same line.
func exportJSONLines(ctx context.Context, r graph.Reader, path string) error {
	v, err := r.View(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	err = writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for n, err := range v.Nodes(ctx) {
			if err != nil {
				return err
			}
			if err := enc.Encode(jsonRecord{Kind: "node", ID: n.ID, Labels: n.Labels, Props: n.Props}); err != nil {
				return err
			}
		}
		for e, err := range v.Edges(ctx) {
			if err != nil {
				return err
			}
			if err := enc.Encode(jsonRecord{Kind: "edge", Source: e.Source, Target: e.Target, Type: e.Type, Props: e.Props}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("export json lines: %w", err)
	}
	return nil
}

// copyFile copies src to dst and syncs dst, as a folder copy of the graph file does.
func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	var n int64
	err = writeFile(dst, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, in)
		return err
	})
	return n, err
}

// updateOps returns upserts that change fraction of the generated graph's nodes
// and, separately, of its edges, picked at random by seed: each gets a new
// description, edges a new weight too. Every record changed is a whole record as
// a host would write it.
func updateOps(gen *graphtest.Generated, fraction float64, seed uint64) []graph.Op {
	nodes, edges := gen.Len()
	r := rand.New(rand.NewPCG(seed, 0x757064617465))
	var ops []graph.Op
	for _, i := range pick(r, nodes, fraction) {
		n := gen.Node(i)
		n.Props["description"] = fmt.Sprint(n.Props["description"], " Revised: ", strconv.Itoa(r.IntN(1_000_000)), ".")
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
	}
	for _, j := range pick(r, edges, fraction) {
		e := gen.Edge(j)
		e.Props["description"] = fmt.Sprint(e.Props["description"], " Revised: ", strconv.Itoa(r.IntN(1_000_000)), ".")
		e.Props["weight"] = float64(1 + r.IntN(10))
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
	}
	return ops
}

// pick returns ceil(fraction*n) distinct indices below n, at least one when n > 0,
// in ascending order.
func pick(r *rand.Rand, n int, fraction float64) []int {
	if n <= 0 {
		return nil
	}
	k := min(max(int(float64(n)*fraction+0.999), 1), n)
	seen := make(map[int]bool, k)
	for len(seen) < k {
		seen[r.IntN(n)] = true
	}
	out := make([]int, 0, k)
	for i := range n {
		if seen[i] {
			out = append(out, i)
		}
	}
	return out
}

// compareBatch is how many nodes or edges compareGraphs holds from each side.
const compareBatch = 8192

// compareGraphs compares two graphs whose views yield nodes and edges in the same
// (key) order, as memgraph views do, batch by batch, so that neither graph is held
// twice. It returns a description of the first difference, or "".
func compareGraphs(ctx context.Context, want, got graph.Reader) (string, error) {
	wv, err := want.View(ctx)
	if err != nil {
		return "", err
	}
	defer wv.Close()
	gv, err := got.View(ctx)
	if err != nil {
		return "", err
	}
	defer gv.Close()
	if wv.Meta().Directed != gv.Meta().Directed {
		return fmt.Sprintf("directed: want %t, got %t", wv.Meta().Directed, gv.Meta().Directed), nil
	}
	meta := graph.Meta{Directed: wv.Meta().Directed}
	d, err := compareSeqs(wv.Nodes(ctx), gv.Nodes(ctx), func(w, g []graph.Node) string {
		return graphtest.DiffContent(graphtest.Content{Meta: meta, Nodes: w}, graphtest.Content{Meta: meta, Nodes: g})
	})
	if err != nil || d != "" {
		return d, err
	}
	return compareSeqs(wv.Edges(ctx), gv.Edges(ctx), func(w, g []graph.Edge) string {
		return graphtest.DiffContent(graphtest.Content{Meta: meta, Edges: w}, graphtest.Content{Meta: meta, Edges: g})
	})
}

func compareSeqs[T any](want, got iter.Seq2[T, error], diff func(w, g []T) string) (string, error) {
	nextW, stopW := iter.Pull2(want)
	defer stopW()
	nextG, stopG := iter.Pull2(got)
	defer stopG()
	fill := func(next func() (T, error, bool), buf []T) ([]T, error) {
		buf = buf[:0]
		for len(buf) < compareBatch {
			x, err, ok := next()
			if !ok {
				break
			}
			if err != nil {
				return nil, err
			}
			buf = append(buf, x)
		}
		return buf, nil
	}
	var bw, bg []T
	for {
		var err error
		if bw, err = fill(nextW, bw); err != nil {
			return "", fmt.Errorf("want: %w", err)
		}
		if bg, err = fill(nextG, bg); err != nil {
			return "", fmt.Errorf("got: %w", err)
		}
		if d := diff(bw, bg); d != "" {
			return d, nil
		}
		if len(bw) == 0 {
			return "", nil
		}
	}
}

// print is a fingerprint of a graph's content that does not depend on the order
// of its records: counts and the sum of a hash of each record's canonical JSON
// (map keys sorted, an undirected edge's ends in order).
type print struct {
	nodes, edges int64
	sum          uint64
}

// fingerprint returns the print of a view.
func fingerprint(ctx context.Context, v graph.View) (print, error) {
	var p print
	directed := v.Meta().Directed
	for n, err := range v.Nodes(ctx) {
		if err != nil {
			return p, err
		}
		b, err := json.Marshal(jsonRecord{Kind: "node", ID: n.ID, Labels: n.Labels, Props: n.Props})
		if err != nil {
			return p, err
		}
		p.nodes++
		p.sum += xxh3.Hash(b)
	}
	for e, err := range v.Edges(ctx) {
		if err != nil {
			return p, err
		}
		if !directed && e.Target < e.Source {
			e.Source, e.Target = e.Target, e.Source
		}
		b, err := json.Marshal(jsonRecord{Kind: "edge", Source: e.Source, Target: e.Target, Type: e.Type, Props: e.Props})
		if err != nil {
			return p, err
		}
		p.edges++
		p.sum += xxh3.Hash(b)
	}
	return p, nil
}
