package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

var (
	long     = flag.Bool("long", false, "run the long seed set (also GRAPHVAULT_LONG=1)")
	seedFlag = flag.Uint64("seed", 0, "run only this seed")
)

// Environment of the child process.
const (
	envHelper = "GRAPHVAULT_CRASHTEST_HELPER" // set: run the workload instead of the tests
	envDir    = "GRAPHVAULT_CRASHTEST_DIR"
	envSeed   = "GRAPHVAULT_CRASHTEST_SEED"
	envRounds = "GRAPHVAULT_CRASHTEST_ROUNDS" // 0 or unset: until killed
)

const graphID = "crash"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// workload is what the child and the checker share: where the data lives and how
// the engine is configured for a seed.
type workload struct {
	dir  string
	seed uint64
}

func (w workload) directed() bool  { return w.seed%2 == 1 }
func (w workload) encrypted() bool { return w.seed%3 != 0 }

func masterKey(seed uint64) []byte {
	k := bytes.Repeat([]byte{0x5a}, 32)
	k[0] = byte(seed)
	return k
}

// open opens the store and bucket of the workload and an engine on them.
func (w workload) open(ctx context.Context) (*backup.Engine, *fileblob.Driver, func(), error) {
	st, err := meta.Open(ctx, filepath.Join(w.dir, "meta.db"))
	if err != nil {
		return nil, nil, nil, err
	}
	drv, err := fileblob.Open(filepath.Join(w.dir, "bucket"))
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	b := blob.NewBucket(drv)
	opts := []backup.Option{
		// Small segments: many objects per snapshot, so many points to be killed at.
		backup.WithSegmentSize(1<<10, 8<<10, 8),
		backup.WithChainPolicy(backup.ChainPolicy{MaxLayers: 3, MaxDeltaRatio: 10}),
		backup.WithConcurrency(2),
		backup.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if w.encrypted() {
		opts = append(opts, backup.WithEncryptionKey(masterKey(w.seed)))
	}
	e, err := backup.New(st, b, opts...)
	if err != nil {
		b.Close()
		st.Close()
		return nil, nil, nil, err
	}
	return e, drv, func() { b.Close(); st.Close() }, nil
}

// expected returns the graph the workload snapshots in a round: a generated base
// graph changed by edits that depend only on (seed, round). The edits of one round
// do not build on the previous one, so any round's graph is rebuilt in one step;
// between two rounds nodes and edges are still added, changed and removed.
func expected(ctx context.Context, seed uint64, round int, directed bool) (*memgraph.Graph, error) {
	var opts []memgraph.Option
	if directed {
		opts = append(opts, memgraph.Directed())
	}
	g := memgraph.New(opts...)
	gen := graphtest.Generate(graphtest.GenerateOptions{
		Nodes: 250, Edges: 700, Directed: directed, Seed: seed, Labels: true, DescriptionBytes: 120,
	})
	if err := gen.Replace(ctx, g); err != nil {
		return nil, err
	}
	if round == 0 {
		return g, nil
	}
	c, err := graphtest.Read(ctx, g)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, uint64(round)))
	var ops []graph.Op
	for i, n := range c.Nodes {
		if r.IntN(12) == 0 {
			n.Props = map[string]any{"description": fmt.Sprintf("edited in round %d", round), "rank": int64(i)}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: n})
		}
	}
	for _, e := range c.Edges {
		switch r.IntN(20) {
		case 0:
			ops = append(ops, graph.Op{Kind: graph.OpDeleteEdge, Edge: e})
		case 1:
			e.Props = map[string]any{"weight": float64(round), "keywords": []any{"k", int64(round)}}
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
		}
	}
	for i := range 3 + round%4 {
		id := fmt.Sprintf("round %d node %d", round, i)
		ops = append(ops,
			graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"fresh"}, Props: map[string]any{"round": int64(round)}}},
			graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: id, Target: c.Nodes[r.IntN(len(c.Nodes))].ID, Type: "links"}})
	}
	for range round % 3 {
		ops = append(ops, graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: c.Nodes[r.IntN(len(c.Nodes))].ID}})
	}
	if err := g.Apply(ctx, ops); err != nil {
		return nil, err
	}
	return g, nil
}

