package graphvault_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

// The lifecycle test drives the composed system through random sequences of
// changes, snapshots, checkpoints, prunes, restores, replications, failovers,
// restarts and kills (the system runs in a child process, killed with SIGKILL at a
// random moment of a snapshot), over HTTP as a client would, and after every step
// compares it with a model: the served graph is the model's state, every
// checkpoint validates, no snapshot stays running, and every completed snapshot
// verifies fully.
//
// go test runs a few fixed seeds; GRAPHVAULT_LIFECYCLE_SEQUENCES=N runs N more
// from random seeds. A failure names its seed; GRAPHVAULT_LIFECYCLE_SEED=S replays
// it.
func TestLifecycle(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	if s := os.Getenv("GRAPHVAULT_LIFECYCLE_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{seed}
	} else if n, _ := strconv.Atoi(os.Getenv("GRAPHVAULT_LIFECYCLE_SEQUENCES")); n > 0 {
		for range n {
			seeds = append(seeds, rand.Uint64())
		}
	}
	steps := 40
	if testing.Short() {
		steps = 15
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			lc := newLifecycle(t, seed)
			defer lc.close()
			for i := range steps {
				op := lc.step()
				t.Logf("step %d: %s", i, op)
				if err := lc.check(); err != nil {
					t.Fatalf("seed %d, step %d (%s): %v\nreplay: GRAPHVAULT_LIFECYCLE_SEED=%d go test -run 'TestLifecycle' .", seed, i, op, err, seed)
				}
			}
		})
	}
}

const lcGraph = "g"

type lifecycle struct {
	t    *testing.T
	rng  *rand.Rand
	dir  string
	v    *graphvault.Vault
	srv  *httptest.Server
	ctx  context.Context
	seed uint64

	model       map[string]graph.Node    // the graph as it should be served
	edges       map[[2]string]graph.Edge // undirected key: sorted ends
	snaps       map[string]lcState       // completed snapshots and their content
	newest      string                   // the newest committed snapshot
	checkpoints []string
	target      string // the id of a folder replication target
}

type lcState struct {
	nodes map[string]graph.Node
	edges map[[2]string]graph.Edge
}

func newLifecycle(t *testing.T, seed uint64) *lifecycle {
	lc := &lifecycle{
		t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), dir: t.TempDir(), ctx: t.Context(), seed: seed,
		model: map[string]graph.Node{}, edges: map[[2]string]graph.Edge{}, snaps: map[string]lcState{},
	}
	lc.open([]string{lcGraph})
	// The first snapshot makes the store know the graph, so that a restart
	// serves it again.
	lc.change()
	lc.snapshot()
	var tg struct{ ID string }
	json.Unmarshal(lc.call("POST", "/api/backup/replication/targets", map[string]any{ //nolint:errcheck
		"name": "folder", "kind": "file", "path": filepath.Join(lc.dir, "targets", "folder")}, http.StatusCreated), &tg)
	lc.target = tg.ID
	return lc
}

