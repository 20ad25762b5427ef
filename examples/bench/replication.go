package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// The replication step: a leader graph takes -replication-rate changes a second
// for -replication-duration while its replication service ships the journal to a
// file target, and a follower, as examples/replica does, restores the target's
// baseline snapshot and applies the segments after it. The lag of a change is the
// time from its batch's commit at the leader to its application at the follower;
// the step's seconds are the 99th percentile of the lags, its rate the changes a
// second the leader achieved.
const (
	stepReplication = "replication"

	// replicationGraphID names the leader's graph.
	replicationGraphID = "leader"
	// replicationNodes is the size of the leader's graph: changes are upserts of
	// its nodes, in turn.
	replicationNodes = 10000
	// replicationBatchEvery is how often the leader commits a batch of changes.
	replicationBatchEvery = 10 * time.Millisecond
	// replicationShipEvery is how often the journal is shipped (the service's
	// WithJournalInterval), and replicationPoll how often the follower reads the
	// target.
	replicationShipEvery = 250 * time.Millisecond
	replicationPoll      = 20 * time.Millisecond
	// replicationCatchUp bounds the wait for the follower once the leader stops.
	replicationCatchUp = time.Minute
)

// MarshalJSON writes a result; the replication step's as
// {"system","step","seconds","rate"}, every other one as before.
func (r Result) MarshalJSON() ([]byte, error) {
	if r.Step == stepReplication {
		return json.Marshal(struct {
			System  string  `json:"system"`
			Step    string  `json:"step"`
			Seconds float64 `json:"seconds"`
			Rate    float64 `json:"rate"`
		}{r.System, r.Step, r.Seconds, r.Rate})
	}
	type plain Result
	return json.Marshal(plain(r))
}

// replicationRun is what the replication step measured.
type replicationRun struct {
	changes  int64   // changes the leader committed
	seconds  float64 // how long it took them
	batches  int     // batches the follower applied
	p50, max float64 // lags, in seconds
}

// replication runs the replication step and adds its result.
func (b *bench) replication(ctx context.Context) error {
	rate, duration := b.cfg.replicationRate, b.cfg.replicationDuration
	b.logf("replication: a leader taking %d changes/s for %v, journal shipped every %v, a follower polling every %v",
		rate, duration, replicationShipEvery, replicationPoll)
	dir := b.path("replication")
	targetDir := b.path("replication", "target")
	if err := os.MkdirAll(targetDir, 0o755); err != nil {
		return err
	}
	leader := memgraph.New(memgraph.WithJournalLimit(1 << 14))
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: replicationNodes, Edges: 3 * replicationNodes, Seed: b.cfg.seed})
	if err := gen.Replace(ctx, leader); err != nil {
		return err
	}
	st, err := meta.Open(ctx, b.path("replication", "meta.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	drv, err := fileblob.Open(b.path("replication", "bucket"))
	if err != nil {
		return err
	}
	bucket := blob.NewBucket(drv)
	defer bucket.Close()
	logger := slog.New(slog.NewTextHandler(b.cfg.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engine, err := backup.New(st, bucket, backup.WithLogger(logger))
	if err != nil {
		return err
	}
	var reg graph.Registry
	reg.Register(replicationGraphID, leader)
	svc, err := replication.New(engine, replication.WithJournal(&reg), replication.WithJournalInterval(replicationShipEvery),
		replication.WithTargetRoots(dir), replication.WithLogger(logger))
	if err != nil {
		return err
	}
	if _, err := svc.Register(ctx, replication.TargetSpec{Name: "follower", Kind: replication.KindFile, Config: map[string]string{"path": targetDir}}); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := svc.Start(runCtx); err != nil {
		return err
	}
	defer svc.Close(context.WithoutCancel(ctx))

	tdrv, err := fileblob.Open(targetDir)
	if err != nil {
		return err
	}
	target := blob.NewBucket(tdrv)
	defer target.Close()
	f := &benchFollower{b: target, g: memgraph.New(memgraph.WithJournalLimit(1))}
	if err := f.start(ctx); err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	// Lags count from the first batch of the run: the leader's initial load, shipped
	// before the follower started, is not one of its changes.
	if f.measureAfter, err = leaderPosition(ctx, leader); err != nil {
		return err
	}
	followed := make(chan error, 1)
	go func() { followed <- f.follow(runCtx) }()

	run, err := writeChanges(runCtx, leader, gen, rate, duration)
	if err != nil {
		return fmt.Errorf("leader: %w", err)
	}
	// The follower catches up with every change the leader committed.
	last, err := leaderPosition(ctx, leader)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(replicationCatchUp)
	for f.position() < last {
		select {
		case err := <-followed:
			return fmt.Errorf("follower stopped at %d of %d: %w", f.position(), last, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(replicationPoll):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("follower at %d, %v after the leader stopped at %d", f.position(), replicationCatchUp, last)
		}
	}
	cancel()
	if err := <-followed; err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	d, err := compareGraphs(ctx, leader, f.g)
	if err != nil {
		return err
	}
	if d != "" {
		return fmt.Errorf("the follower's graph differs from the leader's: %s", d)
	}
	lags := f.lags()
	run.batches = len(lags)
	p99 := percentile(lags, 0.99)
	run.p50, run.max = percentile(lags, 0.5), percentile(lags, 1)
	achieved := float64(run.changes) / run.seconds
	b.det.replication = &run
	b.rep.Results = append(b.rep.Results, Result{System: sysGraphvault, Step: stepReplication, Seconds: p99, Rate: achieved})
	b.logf("replication: %d changes in %.1fs (%.0f/s), %d batches; lag p50 %.3fs, p99 %.3fs, max %.3fs; the follower equals the leader",
		run.changes, run.seconds, achieved, run.batches, run.p50, p99, run.max)
	return nil
}

// writeChanges commits a batch of node upserts every replicationBatchEvery, as many
// as keep the count at rate a second since the start, until rate × duration are
// committed; the run's seconds end at the last commit.
func writeChanges(ctx context.Context, g *memgraph.Graph, gen *graphtest.Generated, rate int, duration time.Duration) (replicationRun, error) {
	var run replicationRun
	t := time.NewTicker(replicationBatchEvery)
	defer t.Stop()
	total := int64(float64(rate) * duration.Seconds())
	start := time.Now()
	for run.changes < total {
		want := min(total, int64(float64(rate)*time.Since(start).Seconds()))
		if n := want - run.changes; n > 0 {
			ops := make([]graph.Op, 0, n)
			for i := range n {
				node := gen.Node(int((run.changes + i) % replicationNodes))
				node.Props["description"] = "revision " + strconv.FormatInt(run.changes+i, 10)
				ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: node})
			}
			if err := g.Apply(ctx, ops); err != nil {
				return run, err
			}
			run.changes += n
		}
		if run.changes == total {
			break
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-t.C:
		}
	}
	run.seconds = time.Since(start).Seconds()
	return run, nil
}

// leaderPosition returns the newest batch of the leader's journal.
func leaderPosition(ctx context.Context, g *memgraph.Graph) (uint64, error) {
	v, err := g.View(ctx)
	if err != nil {
		return 0, err
	}
	defer v.Close()
	return v.Meta().Position, nil
}

// percentile returns the q-quantile of xs (nearest rank), 0 for none.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// benchFollower follows the leader's journal at the target as examples/replica
// does: the baseline snapshot HEAD names, then the segments of HEAD's journal
// after it, in order. It records the lag of every batch it applies. A gap is an
// error: the leader's journal holds far more batches than one ship interval
// brings, so a run has none.
type benchFollower struct {
	b *blob.Bucket
	g *memgraph.Graph

	journal      string
	measureAfter uint64 // batches after this one have their lag recorded

	mu     sync.Mutex
	pos    uint64
	lagsOf []float64
}

func (f *benchFollower) position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

func (f *benchFollower) lags() []float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lagsOf)
}

