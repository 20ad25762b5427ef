package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// statusScan bounds how many snapshots and checkpoints Status looks at per graph.
const statusScan = 20

// StatusReport says how recoverable every graph is.
type StatusReport struct {
	Time   time.Time     `json:"time"`
	Graphs []GraphStatus `json:"graphs"`
}

// GraphStatus says how recoverable one graph is now.
type GraphStatus struct {
	GraphID    string `json:"graph_id"`
	Registered bool   `json:"registered"` // the catalog knows it
	Journal    bool   `json:"journal"`    // its catalog graph keeps a change journal

	NewestCheckpoint       *CheckpointSummary `json:"newest_checkpoint,omitempty"`
	NewestVerifiedSnapshot *SnapshotSummary   `json:"newest_verified_snapshot,omitempty"`

	// Recoverable: a verified snapshot exists, so a restore can run now.
	Recoverable bool `json:"recoverable"`
	// RecoveryPoint is the newest point a restore reaches now: now itself when the
	// journal holds every batch since the newest verified snapshot, otherwise that
	// snapshot's time.
	RecoveryPoint time.Time `json:"recovery_point,omitzero"`
	// RPO is how much data a restore now would lose: the time since RecoveryPoint.
	RPO time.Duration `json:"rpo_ns"`
	// EstimatedRestore is how long restoring to RecoveryPoint should take.
	EstimatedRestore time.Duration `json:"estimated_restore_ns"`
	EstimateBasis    string        `json:"estimate_basis,omitempty"`
	Problems         []string      `json:"problems,omitempty"`
}

// CheckpointSummary names a checkpoint and its validation.
type CheckpointSummary struct {
	ID              string    `json:"id"`
	CreatedAt       time.Time `json:"created_at"`
	Validated       bool      `json:"validated"`
	ValidatedAt     time.Time `json:"validated_at,omitzero"`
	ValidationError string    `json:"validation_error,omitempty"`
}

// SnapshotSummary names a snapshot.
type SnapshotSummary struct {
	ID          string    `json:"id"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	JournalPos  int64     `json:"journal_pos"`
	BytesStored int64     `json:"bytes_stored"`
}

// Status reports, for every graph of the catalog and every graph with snapshots,
// the newest checkpoint naming it, the newest snapshot that passes a quick
// verification (every object present with its size), the recovery point a restore
// reaches now, the data it would lose and how long it should take.
func (s *Service) Status(ctx context.Context) (*StatusReport, error) {
	now := s.cfg.now().UTC()
	registered, err := s.graphs.GraphIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("recovery: list graphs: %w", err)
	}
	stored, err := s.st.GraphIDs(ctx)
	if err != nil {
		return nil, err
	}
	ids := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(registered), stored...))))
	rep := &StatusReport{Time: now, Graphs: make([]GraphStatus, 0, len(ids))}
	for _, id := range ids {
		gs, err := s.graphStatus(ctx, id, slices.Contains(registered, id), now)
		if err != nil {
			return nil, err
		}
		rep.Graphs = append(rep.Graphs, gs)
	}
	return rep, nil
}

func (s *Service) graphStatus(ctx context.Context, id string, registered bool, now time.Time) (GraphStatus, error) {
	gs := GraphStatus{GraphID: id, Registered: registered}
	var j graph.Journal
	if registered {
		g, err := s.graphs.Graph(ctx, id)
		if err != nil && !errors.Is(err, graph.ErrNotFound) {
			return gs, err
		}
		j, gs.Journal = g.(graph.Journal)
	}
	cp, err := s.newestFor(ctx, id, 10*statusScan)
	if err != nil {
		return gs, err
	}
	if cp != nil {
		gs.NewestCheckpoint = &CheckpointSummary{ID: cp.ID, CreatedAt: cp.CreatedAt, Validated: cp.Validated,
			ValidatedAt: cp.ValidatedAt, ValidationError: cp.ValidationError}
	}
	rows, _, err := s.st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: id, Status: meta.SnapshotCompleted, Limit: statusScan})
	if err != nil {
		return gs, err
	}
	var sn *meta.Snapshot
	for i := range rows {
		rep, err := s.e.Verify(ctx, rows[i].ID, false)
		if err != nil {
			if ctx.Err() != nil {
				return gs, ctx.Err()
			}
			gs.Problems = append(gs.Problems, fmt.Sprintf("snapshot %s: %v", rows[i].ID, err))
			continue
		}
		if !rep.OK {
			gs.Problems = append(gs.Problems, fmt.Sprintf("snapshot %s: %v", rows[i].ID, rep.Err()))
			continue
		}
		sn = &rows[i]
		break
	}
	if sn == nil {
		if len(rows) == 0 {
			gs.Problems = append(gs.Problems, "no completed snapshot")
		} else {
			gs.Problems = append(gs.Problems, fmt.Sprintf("none of the newest %d snapshots passes verification", len(rows)))
		}
		return gs, nil
	}
	gs.Recoverable = true
	gs.NewestVerifiedSnapshot = &SnapshotSummary{ID: sn.ID, StartedAt: sn.StartedAt, FinishedAt: sn.FinishedAt,
		JournalPos: sn.JournalPos, BytesStored: sn.BytesStored}
	gs.RecoveryPoint = sn.StartedAt
	ops := 0
	if j != nil {
		n, err := journalOps(ctx, j, uint64(sn.JournalPos))
		switch {
		case errors.Is(err, graph.ErrJournalGap):
			gs.Problems = append(gs.Problems, fmt.Sprintf("journal gap after the snapshot's position %d: %v", sn.JournalPos, err))
		case err != nil:
			return gs, err
		default:
			gs.RecoveryPoint, ops = now, n
		}
	}
	gs.RPO = max(now.Sub(gs.RecoveryPoint), 0)
	gs.EstimatedRestore, gs.EstimateBasis = s.estimate(sn.BytesStored, ops)
	return gs, nil
}

// journalOps counts the operations the journal holds after pos, or returns an
// error wrapping graph.ErrJournalGap when it no longer holds them all.
func journalOps(ctx context.Context, j graph.Journal, pos uint64) (int, error) {
	n := 0
	for b, err := range j.Changes(ctx, pos) {
		if err != nil {
			return 0, err
		}
		n += len(b.Ops)
	}
	return n, nil
}
