package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

// counters are what the drivers count while the load runs.
type counters struct {
	batches, ops, writeErrs atomic.Int64
	triggered, checkpoints  atomic.Int64
	api                     *apiStats
}

// run builds the stack, runs the load for c.duration, checks and reports.
func run(ctx context.Context, c config, stdout, stderr io.Writer) (*result, error) {
	dir := c.data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "graphvault-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	logged := &logCount{}
	log := slog.New(countingHandler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}), logged})

	s, err := newStack(ctx, c, dir, log)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(err, s.shutdown(context.Background()))
	}
	fmt.Fprintf(stdout, "soak: %s for %v: %d writers at %.0f batches/s, snapshots every %v (API every %v, checkpoint every %v), %d API clients\n",
		s.base, c.duration, c.writers, c.writeRate, c.every, c.trigger, c.checkpoint, c.clients)

	tdrv, err := fileblob.Open(s.targetDir)
	if err != nil {
		return nil, errors.Join(err, s.shutdown(context.Background()))
	}
	tb := blob.NewBucket(tdrv)
	defer tb.Close()
	fol := newFollower(tb, graphID)
	folCtx, stopFollower := context.WithCancel(ctx)
	folDone := make(chan struct{})
	go func() { defer close(folDone); fol.run(folCtx, 200*time.Millisecond) }()
	defer func() { stopFollower(); <-folDone }()

	cnt := &counters{api: newAPIStats()}
	cl := &client{base: s.base, http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: c.clients + 4}}}
	start := time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, c.duration)
	defer stopLoad()
	var load sync.WaitGroup
	for i := range c.writers {
		load.Go(func() { write(loadCtx, s, c, uint64(i), cnt) })
	}
	for i := range c.clients {
		load.Go(func() { readAPI(loadCtx, cl, c, uint64(i), cnt) })
	}
	load.Go(func() { every(loadCtx, c.trigger, func() { trigger(loadCtx, cl, cnt) }) })
	load.Go(func() { every(loadCtx, c.checkpoint, func() { checkpoint(loadCtx, cl, cnt) }) })

	var samples []sample
	sampleNow := func() {
		samples = append(samples, takeSample(time.Since(start), s, fol, cnt))
		p := samples[len(samples)-1]
		fmt.Fprintf(stdout, "  %6.0fs  heap in use %6.1f MiB  goroutines %4d  write batches %8d  snapshots %4d  API requests %7d  follower behind %d\n",
			p.Seconds, mib(p.HeapInuse), p.Goroutines, p.WriteBatches, p.Snapshots, p.APIRequests, p.PrimaryPosition-p.FollowerPosition)
	}
	tick := time.NewTicker(c.sample)
	for loadCtx.Err() == nil {
		select {
		case <-tick.C:
			sampleNow()
		case <-loadCtx.Done():
		}
	}
	tick.Stop()
	load.Wait()
	loadTime := time.Since(start)
	sampleNow()
	interrupted := ctx.Err() != nil

	// The load is over: hold the schedule off, let replication settle, then check.
	res := &result{DurationSeconds: loadTime.Seconds(), Memory: samples}
	cctx := context.WithoutCancel(ctx)
	if err := s.holdSchedule(cctx); err != nil {
		res.fail("schedule stops", err.Error())
	}
	if err := s.waitReplicated(cctx, 2*time.Minute); err != nil {
		res.fail("target holds the newest snapshot", err.Error())
	}
	job, err := s.schedule(cctx)
	if err != nil {
		res.fail("schedule status", err.Error())
	}
	res.Writes = writeResult{Batches: cnt.batches.Load(), Ops: cnt.ops.Load(), Errors: cnt.writeErrs.Load()}
	res.Writes.BatchesPerSecond = float64(res.Writes.Batches) / loadTime.Seconds()
	res.Writes.OpsPerSecond = float64(res.Writes.Ops) / loadTime.Seconds()
	res.API = cnt.api.result(loadTime)
	res.check("writes applied without error", res.Writes.Batches > 0 && res.Writes.Errors == 0,
		fmt.Sprintf("%d batches, %d errors", res.Writes.Batches, res.Writes.Errors))
	res.check("API calls answered as expected", res.API.Requests > 0 && res.API.Errors == 0,
		fmt.Sprintf("%d requests, %d errors %v", res.API.Requests, res.API.Errors, res.API.ErrorSamples))

	checkFollower(cctx, s, fol, res, stdout)
	stopFollower()
	<-folDone
	checkSnapshots(cctx, s, c, job, cnt, res)
	checkReplication(cctx, s, res)
	if after, err := s.schedule(cctx); err == nil && after.Runs != job.Runs {
		res.fail("schedule held off during the checks", fmt.Sprintf("%d runs before, %d after", job.Runs, after.Runs))
	}

	sctx, cancel := context.WithTimeout(cctx, time.Minute)
	defer cancel()
	if err := s.shutdown(sctx); err != nil {
		res.fail("shut down cleanly", err.Error())
	}
	res.LoggedErrors = logged.n.Load()
	logged.mu.Lock()
	res.LogSamples = logged.samples
	logged.mu.Unlock()
	res.check("nothing logged at error level", res.LoggedErrors == 0, fmt.Sprintf("%d %v", res.LoggedErrors, res.LogSamples))
	res.Errors = res.Writes.Errors + res.API.Errors + int64(res.Snapshots.Failed) + int64(res.Snapshots.SchedulerFailures) +
		int64(res.Replication.SnapshotFailed+res.Replication.JournalFailed) + res.Follower.SyncErrors + res.LoggedErrors
	if interrupted {
		res.fail("ran for the whole duration", "interrupted")
	}
	res.Pass = true
	for _, ch := range res.Checks {
		res.Pass = res.Pass && ch.OK
	}
	res.print(stdout)
	if c.jsonFile != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return res, err
		}
		if err := os.WriteFile(c.jsonFile, append(b, '\n'), 0o644); err != nil {
			return res, err
		}
	}
	return res, nil
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// write applies batches to the primary until ctx ends, at the writer's share of
// the rate: each batch upserts a node or an edge with both its ends, and now and
// then deletes an edge or a node.
func write(ctx context.Context, s *stack, c config, seed uint64, cnt *counters) {
	r := rand.New(rand.NewPCG(seed, 0x50a4))
	gap := time.Duration(float64(time.Second) * float64(c.writers) / c.writeRate)
	t := time.NewTicker(gap)
	defer t.Stop()
	space := c.nodes + c.nodes/2 // ids beyond the start's are created as the run goes
	node := func() graph.Node {
		i := r.IntN(space)
		return graph.Node{ID: "soak node " + strconv.Itoa(i), Labels: []string{"entity"}, Props: map[string]any{
			"description": fmt.Sprintf("written by writer %d at %s", seed, time.Now().Format(time.RFC3339Nano)),
			"rank":        r.Int64N(1000),
		}}
	}
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ops []graph.Op
		switch k := r.IntN(20); {
		case k < 8:
			ops = []graph.Op{{Kind: graph.OpUpsertNode, Node: node()}}
		case k < 17:
			a, b := node(), node()
			ops = []graph.Op{
				{Kind: graph.OpUpsertNode, Node: a}, {Kind: graph.OpUpsertNode, Node: b},
				{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: a.ID, Target: b.ID, Type: "related",
					Props: map[string]any{"weight": r.Float64(), "batch": int64(n)}}},
			}
		case k < 19:
			a, b := node(), node()
			ops = []graph.Op{{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: a.ID, Target: b.ID, Type: "related"}}}
		default:
			ops = []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: node().ID}}}
		}
		if err := s.primary.Apply(ctx, ops); err != nil {
			if ctx.Err() == nil {
				cnt.writeErrs.Add(1)
				cnt.api.sampleError("write: " + err.Error())
			}
			continue
		}
		cnt.batches.Add(1)
		cnt.ops.Add(int64(len(ops)))
	}
}