func (lc *lifecycle) open(memory []string) {
	lc.t.Helper()
	v, err := graphvault.Open(lc.ctx, graphvault.Config{
		Data: lc.dir, MemoryGraphs: memory, TempMaxAge: lcTempMaxAge, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		lc.t.Fatalf("seed %d: open: %v", lc.seed, err)
	}
	lc.v = v
	lc.srv = httptest.NewServer(v.Handler())
}

func (lc *lifecycle) close() {
	lc.srv.Close()
	if err := lc.v.Close(context.Background()); err != nil {
		lc.t.Errorf("close: %v", err)
	}
}

// step takes one random step and names it.
func (lc *lifecycle) step() string {
	switch n := lc.rng.IntN(100); {
	case n < 35:
		lc.change()
		return "change"
	case n < 60:
		lc.snapshot()
		return "snapshot"
	case n < 68:
		lc.checkpoint()
		return "checkpoint"
	case n < 76:
		lc.prune()
		return "prune"
	case n < 84:
		lc.restore()
		return "restore"
	case n < 88:
		lc.replicate()
		return "replicate"
	case n < 91:
		lc.failover()
		return "failover"
	case n < 95:
		return lc.kill()
	case n < 97:
		lc.gc()
		return "gc"
	default:
		lc.restart()
		return "restart"
	}
}

func (lc *lifecycle) call(method, path string, body any, want int) []byte {
	lc.t.Helper()
	return lc.callAt(lc.srv.URL, method, path, body, want)
}

func (lc *lifecycle) callAt(base, method, path string, body any, want int) []byte {
	lc.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(lc.ctx, method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		lc.t.Fatalf("seed %d: %s %s: %v", lc.seed, method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		lc.t.Fatalf("seed %d: %s %s = %d, want %d: %s", lc.seed, method, path, resp.StatusCode, want, out)
	}
	return out
}

func edgeKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// change applies a random batch through POST .../changes, and to the model.
func (lc *lifecycle) change() {
	lc.call("POST", "/api/backup/backup/graphs/"+lcGraph+"/changes", lc.batch(), http.StatusOK)
}

// batch makes a random batch of changes and applies it to the model.
func (lc *lifecycle) batch() graphvault.Changes {
	var c graphvault.Changes
	if len(lc.model) > 3 && lc.rng.IntN(3) == 0 {
		ids := slices.Sorted(mapsKeys(lc.model))
		id := ids[lc.rng.IntN(len(ids))]
		c.DeleteNodes = []string{id}
		delete(lc.model, id)
		for k := range lc.edges {
			if k[0] == id || k[1] == id {
				delete(lc.edges, k)
			}
		}
	}
	for range 1 + lc.rng.IntN(3) {
		n := graph.Node{ID: fmt.Sprintf("n%d", lc.rng.IntN(30)), Labels: []string{"entity"},
			Props: map[string]any{"v": int64(lc.rng.IntN(1000))}}
		c.UpsertNodes = append(c.UpsertNodes, n)
		lc.model[n.ID] = n
	}
	if ids := slices.Sorted(mapsKeys(lc.model)); len(ids) > 1 {
		a, b := ids[lc.rng.IntN(len(ids))], ids[lc.rng.IntN(len(ids))]
		if a != b {
			k := edgeKey(a, b)
			e := graph.Edge{Source: k[0], Target: k[1], Type: "rel", Props: map[string]any{"w": int64(lc.rng.IntN(9))}}
			c.UpsertEdges = []graph.Edge{e}
			lc.edges[k] = e
		}
	}
	return c
}

func (lc *lifecycle) state() lcState {
	s := lcState{nodes: map[string]graph.Node{}, edges: map[[2]string]graph.Edge{}}
	for k, v := range lc.model {
		s.nodes[k] = v
	}
	for k, v := range lc.edges {
		s.edges[k] = v
	}
	return s
}

func (lc *lifecycle) setState(s lcState) {
	lc.model, lc.edges = map[string]graph.Node{}, map[[2]string]graph.Edge{}
	for k, v := range s.nodes {
		lc.model[k] = v
	}
	for k, v := range s.edges {
		lc.edges[k] = v
	}
}

func (lc *lifecycle) snapshot() {
	var row meta.Snapshot
	json.Unmarshal(lc.call("POST", "/api/backup/backup/graphs/"+lcGraph+"/snapshots?wait=true", nil, http.StatusCreated), &row) //nolint:errcheck
	if row.ID == "" || row.Status != meta.SnapshotCompleted {
		lc.t.Fatalf("seed %d: snapshot answered %+v", lc.seed, row)
	}
	lc.snaps[row.ID] = lc.state()
	lc.newest = row.ID
}

func (lc *lifecycle) checkpoint() {
	var cp meta.Checkpoint
	json.Unmarshal(lc.call("POST", "/api/backup/recovery/checkpoints", map[string]any{"graph_ids": []string{lcGraph}}, http.StatusCreated), &cp) //nolint:errcheck
	if cp.ID == "" {
		lc.t.Fatalf("seed %d: checkpoint without id", lc.seed)
	}
	lc.checkpoints = append(lc.checkpoints, cp.ID)
	// A checkpoint takes a snapshot of each graph at that moment.
	if sid := cp.Graphs[0].SnapshotID; sid != "" {
		if _, ok := lc.snaps[sid]; !ok {
			lc.snaps[sid] = lc.state()
			lc.newest = sid
		}
	}
}

func (lc *lifecycle) prune() {
	var res backup.PruneResult
	json.Unmarshal(lc.call("POST", "/api/backup/backup/graphs/"+lcGraph+"/prune", map[string]any{"keep_last": 1}, http.StatusOK), &res) //nolint:errcheck
	for _, id := range res.Removed {
		delete(lc.snaps, id)
	}
}

// restore puts a random earlier snapshot back: whole, or one node and its
// neighbours merged into the graph, or replacing it.
func (lc *lifecycle) restore() {
	ids := slices.Sorted(mapsKeys(lc.snaps))
	id := ids[lc.rng.IntN(len(ids))]
	snap := lc.snaps[id]
	mode := lc.rng.IntN(3)
	if mode == 0 || len(snap.nodes) == 0 {
		lc.call("POST", "/api/backup/backup/snapshots/"+id+"/restore?wait=true", map[string]any{}, http.StatusOK)
		lc.setState(snap)
		return
	}
	nodes := slices.Sorted(mapsKeys(snap.nodes))
	start := nodes[lc.rng.IntN(len(nodes))]
	replace := mode == 2
	lc.call("POST", "/api/backup/backup/snapshots/"+id+"/restore?wait=true",
		map[string]any{"node_ids": []string{start}, "hops": 1, "replace": replace}, http.StatusOK)
	sel := map[string]bool{start: true}
	for k := range snap.edges {
		if k[0] == start || k[1] == start {
			sel[k[0]], sel[k[1]] = true, true
		}
	}
	if replace {
		lc.setState(lcState{})
	}
	for n := range sel {
		lc.model[n] = snap.nodes[n]
	}
	for k, e := range snap.edges {
		if sel[k[0]] && sel[k[1]] {
			lc.edges[k] = e
		}
	}
}

// lcTempMaxAge is how old a temporary object in the bucket may get before GC
// removes it; short here, so that those a kill left are old by the next GC.
const lcTempMaxAge = 20 * time.Millisecond

// gc collects the bucket's garbage, then checks that no temporary object older
// than the threshold is left (check verifies every snapshot).
func (lc *lifecycle) gc() {
	// A partial write such as a kill leaves, planted so that every GC step has one.
	stale := filepath.Join(lc.dir, "bucket", "data", fmt.Sprintf("%slifecycle%d", fileblob.TempPrefix, lc.rng.IntN(1e9)))
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		lc.t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("half an object"), 0o644); err != nil {
		lc.t.Fatal(err)
	}
	time.Sleep(lcTempMaxAge)
	lc.call("POST", "/api/backup/backup/gc?wait=true", map[string]any{"grace": "0s"}, http.StatusOK)
	cutoff := time.Now().Add(-lcTempMaxAge)
	filepath.WalkDir(filepath.Join(lc.dir, "bucket"), func(path string, d os.DirEntry, err error) error { //nolint:errcheck
		if err != nil || !strings.HasPrefix(d.Name(), fileblob.TempPrefix) {
			return err
		}
		if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
			lc.t.Fatalf("seed %d: a temporary object older than %s survived a GC: %s", lc.seed, lcTempMaxAge, path)
		}
		return nil
	})
}

