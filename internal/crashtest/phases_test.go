package crashtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// The replication target of the workload: a folder next to the bucket.
const targetName = "crash-target"

func (w workload) targetDir() string { return filepath.Join(w.dir, "target") }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// services are what the workload runs besides the engine: replication to a file
// target and checkpoints.
type services struct {
	repl     *replication.Service
	targetID string // "" until registered
	rec      *recovery.Service
	catalog  *graph.Registry
}

// openServices builds the replication and recovery services on e. With register
// it registers the target when the store lacks it (the child does; the checker
// only looks).
func openServices(ctx context.Context, w workload, e *backup.Engine, register bool) (*services, error) {
	s := &services{catalog: &graph.Registry{}}
	var err error
	if s.repl, err = replication.New(e, replication.WithLogger(discard()),
		replication.WithRetry(replication.RetryPolicy{Attempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 10 * time.Millisecond})); err != nil {
		return nil, err
	}
	if s.rec, err = recovery.New(e, s.catalog, recovery.WithLogger(discard())); err != nil {
		return nil, err
	}
	targets, err := s.repl.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if t.Name == targetName {
			s.targetID = t.ID
		}
	}
	if s.targetID == "" && register {
		if err := os.MkdirAll(w.targetDir(), 0o755); err != nil {
			return nil, err
		}
		t, err := s.repl.Register(ctx, replication.TargetSpec{Name: targetName, Kind: replication.KindFile,
			Config: map[string]string{"path": w.targetDir()}})
		if err != nil {
			return nil, err
		}
		s.targetID = t.ID
	}
	return s, nil
}

func (s *services) close() { s.repl.Close(context.Background()) }

// replicate pushes a snapshot to the target; it is the "replicate" phase.
func (s *services) replicate(ctx context.Context, snapshotID string) (replication.Result, error) {
	res, err := s.repl.Replicate(ctx, snapshotID, replication.ReplicateOptions{TargetID: s.targetID})
	if err != nil {
		return replication.Result{}, err
	}
	if len(res) != 1 || !res[0].OK {
		return replication.Result{}, fmt.Errorf("replicate %s: %+v", snapshotID, res)
	}
	return res[0], nil
}

// checkpoint makes a checkpoint of g (the graph of round); it is the "checkpoint"
// phase. The round is recorded first, so that the checkpoint's snapshot, labelled
// with the checkpoint's id only, can be matched with its graph.
func (s *services) checkpoint(ctx context.Context, w workload, round int, g *memgraph.Graph) error {
	if err := appendLine(checkpointRoundsFile(w.dir), round); err != nil {
		return err
	}
	s.catalog.Register(graphID, g)
	_, err := s.rec.Create(ctx, recovery.CreateRequest{
		GraphIDs: []string{graphID}, Description: "round " + strconv.Itoa(round),
		Metadata: map[string]any{"round": round},
	})
	return err
}

func checkpointRoundsFile(dir string) string { return filepath.Join(dir, "checkpoint-rounds") }

// checkpointRounds returns the rounds in which a checkpoint was started.
func checkpointRounds(dir string) ([]int, error) { return readLines(checkpointRoundsFile(dir)) }

// phaseSeen is what the checker remembers between kills.
type phaseSeen struct {
	targetVerified map[string]bool // snapshots whose copy at the target verified in full
	validated      map[string]bool // checkpoints validated
}