// helperMain is the child process: it takes snapshots of successive rounds, each
// restored, verified and replicated to a file target, with a GC every third round
// and a checkpoint (a full snapshot and its record) every second round, until it is
// killed or has run its rounds. Before each snapshot it appends the round to the rounds file, so
// the graph of any snapshot can be rebuilt from (seed, round); the round is also in
// the snapshot's labels. It prints each phase it enters on stdout.
func helperMain() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crashtest helper: "+format+"\n", args...)
		return 2
	}
	seed, err := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
	if err != nil {
		return fail("seed: %v", err)
	}
	rounds, _ := strconv.Atoi(os.Getenv(envRounds))
	w := workload{dir: os.Getenv(envDir), seed: seed}
	ctx := context.Background()
	phase := func(p string, round int) { fmt.Printf("%s %d\n", p, round) }

	phase("open", -1)
	e, _, closeAll, err := w.open(ctx)
	if err != nil {
		return fail("open: %v", err)
	}
	defer closeAll()
	// What a process does at start-up: settle the rows a killed one left.
	if _, err := e.ResolveInterrupted(ctx, 0); err != nil {
		return fail("resolve interrupted: %v", err)
	}
	sv, err := openServices(ctx, w, e, true)
	if err != nil {
		return fail("open replication and recovery: %v", err)
	}
	defer sv.close()
	next, err := lastRound(w.dir)
	if err != nil {
		return fail("rounds file: %v", err)
	}
	for i := 0; rounds <= 0 || i < rounds; i++ {
		round := next + 1 + i
		if err := appendLine(roundsFile(w.dir), round); err != nil {
			return fail("rounds file: %v", err)
		}
		phase("generate", round)
		g, err := expected(ctx, seed, round, w.directed())
		if err != nil {
			return fail("generate round %d: %v", round, err)
		}
		kind := backup.KindAuto
		if round%5 == 0 {
			kind = backup.KindFull
		}
		phase("snapshot", round)
		row, err := e.Snapshot(ctx, graphID, g, backup.SnapshotOptions{
			Kind: kind, Labels: map[string]string{"round": strconv.Itoa(round), "seed": strconv.FormatUint(seed, 10)},
		})
		if err != nil {
			return fail("snapshot round %d: %v", round, err)
		}
		phase("restore", round)
		out := memgraph.New()
		if w.directed() {
			out = memgraph.New(memgraph.Directed())
		}
		if _, err := e.Restore(ctx, row.ID, out, backup.RestoreOptions{}); err != nil {
			return fail("restore round %d: %v", round, err)
		}
		if d, err := graphtest.Diff(ctx, g, out); err != nil || d != "" {
			return fail("restore round %d differs: %s %v", round, d, err)
		}
		phase("verify", round)
		if rep, err := e.Verify(ctx, row.ID, true); err != nil || !rep.OK {
			return fail("verify round %d: %v %+v", round, err, rep)
		}
		if round%3 == 0 {
			phase("gc", round)
			if _, err := e.GC(ctx, backup.GCOptions{Grace: -1}); err != nil {
				return fail("gc: %v", err)
			}
		}
		phase("replicate", round)
		if _, err := sv.replicate(ctx, row.ID); err != nil {
			return fail("replicate round %d: %v", round, err)
		}
		if round%2 == 0 {
			phase("checkpoint", round)
			if err := sv.checkpoint(ctx, w, round, g); err != nil {
				return fail("checkpoint round %d: %v", round, err)
			}
		}
	}
	phase("done", -1)
	return 0
}

func roundsFile(dir string) string { return filepath.Join(dir, "rounds") }

// lastRound returns the last round started, or -1.
func lastRound(dir string) (int, error) {
	rounds, err := readLines(roundsFile(dir))
	if err != nil || len(rounds) == 0 {
		return -1, err
	}
	return rounds[len(rounds)-1], nil
}

// splitLines yields the complete lines of s, trimmed; a last line without its
// newline was cut short by a kill and is left out.
func splitLines(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for line := range strings.Lines(s) {
			if !strings.HasSuffix(line, "\n") {
				return
			}
			if !yield(strings.TrimSpace(line)) {
				return
			}
		}
	}
}

// appendLine records n durably at the end of the file.
func appendLine(path string, n int) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%d\n", n); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// stats are the figures a crash run reports.
type stats struct {
	kills       int
	byPhase     map[string]int
	resolved    int // rows ResolveInterrupted settled
	completed   int // distinct completed snapshots verified and restored equal
	failedRows  int
	leftovers   int // unreferenced objects GC collected after kills
	tempFiles   int // temporary files of interrupted writes removed
	retryRounds int

	targetVerified        int // copies at the target verified in full
	targetTemp            int // temporary files removed at the target
	replRetried           int // completed snapshots replicated by the checker
	replResumed           int // of those, copies a kill had cut short
	checkpoints           int // checkpoints checked and validated
	orphanCheckpointSnaps int // checkpoint snapshots a kill left without their checkpoint
}

