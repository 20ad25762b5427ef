package monitoring

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/meta"
)

// graphState is what the store says of one graph.
type graphState struct {
	stats  meta.GraphStats
	totals meta.SnapshotTotals // running totals, which a prune does not lower
	newest *meta.Snapshot      // newest completed snapshot; nil when none
}

// targetState is what the store says of one replication target.
type targetState struct {
	target meta.Target
	lastOK *meta.ReplicationEvent // newest successful replication, never a check; nil when none
}

// lag is the time since the target last finished a successful replication, or
// false when it never did.
func (t targetState) lag(now time.Time) (time.Duration, bool) {
	if t.lastOK == nil {
		return 0, false
	}
	end := t.lastOK.StartedAt.Add(time.Duration(t.lastOK.DurationSeconds * float64(time.Second)))
	return max(now.Sub(end), 0), true
}

// checkpointCounts counts checkpoints by validation outcome.
type checkpointCounts struct {
	total, valid, invalid, unvalidated int64
	newest                             *meta.Checkpoint
}

// validation names a checkpoint's validation outcome.
func validation(c *meta.Checkpoint) string {
	switch {
	case c.Validated && c.ValidationError == "":
		return "valid"
	case c.ValidationError != "":
		return "invalid"
	}
	return "unvalidated"
}

// state is one consistent-enough read of everything the collector publishes.
type state struct {
	at          time.Time
	graphs      []graphState
	targets     []targetState
	checkpoints checkpointCounts
	health      []meta.HealthEvent // the newest event of every check
}

// healthOverall is the worst status among the events, pass without any.
func healthOverall(events []meta.HealthEvent) health.Status {
	s := health.Pass
	for _, e := range events {
		s = s.Worse(health.Status(e.Status))
	}
	return s
}

// stateCache shares one read of the store among the requests and metric callbacks
// that arrive within a second of each other: under a burst of scrapes the store is
// read once. A write through the store (a new generation) is seen by the next
// read; a write by another process within two seconds. The state is shared: callers must not change it.
type stateCache struct {
	st *meta.Store
	shared[*state]
}

func newStateCache(st *meta.Store) *stateCache {
	return &stateCache{st: st, shared: shared[*state]{ttl: time.Second}}
}

func (c *stateCache) read(ctx context.Context, now time.Time) (*state, error) {
	s, _, err := c.getAt(c.st.Generation(), func() (*state, error) { return readState(ctx, c.st, now) })
	return s, err
}

// shared keeps one computed answer for a short time and lets concurrent callers
// wait for a computation in progress rather than start their own. Once the answer
// is older than the ttl, one caller computes the next while the others are still
// given it, for at most another ttl; an answer of another version is never given.
type shared[T any] struct {
	ttl     time.Duration
	compute sync.Mutex // one computation at a time

	mu         sync.Mutex
	val        T
	ver        any // the version val was computed at
	at         time.Time
	ok         bool
	seq        uint64 // numbers the answers kept
	refreshing bool   // a computation of val's successor runs
}

// getAt returns the kept answer while it was computed at version ver (compared
// with ==) and is young enough, and otherwise computes and keeps a new one. It
// also returns the number of the answer: the same number, the same answer.
func (c *shared[T]) getAt(ver any, compute func() (T, error)) (T, uint64, error) {
	if v, seq, ok := c.kept(ver, false); ok {
		return v, seq, nil
	}
	c.compute.Lock()
	defer c.compute.Unlock()
	if v, seq, ok := c.kept(ver, true); ok {
		return v, seq, nil // computed while this caller waited
	}
	c.mu.Lock()
	c.refreshing = c.ok && c.ver == ver
	c.mu.Unlock()
	v, err := compute()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err != nil {
		return v, 0, err
	}
	c.seq++
	c.val, c.ver, c.at, c.ok = v, ver, time.Now(), true
	return v, c.seq, nil
}

