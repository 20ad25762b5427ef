package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

// Status is where one target stands for one graph.
type Status struct {
	TargetID   string `json:"target_id"`
	TargetName string `json:"target_name"`
	GraphID    string `json:"graph_id"`
	Enabled    bool   `json:"enabled"`
	// Health is the target's health from its last check: healthy, degraded (reachable
	// but its last replication failed), unreachable, or "" before any check.
	Health      string    `json:"health"`
	LastCheckAt time.Time `json:"last_check_at,omitzero"`
	// NewestSnapshotID is the graph's newest completed snapshot.
	NewestSnapshotID string    `json:"newest_snapshot_id,omitempty"`
	NewestSnapshotAt time.Time `json:"newest_snapshot_at,omitzero"`
	// LastSnapshotID is the newest snapshot the target holds by a successful run.
	LastSnapshotID   string    `json:"last_snapshot_id,omitempty"`
	LastSnapshotAt   time.Time `json:"last_snapshot_at,omitzero"` // when that snapshot was taken
	LastReplicatedAt time.Time `json:"last_replicated_at,omitzero"`
	JournalPos       int64     `json:"journal_pos"` // of the last snapshot replicated
	UpToDate         bool      `json:"up_to_date"`
	// LagSeconds is 0 when the target holds the newest snapshot; otherwise the age of
	// the newest snapshot it holds (now − when it was taken), or, when it holds
	// none, how long the graph's newest snapshot has waited (now − when it was taken).
	LagSeconds float64 `json:"lag_seconds"`
	// LastError is the error of the target's latest run for the graph, if it failed.
	LastError string `json:"last_error,omitempty"`
	// Journal shipping (with WithJournal): the newest batch the target holds, the
	// age of the oldest it lacks (0 when it holds all), whether a journal gap left it
	// waiting for a baseline snapshot, and the last shipping error.
	JournalShipped    uint64  `json:"journal_shipped,omitempty"`
	JournalLagSeconds float64 `json:"journal_lag_seconds,omitempty"`
	JournalGap        bool    `json:"journal_gap,omitempty"`
	JournalError      string  `json:"journal_error,omitempty"`
}

// Status returns the status of every target for every graph with snapshots,
// ordered by target name then graph id. It also records the lag gauges.
func (s *Service) Status(ctx context.Context) ([]Status, error) {
	targets, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	graphs, err := s.store.GraphIDs(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	out := []Status{}
	for i := range targets {
		for _, g := range graphs {
			st, err := s.status(ctx, &targets[i], g)
			if err != nil {
				return nil, err
			}
			out = append(out, *st)
		}
	}
	return out, nil
}

func (s *Service) status(ctx context.Context, t *meta.Target, graphID string) (*Status, error) {
	st := &Status{TargetID: t.ID, TargetName: t.Name, GraphID: graphID, Enabled: t.Enabled,
		Health: t.Health, LastCheckAt: t.LastCheckAt}
	newest, err := s.store.LatestSnapshot(ctx, graphID, meta.SnapshotCompleted)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return nil, storeErr(err)
	}
	if newest != nil {
		st.NewestSnapshotID, st.NewestSnapshotAt = newest.ID, newest.FinishedAt
	}
	last, err := s.lastReplicated(ctx, t.ID, graphID)
	if err != nil {
		return nil, err
	}
	if last != nil {
		st.LastSnapshotID, st.LastReplicatedAt, st.JournalPos = last.SnapshotID, last.StartedAt, last.JournalPos
		st.LastSnapshotAt = last.StartedAt
		if row, err := s.store.GetSnapshot(ctx, last.SnapshotID); err == nil && !row.FinishedAt.IsZero() {
			st.LastSnapshotAt = row.FinishedAt
		}
	}
	evs, _, err := s.store.ListReplicationEvents(ctx, meta.EventFilter{TargetID: t.ID, GraphID: graphID, Kind: meta.EventSnapshot, Limit: 1})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(evs) == 1 && evs[0].Status == meta.EventFailed {
		st.LastError = evs[0].Error
	}
	now := s.cfg.now()
	switch {
	case newest == nil || (last != nil && last.SnapshotID >= newest.ID):
		st.UpToDate = true
	case last != nil:
		st.LagSeconds = max(0, now.Sub(st.LastSnapshotAt).Seconds())
	default:
		st.LagSeconds = max(0, now.Sub(newest.FinishedAt).Seconds())
	}
	s.m.recordLag(ctx, t.Name, graphID, st.LagSeconds)
	s.journalStatus(st)
	return st, nil
}

// lastReplicated returns the successful event of the newest snapshot among the
// target's recent successful runs for the graph, or nil.
func (s *Service) lastReplicated(ctx context.Context, targetID, graphID string) (*meta.ReplicationEvent, error) {
	evs, _, err := s.store.ListReplicationEvents(ctx, meta.EventFilter{
		TargetID: targetID, GraphID: graphID, Kind: meta.EventSnapshot, Status: meta.EventOK, Limit: 100,
	})
	if err != nil {
		return nil, storeErr(err)
	}
	var best *meta.ReplicationEvent
	for i := range evs {
		if best == nil || evs[i].SnapshotID > best.SnapshotID {
			best = &evs[i]
		}
	}
	return best, nil
}