func (s *stats) add(o stats) {
	s.kills += o.kills
	for p, n := range o.byPhase {
		s.byPhase[p] += n
	}
	s.resolved += o.resolved
	s.completed += o.completed
	s.failedRows += o.failedRows
	s.leftovers += o.leftovers
	s.tempFiles += o.tempFiles
	s.retryRounds += o.retryRounds
	s.targetVerified += o.targetVerified
	s.targetTemp += o.targetTemp
	s.replRetried += o.replRetried
	s.replResumed += o.replResumed
	s.checkpoints += o.checkpoints
	s.orphanCheckpointSnaps += o.orphanCheckpointSnaps
}

func (s stats) String() string {
	return fmt.Sprintf("kills %d (by phase %v), rows resolved %d, completed snapshots verified and restored equal %d, failed rows %d, "+
		"leftover objects collected %d, temporary files removed %d, retry rounds %d; "+
		"target copies verified %d, target temporary files removed %d, replications retried %d (resumed after a cut %d); "+
		"checkpoints validated %d, checkpoint snapshots left without their checkpoint %d",
		s.kills, s.byPhase, s.resolved, s.completed, s.failedRows, s.leftovers, s.tempFiles, s.retryRounds,
		s.targetVerified, s.targetTemp, s.replRetried, s.replResumed, s.checkpoints, s.orphanCheckpointSnaps)
}

// kill is one planned kill of the child: delay after it starts, or, with phase
// set, delay after it enters that phase.
type kill struct {
	phase string
	delay time.Duration
}

// phaseSpan is about how long a phase aimed at lasts in the workload; a kill aimed
// at it lands at a seeded point within.
var phaseSpan = map[string]int{"replicate": 300, "checkpoint": 300} // ms

// plan returns the kills of a seed: random ones spread over the whole workload
// (start-up, snapshots, restores, verifications, GC, replication, checkpoints) and
// aimed ones inside replication and checkpoint creation, in a seeded order.
func plan(seed uint64, random, aimed int) []kill {
	sched := rand.New(rand.NewPCG(seed, 0xc0ffee))
	var ks []kill
	for range random {
		ks = append(ks, kill{delay: time.Duration(30+sched.IntN(1500)) * time.Millisecond})
	}
	for range aimed {
		for _, ph := range []string{"replicate", "checkpoint"} {
			ks = append(ks, kill{phase: ph, delay: time.Duration(sched.IntN(phaseSpan[ph])) * time.Millisecond})
		}
	}
	sched.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	return ks
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts processes")
	}
	longMode := *long || os.Getenv("GRAPHVAULT_LONG") == "1"
	// Short: 2 seeds × (4 random kills + 1 aimed at replication + 1 at a
	// checkpoint). Long: 6 seeds × (10 random + 4 + 4).
	seeds, random, aimed := []uint64{1, 2}, 4, 1
	if longMode {
		seeds, random, aimed = []uint64{1, 2, 3, 4, 5, 6}, 10, 4
	}
	if *seedFlag != 0 {
		seeds = []uint64{*seedFlag}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	total := stats{byPhase: map[string]int{}}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := crashRun(t, exe, seed, plan(seed, random, aimed))
			t.Logf("seed %d: %v", seed, s)
			total.add(s)
		})
	}
	t.Logf("total: %v", total)
}

// crashRun kills the workload of one seed at the planned points, checking the
// invariants after each kill, then lets it run to the end and checks again.
func crashRun(t *testing.T, exe string, seed uint64, kills []kill) stats {
	ctx := t.Context()
	w := workload{dir: t.TempDir(), seed: seed}
	s := stats{byPhase: map[string]int{}}
	verified := map[string]bool{}
	seen := &phaseSeen{targetVerified: map[string]bool{}, validated: map[string]bool{}}
	for k, kl := range kills {
		ph, err := runAndKill(ctx, exe, w, kl)
		if err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		s.kills++
		s.byPhase[ph]++
		at := kl.delay.String()
		if kl.phase != "" {
			at = kl.phase + " + " + at
		}
		check(t, w, &s, verified, seen, fmt.Sprintf("after kill %d (%s, in %s)", k, at, ph))
	}
	// A retry without a kill runs to the end.
	const retry = 3
	out, err := run(ctx, exe, w, retry)
	if err != nil {
		t.Fatalf("retry after the kills failed: %v\n%s", err, out)
	}
	s.retryRounds = retry
	check(t, w, &s, verified, seen, "after the retry")
	return s
}