// checkReplication checks the target after a kill: every run recorded as ok left a
// copy at the target that verifies in full; every manifest at the target belongs to
// a copy that verifies in full (a manifest is copied last); and every completed
// snapshot not yet copied is copied now, resuming what a killed run left, and
// verifies at the target.
func checkReplication(t *testing.T, w workload, e *backup.Engine, sv *services, rows []meta.Snapshot, s *stats, seen *phaseSeen, when string) {
	t.Helper()
	ctx := t.Context()
	if sv.targetID == "" {
		return // killed before the target was registered
	}
	tdrv, err := fileblob.Open(w.targetDir())
	if err != nil {
		t.Fatalf("%s: open target: %v", when, err)
	}
	tb := blob.NewBucket(tdrv)
	defer tb.Close()
	tmp, err := tdrv.RemoveTemp(ctx, time.Now().Add(time.Second))
	if err != nil {
		t.Fatalf("%s: remove temporary files at the target: %v", when, err)
	}
	s.targetTemp += tmp

	// What the store says was replicated.
	okEvents := map[string]bool{}
	f := meta.EventFilter{TargetID: sv.targetID, Kind: meta.EventSnapshot, Limit: 1000}
	for {
		page, next, err := e.Store().ListReplicationEvents(ctx, f)
		if err != nil {
			t.Fatalf("%s: list replication events: %v", when, err)
		}
		for _, ev := range page {
			if ev.Status == meta.EventOK {
				okEvents[ev.SnapshotID] = true
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}

	// What the target holds, read as a bucket of its own.
	te, closeTarget := targetEngine(t, w, tb, when)
	defer closeTarget()
	verifyAtTarget := func(sid, why string) {
		t.Helper()
		if seen.targetVerified[sid] {
			return
		}
		rep, err := te.Verify(ctx, sid, true)
		if err != nil || !rep.OK {
			t.Fatalf("%s: %s: the target's copy of snapshot %s does not verify in full: %v %+v", when, why, sid, err, rep)
		}
		seen.targetVerified[sid] = true
		s.targetVerified++
	}
	for sid := range okEvents {
		verifyAtTarget(sid, "a replication event says ok")
	}
	var atTarget []meta.Snapshot
	f2 := meta.SnapshotFilter{Limit: 1000}
	for {
		page, next, err := te.Store().ListSnapshots(ctx, f2)
		if err != nil {
			t.Fatal(err)
		}
		atTarget = append(atTarget, page...)
		if next == "" {
			break
		}
		f2.Cursor = next
	}
	for _, row := range atTarget {
		verifyAtTarget(row.ID, "its manifest is at the target")
	}

	// A retry completes every copy a kill cut short (and makes those never tried).
	for _, row := range rows {
		if row.Status != meta.SnapshotCompleted || okEvents[row.ID] {
			continue
		}
		res, err := sv.replicate(ctx, row.ID)
		if err != nil {
			t.Fatalf("%s: replicating snapshot %s again: %v", when, row.ID, err)
		}
		s.replRetried++
		if res.ObjectsSkipped > 0 {
			s.replResumed++ // a copy cut short, resumed: some objects were there already
		}
		if _, _, err := te.Reindex(ctx); err != nil {
			t.Fatalf("%s: reindex the target: %v", when, err)
		}
		verifyAtTarget(row.ID, "after replicating it again")
	}
}

// targetEngine opens an engine over the target's bucket with an empty store and
// fills the store from the manifests there. Every manifest must be readable.
func targetEngine(t *testing.T, w workload, tb *blob.Bucket, when string) (*backup.Engine, func()) {
	t.Helper()
	ctx := t.Context()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	opts := []backup.Option{backup.WithLogger(discard())}
	if w.encrypted() {
		opts = append(opts, backup.WithEncryptionKey(masterKey(w.seed)))
	}
	te, err := backup.New(st, tb, opts...)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	created, _, err := te.Reindex(ctx)
	if err != nil {
		st.Close()
		t.Fatalf("%s: reindex the target: %v", when, err)
	}
	manifests := 0
	for _, err := range tb.List(ctx, "manifests/") {
		if err != nil {
			st.Close()
			t.Fatalf("%s: list the target's manifests: %v", when, err)
		}
		manifests++
	}
	if created != manifests {
		st.Close()
		t.Fatalf("%s: the target holds %d manifests, %d of them readable", when, manifests, created)
	}
	return te, func() { st.Close() }
}

// checkCheckpoints checks that every checkpoint names completed snapshots at the
// journal positions they were taken at, and that each new one validates; it counts
// checkpoint snapshots left without a checkpoint by a kill.
func checkCheckpoints(t *testing.T, e *backup.Engine, sv *services, rows []meta.Snapshot, s *stats, seen *phaseSeen, when string) {
	t.Helper()
	ctx := t.Context()
	byID := map[string]meta.Snapshot{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	named := map[string]bool{}
	cursor := ""
	for {
		cps, next, err := e.Store().ListCheckpoints(ctx, cursor, 1000)
		if err != nil {
			t.Fatalf("%s: list checkpoints: %v", when, err)
		}
		for _, cp := range cps {
			named[cp.ID] = true
			for _, g := range cp.Graphs {
				row, ok := byID[g.SnapshotID]
				if !ok || row.Status != meta.SnapshotCompleted {
					t.Fatalf("%s: checkpoint %s names snapshot %s, which is %v (row found %v)", when, cp.ID, g.SnapshotID, row.Status, ok)
				}
				if row.JournalPos != g.JournalPos || row.GraphID != g.GraphID {
					t.Fatalf("%s: checkpoint %s: graph %s at %d, its snapshot is of %s at %d", when, cp.ID, g.GraphID, g.JournalPos, row.GraphID, row.JournalPos)
				}
			}
			if seen.validated[cp.ID] {
				continue
			}
			v, err := sv.rec.Validate(ctx, cp.ID)
			if err != nil || !v.OK {
				t.Fatalf("%s: checkpoint %s does not validate: %v %+v", when, cp.ID, err, v)
			}
			seen.validated[cp.ID] = true
			s.checkpoints++
		}
		if next == "" {
			break
		}
		cursor = next
	}
	orphans := 0
	for _, r := range rows {
		if id := r.Labels["checkpoint"]; id != "" && r.Status == meta.SnapshotCompleted && !named[id] {
			orphans++
		}
	}
	s.orphanCheckpointSnaps = orphans
}

// checkpointGraphMatches restores a checkpoint's snapshot and compares it with the
// graph of each round a checkpoint was started in, newest first; one must match.
func checkpointGraphMatches(t *testing.T, e *backup.Engine, w workload, row meta.Snapshot, when string) int {
	t.Helper()
	ctx := t.Context()
	rounds, err := checkpointRounds(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := restoreFresh(ctx, e, w, row.ID)
	if err != nil {
		t.Fatalf("%s: restore checkpoint snapshot %s: %v", when, row.ID, err)
	}
	slices.Reverse(rounds)
	for _, round := range rounds {
		want, err := expected(ctx, w.seed, round, w.directed())
		if err != nil {
			t.Fatal(err)
		}
		if d, err := graphtest.Diff(ctx, want, got); err == nil && d == "" {
			return round
		}
	}
	t.Fatalf("%s: checkpoint snapshot %s restores to none of the graphs of the checkpoint rounds %v", when, row.ID, rounds)
	return -1
}

// readLines reads a file of one number a line; a last line cut short by a kill
// is left out. A missing file is empty.
func readLines(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for line := range splitLines(string(b)) {
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("%s: line %q: %v", path, line, err)
		}
		out = append(out, n)
	}
	return out, nil
}