// replicate copies the newest snapshot to the folder target.
func (lc *lifecycle) replicate() {
	var res struct {
		Items []replication.Result
	}
	json.Unmarshal(lc.call("POST", "/api/backup/replication/replicate?wait=true", //nolint:errcheck
		map[string]any{"snapshot_id": lc.newest, "target_id": lc.target}, http.StatusOK), &res)
	if len(res.Items) != 1 || !res.Items[0].OK {
		lc.t.Fatalf("seed %d: replicate %s: %+v", lc.seed, lc.newest, res)
	}
}

// failover restores the graph from the freshest source, the bucket or the
// target: the state last committed, since no journal is shipped here.
func (lc *lifecycle) failover() {
	var res replication.FailoverResult
	json.Unmarshal(lc.call("POST", "/api/backup/replication/failover?wait=true", //nolint:errcheck
		map[string]any{"graph_id": lcGraph}, http.StatusOK), &res)
	if res.SnapshotID != lc.newest {
		lc.t.Fatalf("seed %d: failover restored snapshot %s, want the one committed last, %s: %+v", lc.seed, res.SnapshotID, lc.newest, res)
	}
	lc.setState(lc.snaps[lc.newest])
}

// kill stops the system, runs it in a child process that takes a change and
// starts a snapshot, kills the child with SIGKILL at a random moment, and opens
// the system again. The graph comes back from the newest committed snapshot:
// the child's, if it committed before the kill.
func (lc *lifecycle) kill() string {
	lc.close()
	lc.setState(lc.snaps[lc.newest])
	cmd := exec.CommandContext(lc.ctx, os.Args[0], "-test.run=^TestLifecycleChild$", "-test.v")
	cmd.Env = append(os.Environ(), "GRAPHVAULT_LIFECYCLE_CHILD="+lc.dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		lc.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		lc.t.Fatal(err)
	}
	base := ""
	rd := bufio.NewReader(out)
	for base == "" {
		line, err := rd.ReadString('\n')
		if err != nil {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
			lc.t.Fatalf("seed %d: the child did not start: %v", lc.seed, err)
		}
		base, _ = strings.CutPrefix(strings.TrimSpace(line), "lifecycle child at ")
		if base == strings.TrimSpace(line) {
			base = ""
		}
	}
	go io.Copy(io.Discard, rd) //nolint:errcheck
	before := lc.state()
	lc.callAt(base, "POST", "/api/backup/backup/graphs/"+lcGraph+"/changes", lc.batch(), http.StatusOK)
	after := lc.state()
	lc.callAt(base, "POST", "/api/backup/backup/graphs/"+lcGraph+"/snapshots", nil, http.StatusAccepted)
	delay := time.Duration(lc.rng.IntN(40)) * time.Millisecond
	time.Sleep(delay)
	cmd.Process.Kill() //nolint:errcheck
	cmd.Wait()         //nolint:errcheck

	lc.open(nil)
	rows, _, err := lc.v.Store().ListSnapshots(lc.ctx, meta.SnapshotFilter{GraphID: lcGraph, Status: meta.SnapshotCompleted, Limit: 1000})
	if err != nil {
		lc.t.Fatal(err)
	}
	for _, row := range rows {
		if _, known := lc.snaps[row.ID]; !known {
			lc.snaps[row.ID] = after
			lc.newest = row.ID
			lc.setState(after)
			return fmt.Sprintf("kill after %s (the snapshot committed)", delay)
		}
	}
	lc.setState(before)
	return fmt.Sprintf("kill after %s (the snapshot did not commit)", delay)
}