// checkFollower waits for the follower to reach the primary's position, then
// compares the two graphs.
func checkFollower(ctx context.Context, s *stack, fol *follower, res *result, stdout io.Writer) {
	want := s.primary.Position()
	start := time.Now()
	deadline := start.Add(2 * time.Minute)
	for fol.position() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	res.Follower = followerResult{Position: fol.position(), PrimaryPosition: want, CatchUpSeconds: time.Since(start).Seconds(),
		SyncErrors: fol.errs.Load()}
	fol.mu.Lock()
	res.Follower.Resyncs = fol.resyncs
	fol.mu.Unlock()
	if e, ok := fol.lastErr.Load().(string); ok {
		res.Follower.LastError = e
	}
	fmt.Fprintf(stdout, "follower at %d of %d after %.1fs\n", res.Follower.Position, want, res.Follower.CatchUpSeconds)
	if res.Follower.Position != want {
		res.fail("follower catches up", fmt.Sprintf("at %d, primary at %d (last error %q)", res.Follower.Position, want, res.Follower.LastError))
		return
	}
	// The writers have stopped, so neither graph changes any more.
	d, err := graphtest.Diff(ctx, s.primary, fol.g)
	switch {
	case err != nil:
		res.fail("follower equals primary", err.Error())
	case d != "":
		res.fail("follower equals primary", clip(d))
	default:
		n, e := s.primary.Len()
		res.check("follower equals primary", true, fmt.Sprintf("position %d, %d nodes, %d edges", want, n, e))
	}
	res.check("follower synced without error", res.Follower.SyncErrors == 0,
		fmt.Sprintf("%d failed syncs, last %q", res.Follower.SyncErrors, res.Follower.LastError))
}

