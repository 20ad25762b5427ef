package backup

import (
	"context"
	"fmt"
	"slices"

	"github.com/graphvault/graphvault/store/meta"
)

// A Pinner names snapshots of a graph that something other than retention still
// needs, each with the reason ("replication to target X", say). Retention and
// Prune keep a pinned snapshot and count it; Delete refuses it with ErrBusy. It may
// be called concurrently.
type Pinner func(ctx context.Context, graphID string) (map[string]string, error)

// WithPinner adds p to the pinners the engine asks; it may be given more than
// once. Checkpoints pin their snapshots without one: the engine reads them from
// the store.
func WithPinner(p Pinner) Option {
	return func(c *config) {
		if p != nil {
			c.pinners = append(c.pinners, p)
		}
	}
}

// WithRetentionHold adds p to the pinners that retention and Prune ask, but an
// explicit Delete does not: what p names is worth keeping (a replication not yet
// done, say) but not worth refusing an operator who deletes it on purpose.
func WithRetentionHold(p Pinner) Option {
	return func(c *config) {
		if p != nil {
			c.holds = append(c.holds, p)
		}
	}
}

// Pins returns the graph's pinned snapshots: those a checkpoint names and those a
// pinner or a retention hold names, each with its reasons. Retention and Prune keep
// them all; Delete refuses those of checkpoints and pinners.
func (e *Engine) Pins(ctx context.Context, graphID string) (map[string]string, error) {
	return e.pins(ctx, graphID, true)
}

func (e *Engine) pins(ctx context.Context, graphID string, holds bool) (map[string]string, error) {
	pins, err := e.checkpointPins(ctx, graphID)
	if err != nil {
		return nil, err
	}
	pinners := e.cfg.pinners
	if holds {
		pinners = append(slices.Clip(pinners), e.cfg.holds...)
	}
	for _, p := range pinners {
		more, err := p(ctx, graphID)
		if err != nil {
			return nil, fmt.Errorf("backup: pins of %s: %w", graphID, err)
		}
		for id, why := range more {
			if pins[id] != "" {
				why = pins[id] + "; " + why
			}
			pins[id] = why
		}
	}
	return pins, nil
}

// checkpointPins names the snapshots of graphID that checkpoints hold.
func (e *Engine) checkpointPins(ctx context.Context, graphID string) (map[string]string, error) {
	pins := map[string]string{}
	cursor := ""
	for {
		cps, next, err := e.store.ListCheckpoints(ctx, cursor, 1000)
		if err != nil {
			return nil, fmt.Errorf("backup: pins of %s: %w", graphID, err)
		}
		for _, cp := range cps {
			for _, g := range cp.Graphs {
				if g.GraphID == graphID && g.SnapshotID != "" {
					pins[g.SnapshotID] = "checkpoint " + cp.ID
				}
			}
		}
		if next == "" {
			return pins, nil
		}
		cursor = next
	}
}

// pinnedError says why a snapshot cannot be deleted.
func pinnedError(row *meta.Snapshot, why string) error {
	return fmt.Errorf("%w: snapshot %s is pinned (%s)", ErrBusy, row.ID, why)
}
