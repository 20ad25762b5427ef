package lightrag

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// recordChanges turns the engine's diff into the changes DiffRecords takes.
func recordChanges(d *backup.Diff) []RecordChange {
	var out []RecordChange
	for _, n := range d.NodeDiffs {
		out = append(out, RecordChange{Change: n.Change, NodeID: n.ID})
	}
	for _, e := range d.EdgeDiffs {
		out = append(out, RecordChange{Change: e.Change, Source: e.Source, Target: e.Target, Type: e.Type})
	}
	return out
}

// sk names a store.
type sk struct{ Store, File string }

// entriesOf reads a working directory's stores into keyed entries, the oracle
// DiffRecords is checked against: each kv entry and vdb row (with its vector) by
// key, each GraphML node and edge by id and ends.
func entriesOf(t *testing.T, dir string) map[sk]map[string]string {
	t.Helper()
	out := map[sk]map[string]string{}
	put := func(store, file, key string, v any) {
		k := sk{Store: store, File: file}
		if out[k] == nil {
			out[k] = map[string]string{}
		}
		b, _ := json.Marshal(v)
		out[k][key] = string(b)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		name := filepath.Base(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "kv_store_") {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range m {
				put(storeName("kv", name), name, k, v)
			}
			continue
		}
		var v struct {
			Dim    int               `json:"embedding_dim"`
			Data   []json.RawMessage `json:"data"`
			Matrix []byte            `json:"matrix"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		for i, e := range v.Data {
			var m map[string]any
			if err := json.Unmarshal(e, &m); err != nil {
				t.Fatal(err)
			}
			id, _ := m["__id__"].(string)
			put(storeName("vdb", name), name, id, []any{e, v.Matrix[i*v.Dim*4 : (i+1)*v.Dim*4]})
		}
	}
	r, err := os.Open(filepath.Join(dir, "graph_chunk_entity_relation.graphml"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dec := graphml.NewDecoder(r)
	for n, err := range dec.Nodes(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		put("entities", "", n.ID, n.Props)
	}
	for e, err := range dec.Edges(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		s, tg := min(e.Source, e.Target), max(e.Source, e.Target)
		put("relations", "", s+"\t"+tg, e.Props)
	}
	return out
}

// TestDiffRecords changes entries of every store, diffs the two snapshots and
// checks each store's added, removed and changed keys against a diff of the
// folders' parsed contents.
func TestDiffRecords(t *testing.T) {
	h := newHarness(t)
	w := lightragtest.New(lightragtest.Options{Seed: 9, Docs: 8, Entities: 40, Relations: 80, Dim: 4})
	a := filepath.Join(t.TempDir(), "a")
	if err := w.Write(a); err != nil {
		t.Fatal(err)
	}
	for _, s := range lightragtest.Stores {
		w.Mutate(s, 6)
	}
	b := filepath.Join(t.TempDir(), "b")
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(b, "notes.txt"), []byte("new"), 0o644)
	sa, sb := h.snapshot(a), h.snapshot(b)
	bd, err := h.engine.Diff(h.ctx, sa.ID, sb.ID, backup.DiffOptions{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	d, err := DiffRecords(recordChanges(bd))
	if err != nil {
		t.Fatal(err)
	}
	before, after := entriesOf(t, a), entriesOf(t, b)
	keys := map[sk]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		want := StoreDiff{Store: k.Store, File: k.File}
		for key, v := range after[k] {
			if old, ok := before[k][key]; !ok {
				want.Added = append(want.Added, key)
			} else if old != v {
				want.Changed = append(want.Changed, key)
			}
		}
		for key := range before[k] {
			if _, ok := after[k][key]; !ok {
				want.Removed = append(want.Removed, key)
			}
		}
		slices.Sort(want.Added)
		slices.Sort(want.Removed)
		slices.Sort(want.Changed)
		got, _ := d.Store(k.Store, k.File)
		if k.Store == "relations" {
			// The diff keys a relation by its ends as the snapshot holds them.
			for _, l := range []*[]string{&got.Added, &got.Removed, &got.Changed} {
				for i, key := range *l {
					s, tg, _ := strings.Cut(key, "\t")
					(*l)[i] = min(s, tg) + "\t" + max(s, tg)
				}
				slices.Sort(*l)
			}
		}
		if want.Empty() {
			t.Errorf("%s %s: the mutation changed nothing", k.Store, k.File)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s:\n got %+v\nwant %+v", k.Store, k.File, got, want)
		}
	}
	files, _ := d.Store("files", "")
	if !slices.Contains(files.Added, "notes.txt") || len(files.Changed) != 8 {
		t.Errorf("files: %+v, want notes.txt added and the 8 store files changed", files)
	}
	if _, err := DiffRecords([]RecordChange{{Change: Added, NodeID: "\x01nothing"}}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown reserved record: %v, want ErrCorrupt", err)
	}
	if _, err := DiffRecords([]RecordChange{{Change: "moved", NodeID: "x"}}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown change: %v, want ErrCorrupt", err)
	}
}