// start waits for the first HEAD at the target and restores its baseline snapshot;
// without one, the segments start at the journal's first batch and the follower
// from an empty graph.
func (f *benchFollower) start(ctx context.Context) error {
	var head *replication.JournalHead
	deadline := time.Now().Add(replicationCatchUp)
	for {
		var err error
		head, err = replication.ReadJournalHead(ctx, f.b, replicationGraphID)
		if err == nil {
			break
		}
		if err != nil && !errors.Is(err, replication.ErrNotFound) {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("no journal HEAD at the target")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(replicationPoll):
		}
	}
	f.journal = head.Journal
	if head.BaselineSnapshot == "" {
		return nil
	}
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		return err
	}
	defer st.Close()
	e, err := backup.New(st, f.b, backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	if _, _, err := e.Reindex(ctx); err != nil {
		return fmt.Errorf("read the target's snapshots: %w", err)
	}
	if _, err := e.Restore(ctx, head.BaselineSnapshot, f.g, backup.RestoreOptions{}); err != nil {
		return fmt.Errorf("restore the baseline snapshot %s: %w", head.BaselineSnapshot, err)
	}
	f.pos = head.BaselinePosition
	return nil
}

// follow applies what the target receives until ctx ends.
func (f *benchFollower) follow(ctx context.Context) error {
	t := time.NewTicker(replicationPoll)
	defer t.Stop()
	for {
		if err := f.sync(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sync applies the segments after the follower's position up to HEAD's.
func (f *benchFollower) sync(ctx context.Context) error {
	head, err := replication.ReadJournalHead(ctx, f.b, replicationGraphID)
	if err != nil {
		return err
	}
	if head.Journal != f.journal {
		return fmt.Errorf("the target's journal changed from %q to %q", f.journal, head.Journal)
	}
	pos := f.position()
	if head.Position <= pos {
		return nil
	}
	segs, err := replication.ListSegments(ctx, f.b, replicationGraphID, pos)
	if err != nil {
		return err
	}
	reach, chain := replication.Chain(segs, f.journal, pos)
	if reach < head.Position {
		return fmt.Errorf("segments after %d reach %d, HEAD is at %d: a gap", pos, reach, head.Position)
	}
	for _, sg := range chain {
		batches, err := replication.ReadSegment(ctx, f.b, sg)
		if err != nil {
			return err
		}
		for _, bt := range batches {
			if bt.Seq <= pos {
				continue
			}
			if bt.Seq != pos+1 {
				return fmt.Errorf("segment %s holds batch %d after %d", sg.Key, bt.Seq, pos)
			}
			if err := f.g.Apply(ctx, bt.Ops); err != nil {
				return fmt.Errorf("apply batch %d: %w", bt.Seq, err)
			}
			pos = bt.Seq
			lag := time.Since(bt.Time).Seconds()
			f.mu.Lock()
			f.pos = pos
			if pos > f.measureAfter {
				f.lagsOf = append(f.lagsOf, lag)
			}
			f.mu.Unlock()
		}
	}
	return nil
}
