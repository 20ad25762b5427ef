package lightrag

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
	"github.com/graphvault/graphvault/store/meta"
)

var update = flag.Bool("update", false, "write testdata/workdir anew")

const fixture = "testdata/workdir"

// fixtureOptions make the small working directory in testdata.
var fixtureOptions = lightragtest.Options{Seed: 23, Docs: 6, Entities: 40, Relations: 90, Dim: 8}

// TestFixture checks that testdata/workdir is what the generator makes (-update
// writes it) and, where python3 is at hand, that Python writes its JSON files
// and NetworkX its GraphML exactly so.
func TestFixture(t *testing.T) {
	if *update {
		os.RemoveAll(fixture)
		if err := lightragtest.New(fixtureOptions).Write(fixture); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(fixture, ".lightrag_note"), []byte("a dotfile\n"), 0o600)
		os.MkdirAll(filepath.Join(fixture, "empty"), 0o755)
		os.WriteFile(filepath.Join(fixture, "empty", ".keep"), nil, 0o644)
		os.Remove(filepath.Join(fixture, "empty", ".keep"))
	}
	tmp := t.TempDir()
	if err := lightragtest.New(fixtureOptions).Write(tmp); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(tmp, "*"))
	if len(files) != 8 {
		t.Fatalf("generator wrote %d files, want 8", len(files))
	}
	for _, f := range files {
		got, _ := os.ReadFile(f)
		want, err := os.ReadFile(filepath.Join(fixture, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (go test -run TestFixture -update): %v", filepath.Base(f), err)
		}
	}
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import networkx, lxml").Run() != nil {
		t.Skip("no python3 with networkx and lxml")
	}
	script := `
import json, sys, networkx as nx
d = sys.argv[1]
for name in sys.argv[2:]:
    p = d + "/" + name
    data = json.load(open(p, encoding="utf-8"))
    with open(p + ".py", "w", encoding="utf-8") as f:
        if name.startswith("kv_store_"):
            json.dump(data, f, indent=2, ensure_ascii=False)
        else:
            json.dump(data, f, ensure_ascii=False)
g = nx.read_graphml(d + "/graph_chunk_entity_relation.graphml")
nx.write_graphml_lxml(g, d + "/graph_chunk_entity_relation.graphml.py")
`
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, ".json") {
			names = append(names, filepath.Base(f))
		}
	}
	out, err := exec.Command(py, append([]string{"-c", script, fixture}, names...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, n := range append(names, "graph_chunk_entity_relation.graphml") {
		p := filepath.Join(fixture, n)
		want, _ := os.ReadFile(p)
		got, _ := os.ReadFile(p + ".py")
		os.Remove(p + ".py")
		if !bytes.Equal(got, want) {
			t.Errorf("%s: Python writes it otherwise", n)
		}
	}
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	drv    *memblob.Driver
	engine *backup.Engine
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	drv := memblob.New()
	e, err := backup.New(st, blob.NewBucket(drv), backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ctx: ctx, drv: drv, engine: e}
}

func (h *harness) snapshot(dir string) *meta.Snapshot {
	h.t.Helper()
	d, err := New(dir, WithScratch(h.t.TempDir()))
	if err != nil {
		h.t.Fatal(err)
	}
	row, err := h.engine.Snapshot(h.ctx, "ws", d, backup.SnapshotOptions{})
	if err != nil {
		h.t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return row
}

func (h *harness) restore(id, out string) (*Dir, error) {
	d, err := New(out)
	if err != nil {
		h.t.Fatal(err)
	}
	_, err = h.engine.Restore(h.ctx, id, d, backup.RestoreOptions{})
	return d, err
}

// sameTree fails unless the two trees hold the same entries with the same bytes
// and modes.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	seen := map[string]bool{}
	filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(want, p)
		seen[rel] = true
		g := filepath.Join(got, rel)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(g)
		if err != nil {
			t.Errorf("%s: missing from the restore", rel)
			return nil
		}
		if rel != "." && wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		if d.Type().IsRegular() {
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(g)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: restored bytes differ (%d bytes, want %d)", rel, len(b), len(a))
			}
		}
		return nil
	})
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(got, p)
		if !seen[rel] {
			t.Errorf("%s: restored but not in the original", rel)
		}
		return nil
	})
}