func childEnv(w workload, rounds int) []string {
	return append(os.Environ(),
		envHelper+"=1", envDir+"="+w.dir,
		envSeed+"="+strconv.FormatUint(w.seed, 10),
		envRounds+"="+strconv.Itoa(rounds))
}

// aimTimeout bounds the wait for the phase a kill is aimed at.
const aimTimeout = time.Minute

// runAndKill starts the workload, kills it with SIGKILL as planned and returns
// the phase it was in.
func runAndKill(ctx context.Context, exe string, w workload, k kill) (string, error) {
	var stderr bytes.Buffer
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = childEnv(w, 0)
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return "", err
	}
	pw.Close() // the child holds the write end now
	// The phases the child prints, read as they come.
	entered := make(chan string, 1024)
	last := make(chan string, 1)
	go func() {
		defer pr.Close()
		ph := "exec"
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 {
				ph = f[0]
				select {
				case entered <- ph:
				default:
				}
			}
		}
		last <- ph
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	early := func(err error) (string, error) {
		return "", fmt.Errorf("workload exited before the kill: %v\n%s", err, stderr.String())
	}
	if k.phase != "" {
		aim := time.After(aimTimeout)
	wait:
		for {
			select {
			case err := <-exited:
				return early(err)
			case ph := <-entered:
				if ph == k.phase {
					break wait
				}
			case <-aim:
				cmd.Process.Kill()
				<-exited
				return "", fmt.Errorf("the workload did not enter phase %s within %v", k.phase, aimTimeout)
			}
		}
	}
	select {
	case err := <-exited:
		return early(err)
	case <-time.After(k.delay):
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return "", err
	}
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return "", fmt.Errorf("workload ended with %v, not by the kill\n%s", err, stderr.String())
	}
	return <-last, nil
}

