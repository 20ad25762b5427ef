package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

// Pins names the snapshots of graphID that an enabled target still waits for:
// every completed snapshot that finished after the newest one copied to the
// target (or, before its first copy, after the target was added). Retention and
// Prune keep them until the target has a newer copy; a target that stays down
// therefore keeps them all, and its health says so. An explicit Delete still
// removes them. It is a [backup.Pinner], given as a retention hold:
//
//	backup.New(st, bucket, backup.WithRetentionHold(func(ctx context.Context, id string) (map[string]string, error) {
//		return svc.Pins(ctx, id) // svc: the replication service built on that engine
//	}))
func (s *Service) Pins(ctx context.Context, graphID string) (map[string]string, error) {
	targets, err := s.store.ListTargets(ctx)
	if err != nil {
		return nil, err
	}
	pins := map[string]string{}
	for _, t := range targets {
		if !t.Enabled {
			continue
		}
		since, err := s.copiedUpTo(ctx, &t, graphID)
		if err != nil {
			return nil, err
		}
		f := meta.SnapshotFilter{GraphID: graphID, Status: meta.SnapshotCompleted, Limit: 1000}
		for {
			rows, next, err := s.store.ListSnapshots(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, row := range rows {
				if !row.FinishedAt.After(since) {
					continue
				}
				why := "not yet copied to target " + t.Name
				if pins[row.ID] != "" {
					why = pins[row.ID] + "; " + why
				}
				pins[row.ID] = why
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	return pins, nil
}

// copiedUpTo returns when the newest snapshot of graphID copied to t finished,
// or when t was added if none was.
func (s *Service) copiedUpTo(ctx context.Context, t *meta.Target, graphID string) (time.Time, error) {
	evs, _, err := s.store.ListReplicationEvents(ctx, meta.EventFilter{
		TargetID: t.ID, GraphID: graphID, Kind: meta.EventSnapshot, Status: meta.EventOK, Limit: 1})
	if err != nil {
		return time.Time{}, fmt.Errorf("replication: pins: %w", err)
	}
	if len(evs) == 0 {
		return t.CreatedAt, nil
	}
	row, err := s.store.GetSnapshot(ctx, evs[0].SnapshotID)
	switch {
	case err == nil:
		return row.FinishedAt, nil
	case errors.Is(err, meta.ErrNotFound):
		return evs[0].StartedAt, nil
	default:
		return time.Time{}, fmt.Errorf("replication: pins: %w", err)
	}
}
