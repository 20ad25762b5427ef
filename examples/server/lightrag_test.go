package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// TestLightRAGFlag: -lightrag serves each workspace of a folder as a graph (and no
// demo graph), and the documented snapshot call snapshots the working directory
// whole.
func TestLightRAGFlag(t *testing.T) {
	root := t.TempDir()
	for i, ws := range []string{"alpha", "beta"} {
		w := lightragtest.New(lightragtest.Options{Seed: uint64(i), Docs: 3, Entities: 10, Relations: 15, Dim: 4})
		if err := w.Write(filepath.Join(root, ws)); err != nil {
			t.Fatal(err)
		}
	}
	base, _, _ := startServer(t, "-lightrag", root, "-every", "0")
	status, body, _ := call(t, "GET", base+"/api/backup/backup/graphs", "")
	if status != 200 || !strings.Contains(string(body), `"alpha"`) || !strings.Contains(string(body), `"beta"`) || strings.Contains(string(body), `"graph1"`) {
		t.Fatalf("graphs: %d %s, want alpha and beta and no demo graph", status, body)
	}
	status, body = post(t, base+"/api/backup/backup/graphs/beta/snapshots?wait=true", "")
	if status != 201 {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	var snap struct{ Nodes int64 }
	json.Unmarshal(body, &snap)
	files, _ := os.ReadDir(filepath.Join(root, "beta"))
	// Every store entry is a record: far more than the graph's 10 entities.
	if snap.Nodes < 50 || len(files) != 8 {
		t.Errorf("snapshot of beta: %s (%d files), want the whole working directory", body, len(files))
	}
}
