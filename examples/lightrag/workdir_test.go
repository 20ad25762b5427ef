package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// treeBytes returns every entry under root: a file's bytes and mode, a folder's
// mode, a link's target.
func treeBytes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[rel] = "link " + target
			return err
		case d.IsDir():
			out[rel] = fi.Mode().String()
		default:
			b, err := os.ReadFile(p)
			out[rel] = fi.Mode().String() + " " + string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameBytes(t *testing.T, want, got map[string]string) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: missing", p)
		} else if g != w {
			t.Errorf("%s: differs (%d bytes, want %d)", p, len(g), len(w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && p != "." {
			t.Errorf("%s: not in the snapshot", p)
		}
	}
}

// writeWorkdir writes a generated LightRAG working directory with a dotfile, an
// empty folder and a link.
func writeWorkdir(t *testing.T, dir string, w *lightragtest.Workspace) {
	t.Helper()
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".env"), []byte("LLM_MODEL=x\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "inputs"), 0o750)
	os.Symlink("kv_store_full_docs.json", filepath.Join(dir, "docs.json"))
}

// TestWorkingDirectory: snapshot DIR prints one id, an unchanged folder gets no
// new snapshot, a changed entry an incremental one; list counts entities; diff
// names the changed store; restore gives each folder back byte for byte, and
// refuses an existing OUT without -force.
func TestWorkingDirectory(t *testing.T) {
	trustStampsAtOnce(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	rag := filepath.Join(dir, "rag_storage")
	w := lightragtest.New(lightragtest.Options{Seed: 4, Docs: 10, Entities: 60, Relations: 120, Dim: 8})
	writeWorkdir(t, rag, w)
	v1 := treeBytes(t, rag)

	id1 := snapshot(t, data, rag)
	if again := snapshot(t, data, rag); again != id1 {
		t.Errorf("snapshot of an unchanged folder printed %s, want the latest %s", again, id1)
	}
	w.Mutate(lightragtest.StoreCache, 1)
	if err := w.Write(rag); err != nil {
		t.Fatal(err)
	}
	v2 := treeBytes(t, rag)
	id2 := snapshot(t, data, rag)
	if id2 == id1 {
		t.Fatal("a changed folder got no new snapshot")
	}
	if n := countSnapshots(t, data); n != 2 {
		t.Errorf("%d snapshots, want 2", n)
	}

	list := mustRun(t, "-data", data, "list").stdout
	rows := strings.Split(strings.TrimSpace(list), "\n")
	if len(rows) != 3 {
		t.Fatalf("list:\n%s", list)
	}
	for _, row := range rows[1:] {
		f := strings.Fields(row)
		if f[1] != "rag_storage" || f[6] != fmt.Sprint(len(w.Nodes)) {
			t.Errorf("list row %q: want graph rag_storage and %d entities", row, len(w.Nodes))
		}
	}

	diff := mustRun(t, "-data", data, "diff", id1, id2).stdout
	if !strings.Contains(diff, "cache entries (kv_store_llm_response_cache.json): ") || !strings.Contains(diff, "~ kv_store_llm_response_cache.json") {
		t.Errorf("diff:\n%s\nwant the cache store and its file changed", diff)
	}
	for _, other := range []string{"entities", "relations", "chunks (", "documents"} {
		if strings.Contains(diff, other) {
			t.Errorf("diff names %q, which did not change:\n%s", other, diff)
		}
	}
	if d := mustRun(t, "-data", data, "diff", id1, id1).stdout; d != "no changes\n" {
		t.Errorf("diff of a snapshot with itself: %q", d)
	}

	for _, c := range []struct {
		id   string
		want map[string]string
	}{{id1, v1}, {id2, v2}} {
		out := filepath.Join(dir, "restored-"+c.id)
		mustRun(t, "-data", data, "restore", c.id, out)
		sameBytes(t, c.want, treeBytes(t, out))
	}
	if r := runCmd(t, "-data", data, "restore", id1, rag); r.err == nil || !strings.Contains(r.err.Error(), "-force") {
		t.Errorf("restore over the working directory without -force: %v", r.err)
	}
	sameBytes(t, v2, treeBytes(t, rag))
	mustRun(t, "-data", data, "restore", "-force", id1, rag)
	sameBytes(t, v1, treeBytes(t, rag))
	noLeftovers(t, dir)
}

// TestWorkspaces: a folder of workspaces is a snapshot per workspace, each a
// graph named after it; -graph cannot name them all.
func TestWorkspaces(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	rag := filepath.Join(dir, "rag_storage")
	for i, ws := range []string{"alpha", "beta"} {
		writeWorkdir(t, filepath.Join(rag, ws), lightragtest.New(lightragtest.Options{Seed: uint64(i), Docs: 2, Entities: 8, Relations: 10, Dim: 4}))
	}
	r := mustRun(t, "-data", data, "snapshot", rag)
	ids := lines(r.stdout)
	if len(ids) != 2 {
		t.Fatalf("snapshot of two workspaces printed %q", r.stdout)
	}
	list := mustRun(t, "-data", data, "list").stdout
	if !strings.Contains(list, " alpha ") || !strings.Contains(list, " beta ") {
		t.Errorf("list:\n%s\nwant graphs alpha and beta", list)
	}
	out := filepath.Join(dir, "beta")
	mustRun(t, "-data", data, "restore", ids[1], out)
	sameBytes(t, treeBytes(t, filepath.Join(rag, "beta")), treeBytes(t, out))
	if r := runCmd(t, "-data", data, "snapshot", "-graph", "one", rag); r.err == nil || !strings.Contains(r.err.Error(), "2 workspaces") {
		t.Errorf("-graph over two workspaces: %v", r.err)
	}
	empty := t.TempDir()
	if r := runCmd(t, "-data", data, "snapshot", empty); r.err == nil || !strings.Contains(r.err.Error(), "not a LightRAG working directory") {
		t.Errorf("snapshot of a folder without LightRAG files: %v", r.err)
	}
}

// TestWatchDir: watch DIR takes a snapshot at start and one after each change of
// the folder, and none while it stays as it is.
func TestWatchDir(t *testing.T) {
	trustStampsAtOnce(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	rag := filepath.Join(dir, "rag_storage")
	w := lightragtest.New(lightragtest.Options{Seed: 2, Docs: 4, Entities: 20, Relations: 30, Dim: 4})
	writeWorkdir(t, rag, w)
	stdout, stderr, stop := startWatch(t, "-data", data, "watch", rag, "-every", "50ms")
	waitFor(t, "the first snapshot", func() bool { return len(lines(stdout.String())) == 1 }, stderr)
	time.Sleep(200 * time.Millisecond)
	if n := len(lines(stdout.String())); n != 1 {
		t.Fatalf("%d snapshots of an unchanged folder", n)
	}
	w.Mutate(lightragtest.StoreGraph, 2)
	if err := w.Write(rag); err != nil {
		t.Fatal(err)
	}
	want := treeBytes(t, rag)
	waitFor(t, "the second snapshot", func() bool { return len(lines(stdout.String())) == 2 }, stderr)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	mustRun(t, "-data", data, "restore", lines(stdout.String())[1], out)
	sameBytes(t, want, treeBytes(t, out))
	if !bytes.Contains([]byte(stderr.String()), []byte("watching")) {
		t.Errorf("stderr: %s", stderr.String())
	}
}
