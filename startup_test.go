package graphvault_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

// changeDemo upserts one node into the demo graph over HTTP.
func changeDemo(t *testing.T, v *graphvault.Vault, id string) {
	t.Helper()
	srv := serveVault(t, v.Handler())
	if status, body := send(t, "POST", srv.URL+bk+"/graphs/"+graphvault.DemoGraph+"/changes", "",
		`{"upsert_nodes":[{"id":"`+id+`"}]}`); status != 200 {
		t.Fatalf("changes: %d %s", status, body)
	}
}

// hasNode says whether the served graph id holds the node.
func hasNode(t *testing.T, v *graphvault.Vault, graphID, node string) bool {
	t.Helper()
	c, err := graphtest.Read(t.Context(), mustGraph(t, v, graphID))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		if n.ID == node {
			return true
		}
	}
	return false
}

// closeVault closes v, failing the test on error.
func closeVault(t *testing.T, v *graphvault.Vault) {
	t.Helper()
	if err := v.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A kill before the first snapshot of a graph commits leaves the store knowing
// the graph without a completed snapshot: the next start serves it (the demo
// made again, another graph empty), says so, and takes snapshots of it.
func TestStartWithoutACompletedSnapshot(t *testing.T) {
	for _, demo := range []bool{true, false} {
		t.Run(map[bool]string{true: "demo", false: "no demo"}[demo], func(t *testing.T) {
			dir := t.TempDir()
			v := openVault(t, graphvault.Config{Data: dir, Demo: true})
			// What a kill during the first snapshot leaves: a row, running.
			if err := v.Store().CreateSnapshot(t.Context(), &meta.Snapshot{GraphID: graphvault.DemoGraph, Status: meta.SnapshotRunning}); err != nil {
				t.Fatal(err)
			}
			closeVault(t, v)

			var log bytes.Buffer
			v = openVault(t, graphvault.Config{Data: dir, Demo: demo, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if ids := v.GraphIDs(); len(ids) != 1 || ids[0] != graphvault.DemoGraph {
				t.Fatalf("serves %v, want graph1", ids)
			}
			c, err := graphtest.Read(t.Context(), mustGraph(t, v, graphvault.DemoGraph))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 2000, false: 0}[demo]; len(c.Nodes) != want {
				t.Fatalf("graph1 has %d nodes, want %d", len(c.Nodes), want)
			}
			if !strings.Contains(log.String(), "no intact snapshot") {
				t.Fatalf("the start did not say the graph has no snapshot; log:\n%s", log.String())
			}
			snapshotDemo(t, v)
		})
	}
}

// A metadata database lost beside a bucket of snapshots is rebuilt from the
// bucket at start, said in the log, and the graphs come back from the newest.
func TestStartRebuildsLostMetadata(t *testing.T) {
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Demo: true})
	first, _ := snapshotDemo(t, v)
	changeDemo(t, v, "after-first")
	second, _ := snapshotDemo(t, v)
	closeVault(t, v)
	matches, _ := filepath.Glob(filepath.Join(dir, "graphvault.db*"))
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}

	var log bytes.Buffer
	v = openVault(t, graphvault.Config{Data: dir, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	for _, id := range []string{first, second} {
		row, err := v.Store().GetSnapshot(t.Context(), id)
		if err != nil || row.Status != meta.SnapshotCompleted {
			t.Fatalf("snapshot %s after the rebuild: %+v %v", id, row, err)
		}
	}
	if !hasNode(t, v, graphvault.DemoGraph, "after-first") {
		t.Fatal("graph1 did not come back from its newest snapshot")
	}
	if !strings.Contains(log.String(), "reindexed") || !strings.Contains(log.String(), "snapshots=2") {
		t.Fatalf("the rebuild was not logged with its count; log:\n%s", log.String())
	}
}

// A damaged newest snapshot at start is passed over: the graph comes back from
// the newest intact one, not empty.
func TestStartPassesOverADamagedNewest(t *testing.T) {
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Demo: true})
	changeDemo(t, v, "in-the-intact-one")
	snapshotDemo(t, v)
	changeDemo(t, v, "in-the-damaged-one")
	damaged, manifest := snapshotDemo(t, v)
	closeVault(t, v)
	if err := os.WriteFile(filepath.Join(dir, "bucket", filepath.FromSlash(manifest)), []byte("{not a manifest"), 0o640); err != nil {
		t.Fatal(err)
	}

	v = openVault(t, graphvault.Config{Data: dir})
	if !hasNode(t, v, graphvault.DemoGraph, "in-the-intact-one") || hasNode(t, v, graphvault.DemoGraph, "in-the-damaged-one") {
		t.Fatal("graph1 is not the content of its newest intact snapshot")
	}
	row, err := v.Store().GetSnapshot(t.Context(), damaged)
	if err != nil || row.Status != meta.SnapshotFailed {
		t.Fatalf("the damaged snapshot is %+v, %v; want failed", row, err)
	}
}
