package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChunked: snapshot -chunked keeps a file's bytes in pieces; rounds of
// LightRAG-style changes each restore byte for byte, the later snapshots are
// incremental, and diff compares the restored graphs.
func TestChunked(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	file := filepath.Join(dir, "g", lightragName)
	if err := os.Mkdir(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	writeGenerated(t, file, 3000, 6000)
	var ids []string
	var files [][]byte
	for round := range 4 {
		if round > 0 {
			mutate(t, file, round)
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, snapshot(t, data, file, "-chunked", "-check"))
		files = append(files, want)
	}
	for i, id := range ids {
		out := filepath.Join(dir, fmt.Sprintf("out%d.graphml", i))
		r := mustRun(t, "-data", data, "restore", id, out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, files[i]) {
			t.Errorf("snapshot %d: restored %d bytes that differ from the file's %d:\n%s", i, len(got), len(files[i]), r.stderr)
		}
	}
	list := mustRun(t, "-data", data, "list")
	if strings.Count(list.stdout, "incremental") != 3 {
		t.Errorf("list shows %d incremental snapshots, want 3:\n%s", strings.Count(list.stdout, "incremental"), list.stdout)
	}
	// diff restores both and compares their graphs: the same lists as for
	// the same files snapshotted as records.
	plain := filepath.Join(dir, "plain")
	p := filepath.Join(dir, "p", lightragName)
	if err := os.Mkdir(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var plainIDs []string
	for _, content := range files[:2] {
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		plainIDs = append(plainIDs, snapshot(t, plain, p, "-check", "-graph", "p"))
	}
	got := mustRun(t, "-data", data, "diff", "-keys", "1000", ids[0], ids[1])
	want := mustRun(t, "-data", plain, "diff", "-keys", "1000", plainIDs[0], plainIDs[1])
	if got.stdout != want.stdout || !strings.Contains(got.stdout, "entities") {
		t.Errorf("diff of chunked snapshots:\n%s\nof the same files as records:\n%s", got.stdout, want.stdout)
	}
	mustRun(t, "-data", data, "verify", ids[3])
}