// TestRoundTrip snapshots the fixture working directory and restores it byte for
// byte: the seven stores, a dotfile and an empty folder.
func TestRoundTrip(t *testing.T) {
	h := newHarness(t)
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(src, "empty"), 0o755)
	os.Symlink("kv_store_full_docs.json", filepath.Join(src, "link"))
	row := h.snapshot(src)
	m, err := h.engine.Manifest(h.ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{LabelKV, LabelVDB, LabelFile} {
		if m.LabelCounts[l] == 0 {
			t.Errorf("no %s records: %v", l, m.LabelCounts)
		}
	}
	out := filepath.Join(t.TempDir(), "restored")
	d, err := h.restore(row.ID, out)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
	if r := d.LastRestore(); len(r.Reencoded) != 0 || r.Files < 10 {
		t.Errorf("report %+v", r)
	}
	// Over an existing folder, the restore takes its place whole.
	os.WriteFile(filepath.Join(out, "stray"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(out, "kv_store_full_docs.json"), []byte("{}"), 0o644)
	if _, err := h.restore(row.ID, out); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, out)
}

// TestNetworkXFilesRoundTrip snapshots each GraphML file NetworkX wrote (both
// writers, directed and undirected) alone and restores it byte for byte.
func TestNetworkXFilesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../graphml/testdata/networkx/*.graphml")
	if len(files) < 10 {
		t.Fatalf("%d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h := newHarness(t)
			row := h.snapshot(f)
			out := filepath.Join(t.TempDir(), "g.graphml")
			d, err := h.restore(row.ID, out)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(f)
			b, _ := os.ReadFile(out)
			if !bytes.Equal(a, b) {
				t.Fatalf("restored file differs")
			}
			if r := d.LastRestore(); len(r.Reencoded) != 0 {
				t.Errorf("reencoded: %v", r.Reencoded)
			}
		})
	}
}

// TestForeignGraphML: a GraphML file no NetworkX writer made comes back as the
// same graph, and the restore says it re-encoded it.
func TestForeignGraphML(t *testing.T) {
	doc := `<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
 <!-- written by hand -->
 <key id="w" for="edge" attr.name="weight" attr.type="double"/>
 <graph edgedefault="undirected">
  <node id="b"/><node id="a"/>
  <edge source="b" target="a"><data key="w">2</data></edge>
 </graph>
</graphml>`
	dir := t.TempDir()
	p := filepath.Join(dir, "graph_chunk_entity_relation.graphml")
	os.WriteFile(p, []byte(doc), 0o644)
	h := newHarness(t)
	row := h.snapshot(dir)
	out := filepath.Join(t.TempDir(), "r")
	d, err := h.restore(row.ID, out)
	if err != nil {
		t.Fatal(err)
	}
	if r := d.LastRestore(); len(r.Reencoded) != 1 {
		t.Fatalf("report %+v, want the GraphML re-encoded", r)
	}
	got, _ := os.ReadFile(filepath.Join(out, "graph_chunk_entity_relation.graphml"))
	dec := graphml.NewDecoder(bytes.NewReader(got))
	var ids []string
	for n, err := range dec.Nodes(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	n := 0
	for e, err := range dec.Edges(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if e.Source != "b" || e.Target != "a" || e.Props["weight"] != 2.0 {
			t.Errorf("edge %+v", e)
		}
	}
	if strings.Join(ids, ",") != "b,a" || n != 1 {
		t.Errorf("nodes %v, %d edges", ids, n)
	}
}
