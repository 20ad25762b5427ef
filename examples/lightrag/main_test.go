package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/meta"
)

// realFile is LightRAG's own output, kept beside the project; tests that need it
// skip when it is absent. It is copied into a temporary directory, never changed.
const realFile = "../../../shared/testdata/lightrag/graph_chunk_entity_relation.graphml"

const lightragName = "graph_chunk_entity_relation.graphml"

// cmdResult is what one in-process run of the program produced.
type cmdResult struct {
	stdout, stderr string
	err            error
}

func runCmd(t *testing.T, args ...string) cmdResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return cmdResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun runs the program and fails the test if it returns an error.
func mustRun(t *testing.T, args ...string) cmdResult {
	t.Helper()
	r := runCmd(t, args...)
	if r.err != nil {
		t.Fatalf("lightrag %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

var idLine = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}\n$`)

// snapshot runs the snapshot command and returns the id it printed, checking that
// stdout holds the id alone.
func snapshot(t *testing.T, data, file string, extra ...string) string {
	t.Helper()
	r := mustRun(t, append([]string{"-data", data, "snapshot", file}, extra...)...)
	if !idLine.MatchString(r.stdout) {
		t.Fatalf("snapshot stdout = %q, want one snapshot id and a newline", r.stdout)
	}
	return strings.TrimSpace(r.stdout)
}

func readContent(t *testing.T, path string) graphtest.Content {
	t.Helper()
	c, err := graphtest.Read(t.Context(), graphml.NewFile(path))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return c
}

// writeGenerated writes a LightRAG-shaped graph as GraphML.
func writeGenerated(t *testing.T, path string, nodes, edges int) {
	t.Helper()
	g := graphtest.Generate(graphtest.GenerateOptions{Nodes: nodes, Edges: edges, Seed: 7, DescriptionBytes: 200})
	v, err := g.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := graphml.Write(t.Context(), &buf, v); err != nil {
		t.Fatalf("write generated graph: %v", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mutate changes the graph in path the way LightRAG's insertions do: a new entity
// with a relation, an entity whose description grew, an entity merged away (deleted
// with its relations), a relation whose weight changed. round makes each call's
// changes distinct.
func mutate(t *testing.T, path string, round int) {
	t.Helper()
	c := readContent(t, path)
	if len(c.Nodes) < 3 || len(c.Edges) < 1 {
		t.Fatalf("%s has %d nodes and %d edges, too few to change", path, len(c.Nodes), len(c.Edges))
	}
	grown := c.Nodes[0]
	grown.Props = clone(grown.Props)
	grown.Props["description"] = fmt.Sprint(grown.Props["description"], "<SEP>Round ", round, " added to this description, with \"quotes\" & <angle brackets>.")
	gone := c.Nodes[len(c.Nodes)-1].ID
	reweighed := c.Edges[0]
	if reweighed.Source == gone || reweighed.Target == gone {
		reweighed = c.Edges[len(c.Edges)/2]
	}
	reweighed.Props = clone(reweighed.Props)
	reweighed.Props["weight"] = 10.5 + float64(round)
	newID := fmt.Sprintf("NEW ENTITY %d \"ÆØÅ\" / A&B", round)
	ops := []graph.Op{
		{Kind: graph.OpUpsertNode, Node: grown},
		{Kind: graph.OpDeleteNode, Node: graph.Node{ID: gone}},
		{Kind: graph.OpUpsertEdge, Edge: reweighed},
		{Kind: graph.OpUpsertNode, Node: graph.Node{ID: newID, Props: map[string]any{
			"entity_id": newID, "entity_type": "organization",
			"description": "An entity added in round " + fmt.Sprint(round) + ".\nSecond line.",
			"source_id":   "chunk-0123456789abcdef", "file_path": "docs/new.txt",
			"created_at": int64(1_760_000_000 + round),
		}}},
		{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: newID, Target: grown.ID, Props: map[string]any{
			"weight": 1.0, "description": "relation of round " + fmt.Sprint(round),
			"keywords": "new,relation", "source_id": "chunk-0123456789abcdef",
			"file_path": "docs/new.txt", "created_at": int64(1_760_000_000 + round),
		}}},
	}
	if err := graphml.NewFile(path).Apply(t.Context(), ops); err != nil {
		t.Fatalf("change %s: %v", path, err)
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// graphChecker compares GraphML files with the graph they should hold: every
// node, edge, attribute and type, as this module reads them at once and, when
// python3 can import networkx, as NetworkX reads them, in one batch at the end
// (starting Python is slow).
type graphChecker struct {
	t     *testing.T
	dir   string
	pairs []string
}

func newGraphChecker(t *testing.T) *graphChecker {
	return &graphChecker{t: t, dir: t.TempDir()}
}

// same checks that got holds the graph of want. Both are copied for the NetworkX
// check, so the files may change afterwards.
func (c *graphChecker) same(want, got string) {
	t := c.t
	t.Helper()
	if d := graphtest.DiffContent(readContent(t, want), readContent(t, got)); d != "" {
		t.Errorf("%s differs from %s: %s", filepath.Base(got), filepath.Base(want), d)
	}
	for _, f := range []string{want, got} {
		cp := filepath.Join(c.dir, fmt.Sprintf("%d-%s", len(c.pairs), filepath.Base(f)))
		copyFile(t, f, cp)
		c.pairs = append(c.pairs, cp)
	}
}

var (
	networkxOnce sync.Once
	networkxOK   bool
)

const networkxCompare = `
import sys
import networkx as nx

def typed(d):
    return {k: (type(v).__name__, v) for k, v in d.items()}

def compare(wantPath, gotPath):
    a = nx.read_graphml(wantPath)
    b = nx.read_graphml(gotPath)
    problems = []
    if type(a) is not type(b):
        problems.append("graph class %s, want %s" % (type(b).__name__, type(a).__name__))
    if not nx.utils.graphs_equal(a, b):
        problems.append("nx.utils.graphs_equal is False")
    for n, d in a.nodes(data=True):
        if n not in b:
            problems.append("node %r missing" % n)
        elif typed(d) != typed(b.nodes[n]):
            problems.append("node %r: got %r, want %r" % (n, typed(b.nodes[n]), typed(d)))
    for n in b.nodes:
        if n not in a:
            problems.append("extra node %r" % n)
    for u, v, d in a.edges(data=True):
        if not b.has_edge(u, v):
            problems.append("edge %r-%r missing" % (u, v))
        elif typed(d) != typed(b.edges[u, v]):
            problems.append("edge %r-%r: got %r, want %r" % (u, v, typed(b.edges[u, v]), typed(d)))
    if a.number_of_edges() != b.number_of_edges():
        problems.append("%d edges, want %d" % (b.number_of_edges(), a.number_of_edges()))
    return problems

failed = False
args = sys.argv[1:]
for i in range(0, len(args), 2):
    problems = compare(args[i], args[i + 1])
    if problems:
        failed = True
        print("%s differs from %s:" % (args[i + 1], args[i]))
        print("\n".join("  " + p for p in problems[:20]))
sys.exit(1 if failed else 0)
`

// networkx runs the NetworkX comparison of every pair checked so far.
func (c *graphChecker) networkx() {
	t := c.t
	t.Helper()
	networkxOnce.Do(func() {
		networkxOK = exec.Command("python3", "-c", "import networkx").Run() == nil
	})
	if !networkxOK {
		t.Log("python3 with networkx is not available: NetworkX check skipped")
		return
	}
	if len(c.pairs) == 0 {
		t.Fatal("no files to compare with NetworkX")
	}
	args := append([]string{"-c", networkxCompare}, c.pairs...)
	out, err := exec.CommandContext(t.Context(), "python3", args...).CombinedOutput()
	if err != nil {
		t.Errorf("NetworkX reads different graphs: %v\n%s", err, out)
	}
}

// roundTrip snapshots a LightRAG working file, changes it, snapshots it again,
// then restores both snapshots and compares each with the file it was taken from.
func roundTrip(t *testing.T, setup func(file string)) {
	dir := t.TempDir()
	rag := filepath.Join(dir, "rag storage") // LightRAG's working directory
	if err := os.Mkdir(rag, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(rag, lightragName)
	setup(file)
	data := filepath.Join(dir, "vault")
	check := newGraphChecker(t)

	v1 := filepath.Join(dir, "v1.graphml")
	copyFile(t, file, v1)
	r := mustRun(t, "-data", data, "snapshot", file)
	id1 := strings.TrimSpace(r.stdout)
	if !idLine.MatchString(r.stdout) {
		t.Fatalf("snapshot stdout = %q, want one snapshot id and a newline", r.stdout)
	}
	if !strings.Contains(r.stderr, `graph id "rag_storage"`) {
		t.Errorf("snapshot stderr = %q, want a note that the graph id became rag_storage", r.stderr)
	}

	mutate(t, file, 1)
	v2 := filepath.Join(dir, "v2.graphml")
	copyFile(t, file, v2)
	id2 := snapshot(t, data, file)
	if id2 == id1 {
		t.Fatalf("second snapshot has the first one's id %s", id1)
	}

	list := mustRun(t, "-data", data, "list").stdout
	rows := strings.Split(strings.TrimSpace(list), "\n")
	if len(rows) != 3 {
		t.Fatalf("list printed %d lines, want a header and 2 rows:\n%s", len(rows), list)
	}
	if got, want := strings.Fields(rows[0]), []string{"ID", "GRAPH", "KIND", "STATUS", "TIME", "NODES", "EDGES", "BYTES"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("list header = %q, want %q", got, want)
	}
	for i, want := range []struct{ id, kind, file string }{{id2, "incremental", v2}, {id1, "full", v1}} {
		c := readContent(t, want.file)
		f := strings.Fields(rows[i+1])
		if len(f) != 9 { // TIME is a date and a time
			t.Fatalf("list row %q has %d fields, want 9", rows[i+1], len(f))
		}
		wantRow := []string{want.id, "rag_storage", want.kind, "completed", f[4], f[5], fmt.Sprint(len(c.Nodes)), fmt.Sprint(len(c.Edges)), f[8]}
		if strings.Join(f, " ") != strings.Join(wantRow, " ") {
			t.Errorf("list row %d = %q, want %q (date and bytes not compared)", i+1, f, wantRow)
		}
	}

	for _, s := range []struct{ id, want string }{{id1, v1}, {id2, v2}} {
		out := filepath.Join(dir, "restored-"+s.id+".graphml")
		mustRun(t, "-data", data, "restore", s.id, out)
		check.same(s.want, out)
		vr := mustRun(t, "-data", data, "verify", s.id)
		if !strings.Contains(vr.stdout, ": ok (") {
			t.Errorf("verify %s stdout = %q, want ok", s.id, vr.stdout)
		}
	}
	// Restoring over the working file, as after a bad ingestion, needs -force.
	if r := runCmd(t, "-data", data, "restore", id1, file); r.err == nil || !strings.Contains(r.err.Error(), "-force") {
		t.Errorf("restore over an existing file without -force: err = %v, want one naming -force", r.err)
	}
	check.same(v2, file)
	mustRun(t, "-data", data, "restore", "-force", id1, file)
	check.same(v1, file)
	check.networkx()
	noLeftovers(t, rag)
	noLeftovers(t, data)
}

// noLeftovers fails if a temporary file was left in dir.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name := d.Name(); strings.Contains(name, ".restore-") || strings.Contains(name, ".capture-") || strings.Contains(name, ".tmp-") || strings.Contains(name, ".spool-") {
			t.Errorf("temporary file left behind: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripGenerated(t *testing.T) {
	roundTrip(t, func(file string) { writeGenerated(t, file, 250, 500) })
}

func TestRoundTripLightRAGFile(t *testing.T) {
	if _, err := os.Stat(realFile); err != nil {
		t.Skipf("LightRAG sample not available (%v): skipped", err)
	}
	roundTrip(t, func(file string) { copyFile(t, realFile, file) })
}

// TestRestoreGivesTheFileBack: a GraphML file NetworkX wrote (both writers,
// directed and undirected, LightRAG's own file when it is at hand) restores
// from a snapshot of the file byte for byte: key ids and order, node order,
// edge order and the orientation of undirected edges, value formatting.
func TestRestoreGivesTheFileBack(t *testing.T) {
	files, _ := filepath.Glob("../../store/graphml/testdata/networkx/*.graphml")
	cr, _ := filepath.Glob("../../store/lightrag/testdata/carriage-returns/*.graphml")
	files = append(append(files, cr...), "../../store/lightrag/testdata/workdir/"+lightragName)
	if _, err := os.Stat(realFile); err == nil {
		files = append(files, realFile)
	}
	if len(files) < 5 {
		t.Fatalf("found %d GraphML files in testdata", len(files))
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	for i, src := range files {
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		id := snapshot(t, data, src, "-graph", fmt.Sprintf("g%d", i))
		out := filepath.Join(dir, fmt.Sprintf("out%d.graphml", i))
		r := mustRun(t, "-data", data, "restore", id, out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: restored %d bytes that differ from the file's %d; the restore said:\n%s", src, len(got), len(want), r.stderr)
		}
		if strings.Contains(r.stderr, "anew") {
			t.Errorf("%s: the restore says it re-encoded the file:\n%s", src, r.stderr)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	file := filepath.Join(dir, "g", lightragName)
	if err := os.Mkdir(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	writeGenerated(t, file, 20, 30)
	missingData := filepath.Join(dir, "nothing-here")
	existing := filepath.Join(dir, "existing.graphml")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := snapshot(t, data, file)

	tests := []struct {
		name     string
		args     []string
		wantExit int
		wantErr  string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"backup"}, 2, `unknown command "backup"`},
		{"unknown flag", []string{"-data", data, "list", "-bogus"}, 2, "bogus"},
		{"extra argument", []string{"-data", data, "list", "extra"}, 2, "takes no arguments"},
		{"snapshot without file", []string{"-data", data, "snapshot"}, 2, "FILE.graphml"},
		{"snapshot of a missing file", []string{"-data", data, "snapshot", filepath.Join(dir, "none.graphml")}, 1, "does not exist"},
		{"snapshot of a folder without LightRAG files", []string{"-data", data, "snapshot", t.TempDir()}, 1, "not a LightRAG working directory"},
		{"snapshot with a bad graph id", []string{"-data", data, "snapshot", "-graph", "a/b", file}, 2, "not a valid graph id"},
		{"snapshot of a non-GraphML file", []string{"-data", data, "snapshot", existing}, 1, "not a whole GraphML graph"},
		{"restore of an unknown snapshot", []string{"-data", data, "restore", "01JD5X0M8V6Q2N4Y7T1R3K9B2C", filepath.Join(dir, "o.graphml")}, 1, "unknown snapshot"},
		{"restore of a malformed id", []string{"-data", data, "restore", "latest", filepath.Join(dir, "o.graphml")}, 2, "not a snapshot id"},
		{"restore over a file", []string{"-data", data, "restore", id, existing}, 1, "-force"},
		{"restore into a missing folder", []string{"-data", data, "restore", id, filepath.Join(dir, "no", "o.graphml")}, 1, "does not exist"},
		{"verify of an unknown snapshot", []string{"-data", data, "verify", "01JD5X0M8V6Q2N4Y7T1R3K9B2C"}, 1, "unknown snapshot"},
		{"list without data", []string{"-data", missingData, "list"}, 1, "no snapshots"},
		{"watch with a bad interval", []string{"-data", data, "watch", file, "-every", "0s"}, 2, "-every must be positive"},
		{"watch of a missing file", []string{"-data", data, "watch", filepath.Join(dir, "none.graphml")}, 1, "does not exist"},
	}
	saved := retryWait
	retryWait = 10 * time.Millisecond
	t.Cleanup(func() { retryWait = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.args...)
			if r.err == nil {
				t.Fatalf("lightrag %q succeeded, want an error containing %q", tt.args, tt.wantErr)
			}
			if !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", r.err, tt.wantErr)
			}
			var stderr bytes.Buffer
			if got := exitCode(r.err, &stderr); got != tt.wantExit {
				t.Errorf("exit code = %d, want %d", got, tt.wantExit)
			}
			if tt.wantExit == 2 && !strings.Contains(stderr.String(), "usage: lightrag") {
				t.Errorf("a usage error printed %q, want the usage", stderr.String())
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing on error", r.stdout)
			}
		})
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "keep me" {
		t.Errorf("existing file after failed restores = %q, %v; want it unchanged", b, err)
	}
	if _, err := os.Stat(missingData); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("list created the data directory it was pointed at: stat err = %v", err)
	}
	// Only the one good snapshot was recorded: failed reads store nothing.
	if n := countSnapshots(t, data); n != 1 {
		t.Errorf("%d snapshots recorded, want 1", n)
	}
	noLeftovers(t, dir)
}

func countSnapshots(t *testing.T, data string) int {
	t.Helper()
	st, err := meta.Open(t.Context(), filepath.Join(data, "graphvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.CountSnapshots(t.Context(), meta.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRestoreDamagedSnapshot checks that a restore reading a damaged object fails
// and leaves OUT as it was, and that verify reports the damage.
func TestRestoreDamagedSnapshot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	file := filepath.Join(dir, lightragName)
	writeGenerated(t, file, 50, 80)
	id := snapshot(t, data, file, "-graph", "damaged")
	out := filepath.Join(dir, "out.graphml")
	if err := os.WriteFile(out, []byte("previous content"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Flip one byte in every data segment, keeping sizes, so that only reading finds it.
	segs, err := filepath.Glob(filepath.Join(data, "bucket", "data", "*", "*"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("found no data segments in the bucket (%v)", err)
	}
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(s, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runCmd(t, "-data", data, "restore", "-force", id, out)
	if r.err == nil || !strings.Contains(r.err.Error(), "damaged") {
		t.Errorf("restore of a damaged snapshot: err = %v, want one saying it is damaged", r.err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "previous content" {
		t.Errorf("OUT after a failed restore = %q, %v; want it unchanged", b, err)
	}
	noLeftovers(t, dir)
	v := runCmd(t, "-data", data, "verify", id)
	if v.err == nil {
		t.Errorf("verify of a damaged snapshot succeeded; stdout %q", v.stdout)
	}
	if !strings.Contains(v.stdout, "problem(s)") {
		t.Errorf("verify stdout = %q, want the problems listed", v.stdout)
	}
}

// TestSnapshotWhileFileIsRewritten reads a file LightRAG is rewriting in place: the
// first read sees a truncated document, the retry sees the whole one.
func TestSnapshotWhileFileIsRewritten(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	full := filepath.Join(dir, "full.graphml")
	writeGenerated(t, full, 100, 200)
	whole, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, lightragName)
	if err := os.WriteFile(file, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	saved := retryWait
	retryWait = 400 * time.Millisecond
	t.Cleanup(func() { retryWait = saved })
	done := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		done <- os.WriteFile(file, whole, 0o644) // in place, as LightRAG does
	}()
	r := runCmd(t, "-data", data, "snapshot", "-graph", "rewritten", file)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.err != nil {
		t.Fatalf("snapshot of a file finished during the read: %v\nstderr:\n%s", r.err, r.stderr)
	}
	out := filepath.Join(dir, "out.graphml")
	mustRun(t, "-data", data, "restore", strings.TrimSpace(r.stdout), out)
	check := newGraphChecker(t)
	check.same(full, out)
	check.networkx()

	// A file that stays truncated fails after the one retry, and records nothing.
	if err := os.WriteFile(file, whole[:len(whole)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	retryWait = 10 * time.Millisecond
	r = runCmd(t, "-data", data, "snapshot", "-graph", "rewritten", file)
	if r.err == nil || !errors.Is(r.err, graphml.ErrSyntax) {
		t.Errorf("snapshot of a truncated file: err = %v, want a GraphML syntax error", r.err)
	}
	if n := countSnapshots(t, data); n != 1 {
		t.Errorf("%d snapshots recorded, want 1", n)
	}
	noLeftovers(t, data)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool, stderr *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stderr so far:\n%s", what, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lines(s string) []string { return strings.Fields(s) }

// startWatch runs the watch command in the background; stop cancels it and returns
// its error.
func startWatch(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, stdout, stderr) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("watch did not stop within 20s of its context ending")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stdout, stderr, stop
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	rag := filepath.Join(dir, "rag")
	if err := os.Mkdir(rag, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(rag, lightragName)
	writeGenerated(t, file, 150, 300)
	versions := []string{filepath.Join(dir, "v0.graphml")}
	copyFile(t, file, versions[0])

	// Flags after the file, as in "watch FILE -every 1m".
	stdout, stderr, stop := startWatch(t, "-data", data, "watch", file, "-every", "50ms")
	waitFor(t, "the first snapshot", func() bool { return len(lines(stdout.String())) == 1 }, stderr)

	for round := 1; round <= 2; round++ {
		mutate(t, file, round)
		v := filepath.Join(dir, fmt.Sprintf("v%d.graphml", round))
		copyFile(t, file, v)
		versions = append(versions, v)
		waitFor(t, fmt.Sprintf("snapshot %d", round+1), func() bool { return len(lines(stdout.String())) == round+1 }, stderr)
	}

	// A rewrite with the same content moves the modification time but takes no snapshot.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unchanged content to be noticed", func() bool { return strings.Contains(stderr.String(), "its content did not") }, stderr)

	if err := stop(); err != nil {
		t.Fatalf("watch returned %v after its context ended, want nil", err)
	}
	ids := lines(stdout.String())
	check := newGraphChecker(t)
	if len(ids) != 3 {
		t.Fatalf("watch printed %d ids, want 3 (the first, then one per change): %q", len(ids), ids)
	}
	for i, id := range ids {
		if !idLine.MatchString(id + "\n") {
			t.Errorf("watch stdout line %d = %q, want a snapshot id", i+1, id)
		}
		out := filepath.Join(dir, fmt.Sprintf("restored-%d.graphml", i))
		mustRun(t, "-data", data, "restore", id, out)
		check.same(versions[i], out)
	}
	check.networkx()
	list := mustRun(t, "-data", data, "list", "-graph", "rag").stdout
	rows := strings.Split(strings.TrimSpace(list), "\n")[1:]
	wantRows := []string{ids[2] + " rag incremental", ids[1] + " rag incremental", ids[0] + " rag full"}
	if len(rows) != len(wantRows) {
		t.Fatalf("list shows %d snapshots, want %d:\n%s", len(rows), len(wantRows), list)
	}
	for i, want := range wantRows {
		if got := strings.Join(strings.Fields(rows[i])[:3], " "); got != want {
			t.Errorf("list row %d starts %q, want %q", i+1, got, want)
		}
	}

	// A watch started again on the unchanged file does not repeat the last snapshot.
	stdout, stderr, stop = startWatch(t, "-data", data, "watch", "-every", "20ms", file)
	waitFor(t, "the watch to start", func() bool { return strings.Contains(stderr.String(), "watching") }, stderr)
	time.Sleep(200 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "" {
		t.Errorf("a restarted watch of an unchanged file printed %q, want no snapshot", got)
	}
	if n := countSnapshots(t, data); n != 3 {
		t.Errorf("%d snapshots recorded, want 3", n)
	}
	noLeftovers(t, data)
}

func TestSanitizeGraphID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rag_storage", "rag_storage"},
		{"rag storage", "rag_storage"},
		{"dickens-2024.v1", "dickens-2024.v1"},
		{".hidden", "hidden"},
		{"Æble grød", "ble_gr_d"},
		{"/", "lightrag"},
		{"...", "lightrag"},
		{strings.Repeat("x", 200), strings.Repeat("x", 128)},
	}
	for _, tt := range tests {
		got := sanitizeGraphID(tt.in)
		if got != tt.want {
			t.Errorf("sanitizeGraphID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args      []string
		wantPos   []string
		wantEvery time.Duration
		wantData  string
	}{
		{[]string{"f.graphml"}, []string{"f.graphml"}, time.Minute, "d"},
		{[]string{"f.graphml", "-every", "5s"}, []string{"f.graphml"}, 5 * time.Second, "d"},
		{[]string{"-every=5s", "f.graphml", "-data", "e"}, []string{"f.graphml"}, 5 * time.Second, "e"},
		{[]string{"--", "-every"}, []string{"-every"}, time.Minute, "d"},
		{[]string{"f", "--", "-data"}, []string{"f", "-data"}, time.Minute, "d"},
	}
	for _, tt := range tests {
		c := &cli{g: globals{data: "d"}, stderr: io.Discard}
		fs := newFlagSet("watch", io.Discard)
		every := fs.Duration("every", time.Minute, "")
		pos, err := c.parseArgs(fs, tt.args, make([]string, len(tt.wantPos))...)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tt.args, err)
			continue
		}
		if strings.Join(pos, "|") != strings.Join(tt.wantPos, "|") || *every != tt.wantEvery || c.g.data != tt.wantData {
			t.Errorf("parseArgs(%q) = %q, -every %v, -data %q; want %q, %v, %q", tt.args, pos, *every, c.g.data, tt.wantPos, tt.wantEvery, tt.wantData)
		}
	}
}

// TestSnapshotUnchanged takes no new snapshot of a file whose stamp (size,
// modification and change times, inode) is the one the latest snapshot recorded,
// and says which snapshot holds it; a rewrite that keeps the size and puts the
// modification time back is still seen, by its change time.
func TestSnapshotUnchanged(t *testing.T) {
	trustStampsAtOnce(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "vault")
	file := filepath.Join(dir, lightragName)
	writeGenerated(t, file, 50, 100)
	id1 := snapshot(t, data, file, "-graph", "g")

	r := mustRun(t, "-data", data, "snapshot", "-graph", "g", file)
	if got := strings.TrimSpace(r.stdout); got != id1 || !strings.Contains(r.stderr, "unchanged since snapshot "+id1+" (same size, times and inode)") {
		t.Errorf("snapshot of an unchanged file printed %q (stderr %q), want %s and a note that it is unchanged", got, r.stderr, id1)
	}
	r = mustRun(t, "-data", data, "snapshot", "-graph", "g", "-check", file)
	if got := strings.TrimSpace(r.stdout); got != id1 {
		t.Errorf("snapshot -check of an unchanged file printed %q, want %s", got, id1)
	}
	if n := countSnapshots(t, data); n != 1 {
		t.Fatalf("%d snapshots recorded, want 1", n)
	}

	// The same size and modification time, another content.
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("<data key="))
	i = bytes.IndexByte(b[i:], '>') + i + 1
	b[i] ^= 0x20 // a letter changes case
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	id2 := snapshot(t, data, file, "-graph", "g")
	if id2 == id1 {
		t.Fatalf("a changed file was taken as unchanged")
	}

	// Touched only: read, and found unchanged by its content.
	later := time.Now().Add(-time.Hour)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, "-data", data, "snapshot", "-graph", "g", file)
	if got := strings.TrimSpace(r.stdout); got != id2 || !strings.Contains(r.stderr, "content unchanged since snapshot "+id2) {
		t.Errorf("snapshot of a touched file printed %q (stderr %q), want %s and a note that its content is unchanged", got, r.stderr, id2)
	}
	if n := countSnapshots(t, data); n != 2 {
		t.Errorf("%d snapshots recorded, want 2", n)
	}
}

// trustStampsAtOnce lets a test trust a stamp read right after the file's last
// change (racyWindow 0) until it ends.
func trustStampsAtOnce(t *testing.T) {
	saved := racyWindow
	racyWindow = 0
	t.Cleanup(func() { racyWindow = saved })
}
