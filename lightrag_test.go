package graphvault_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// readTree returns every file, folder and link under root with its bytes (a
// folder's as "dir", a link's as its target).
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[rel] = "link:" + target
			return err
		default:
			b, err := os.ReadFile(p)
			out[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLightRAGWorkingDirectory: a Vault serving a LightRAG working directory
// (Config.LightRAG) snapshots the whole folder over HTTP, an incremental after one
// changed key-value entry costs a few KiB, and a restore over HTTP gives the
// folder back byte for byte.
func TestLightRAGWorkingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rag_storage")
	w := lightragtest.New(lightragtest.Options{Seed: 13, Docs: 30, Entities: 200, Relations: 500, Dim: 32})
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("kept too\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := readTree(t, dir)
	v := openVault(t, graphvault.Config{LightRAG: []string{dir}})
	srv := serveVault(t, v.Handler())
	type snap struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		BytesNew int64  `json:"bytes_new"`
	}
	take := func() snap {
		t.Helper()
		status, body := send(t, "POST", srv.URL+bk+"/graphs/rag_storage/snapshots?wait=true", "", "")
		if status != 201 {
			t.Fatalf("snapshot: %d %s", status, body)
		}
		var s snap
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1 := take()

	w.Mutate(lightragtest.StoreChunks, 1)
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal([]byte(readTree(t, dir)["kv_store_text_chunks.json"]), []byte(first["kv_store_text_chunks.json"])) {
		t.Fatal("the change did not change kv_store_text_chunks.json")
	}
	s2 := take()
	if s2.Kind != "incremental" || s2.BytesNew > 8<<10 {
		t.Errorf("after one changed entry: %+v, want an incremental of a few KiB", s2)
	}
	t.Logf("full %s, incremental %s: %d bytes new", s1.ID, s2.ID, s2.BytesNew)

	status, body := send(t, "POST", srv.URL+bk+"/snapshots/"+s1.ID+"/restore?wait=true", "", "{}")
	if status != 200 {
		t.Fatalf("restore: %d %s", status, body)
	}
	got := readTree(t, dir)
	for p, want := range first {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: missing after the restore", p)
		} else if g != want {
			t.Errorf("%s: restored bytes differ (%d bytes, want %d)", p, len(g), len(want))
		}
	}
	for p := range got {
		if _, ok := first[p]; !ok {
			t.Errorf("%s: in the folder after the restore, not in the snapshot", p)
		}
	}
}

// TestLightRAGBadConfig: a LightRAG path that is missing, a file, or a folder
// without LightRAG's files is an invalid Config.
func TestLightRAGBadConfig(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(t.TempDir(), "kv_store_x.json")
	os.WriteFile(file, []byte("{}"), 0o644)
	for name, p := range map[string]string{"missing": filepath.Join(empty, "none"), "a file": file, "no stores": empty} {
		t.Run(name, func(t *testing.T) {
			v, err := graphvault.Open(t.Context(), graphvault.Config{Data: t.TempDir(), LightRAG: []string{p}})
			if err == nil {
				v.Close(t.Context())
				t.Fatal("opened")
			}
			if !errors.Is(err, graphvault.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		})
	}
}

// TestGraphMLFileRestoresBytes: a Vault serving a GraphML file (Config.GraphML)
// snapshots it over HTTP, an incremental follows a rewrite that changed a few
// entities, and restores over HTTP give each version of the file back byte for
// byte, edge orientation and all.
func TestGraphMLFileRestoresBytes(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) { testGraphMLFileRestoresBytes(t, chunked) })
	}
}

func testGraphMLFileRestoresBytes(t *testing.T, chunked bool) {
	dir := filepath.Join(t.TempDir(), "rag_storage")
	w := lightragtest.New(lightragtest.Options{Seed: 5, Docs: 10, Entities: 120, Relations: 300, Dim: 2})
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "graph_chunk_entity_relation.graphml")
	v := openVault(t, graphvault.Config{GraphML: []string{file}, ChunkedGraphML: chunked})
	srv := serveVault(t, v.Handler())
	graphID := graphvault.GraphIDForFile(file)
	take := func() (string, string) {
		t.Helper()
		status, body := send(t, "POST", srv.URL+bk+"/graphs/"+graphID+"/snapshots?wait=true", "", "")
		if status != 201 {
			t.Fatalf("snapshot: %d %s", status, body)
		}
		var s struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		return s.ID, s.Kind
	}
	versions := map[string][]byte{}
	for round := range 3 {
		if round > 0 {
			w.Mutate(lightragtest.StoreGraph, 3)
			if err := w.Write(dir); err != nil {
				t.Fatal(err)
			}
		}
		id, kind := take()
		if round > 0 && kind != "incremental" {
			t.Errorf("round %d: a %s snapshot, want an incremental", round, kind)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		versions[id] = data
	}
	if chunked {
		// A chunked snapshot holds pieces, not entities: a selection of an
		// entity selects nothing (422) and leaves the file alone.
		before, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`<node id="([^"&<]+)"`).FindSubmatch(before)
		if m == nil {
			t.Fatal("no entity in the file")
		}
		for id := range versions {
			sel, _ := json.Marshal(map[string]any{"node_ids": []string{string(m[1])}})
			if status, body := send(t, "POST", srv.URL+bk+"/snapshots/"+id+"/restore?wait=true", "", string(sel)); status != 422 {
				t.Errorf("a selection of entity %q from a chunked snapshot: %d %s, want 422", m[1], status, body)
			}
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(after, before) {
			t.Error("a selection from a chunked snapshot changed the file")
		}
	}
	for id, want := range versions {
		status, body := send(t, "POST", srv.URL+bk+"/snapshots/"+id+"/restore?wait=true", "", "{}")
		if status != 200 {
			t.Fatalf("restore %s: %d %s", id, status, body)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("restore of %s: %d bytes that differ from the %d bytes snapshotted", id, len(got), len(want))
		}
	}
}
