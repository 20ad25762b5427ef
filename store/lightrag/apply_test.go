package lightrag

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// engineRestore is the RestoreFunc of the harness's engine.
func (h *harness) engineRestore(id string) RestoreFunc {
	return func(ctx context.Context, w graph.Writer, ids []string, hops int) error {
		_, err := h.engine.Restore(ctx, id, w, backup.RestoreOptions{NodeIDs: ids, Hops: hops})
		return err
	}
}

// TestRestoreEntities deletes an entity and one of its neighbours from a working
// directory and restores the entity from a snapshot taken before: the entity, all
// its relations and their vectors come back, the missing neighbour with its
// vector, and every other entry stays as the folder had it.
func TestRestoreEntities(t *testing.T) {
	h := newHarness(t)
	w := lightragtest.New(lightragtest.Options{Seed: 31, Docs: 6, Entities: 50, Relations: 140, Dim: 8})
	dir := filepath.Join(t.TempDir(), "ws")
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	var x string
	for _, n := range w.Nodes {
		if len(w.Neighbours(n)) >= 3 {
			x = n
			break
		}
	}
	nbs := w.Neighbours(x)
	gone := nbs[0]
	a := entriesOf(t, dir)
	s1 := h.snapshot(dir)

	w.DeleteEntity(x)
	w.DeleteEntity(gone)
	w.Mutate(lightragtest.StoreChunks, 3)
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	b := entriesOf(t, dir)
	docs, _ := os.ReadFile(filepath.Join(dir, "kv_store_full_docs.json"))

	d, err := New(dir, WithScratch(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.RestoreEntities(h.ctx, []string{x}, h.engineRestore(s1.ID))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Relations != len(nbs) || len(rep.Neighbours) != 1 || rep.Neighbours[0] != gone || rep.Vectors != 2+len(nbs) {
		t.Errorf("report %+v, want %d relations, neighbour %q and %d vectors", rep, len(nbs), gone, 2+len(nbs))
	}

	// Expected: the folder before the restore, with x, its relations, the lost
	// neighbour and their vectors as the snapshot has them.
	want := map[sk]map[string]string{}
	for k, m := range b {
		want[k] = maps.Clone(m)
	}
	take := func(store, file, key string) {
		k := sk{store, file}
		v, ok := a[k][key]
		if !ok {
			return
		}
		if want[k] == nil {
			want[k] = map[string]string{}
		}
		want[k][key] = v
	}
	for _, n := range []string{x, gone} {
		take("entities", "", n)
		take("entity vectors", "vdb_entities.json", "ent-"+md5hex(n))
	}
	for _, nb := range nbs {
		take("relations", "", min(x, nb)+"\t"+max(x, nb))
		take("relation vectors", "vdb_relationships.json", "rel-"+md5hex(x+nb))
		take("relation vectors", "vdb_relationships.json", "rel-"+md5hex(nb+x))
	}
	got := entriesOf(t, dir)
	for k := range want {
		for key, v := range want[k] {
			if got[k][key] != v {
				t.Errorf("%s %s: %q is not as expected", k.Store, k.File, key)
			}
		}
		if len(got[k]) != len(want[k]) {
			t.Errorf("%s %s: %d entries, want %d", k.Store, k.File, len(got[k]), len(want[k]))
		}
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "kv_store_full_docs.json")); !bytes.Equal(now, docs) {
		t.Error("a store the restore did not touch changed")
	}
	// The merged folder snapshots and restores byte for byte like any other.
	s2 := h.snapshot(dir)
	out := filepath.Join(t.TempDir(), "r")
	if _, err := h.restore(s2.ID, out); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir, out)
	if _, err := d.RestoreEntities(h.ctx, []string{"nobody"}, h.engineRestore(s1.ID)); !errors.Is(err, backup.ErrEmptySelection) {
		t.Errorf("an entity the snapshot lacks: %v, want ErrEmptySelection", err)
	}
}

// TestPartialRestoreEntry: the engine's partial restore of one key-value entry
// merges it back into its file, which then has its old bytes.
func TestPartialRestoreEntry(t *testing.T) {
	h := newHarness(t)
	w := lightragtest.New(lightragtest.Options{Seed: 8, Docs: 5, Entities: 10, Relations: 10, Dim: 4})
	dir := filepath.Join(t.TempDir(), "ws")
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kv_store_full_docs.json")
	old, _ := os.ReadFile(path)
	s1 := h.snapshot(dir)
	key := w.KV[lightragtest.StoreFullDocs].Keys[2]
	w.KV[lightragtest.StoreFullDocs].Vals[key].(*lightragtest.Obj).Set("content", "rewritten")
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	changed, _ := os.ReadFile(path)
	if bytes.Equal(changed, old) {
		t.Fatal("the change changed nothing")
	}
	d, _ := New(dir, WithScratch(t.TempDir()))
	res, err := h.engine.Restore(h.ctx, s1.ID, d, backup.RestoreOptions{NodeIDs: []string{kvID("kv_store_full_docs.json", key)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != backup.RestoreMerged || res.Nodes != 1 {
		t.Errorf("result %+v", res)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
		t.Errorf("the restored entry did not give the file its old bytes")
	}
}

// TestApplyRefuses: a change a working directory cannot take is refused, and the
// folder is left as it was.
func TestApplyRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ws")
	w := lightragtest.New(lightragtest.Options{Seed: 1, Docs: 2, Entities: 6, Relations: 6, Dim: 4})
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kv_store_raw.json"), []byte(`{"a":1}`), 0o644) // not as Python writes it: kept in chunks
	before := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		before[f], _ = os.ReadFile(f)
	}
	d, _ := New(dir, WithScratch(t.TempDir()))
	for name, ops := range map[string][]graph.Op{
		"a file record":       {{Kind: graph.OpUpsertNode, Node: graph.Node{ID: fileID("x"), Props: map[string]any{"json": "{}"}}}},
		"a dangling relation": {{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: w.Nodes[0], Target: "nobody"}}},
		"a store kept raw":    {{Kind: graph.OpUpsertNode, Node: graph.Node{ID: kvID("kv_store_raw.json", "b"), Props: map[string]any{"json": "2"}}}},
		"a missing store":     {{Kind: graph.OpUpsertNode, Node: graph.Node{ID: kvID("kv_store_none.json", "b"), Props: map[string]any{"json": "2"}}}},
		"a vector of the wrong size": {{Kind: graph.OpUpsertNode, Node: graph.Node{ID: vdbID("vdb_entities.json", "ent-x"),
			Props: map[string]any{"json": `{"__id__":"ent-x"}`, "vector": "AAAAAA=="}}}},
	} {
		if err := d.Apply(context.Background(), append([]graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "new entity"}}}, ops...)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(after) != len(files) {
		t.Errorf("%d entries after, %d before", len(after), len(files))
	}
	for _, f := range files {
		if b, _ := os.ReadFile(f); !bytes.Equal(b, before[f]) {
			t.Errorf("%s changed", filepath.Base(f))
		}
	}
}