// run runs the workload for rounds rounds without a kill.
func run(ctx context.Context, exe string, w workload, rounds int) (string, error) {
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = childEnv(w, rounds)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// check reopens the store and bucket of a killed workload and checks the crash
// safety promises of the backup engine, of replication to the target and of
// checkpoints (see RELIABILITY.md).
func check(t *testing.T, w workload, s *stats, verified map[string]bool, seen *phaseSeen, when string) {
	t.Helper()
	ctx := t.Context()
	e, drv, closeAll, err := w.open(ctx)
	if err != nil {
		t.Fatalf("%s: reopen: %v", when, err)
	}
	defer closeAll()
	n, err := e.ResolveInterrupted(ctx, 0)
	if err != nil {
		t.Fatalf("%s: resolve interrupted: %v", when, err)
	}
	s.resolved += n
	rows := allRows(t, e.Store(), when)
	manifests := map[string]bool{}
	for a, err := range e.Bucket().List(ctx, "manifests/") {
		if err != nil {
			t.Fatalf("%s: list manifests: %v", when, err)
		}
		manifests[a.Key] = true
	}
	completed := map[string]bool{}
	for _, row := range rows {
		key := "manifests/" + row.GraphID + "/" + row.ID + ".json"
		switch row.Status {
		case meta.SnapshotCompleted:
			completed[key] = true
			// No row is completed without a complete manifest.
			if !manifests[key] {
				t.Fatalf("%s: snapshot %s is completed but has no manifest", when, row.ID)
			}
			if rep, err := e.Verify(ctx, row.ID, false); err != nil || !rep.OK {
				t.Fatalf("%s: quick verify of completed snapshot %s: %v %+v", when, row.ID, err, rep)
			}
			if verified[row.ID] {
				continue
			}
			// Every completed snapshot verifies fully and restores equal to its graph.
			if rep, err := e.Verify(ctx, row.ID, true); err != nil || !rep.OK {
				t.Fatalf("%s: full verify of completed snapshot %s: %v %+v", when, row.ID, err, rep)
			}
			restoreEqual(t, e, w, row, when)
			verified[row.ID] = true
			s.completed++
		case meta.SnapshotFailed:
			// Nothing of a failed snapshot is visible.
			if manifests[key] {
				t.Fatalf("%s: failed snapshot %s has a manifest", when, row.ID)
			}
			if _, err := e.Restore(ctx, row.ID, memgraph.New(), backup.RestoreOptions{}); !errors.Is(err, backup.ErrNotFound) {
				t.Fatalf("%s: restore of failed snapshot %s: %v, want ErrNotFound", when, row.ID, err)
			}
		default:
			t.Fatalf("%s: snapshot %s is still %s after ResolveInterrupted", when, row.ID, row.Status)
		}
	}
	for key := range manifests {
		if !completed[key] {
			t.Fatalf("%s: manifest %s has no completed row", when, key)
		}
	}
	s.failedRows = len(rows) - len(completed)

	// Leftovers: temporary files of interrupted writes, and objects no manifest names.
	tmp, err := drv.RemoveTemp(ctx, time.Now().Add(time.Second))
	if err != nil {
		t.Fatalf("%s: remove temporary files: %v", when, err)
	}
	s.tempFiles += tmp
	gc, err := e.GC(ctx, backup.GCOptions{Grace: -1})
	if err != nil {
		t.Fatalf("%s: gc: %v", when, err)
	}
	s.leftovers += gc.Deleted
	if again, err := e.GC(ctx, backup.GCOptions{Grace: -1, DryRun: true}); err != nil || again.Deleted != 0 {
		t.Fatalf("%s: gc left %+v unreferenced objects: %v", when, again, err)
	}
	// Everything still verifies after the collection.
	for _, row := range rows {
		if row.Status != meta.SnapshotCompleted {
			continue
		}
		if rep, err := e.Verify(ctx, row.ID, false); err != nil || !rep.OK {
			t.Fatalf("%s: after gc, snapshot %s: %v %+v", when, row.ID, err, rep)
		}
	}
	// The newest snapshot is read in full again after the collection.
	var newest *meta.Snapshot
	for i, row := range rows {
		if row.Status == meta.SnapshotCompleted && (newest == nil || row.StartedAt.After(newest.StartedAt)) {
			newest = &rows[i]
		}
	}
	if newest != nil {
		if rep, err := e.Verify(ctx, newest.ID, true); err != nil || !rep.OK {
			t.Fatalf("%s: after gc, full verify of %s: %v %+v", when, newest.ID, err, rep)
		}
	}

	sv, err := openServices(ctx, w, e, false)
	if err != nil {
		t.Fatalf("%s: open replication and recovery: %v", when, err)
	}
	defer sv.close()
	checkCheckpoints(t, e, sv, rows, s, seen, when)
	checkReplication(t, w, e, sv, rows, s, seen, when)
}

func allRows(t *testing.T, st *meta.Store, when string) []meta.Snapshot {
	t.Helper()
	var all []meta.Snapshot
	f := meta.SnapshotFilter{Limit: 1000}
	for {
		page, next, err := st.ListSnapshots(t.Context(), f)
		if err != nil {
			t.Fatalf("%s: list snapshots: %v", when, err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		f.Cursor = next
	}
}

// restoreEqual restores a snapshot into a fresh graph and compares it with the
// graph of the round its labels name; a checkpoint's snapshot, labelled with the
// checkpoint only, must equal the graph of one of the rounds checkpoints were
// started in.
func restoreEqual(t *testing.T, e *backup.Engine, w workload, row meta.Snapshot, when string) {
	t.Helper()
	ctx := t.Context()
	if row.Labels["checkpoint"] != "" && row.Labels["round"] == "" {
		checkpointGraphMatches(t, e, w, row, when)
		return
	}
	round, err := strconv.Atoi(row.Labels["round"])
	if err != nil || row.Labels["seed"] != strconv.FormatUint(w.seed, 10) {
		t.Fatalf("%s: snapshot %s has labels %v", when, row.ID, row.Labels)
	}
	want, err := expected(ctx, w.seed, round, w.directed())
	if err != nil {
		t.Fatal(err)
	}
	got, err := restoreFresh(ctx, e, w, row.ID)
	if err != nil {
		t.Fatalf("%s: restore %s (round %d): %v", when, row.ID, round, err)
	}
	if d, err := graphtest.Diff(ctx, want, got); err != nil || d != "" {
		t.Fatalf("%s: snapshot %s (round %d, %s) restores different from its graph: %s %v", when, row.ID, round, row.Kind, d, err)
	}
}

// restoreFresh restores a snapshot into a new graph of the workload's shape.
func restoreFresh(ctx context.Context, e *backup.Engine, w workload, id string) (*memgraph.Graph, error) {
	got := memgraph.New()
	if w.directed() {
		got = memgraph.New(memgraph.Directed())
	}
	_, err := e.Restore(ctx, id, got, backup.RestoreOptions{})
	return got, err
}
