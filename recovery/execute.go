package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
)

// RestoreResult is what [Service.Execute] did.
type RestoreResult struct {
	Plan     *Plan          `json:"plan"`
	Exact    bool           `json:"exact"`
	Graphs   []GraphRestore `json:"graphs"`
	Duration time.Duration  `json:"duration_ns"`
}

// GraphRestore is what one step of a plan wrote.
type GraphRestore struct {
	GraphID       string        `json:"graph_id"`
	TargetGraph   string        `json:"target_graph"`
	SnapshotID    string        `json:"snapshot_id"`
	Nodes         int64         `json:"nodes"`
	Edges         int64         `json:"edges"`
	Batches       int           `json:"batches"`
	Operations    int           `json:"operations"`
	Position      uint64        `json:"position"` // the source journal position reached
	RecoveryPoint time.Time     `json:"recovery_point,omitzero"`
	Exact         bool          `json:"exact"`
	Created       bool          `json:"created,omitempty"` // the restore created the target graph
	Note          string        `json:"note,omitempty"`    // the earlier point reached, when not exact
	Duration      time.Duration `json:"duration_ns"`
}

// Execute runs a plan from [Service.Plan]. Before writing anything it refuses a
// plan that is not executable (ErrInexact), a checkpoint whose last validation
// failed (ErrCorrupt), and a snapshot that fails verification, quick or full as
// the plan says (ErrCorrupt naming the object); it resolves every target graph in
// the catalog, and reads every journal batch to replay from the source graphs'
// journals, so that restoring a graph into itself does not read the reset batch the
// restore appends. Then each graph is restored in turn: the snapshot replaces the
// target's content (atomically: a failure leaves it as it was), and the batches
// are applied one by one.
//
// A target the catalog does not hold is ErrNotFound, unless the catalog
// implements [graph.Creator]: then the target is created, restored and replayed
// aside, and added to the catalog only once its step succeeded (Created in its
// GraphRestore).
//
// A failure after the first graph was written leaves the graphs before it restored
// and the error says which; a batch that fails to apply leaves its graph at the
// batch before (a created graph is then not added at all).
func (s *Service) Execute(ctx context.Context, plan *Plan) (*RestoreResult, error) {
	start := time.Now()
	res, written, err := s.execute(ctx, plan)
	result := "ok"
	switch {
	case err != nil && !written:
		result = "refused"
	case err != nil:
		result = "failed"
	}
	d := time.Since(start)
	s.countRestore(ctx, result, d)
	if err != nil {
		return nil, err
	}
	res.Duration = d
	s.log.InfoContext(ctx, "restore completed", "checkpoint", plan.CheckpointID, "graphs", len(res.Graphs), "exact", res.Exact, "duration", d)
	return res, nil
}

func (s *Service) execute(ctx context.Context, plan *Plan) (*RestoreResult, bool, error) {
	if plan == nil || len(plan.Steps) == 0 {
		return nil, false, fmt.Errorf("%w: an empty plan", ErrInvalid)
	}
	if !plan.Exact && !plan.AllowEarlier {
		return nil, false, fmt.Errorf("%w: %s", ErrInexact, plan.Reason)
	}
	for _, st := range plan.Steps {
		if st.SnapshotID == "" {
			return nil, false, fmt.Errorf("%w: graph %s: %s", ErrInexact, st.GraphID, st.Reason)
		}
	}
	if plan.CheckpointID != "" {
		cp, err := s.Get(ctx, plan.CheckpointID)
		if err != nil {
			return nil, false, err
		}
		if cp.ValidationError != "" {
			return nil, false, fmt.Errorf("%w: checkpoint %s failed validation at %s: %s",
				ErrCorrupt, cp.ID, cp.ValidatedAt.Format(time.RFC3339), cp.ValidationError)
		}
	}
	targets, err := s.resolveTargets(ctx, plan)
	if err != nil {
		return nil, false, err
	}
	for _, st := range plan.Steps {
		rep, err := s.e.Verify(ctx, st.SnapshotID, plan.FullVerify)
		if err != nil {
			return nil, false, snapshotError(st.GraphID, st.SnapshotID, err)
		}
		if !rep.OK {
			return nil, false, snapshotError(st.GraphID, st.SnapshotID, rep.Err())
		}
	}
	batches := make([][]graph.Batch, len(plan.Steps))
	for i, st := range plan.Steps {
		if !st.replays() {
			continue
		}
		b, err := s.readBatches(ctx, st)
		if err != nil {
			return nil, false, err
		}
		batches[i] = b
	}

	res := &RestoreResult{Plan: plan, Exact: plan.Exact}
	written := false
	for i, st := range plan.Steps {
		t0 := time.Now()
		gr := GraphRestore{
			GraphID: st.GraphID, TargetGraph: st.TargetGraph, SnapshotID: st.SnapshotID,
			Position: st.SnapshotPosition, RecoveryPoint: st.RecoveryPoint, Exact: st.Exact,
		}
		if !st.Exact {
			gr.Note = st.Reason
		}
		var err error
		if targets[i] != nil {
			err = s.runStep(ctx, st, targets[i], batches[i], &gr, res, &written)
		} else {
			err = s.createStep(ctx, st, batches[i], &gr, res, &written)
		}
		if err != nil {
			return nil, written, err
		}
		gr.Duration = time.Since(t0)
		res.Graphs = append(res.Graphs, gr)
	}
	return res, written, nil
}