// kept returns the kept answer if it is of version ver and younger than the ttl,
// or, unless fresh is asked, younger than two while its successor is computed.
func (c *shared[T]) kept(ver any, fresh bool) (T, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.ver == ver {
		age := time.Since(c.at)
		if age < c.ttl || !fresh && c.refreshing && age < 2*c.ttl {
			return c.val, c.seq, true
		}
	}
	var zero T
	return zero, 0, false
}

// readState reads the meta. Each part is read with its own query; a failing part
// fails the read.
func readState(ctx context.Context, st *meta.Store, now time.Time) (*state, error) {
	s := &state{at: now}
	stats, err := st.SnapshotStats(ctx)
	if err != nil {
		return nil, err
	}
	all, err := st.SnapshotTotals(ctx)
	if err != nil {
		return nil, err
	}
	totals := make(map[string]meta.SnapshotTotals, len(all))
	for _, t := range all {
		totals[t.GraphID] = t
	}
	for _, gs := range stats {
		g := graphState{stats: gs, totals: totals[gs.GraphID]}
		if gs.Completed > 0 {
			sn, err := st.LatestSnapshot(ctx, gs.GraphID, meta.SnapshotCompleted)
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return nil, err
			}
			g.newest = sn
		}
		s.graphs = append(s.graphs, g)
	}
	targets, err := st.ListTargets(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		ts := targetState{target: t}
		evs, err := recentReplications(ctx, st, meta.EventFilter{TargetID: t.ID, Status: meta.EventOK, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			ts.lastOK = &evs[0]
		}
		s.targets = append(s.targets, ts)
	}
	if s.checkpoints, err = countCheckpoints(ctx, st); err != nil {
		return nil, err
	}
	if s.health, err = st.LatestHealth(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// replicationKinds are the kinds of replication event that are replications: a
// snapshot copied or a journal shipped. A check of a target ([meta.EventCheck])
// probes it and copies nothing.
var replicationKinds = []string{meta.EventSnapshot, meta.EventJournal}

// recentReplications returns the newest f.Limit (0: 50) replication events
// matching f, newest first, leaving checks out whatever f.Kind says.
func recentReplications(ctx context.Context, st *meta.Store, f meta.EventFilter) ([]meta.ReplicationEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []meta.ReplicationEvent
	for _, kind := range replicationKinds {
		f.Kind = kind
		evs, _, err := st.ListReplicationEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	// Event ids are ULIDs: a greater id is a newer event.
	slices.SortFunc(out, func(a, b meta.ReplicationEvent) int { return strings.Compare(b.ID, a.ID) })
	return out[:min(len(out), f.Limit)], nil
}

// eachCheckpoint calls fn with every checkpoint, newest first.
func eachCheckpoint(ctx context.Context, st *meta.Store, fn func(c *meta.Checkpoint)) error {
	cursor := ""
	for {
		page, next, err := st.ListCheckpoints(ctx, cursor, 1000)
		if err != nil {
			return err
		}
		for i := range page {
			fn(&page[i])
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

func countCheckpoints(ctx context.Context, st *meta.Store) (checkpointCounts, error) {
	var c checkpointCounts
	err := eachCheckpoint(ctx, st, func(cp *meta.Checkpoint) {
		if c.newest == nil {
			cp := *cp
			c.newest = &cp
		}
		c.total++
		switch validation(cp) {
		case "valid":
			c.valid++
		case "invalid":
			c.invalid++
		default:
			c.unvalidated++
		}
	})
	return c, err
}

// snapshotDuration is how long a finished snapshot took, or 0.
func snapshotDuration(sn *meta.Snapshot) time.Duration {
	if sn == nil || sn.StartedAt.IsZero() || sn.FinishedAt.IsZero() {
		return 0
	}
	return max(sn.FinishedAt.Sub(sn.StartedAt), 0)
}

// snapshotAge is the time since a snapshot finished (or was created).
func snapshotAge(sn *meta.Snapshot, now time.Time) time.Duration {
	t := sn.FinishedAt
	if t.IsZero() {
		t = sn.CreatedAt
	}
	return max(now.Sub(t), 0)
}
