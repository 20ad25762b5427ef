package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/meta"
)

// Health event names of checkpoint findings: [Service.Validate] records them, and
// [CheckpointCheck] reports under the same names.
const (
	checkpointComponent = "recovery"
	checkpointCheck     = "checkpoint"
)

// maxRecordedFindings bounds how many findings one validation records as health
// events and in the checkpoint's error; the answer lists them all.
const maxRecordedFindings = 20

// Finding is one problem a validation found.
type Finding struct {
	GraphID    string `json:"graph_id"`
	SnapshotID string `json:"snapshot_id,omitempty"`
	Object     string `json:"object,omitempty"` // the object at fault, when one is
	Detail     string `json:"detail"`
}

func (f Finding) String() string {
	s := "graph " + f.GraphID
	if f.SnapshotID != "" {
		s += ": snapshot " + f.SnapshotID
	}
	if f.Object != "" {
		s += ": object " + f.Object
	}
	return s + ": " + f.Detail
}

// Validation is the outcome of [Service.Validate].
type Validation struct {
	CheckpointID string                 `json:"checkpoint_id"`
	OK           bool                   `json:"ok"`
	Findings     []Finding              `json:"findings,omitempty"`
	Reports      []*backup.VerifyReport `json:"reports"` // one per snapshot verified
	Checkpoint   *meta.Checkpoint       `json:"checkpoint"`
	Duration     time.Duration          `json:"duration_ns"`
}

// Validate verifies every snapshot the checkpoint names in full (every object
// read and hashed, every record decoded, no dangling edge, no duplicate key, the
// manifest's counts) and checks that each is still the snapshot of its graph at the
// journal position the checkpoint recorded. The outcome is recorded on the
// checkpoint (Validated, ValidatedAt, and ValidationError naming what failed) and
// as health events (component "recovery", check "checkpoint"): one fail event per
// finding, or one pass event. A validation that finds problems is not an error; an
// error means it could not run, and nothing is recorded then.
func (s *Service) Validate(ctx context.Context, id string) (*Validation, error) {
	start := time.Now()
	cp, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &Validation{CheckpointID: cp.ID, Reports: []*backup.VerifyReport{}}
	for _, g := range cp.Graphs {
		if err := s.validateGraph(ctx, g, v); err != nil {
			s.countValidation(ctx, "error")
			return nil, err
		}
	}
	v.OK = len(v.Findings) == 0
	cp.Validated = v.OK
	cp.ValidatedAt = s.cfg.now().UTC()
	cp.ValidationError = ""
	if !v.OK {
		cp.ValidationError = summarize(v.Findings)
	}
	// The record is written even when ctx ended after the work was done.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.st.UpdateCheckpoint(rctx, cp); err != nil {
		s.countValidation(ctx, "error")
		if errors.Is(err, meta.ErrNotFound) {
			return nil, fmt.Errorf("%w: checkpoint %s was deleted during validation", ErrNotFound, cp.ID)
		}
		return nil, fmt.Errorf("recovery: record validation of %s: %w", cp.ID, err)
	}
	s.recordFindings(rctx, cp, v.Findings)
	result := "valid"
	if !v.OK {
		result = "invalid"
	}
	s.countValidation(ctx, result)
	v.Checkpoint = cp
	v.Duration = time.Since(start)
	return v, nil
}

// validateGraph verifies one graph's snapshot, adding what it finds to v. It
// returns an error only when verification could not run.
func (s *Service) validateGraph(ctx context.Context, g meta.CheckpointGraph, v *Validation) error {
	add := func(object, format string, args ...any) {
		v.Findings = append(v.Findings, Finding{GraphID: g.GraphID, SnapshotID: g.SnapshotID, Object: object, Detail: fmt.Sprintf(format, args...)})
	}
	rep, err := s.e.Verify(ctx, g.SnapshotID, true)
	switch {
	case errors.Is(err, backup.ErrNotFound):
		add("", "snapshot is gone: %v", err)
		return nil
	case err != nil:
		return fmt.Errorf("recovery: verify snapshot %s of graph %s: %w", g.SnapshotID, g.GraphID, err)
	}
	v.Reports = append(v.Reports, rep)
	for _, p := range rep.Problems {
		add(p.Object, "%s", p.Detail)
	}
	if !rep.OK {
		return nil
	}
	// The binding itself: the snapshot is of this graph at the recorded position.
	m, err := s.e.Manifest(ctx, g.SnapshotID)
	if err != nil {
		var ce *backup.CorruptError
		if errors.As(err, &ce) {
			add(ce.Key, "%v", ce.Err)
			return nil
		}
		return err
	}
	if m.GraphID != g.GraphID {
		add("", "snapshot is of graph %q", m.GraphID)
	}
	if int64(m.Position) != g.JournalPos {
		add("", "snapshot reflects journal position %d, checkpoint records %d", m.Position, g.JournalPos)
	}
	return nil
}

// summarize joins findings into the checkpoint's validation error.
func summarize(fs []Finding) string {
	parts := make([]string, 0, min(len(fs), maxRecordedFindings))
	for i, f := range fs {
		if i == maxRecordedFindings {
			break
		}
		parts = append(parts, f.String())
	}
	s := strings.Join(parts, "; ")
	if n := len(fs) - maxRecordedFindings; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// recordFindings writes the health events of a validation; a failure to write is
// logged, as the validation itself is recorded.
func (s *Service) recordFindings(ctx context.Context, cp *meta.Checkpoint, fs []Finding) {
	now := s.cfg.now().UTC()
	events := []*meta.HealthEvent{}
	if len(fs) == 0 {
		events = append(events, &meta.HealthEvent{
			Component: checkpointComponent, Check: checkpointCheck, Status: meta.HealthPass,
			Message: fmt.Sprintf("checkpoint %s validated: %d graphs", cp.ID, len(cp.Graphs)),
			Details: map[string]any{"checkpoint": cp.ID}, CreatedAt: now,
		})
	}
	for i, f := range fs {
		if i == maxRecordedFindings {
			break
		}
		events = append(events, &meta.HealthEvent{
			Component: checkpointComponent, Check: checkpointCheck, Status: meta.HealthFail,
			Message:   "checkpoint " + cp.ID + ": " + f.String(),
			Details:   map[string]any{"checkpoint": cp.ID, "graph": f.GraphID, "snapshot": f.SnapshotID, "object": f.Object},
			CreatedAt: now,
		})
	}
	var errs []error
	for _, ev := range events {
		if err := s.st.AddHealthEvent(ctx, ev); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.log.WarnContext(ctx, "recovery: recording checkpoint health events", "checkpoint", cp.ID, "err", err)
	}
}
