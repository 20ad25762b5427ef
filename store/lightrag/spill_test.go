package lightrag

import (
	"bytes"
	"errors"
	"hash/maphash"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// spilledFile writes the GraphML file of a generated workspace and gathers the
// records of its snapshot (as File's view yields them, the root record among
// the last) as a restore into out does.
func spilledFile(t *testing.T, style graphml.Style, out string) ([]byte, *collected) {
	t.Helper()
	w := lightragtest.New(lightragtest.Options{Seed: 7, Docs: 5, Entities: 300, Relations: 900, Dim: 2, Style: style})
	dir := filepath.Join(t.TempDir(), "ws")
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, graphFileName)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewFile(path, filepath.Join(t.TempDir(), "index")).View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := collectAny(t.Context(), v.Meta(), v.Nodes(t.Context()), v.Edges(t.Context()), out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	if c.spill == nil || len(c.nodes) != 0 || len(c.edges) != 0 {
		t.Fatalf("the graph was not spilled: spill %v, %d nodes and %d edges in memory", c.spill != nil, len(c.nodes), len(c.edges))
	}
	if n, e := len(c.spill.nodes), len(c.spill.edges); n != len(w.Nodes) || e < 800 {
		t.Fatalf("spilled %d nodes and %d edges, want %d nodes and about 900 edges", n, e, len(w.Nodes))
	}
	return want, c
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// TestSpilledRestoreBytes: the restore of a single GraphML file, its graph
// read back from the spill file, gives the file's bytes, and leaves nothing
// else in the folder.
func TestSpilledRestoreBytes(t *testing.T) {
	for _, style := range []graphml.Style{graphml.StyleLxml, graphml.StyleElementTree} {
		t.Run(string(style), func(t *testing.T) {
			outDir := t.TempDir()
			out := filepath.Join(outDir, "out.graphml")
			want, c := spilledFile(t, style, out)
			d, err := New(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.replace(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if err := c.close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("restored %d bytes, not the file's %d bytes", len(got), len(want))
			}
			if rep := d.LastRestore(); rep.Files != 1 || len(rep.Reencoded) != 0 {
				t.Errorf("report %+v, want 1 file and none re-encoded", rep)
			}
			if names := entries(t, outDir); len(names) != 1 {
				t.Errorf("the folder holds %q, want only the restored file", names)
			}
		})
	}
}

// TestSpilledRestoreThroughEngine: a snapshot of the file restores byte for
// byte through the engine into a Dir and into a File, with no spill file left.
func TestSpilledRestoreThroughEngine(t *testing.T) {
	h := newHarness(t)
	w := lightragtest.New(lightragtest.Options{Seed: 8, Docs: 4, Entities: 200, Relations: 500, Dim: 2})
	dir := filepath.Join(t.TempDir(), "ws")
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, graphFileName))
	if err != nil {
		t.Fatal(err)
	}
	row, _ := h.snapshotFile(filepath.Join(dir, graphFileName), filepath.Join(t.TempDir(), "index"))
	got, rep := h.restoreBytes(row.ID)
	if !bytes.Equal(got, want) || len(rep.Reencoded) != 0 {
		t.Errorf("into a Dir: %d bytes (want %d), re-encoded %v", len(got), len(want), rep.Reencoded)
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.graphml")
	f := NewFile(out, filepath.Join(t.TempDir(), "index"))
	if _, err := h.engine.Restore(h.ctx, row.ID, f, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Errorf("into a File: %d bytes (want %d), %v", len(got), len(want), err)
	}
	if names := entries(t, outDir); len(names) != 1 {
		t.Errorf("the folder holds %q, want only the restored file", names)
	}
}

// TestSpillDamaged: a spill file damaged between the records' arrival and the
// write fails the restore, and the target is left as it was.
func TestSpillDamaged(t *testing.T) {
	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.graphml")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, c := spilledFile(t, graphml.StyleLxml, out)
	if _, err := c.spill.f.WriteAt([]byte{0xff}, c.spill.off/2); err != nil {
		t.Fatal(err)
	}
	d, err := New(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.replace(t.Context(), c); !errors.Is(err, ErrCorrupt) {
		t.Errorf("restore from a damaged spill file: %v, want ErrCorrupt", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Errorf("the target was changed")
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, outDir); len(names) != 1 {
		t.Errorf("the folder holds %q, want only the old file", names)
	}
}

// TestSpillKeys: a record is found by its key even where other keys' hashes
// are equal to it, a key given twice keeps its last record, and undirected
// edges are found either way round.
func TestSpillKeys(t *testing.T) {
	for _, mapped := range []bool{true, false} {
		t.Run(map[bool]string{true: "mapped", false: "read"}[mapped], func(t *testing.T) { spillKeys(t, mapped) })
	}
}

func spillKeys(t *testing.T, mapped bool) {
	s, err := newSpill(filepath.Join(t.TempDir(), "out"), graph.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, n := range []graph.Node{
		{ID: "a", Props: map[string]any{"v": int64(1)}},
		{ID: "b", Props: map[string]any{"v": int64(2)}},
		{ID: "c", Labels: []string{"x"}},
		{ID: "a", Props: map[string]any{"v": int64(3)}},
	} {
		if err := s.addNode(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.addEdge(graph.Edge{Source: "b", Target: "a", Type: "t", Props: map[string]any{"w": 1.5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	if !mapped && s.data != nil {
		// Where the file cannot be mapped, records are read with ReadAt.
		if err := unix.Munmap(s.data); err != nil {
			t.Fatal(err)
		}
		s.data = nil
	}
	if len(s.nodes) != 3 {
		t.Errorf("%d nodes, want 3", len(s.nodes))
	}
	ctx := t.Context()
	if n, ok, err := s.Node(ctx, "a"); err != nil || !ok || n.Props["v"] != int64(3) {
		t.Errorf("node a: %v %v %v, want its last record", n, ok, err)
	}
	for _, e := range [][2]string{{"a", "b"}, {"b", "a"}} {
		got, ok, err := s.Edge(ctx, e[0], e[1], "t")
		if err != nil || !ok || got.Source != "b" || got.Target != "a" || got.Props["w"] != 1.5 {
			t.Errorf("edge %v: %+v %v %v", e, got, ok, err)
		}
	}
	if _, ok, err := s.Edge(ctx, "a", "b", ""); ok || err != nil {
		t.Errorf("edge of another type: found %v, %v", ok, err)
	}
	// Every node under one hash: each is still told apart by its id.
	h := maphash.String(s.seed, "c")
	for i := range s.nodes {
		s.nodes[i].hash = h
	}
	s.nodeStarts = starts(s.nodes)
	if n, ok, err := s.Node(ctx, "c"); err != nil || !ok || n.ID != "c" || len(n.Labels) != 1 {
		t.Errorf("node c among equal hashes: %+v %v %v", n, ok, err)
	}
	if _, ok, err := s.Node(ctx, "d"); ok || err != nil {
		t.Errorf("node d: found %v, %v", ok, err)
	}
}