// resolveTargets finds the graph each step writes; nil for a target the catalog
// does not hold and can create.
func (s *Service) resolveTargets(ctx context.Context, plan *Plan) ([]graph.Graph, error) {
	targets := make([]graph.Graph, len(plan.Steps))
	_, canCreate := s.graphs.(graph.Creator)
	for i, st := range plan.Steps {
		target := st.target()
		g, err := s.graphs.Graph(ctx, target)
		switch {
		case err == nil:
			targets[i] = g
		case errors.Is(err, graph.ErrNotFound) && canCreate:
		case errors.Is(err, graph.ErrNotFound):
			return nil, fmt.Errorf("%w: target graph %q: %w", ErrNotFound, target, err)
		default:
			return nil, err
		}
	}
	return targets, nil
}

// target is the graph the step writes.
func (st Step) target() string {
	if st.TargetGraph == "" {
		return st.GraphID
	}
	return st.TargetGraph
}

// runStep restores the step's snapshot into g, then replays its batches.
func (s *Service) runStep(ctx context.Context, st Step, g graph.Graph, batches []graph.Batch, gr *GraphRestore, res *RestoreResult, written *bool) error {
	t0 := time.Now()
	r, err := s.e.Restore(ctx, st.SnapshotID, g, backup.RestoreOptions{})
	if err != nil {
		return fmt.Errorf("recovery: restore graph %s into %s%s: %w", st.GraphID, st.TargetGraph, doneSoFar(res), snapshotError(st.GraphID, st.SnapshotID, err))
	}
	*written = true
	s.observeRate(st.Bytes, time.Since(t0))
	gr.Nodes, gr.Edges = r.Nodes, r.Edges
	for _, b := range batches {
		if err := g.Apply(ctx, b.Ops); err != nil {
			return fmt.Errorf("recovery: graph %s restored into %s up to journal position %d, replaying batch %d failed%s: %w",
				st.GraphID, st.TargetGraph, gr.Position, b.Seq, doneSoFar(res), err)
		}
		gr.Position = b.Seq
		gr.Batches++
		gr.Operations += len(b.Ops)
	}
	return nil
}

// createStep runs the step into a graph the catalog creates under its target
// id, which the catalog adds only if the whole step succeeds.
func (s *Service) createStep(ctx context.Context, st Step, batches []graph.Batch, gr *GraphRestore, res *RestoreResult, written *bool) error {
	m, err := s.e.Manifest(ctx, st.SnapshotID)
	if err != nil {
		return snapshotError(st.GraphID, st.SnapshotID, err)
	}
	var inner bool
	_, err = s.graphs.(graph.Creator).Create(ctx, st.target(), graph.Meta{Directed: m.Directed}, func(ctx context.Context, g graph.Graph) error {
		return s.runStep(ctx, st, g, batches, gr, res, &inner)
	})
	if err != nil {
		if errors.Is(err, graph.ErrExists) {
			return fmt.Errorf("%w: target graph %q was created meanwhile: %w", ErrBusy, st.target(), err)
		}
		return err
	}
	*written, gr.Created = true, true
	return nil
}

// readBatches reads the batches a step replays from its source graph's journal.
func (s *Service) readBatches(ctx context.Context, st Step) ([]graph.Batch, error) {
	g, err := s.graphs.Graph(ctx, st.GraphID)
	if err != nil {
		return nil, fmt.Errorf("%w: graph %s: the journal to replay is gone: %w", ErrInexact, st.GraphID, err)
	}
	j, ok := g.(graph.Journal)
	if !ok {
		return nil, fmt.Errorf("%w: graph %s has no journal to replay", ErrInexact, st.GraphID)
	}
	out := make([]graph.Batch, 0, st.Batches)
	next := st.ReplayFrom
	for b, err := range j.Changes(ctx, st.ReplayFrom-1) {
		if err != nil {
			if errors.Is(err, graph.ErrJournalGap) {
				return nil, fmt.Errorf("%w: graph %s: the journal no longer holds positions %d to %d: %w", ErrInexact, st.GraphID, st.ReplayFrom, st.ReplayTo, err)
			}
			return nil, fmt.Errorf("recovery: read the journal of graph %s: %w", st.GraphID, err)
		}
		if b.Seq > st.ReplayTo {
			break
		}
		if b.Seq != next {
			return nil, fmt.Errorf("recovery: the journal of graph %s yielded position %d, want %d", st.GraphID, b.Seq, next)
		}
		out = append(out, b)
		next++
	}
	if next != st.ReplayTo+1 {
		return nil, fmt.Errorf("%w: graph %s: the journal ends at position %d, the plan replays to %d", ErrInexact, st.GraphID, next-1, st.ReplayTo)
	}
	return out, nil
}

// doneSoFar names the graphs a failed restore already wrote.
func doneSoFar(res *RestoreResult) string {
	if len(res.Graphs) == 0 {
		return ""
	}
	ids := make([]string, len(res.Graphs))
	for i, g := range res.Graphs {
		ids[i] = g.TargetGraph
	}
	return " (already restored: " + strings.Join(ids, ", ") + ")"
}