// checkSnapshots verifies every completed snapshot in full and counts the rows.
func checkSnapshots(ctx context.Context, s *stack, c config, job health.JobHealth, cnt *counters, res *result) {
	res.Snapshots.Scheduled = job.Runs
	res.Snapshots.SchedulerFailures = job.Failures
	res.Snapshots.Triggered = int(cnt.triggered.Load())
	res.Snapshots.Checkpoints = int(cnt.checkpoints.Load())
	var rows []meta.Snapshot
	f := meta.SnapshotFilter{GraphID: graphID, Limit: 1000}
	for {
		page, next, err := s.v.Store().ListSnapshots(ctx, f)
		if err != nil {
			res.fail("list snapshots", err.Error())
			return
		}
		rows = append(rows, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	var bad []string
	start := time.Now()
	for _, row := range rows {
		switch row.Status {
		case meta.SnapshotCompleted:
			res.Snapshots.Completed++
			rep, err := s.v.Engine().Verify(ctx, row.ID, true)
			if err != nil || !rep.OK {
				bad = append(bad, fmt.Sprintf("%s: %v %v", row.ID, err, rep))
				continue
			}
			res.Snapshots.Verified++
		case meta.SnapshotFailed:
			res.Snapshots.Failed++
			bad = append(bad, fmt.Sprintf("%s failed: %s", row.ID, row.Error))
		default:
			bad = append(bad, fmt.Sprintf("%s is still %s", row.ID, row.Status))
		}
	}
	res.Snapshots.VerifySeconds = time.Since(start).Seconds()
	res.check("every completed snapshot verifies in full, none failed",
		res.Snapshots.Completed > 0 && len(bad) == 0 && res.Snapshots.SchedulerFailures == 0,
		fmt.Sprintf("%d completed, %d verified, %d failed rows, %d scheduler failures %v",
			res.Snapshots.Completed, res.Snapshots.Verified, res.Snapshots.Failed, res.Snapshots.SchedulerFailures, clipList(bad)))
	res.check("snapshots taken by the schedule, the API and checkpoints",
		// A run shorter than two periods may end before the first API call.
		res.Snapshots.Scheduled > 0 && (res.Snapshots.Triggered > 0 || c.duration < 2*c.trigger),
		fmt.Sprintf("%d scheduled, %d asked, %d checkpoints", res.Snapshots.Scheduled, res.Snapshots.Triggered, res.Snapshots.Checkpoints))
}

// checkReplication counts the replication runs recorded, by kind and result.
func checkReplication(ctx context.Context, s *stack, res *result) {
	f := meta.EventFilter{Limit: 1000}
	var failed []string
	for {
		page, next, err := s.v.Store().ListReplicationEvents(ctx, f)
		if err != nil {
			res.fail("list replication events", err.Error())
			return
		}
		for _, ev := range page {
			ok := ev.Status == meta.EventOK
			switch ev.Kind {
			case meta.EventSnapshot:
				if ok {
					res.Replication.SnapshotOK++
				} else {
					res.Replication.SnapshotFailed++
				}
			case meta.EventJournal:
				if ok {
					res.Replication.JournalOK++
				} else {
					res.Replication.JournalFailed++
				}
			}
			if !ok && len(failed) < 5 {
				failed = append(failed, ev.Kind+": "+ev.Error)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	res.check("no replication run failed", res.Replication.SnapshotOK > 0 && res.Replication.SnapshotFailed+res.Replication.JournalFailed == 0,
		fmt.Sprintf("snapshots %d ok, %d failed; journal %d ok, %d failed %v", res.Replication.SnapshotOK,
			res.Replication.SnapshotFailed, res.Replication.JournalOK, res.Replication.JournalFailed, failed))
}

func takeSample(at time.Duration, s *stack, fol *follower, cnt *counters) sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	snaps := s.scheduledRuns(context.Background()) + int(cnt.triggered.Load()+cnt.checkpoints.Load())
	return sample{
		Seconds: at.Seconds(), HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, Sys: ms.Sys, NumGC: ms.NumGC,
		Goroutines: runtime.NumGoroutine(), WriteBatches: cnt.batches.Load(), Snapshots: snaps,
		APIRequests: cnt.api.requests.Load(), PrimaryPosition: s.primary.Position(), FollowerPosition: fol.position(),
	}
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

func clipList(s []string) []string {
	sort.Strings(s)
	if len(s) > 5 {
		return append(s[:5], fmt.Sprintf("and %d more", len(s)-5))
	}
	return s
}
