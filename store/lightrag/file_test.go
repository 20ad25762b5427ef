package lightrag

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
	"github.com/graphvault/graphvault/store/meta"
)

// snapshotFile snapshots one GraphML file through a File made with opts and
// reports whether the engine followed the journal.
func (h *harness) snapshotFile(path, index string, opts ...FileOption) (*meta.Snapshot, bool) {
	h.t.Helper()
	var mu sync.Mutex
	journal := false
	f := NewFile(path, index, append([]FileOption{Named("graph.graphml")}, opts...)...)
	row, err := h.engine.Snapshot(h.ctx, "file", f, backup.SnapshotOptions{
		Progress: func(p backup.Progress) {
			mu.Lock()
			defer mu.Unlock()
			journal = journal || p.Phase == "journal"
		},
	})
	if err != nil {
		h.t.Fatalf("snapshot of %s: %v", path, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return row, journal
}

// restoreBytes restores a snapshot to a new file and returns its bytes and the
// restore's report.
func (h *harness) restoreBytes(id string) ([]byte, RestoreReport) {
	h.t.Helper()
	out := filepath.Join(h.t.TempDir(), "out.graphml")
	d, err := h.restore(id, out)
	if err != nil {
		h.t.Fatalf("restore %s: %v", id, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		h.t.Fatal(err)
	}
	return data, d.LastRestore()
}

// taken is a snapshot of a file and the bytes it was taken of.
type taken struct {
	id   string
	data []byte
}

// checkRestores restores every snapshot and compares it with its bytes.
func (h *harness) checkRestores(snaps []taken) {
	h.t.Helper()
	for i, s := range snaps {
		got, rep := h.restoreBytes(s.id)
		if !bytes.Equal(got, s.data) {
			h.t.Errorf("snapshot %d: restored %d bytes, not the file's %d bytes", i, len(got), len(s.data))
		}
		if len(rep.Reencoded) != 0 {
			h.t.Errorf("snapshot %d: re-encoded %v", i, rep.Reencoded)
		}
	}
}

// TestFileRestoresBytes: every GraphML file NetworkX wrote in testdata (both
// writers, directed and undirected) comes back byte for byte from a snapshot of
// the file alone.
func TestFileRestoresBytes(t *testing.T) {
	files, _ := filepath.Glob("../graphml/testdata/networkx/*.graphml")
	cr, _ := filepath.Glob("testdata/carriage-returns/*.graphml")
	files = append(append(files, cr...), filepath.Join(fixture, graphFileName))
	if len(files) < 15 {
		t.Fatalf("found %d GraphML files in testdata", len(files))
	}
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			h := newHarness(t)
			want, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "in.graphml")
			if err := os.WriteFile(path, want, 0o640); err != nil {
				t.Fatal(err)
			}
			row, _ := h.snapshotFile(path, filepath.Join(t.TempDir(), "index"))
			got, rep := h.restoreBytes(row.ID)
			if !bytes.Equal(got, want) {
				t.Errorf("restored %d bytes, not the file's %d bytes", len(got), len(want))
			}
			if len(rep.Reencoded) != 0 {
				t.Errorf("re-encoded: %v", rep.Reencoded)
			}
		})
	}
}

const graphFileName = "graph_chunk_entity_relation.graphml"

// TestFileIncrementalRestoresBytes edits the graph of a generated workspace
// (entities and relations changed, added and removed, the file rewritten whole
// as NetworkX writes it), snapshots the file after every round and restores
// every snapshot byte for byte; rounds that only change records in place are
// written from the journal, with the layout's records beside them.
func TestFileIncrementalRestoresBytes(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHarness(t)
			w := lightragtest.New(lightragtest.Options{Seed: seed, Docs: 4, Entities: 40, Relations: 80, Dim: 2})
			index := filepath.Join(t.TempDir(), "index")
			var snaps []taken
			journals := 0
			for round := range 8 {
				if round > 0 {
					w.Mutate(lightragtest.StoreGraph, 1+round%3)
				}
				dir := filepath.Join(t.TempDir(), "ws")
				if err := w.Write(dir); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, graphFileName)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				row, journal := h.snapshotFile(path, index)
				if journal {
					journals++
				}
				snaps = append(snaps, taken{row.ID, data})
			}
			if journals == 0 {
				t.Error("no snapshot followed the file's journal")
			}
			h.checkRestores(snaps)
		})
	}
}