// refreshLag records the lag gauge of one target and graph; failures are only logged.
func (s *Service) refreshLag(ctx context.Context, t *meta.Target, graphID string) {
	if _, err := s.status(ctx, t, graphID); err != nil {
		s.log.Warn("cannot compute replication lag", "target", t.Name, "graph", graphID, "err", err)
	}
}

// CheckResult is the outcome of one target check.
type CheckResult struct {
	TargetID   string        `json:"target_id"`
	TargetName string        `json:"target_name"`
	Health     string        `json:"health"`
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	CheckedAt  time.Time     `json:"checked_at"`
}

// Check probes a target (opens it and lists one object, within the attempt
// timeout), records the result as an event of kind "check" and stores the target's
// health: unreachable when the probe fails, degraded when it succeeds but the
// target's latest replication run failed, healthy otherwise.
func (s *Service) Check(ctx context.Context, id string) (*CheckResult, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	start := s.cfg.now()
	perr := func() error {
		actx, cancel := context.WithTimeout(ctx, s.cfg.attempt)
		defer cancel()
		b, err := s.bucketFor(actx, t)
		if err != nil {
			return err
		}
		return probeBucket(actx, b)
	}()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &CheckResult{TargetID: t.ID, TargetName: t.Name, Duration: s.cfg.now().Sub(start), CheckedAt: start.UTC()}
	ev := &meta.ReplicationEvent{TargetID: t.ID, Kind: meta.EventCheck, Status: meta.EventOK,
		StartedAt: start, DurationSeconds: res.Duration.Seconds()}
	switch {
	case perr != nil:
		res.Health, res.Error = HealthUnreachable, scrub(perr, t.Secret).Error()
		ev.Status, ev.Error = meta.EventFailed, res.Error
		s.m.errors.Add(ctx, 1, s.m.targetAttr(t.Name))
	default:
		res.Health = HealthHealthy
		evs, _, err := s.store.ListReplicationEvents(ctx, meta.EventFilter{TargetID: t.ID, Kind: meta.EventSnapshot, Limit: 1})
		if err != nil {
			return nil, storeErr(err)
		}
		if len(evs) == 1 && evs[0].Status == meta.EventFailed {
			res.Health, res.Error = HealthDegraded, evs[0].Error
		}
	}
	s.m.operations.Add(ctx, 1, s.m.resultAttr(t.Name, ev.Status))
	if err := s.store.AddReplicationEvent(ctx, ev); err != nil {
		return nil, storeErr(err)
	}
	// Re-read the row so that a concurrent Update is not overwritten.
	cur, err := s.store.GetTarget(ctx, t.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	cur.Health, cur.LastError, cur.LastCheckAt = res.Health, res.Error, start.UTC()
	if err := s.store.UpdateTarget(ctx, cur); err != nil {
		return nil, storeErr(err)
	}
	if perr != nil {
		s.log.Warn("replication target unreachable", "target", t.Name, "err", res.Error)
	}
	return res, nil
}

// CheckAll checks every enabled target and records the lag of each for every
// graph. Failures are logged; it returns the results it got.
func (s *Service) CheckAll(ctx context.Context) []CheckResult {
	targets, err := s.List(ctx)
	if err != nil {
		s.log.Warn("cannot list replication targets", "err", err)
		return nil
	}
	var out []CheckResult
	for _, t := range targets {
		if !t.Enabled {
			continue
		}
		r, err := s.Check(ctx, t.ID)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("replication target check failed", "target", t.Name, "err", err)
			}
			continue
		}
		out = append(out, *r)
	}
	if _, err := s.Status(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("cannot compute replication status", "err", err)
	}
	return out
}

// CatchUp replicates the newest completed snapshot of every graph to each enabled
// target that is not known unreachable and has not received it. A target that was
// down catches up this way once it is back. It returns the number of runs started
// and an error joining their failures.
func (s *Service) CatchUp(ctx context.Context) (int, error) {
	targets, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	graphs, err := s.store.GraphIDs(ctx)
	if err != nil {
		return 0, storeErr(err)
	}
	n := 0
	var errs []error
	for _, g := range graphs {
		newest, err := s.store.LatestSnapshot(ctx, g, meta.SnapshotCompleted)
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, storeErr(err)
		}
		for _, t := range targets {
			if !t.Enabled || t.Health == HealthUnreachable {
				continue
			}
			last, err := s.lastReplicated(ctx, t.ID, g)
			if err != nil {
				return n, err
			}
			if last != nil && last.SnapshotID >= newest.ID {
				continue
			}
			n++
			if _, err := s.Replicate(ctx, newest.ID, ReplicateOptions{TargetID: t.ID}); err != nil {
				errs = append(errs, fmt.Errorf("graph %s: %w", g, err))
			}
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
		}
	}
	return n, errors.Join(errs...)
}
