package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// runJSON runs the program, which must succeed, and decodes its standard output
// into a T, rejecting fields T does not have.
func runJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	return decodeJSON[T](t, mustRun(t, args...).stdout)
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value in %q", s)
	}
	return v
}

// TestJSONGraphMLFile runs every command with -json on snapshots of a GraphML
// file and checks each result against the text the command prints without it.
func TestJSONGraphMLFile(t *testing.T) {
	trustStampsAtOnce(t)
	dir := t.TempDir()
	rag := filepath.Join(dir, "rag")
	if err := os.Mkdir(rag, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(rag, lightragName)
	data := filepath.Join(dir, "vault")
	writeGenerated(t, file, 120, 300)
	c1 := readContent(t, file)

	id1 := snapshot(t, data, file)
	// Unchanged: the latest snapshot, as the plain snapshot printed it; the
	// -json flag before the command.
	s1 := runJSON[snapshotJSON](t, "-json", "-data", data, "snapshot", file)
	want := snapshotJSON{ID: id1, Graph: "rag", Kind: "full", Source: file, Nodes: int64(len(c1.Nodes)), Edges: int64(len(c1.Edges)),
		Records: s1.Records, BytesNew: s1.BytesNew, Unchanged: true}
	if s1 != want {
		t.Errorf("snapshot -json of an unchanged file = %+v, want %+v", s1, want)
	}
	if s1.Records < s1.Nodes+s1.Edges || s1.BytesNew <= 0 {
		t.Errorf("snapshot -json: %d records, %d bytes new; want at least the nodes and edges, and some bytes", s1.Records, s1.BytesNew)
	}

	// Changed: a new incremental snapshot; the flag after the arguments.
	mutate(t, file, 1)
	c2 := readContent(t, file)
	s2 := runJSON[snapshotJSON](t, "-data", data, "snapshot", file, "-json")
	if s2.ID == id1 || s2.Unchanged || s2.Kind != "incremental" || s2.Parent != id1 ||
		s2.Nodes != int64(len(c2.Nodes)) || s2.Edges != int64(len(c2.Edges)) {
		t.Errorf("snapshot -json of a changed file = %+v, want a new incremental snapshot, parent %s, %d nodes, %d edges",
			s2, id1, len(c2.Nodes), len(c2.Edges))
	}
	if id := snapshot(t, data, file); id != s2.ID {
		t.Errorf("plain snapshot printed %s, -json said %s", id, s2.ID)
	}

	checkListJSON(t, data, 2)

	out := filepath.Join(dir, "out.graphml")
	rj := runJSON[restoreJSON](t, "-data", data, "restore", "-json", id1, out)
	wantR := restoreJSON{Snapshot: id1, Graph: "rag", Out: out, Files: rj.Files, Nodes: int64(len(c1.Nodes)), Edges: int64(len(c1.Edges)), Reencoded: []string{}}
	if !sameRestore(rj, wantR) || rj.Files < 1 {
		t.Errorf("restore -json = %+v, want %+v and at least one file", rj, wantR)
	}
	text := mustRun(t, "-data", data, "restore", "-force", id1, out)
	if want := fmt.Sprintf("restored snapshot %s of graph rag to %s: %d files and folders, %d entities, %d relations", id1, out, rj.Files, rj.Nodes, rj.Edges); !strings.Contains(text.stderr, want) {
		t.Errorf("restore stderr = %q, want %q as -json said", text.stderr, want)
	}

	for _, id := range []string{id1, s2.ID} {
		checkVerifyJSON(t, data, id)
	}
	checkDiffJSON(t, data, id1, s2.ID)
}

// sameRestore compares two restore results, their lists included.
func sameRestore(a, b restoreJSON) bool {
	return a.Snapshot == b.Snapshot && a.Graph == b.Graph && a.Out == b.Out && a.Files == b.Files &&
		a.Nodes == b.Nodes && a.Edges == b.Edges && a.Reencoded != nil && slices.Equal(a.Reencoded, b.Reencoded)
}

// checkListJSON checks that list -json holds the rows list prints, field by field.
func checkListJSON(t *testing.T, data string, n int) {
	t.Helper()
	rows := runJSON[[]listJSON](t, "-data", data, "list", "-json")
	text := strings.Split(strings.TrimSpace(mustRun(t, "-data", data, "list").stdout), "\n")[1:]
	if len(rows) != n || len(text) != n {
		t.Fatalf("list -json has %d rows and list %d, want %d", len(rows), len(text), n)
	}
	for i, r := range rows {
		got := strings.Join([]string{r.ID, r.Graph, r.Kind, r.Status, r.Time.Format("2006-01-02 15:04:05"),
			fmt.Sprint(r.Nodes), fmt.Sprint(r.Edges), fmt.Sprint(r.BytesNew)}, " ")
		if want := strings.Join(strings.Fields(text[i]), " "); got != want {
			t.Errorf("list -json row %d = %q, list printed %q", i, got, want)
		}
		if r.Time.Location().String() != "UTC" {
			t.Errorf("list -json row %d time %v, want UTC", i, r.Time)
		}
	}
	if rows[0].Parent != rows[1].ID {
		t.Errorf("list -json: newest row's parent %q, want the one before it, %s", rows[0].Parent, rows[1].ID)
	}
}

// checkVerifyJSON checks verify -json against what verify prints.
func checkVerifyJSON(t *testing.T, data, id string) {
	t.Helper()
	v := runJSON[verifyJSON](t, "-data", data, "verify", id, "-json")
	want := fmt.Sprintf("snapshot %s of graph %s: ok (%d objects, %d bytes, %d nodes, %d edges)\n", v.Snapshot, v.Graph, v.Objects, v.Bytes, v.Nodes, v.Edges)
	if text := mustRun(t, "-data", data, "verify", id).stdout; text != want || v.Snapshot != id || !v.OK || v.Problems == nil || len(v.Problems) != 0 {
		t.Errorf("verify -json = %+v; as text %q, verify printed %q", v, want, text)
	}
}

// checkDiffJSON checks diff -json against what diff prints with every key
// listed: the same stores, counts and keys.
func checkDiffJSON(t *testing.T, data, a, b string) diffJSON {
	t.Helper()
	d := runJSON[diffJSON](t, "-data", data, "-json", "diff", a, b)
	if d.From != a || d.To != b || d.Truncated {
		t.Errorf("diff -json from %s to %s, truncated %v; want from %s to %s, not truncated", d.From, d.To, d.Truncated, a, b)
	}
	var want strings.Builder
	if len(d.Stores) == 0 {
		want.WriteString("no changes\n")
	}
	for _, s := range d.Stores {
		if int(s.AddedCount) != len(s.Added) || int(s.RemovedCount) != len(s.Removed) || int(s.ChangedCount) != len(s.Changed) {
			t.Errorf("diff -json store %s: counts %d/%d/%d, lists %d/%d/%d", s.Store, s.AddedCount, s.RemovedCount, s.ChangedCount, len(s.Added), len(s.Removed), len(s.Changed))
		}
		name := s.Store
		if s.File != "" {
			name += " (" + s.File + ")"
		}
		fmt.Fprintf(&want, "%s: %d added, %d removed, %d changed\n", name, s.AddedCount, s.RemovedCount, s.ChangedCount)
		for _, l := range []struct {
			mark string
			keys []string
		}{{"+", s.Added}, {"-", s.Removed}, {"~", s.Changed}} {
			for _, k := range l.keys {
				fmt.Fprintf(&want, "  %s %s\n", l.mark, showKey(s.Store, k))
			}
		}
	}
	if text := mustRun(t, "-data", data, "diff", "-keys", "1000000", a, b).stdout; text != want.String() {
		t.Errorf("diff printed\n%s\ndiff -json says\n%s", text, want.String())
	}
	return d
}

// TestJSONWorkingDirectory runs snapshot, list, restore and diff with -json on a
// working directory and checks them against the text output.
func TestJSONWorkingDirectory(t *testing.T) {
	trustStampsAtOnce(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	rag := filepath.Join(dir, "rag_storage")
	w := lightragtest.New(lightragtest.Options{Seed: 5, Docs: 6, Entities: 40, Relations: 70, Dim: 4})
	writeWorkdir(t, rag, w)

	s1 := runJSON[snapshotJSON](t, "-json", "-data", data, "snapshot", rag)
	if s1.Graph != "rag_storage" || s1.Kind != "full" || s1.Unchanged || s1.Source != rag || s1.Nodes != int64(len(w.Nodes)) || s1.Records <= s1.Nodes+s1.Edges {
		t.Errorf("snapshot -json of a working directory = %+v, want a full snapshot of rag_storage, %d entities, more records than nodes and edges", s1, len(w.Nodes))
	}
	if id := snapshot(t, data, rag); id != s1.ID {
		t.Errorf("plain snapshot of the unchanged folder printed %s, -json said %s", id, s1.ID)
	}
	w.Mutate(lightragtest.StoreCache, 1)
	if err := w.Write(rag); err != nil {
		t.Fatal(err)
	}
	s2 := runJSON[snapshotJSON](t, "-json", "-data", data, "snapshot", rag)
	if s2.ID == s1.ID || s2.Parent != s1.ID || s2.Unchanged {
		t.Errorf("snapshot -json of a changed folder = %+v, want a new snapshot, parent %s", s2, s1.ID)
	}

	checkListJSON(t, data, 2)
	d := checkDiffJSON(t, data, s1.ID, s2.ID)
	const cacheFile = "kv_store_llm_response_cache.json"
	if len(d.Stores) != 2 || d.Stores[0].Store != "cache entries" || d.Stores[0].File != cacheFile || d.Stores[0].AddedCount != 1 ||
		d.Stores[1].Store != "files" || !slices.Equal(d.Stores[1].Changed, []string{cacheFile}) {
		t.Errorf("diff -json stores = %+v, want a cache entry added and the cache's file changed", d.Stores)
	}
	checkDiffJSON(t, data, s2.ID, s2.ID)

	out := filepath.Join(dir, "out")
	r := mustRun(t, "-data", data, "-json", "restore", s2.ID, out)
	rj := decodeJSON[restoreJSON](t, r.stdout)
	want := restoreJSON{Snapshot: s2.ID, Graph: "rag_storage", Out: out, Files: rj.Files, Nodes: s2.Nodes, Edges: s2.Edges, Reencoded: []string{}}
	if !sameRestore(rj, want) {
		t.Errorf("restore -json = %+v, want %+v", rj, want)
	}
	if files := len(treeBytes(t, out)); rj.Files < files-1 || rj.Files > files {
		t.Errorf("restore -json says %d files and folders, the restored tree holds %d entries (its root included)", rj.Files, files)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("%d files and folders, %d entities, %d relations", rj.Files, rj.Nodes, rj.Edges)) {
		t.Errorf("restore stderr = %q, want the counts -json gave", r.stderr)
	}
}

// TestJSONVerifyDamaged: verify -json of a damaged snapshot writes the problems
// and fails, as verify does.
func TestJSONVerifyDamaged(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	file := filepath.Join(dir, lightragName)
	writeGenerated(t, file, 30, 50)
	id := snapshot(t, data, file, "-graph", "damaged")
	segs, err := filepath.Glob(filepath.Join(data, "bucket", "data", "*", "*"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("found no data segments in the bucket (%v)", err)
	}
	if err := os.WriteFile(segs[0], []byte("not a segment"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, "-data", data, "-json", "verify", id)
	if r.err == nil {
		t.Errorf("verify -json of a damaged snapshot succeeded")
	}
	v := decodeJSON[verifyJSON](t, r.stdout)
	if v.OK || len(v.Problems) == 0 || v.Snapshot != id || v.Graph != "damaged" {
		t.Errorf("verify -json = %+v, want not ok with problems", v)
	}
	text := runCmd(t, "-data", data, "verify", id).stdout
	if !strings.Contains(text, fmt.Sprintf(": %d problem(s)\n", len(v.Problems))) {
		t.Errorf("verify printed %q, -json gave %d problems", text, len(v.Problems))
	}
	for _, p := range v.Problems {
		if !strings.Contains(text, p.Detail) {
			t.Errorf("verify printed %q, without -json's problem %q", text, p.Detail)
		}
	}
}

// TestJSONGraphSnapshot: a snapshot of a graph kept without its file's layout
// (taken through the engine, as before snapshots kept it) is diffed by node and
// edge, and restored written anew; -json says so as the text does.
func TestJSONGraphSnapshot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	file := filepath.Join(dir, lightragName)
	writeGenerated(t, file, 40, 60)
	take := func() string {
		t.Helper()
		c := &cli{g: globals{data: data}, stdout: io.Discard, stderr: io.Discard}
		v, err := c.openVault(t.Context(), true)
		if err != nil {
			t.Fatal(err)
		}
		row, err := v.engine.Snapshot(t.Context(), "plain", graphml.NewFile(file), backup.SnapshotOptions{})
		v.close(&err)
		if err != nil {
			t.Fatal(err)
		}
		return row.ID
	}
	id1 := take()
	mutate(t, file, 1)
	id2 := take()

	d := runJSON[diffJSON](t, "-json", "-data", data, "diff", id1, id2)
	text := mustRun(t, "-data", data, "diff", id1, id2).stdout
	var want strings.Builder
	for _, s := range d.Stores {
		fmt.Fprintf(&want, "%s: %d added, %d removed, %d changed\n", s.Store, s.AddedCount, s.RemovedCount, s.ChangedCount)
		if int(s.AddedCount) != len(s.Added) || int(s.RemovedCount) != len(s.Removed) || int(s.ChangedCount) != len(s.Changed) {
			t.Errorf("diff -json store %s: counts %d/%d/%d, lists %d/%d/%d", s.Store, s.AddedCount, s.RemovedCount, s.ChangedCount, len(s.Added), len(s.Removed), len(s.Changed))
		}
	}
	if text != want.String() || len(d.Stores) != 2 {
		t.Errorf("diff printed %q, diff -json says %q; want nodes and edges", text, want.String())
	}
	if !slices.Contains(d.Stores[0].Added, `NEW ENTITY 1 "ÆØÅ" / A&B`) {
		t.Errorf("diff -json nodes added = %q, want the entity mutate added", d.Stores[0].Added)
	}

	out := filepath.Join(dir, "out.graphml")
	r := mustRun(t, "-data", data, "restore", id2, out, "-json")
	c := readContent(t, out)
	rj := decodeJSON[restoreJSON](t, r.stdout)
	wantR := restoreJSON{Snapshot: id2, Graph: "plain", Out: out, Files: 1, Nodes: int64(len(c.Nodes)), Edges: int64(len(c.Edges)), Reencoded: []string{out}}
	if !sameRestore(rj, wantR) || !strings.Contains(r.stderr, "written anew") {
		t.Errorf("restore -json = %+v, stderr %q; want %+v, and stderr saying the file was written anew", rj, r.stderr, wantR)
	}
}

// TestJSONWatch: watch -json writes a line per snapshot it takes, each naming
// the one before as its parent; the ids are those list shows.
func TestJSONWatch(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	rag := filepath.Join(dir, "rag")
	if err := os.Mkdir(rag, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(rag, lightragName)
	writeGenerated(t, file, 60, 100)
	stdout, stderr, stop := startWatch(t, "-data", data, "watch", file, "-every", "50ms", "-json")
	jsonLines := func() []string { return strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") }
	waitFor(t, "the first snapshot", func() bool { return strings.Count(stdout.String(), "\n") == 1 }, stderr)
	mutate(t, file, 1)
	waitFor(t, "the second snapshot", func() bool { return strings.Count(stdout.String(), "\n") == 2 }, stderr)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []snapshotJSON
	for _, l := range jsonLines() {
		got = append(got, decodeJSON[snapshotJSON](t, l))
	}
	rows := runJSON[[]listJSON](t, "-data", data, "list", "-json")
	if len(got) != 2 || len(rows) != 2 || got[0].ID != rows[1].ID || got[1].ID != rows[0].ID ||
		got[0].Kind != "full" || got[1].Parent != got[0].ID || got[0].Unchanged || got[1].Unchanged || got[1].Source != file {
		t.Errorf("watch -json wrote %+v; list -json has %+v", got, rows)
	}
}