// TestFileReencoded: a file whose layout NetworkX's writers would not give
// (a value formatted otherwise) restores as the same graph, and the restore
// names it as re-encoded.
func TestFileReencoded(t *testing.T) {
	h := newHarness(t)
	src, err := os.ReadFile("../graphml/testdata/networkx/undirected.etree.graphml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), ">1733500000<", ">01733500000<", 1)
	if edited == string(src) {
		t.Fatal("the fixture has no value to edit")
	}
	path := filepath.Join(t.TempDir(), "in.graphml")
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	row, _ := h.snapshotFile(path, filepath.Join(t.TempDir(), "index"))
	got, rep := h.restoreBytes(row.ID)
	if len(rep.Reencoded) != 1 {
		t.Errorf("re-encoded %v, want the file named", rep.Reencoded)
	}
	if bytes.Equal(got, []byte(edited)) {
		t.Error("restored the edited bytes; the edit was meant to be one NetworkX does not write")
	}
	if !bytes.Equal(got, src) {
		t.Error("the re-encoded file is not the file NetworkX writes for this graph")
	}
}

// TestFileNotNetworkX: a file NetworkX did not lay out is kept as the graph
// alone; a Dir refuses that snapshot, a File writes the same graph and says it
// re-encoded the file.
func TestFileNotNetworkX(t *testing.T) {
	h := newHarness(t)
	doc := `<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
<!-- written by hand -->
<key id="k" for="node" attr.name="name" attr.type="string"/>
<graph edgedefault="directed"><node id="b"/><node id="a"><data key="k">A</data></node><edge source="a" target="b"/></graph>
</graphml>`
	path := filepath.Join(t.TempDir(), "in.graphml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	row, _ := h.snapshotFile(path, filepath.Join(t.TempDir(), "index"))
	if _, err := h.restore(row.ID, filepath.Join(t.TempDir(), "out.graphml")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restore through a Dir: %v, want ErrCorrupt (no root record)", err)
	}
	out := filepath.Join(t.TempDir(), "out.graphml")
	f := NewFile(out, filepath.Join(t.TempDir(), "index"))
	if _, err := h.engine.Restore(h.ctx, row.ID, f, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if rep := f.LastRestore(); len(rep.Reencoded) != 1 || rep.Reencoded[0] != "out.graphml" {
		t.Errorf("report %+v, want out.graphml re-encoded", rep)
	}
	want, got := readGraph(t, path), readGraph(t, out)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("restored graph %v, want %v", got, want)
	}
}

// readGraph reads a GraphML file's nodes and edges, by id and by key.
func readGraph(t *testing.T, path string) map[string]any {
	t.Helper()
	v, err := graphml.NewFile(path).View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	out := map[string]any{}
	for n, err := range v.Nodes(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		out["node "+n.ID] = n.Props
	}
	for e, err := range v.Edges(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		out["edge "+graph.EdgeKey(e.Source, e.Target, e.Type, v.Meta().Directed)] = e.Props
	}
	return out
}

// TestFilePartialRestore: an entity deleted from the file comes back from a
// snapshot of the file, merged into it with its relations, the rest kept.
func TestFilePartialRestore(t *testing.T) {
	h := newHarness(t)
	w := lightragtest.New(lightragtest.Options{Seed: 7, Docs: 3, Entities: 20, Relations: 40, Dim: 2})
	dir := filepath.Join(t.TempDir(), "ws")
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, graphFileName)
	before := readGraph(t, path)
	row, _ := h.snapshotFile(path, filepath.Join(t.TempDir(), "index"))

	var victim string
	for k := range before {
		if id, ok := strings.CutPrefix(k, "node "); ok && len(w.Neighbours(id)) > 0 {
			victim = id
			break
		}
	}
	w.DeleteEntity(victim)
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	if _, ok := readGraph(t, path)["node "+victim]; ok {
		t.Fatalf("%s was not deleted", victim)
	}
	f := NewFile(path, filepath.Join(t.TempDir(), "index"))
	if _, err := h.engine.Restore(h.ctx, row.ID, f, backup.RestoreOptions{NodeIDs: []string{victim}, Hops: 1}); err != nil {
		t.Fatal(err)
	}
	if got := readGraph(t, path); !reflect.DeepEqual(got, before) {
		t.Errorf("after the partial restore the graph has %d records, before the deletion %d", len(got), len(before))
	}
}

// TestFileConcurrentViews: a view made while another is open reads the whole
// file, layout included, and leaves the index to the first.
func TestFileConcurrentViews(t *testing.T) {
	src := filepath.Join(fixture, graphFileName)
	f := NewFile(src, filepath.Join(t.TempDir(), "index"))
	a, err := f.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	count := func(v graph.View) (n int) {
		for _, err := range v.Nodes(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if na, nb := count(a), count(b); na != nb || na == 0 {
		t.Errorf("the two views hold %d and %d nodes", na, nb)
	}
	if b.Meta().Journal != "" {
		t.Error("the second view claims a journal")
	}
	a.Close()
	b.Close()
	c, err := f.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Meta().Journal == "" {
		t.Error("a view made after both closed does not read through the index")
	}
}

// TestFileDamagedObject: any damaged stored object of a file's snapshot makes
// the restore fail and leaves the target as it was.
func TestFileDamagedObject(t *testing.T) {
	h := newHarness(t)
	src := filepath.Join(fixture, graphFileName)
	row, _ := h.snapshotFile(src, filepath.Join(t.TempDir(), "index"))
	for key, size := range h.objects() {
		if filepath.Dir(filepath.Dir(key)) == "manifests" || size == 0 {
			continue
		}
		data, err := h.drv.Get(h.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), data...)
		bad[len(bad)/2] ^= 0x40
		if err := h.drv.Put(h.ctx, key, bad); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out.graphml")
		os.WriteFile(out, []byte("old"), 0o644)
		_, err = h.restore(row.ID, out)
		if err == nil {
			t.Errorf("%s damaged: the restore succeeded", key)
		} else if !errors.Is(err, backup.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s damaged: %v, want a corruption error", key, err)
		}
		if b, _ := os.ReadFile(out); string(b) != "old" {
			t.Errorf("%s damaged: the target was changed", key)
		}
		h.drv.Put(h.ctx, key, data)
	}
}

// TestCarriageReturnsComeBack: a GraphML file ElementTree wrote with carriage
// returns in its texts (which XML readers turn into line feeds, so that the
// graph cannot give the bytes back) restores byte for byte from a working
// directory's snapshot as from a file's, its entities still records.
func TestCarriageReturnsComeBack(t *testing.T) {
	files, _ := filepath.Glob("testdata/carriage-returns/*.etree.graphml")
	if len(files) != 2 {
		t.Fatalf("found %d files", len(files))
	}
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("\r")) {
				t.Fatal("the fixture holds no carriage return")
			}
			dir := filepath.Join(t.TempDir(), "ws")
			os.Mkdir(dir, 0o755)
			if err := os.WriteFile(filepath.Join(dir, graphFileName), data, 0o644); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t)
			row := h.snapshot(dir)
			m, err := h.engine.Manifest(h.ctx, row.ID)
			if err != nil {
				t.Fatal(err)
			}
			if entities := m.Nodes - m.LabelCounts[LabelRoot] - m.LabelCounts[LabelFile] - m.LabelCounts[LabelChunk]; entities != 12 {
				t.Errorf("%d entities in the snapshot, want 12", entities)
			}
			out := filepath.Join(t.TempDir(), "r")
			d, err := h.restore(row.ID, out)
			if err != nil {
				t.Fatal(err)
			}
			sameTree(t, dir, out)
			if r := d.LastRestore(); len(r.Reencoded) != 0 {
				t.Errorf("re-encoded %v", r.Reencoded)
			}
		})
	}
}