// TestLifecycleChild is the system as the kill step runs it: in a process of its
// own, serving the lifecycle's data folder until it is killed.
func TestLifecycleChild(t *testing.T) {
	dir := os.Getenv("GRAPHVAULT_LIFECYCLE_CHILD")
	if dir == "" {
		t.Skip("run by TestLifecycle's kill step")
	}
	v, err := graphvault.Open(t.Context(), graphvault.Config{Data: dir, MemoryGraphs: []string{lcGraph}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.Handler())
	fmt.Printf("lifecycle child at %s\n", srv.URL)
	<-t.Context().Done()
}

// restart closes the system and opens it again on the same data folder; the graph
// comes back from its newest committed snapshot.
func (lc *lifecycle) restart() {
	lc.close()
	lc.open(nil)
	lc.setState(lc.snaps[lc.newest])
}

func (lc *lifecycle) check() error {
	ctx := lc.ctx
	g, err := lc.v.Graphs().Graph(ctx, lcGraph)
	if err != nil {
		return fmt.Errorf("graph not served: %w", err)
	}
	got, err := graphtest.Read(ctx, g)
	if err != nil {
		return err
	}
	want := graphtest.Content{Meta: got.Meta}
	for _, id := range slices.Sorted(mapsKeys(lc.model)) {
		want.Nodes = append(want.Nodes, lc.model[id])
	}
	for _, k := range slices.SortedFunc(mapsKeys(lc.edges), func(a, b [2]string) int {
		return cmpPair(a, b)
	}) {
		want.Edges = append(want.Edges, lc.edges[k])
	}
	if d := graphtest.DiffContent(want, got); d != "" {
		return fmt.Errorf("served graph differs from the model: %s", d)
	}
	for _, id := range lc.checkpoints {
		val, err := lc.v.Recovery().Validate(ctx, id)
		if err != nil || !val.OK {
			return fmt.Errorf("checkpoint %s does not validate: %v %+v", id, err, val)
		}
	}
	st := lc.v.Store()
	for _, status := range []string{meta.SnapshotRunning, meta.SnapshotPending} {
		if n, err := st.CountSnapshots(ctx, meta.SnapshotFilter{Status: status}); err != nil || n > 0 {
			return fmt.Errorf("%d snapshots %s (%v)", n, status, err)
		}
	}
	rows, _, err := st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: lcGraph, Status: meta.SnapshotCompleted, Limit: 1000})
	if err != nil {
		return err
	}
	for _, row := range rows {
		if _, err := lc.v.Engine().Verify(ctx, row.ID, true); err != nil {
			return fmt.Errorf("snapshot %s does not verify: %w", row.ID, err)
		}
	}
	return nil
}

func cmpPair(a, b [2]string) int {
	if a[0] != b[0] {
		if a[0] < b[0] {
			return -1
		}
		return 1
	}
	switch {
	case a[1] < b[1]:
		return -1
	case a[1] > b[1]:
		return 1
	}
	return 0
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
