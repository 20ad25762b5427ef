package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// PlanRequest says what to restore: a checkpoint (CheckpointID), or one graph as
// it was at a point in time (GraphID and At). Exactly one of CheckpointID and
// GraphID is set.
type PlanRequest struct {
	CheckpointID string
	GraphID      string
	// At is the point in time of a GraphID request; zero means now.
	At time.Time
	// AllowEarlier lets [Service.Execute] restore to the nearest earlier point when
	// At cannot be reached exactly.
	AllowEarlier bool
	// Targets restores some graphs into other graphs of the catalog (source graph
	// id → target graph id); a graph not named is restored into itself.
	Targets map[string]string
	// FullVerify makes Execute read and hash every object before writing anything,
	// instead of checking that each is present with its size.
	FullVerify bool
}

func (r *PlanRequest) validate() error {
	switch {
	case r.CheckpointID == "" && r.GraphID == "":
		return fmt.Errorf("%w: a plan needs a checkpoint id or a graph id", ErrInvalid)
	case r.CheckpointID != "" && r.GraphID != "":
		return fmt.Errorf("%w: a plan takes a checkpoint id or a graph id, not both", ErrInvalid)
	case r.CheckpointID != "" && !meta.ValidID(r.CheckpointID):
		return fmt.Errorf("%w: checkpoint id %q", ErrInvalid, r.CheckpointID)
	case r.GraphID != "" && !backup.ValidGraphID(r.GraphID):
		return fmt.Errorf("%w: graph id %q", ErrInvalid, r.GraphID)
	case r.CheckpointID != "" && !r.At.IsZero():
		return fmt.Errorf("%w: a point in time goes with a graph id, not a checkpoint", ErrInvalid)
	}
	for src, dst := range r.Targets {
		if !backup.ValidGraphID(src) || !backup.ValidGraphID(dst) {
			return fmt.Errorf("%w: target %q → %q", ErrInvalid, src, dst)
		}
	}
	return nil
}

// Plan is what a restore will do, built by [Service.Plan] without writing
// anything; it is the dry run of a restore and what [Service.Execute] runs.
type Plan struct {
	CheckpointID string    `json:"checkpoint_id,omitempty"`
	GraphID      string    `json:"graph_id,omitempty"`
	At           time.Time `json:"at,omitzero"` // the point in time asked for
	AllowEarlier bool      `json:"allow_earlier"`
	FullVerify   bool      `json:"full_verify"`
	// Exact: every step reaches its point exactly.
	Exact bool `json:"exact"`
	// Executable: Execute will run the plan (it still verifies the snapshots first).
	Executable bool `json:"executable"`
	// Reason says why the plan is not exact or not executable.
	Reason string `json:"reason,omitempty"`
	Steps  []Step `json:"steps"`

	Objects          int           `json:"objects"`
	Bytes            int64         `json:"bytes"`
	Records          int64         `json:"records"`
	Batches          int           `json:"batches"`
	ExpectedDuration time.Duration `json:"expected_duration_ns"`
	// EstimateBasis says what ExpectedDuration rests on: a throughput assumed, or
	// measured by the restores this service ran.
	EstimateBasis string    `json:"estimate_basis"`
	CreatedAt     time.Time `json:"created_at"`
}

// Step restores one graph: a snapshot, then the journal batches ReplayFrom through
// ReplayTo of the source graph.
type Step struct {
	GraphID          string    `json:"graph_id"`     // the source graph
	TargetGraph      string    `json:"target_graph"` // the graph written
	SnapshotID       string    `json:"snapshot_id,omitempty"`
	SnapshotTime     time.Time `json:"snapshot_time,omitzero"` // when the snapshot began
	SnapshotPosition uint64    `json:"snapshot_position"`      // the journal position it reflects
	ReplayFrom       uint64    `json:"replay_from,omitempty"`
	ReplayTo         uint64    `json:"replay_to,omitempty"`
	Batches          int       `json:"batches"`
	Operations       int       `json:"operations"`
	Objects          int       `json:"objects"` // stored objects read, the manifest included
	Bytes            int64     `json:"bytes"`   // stored bytes read
	Records          int64     `json:"records"` // nodes and edges written by the snapshot
	// ExpectedDuration estimates the step from Bytes and Operations.
	ExpectedDuration time.Duration `json:"expected_duration_ns"`
	// RecoveryPoint is the time the graph will be as of: the point asked for when
	// Exact, otherwise the earlier point reached.
	RecoveryPoint time.Time `json:"recovery_point,omitzero"`
	Exact         bool      `json:"exact"`
	Reason        string    `json:"reason,omitempty"`
}

func (st *Step) replays() bool { return st.ReplayTo >= st.ReplayFrom && st.ReplayFrom > 0 }

// Plan builds the restore req asks for, without writing anything.
//
// For a checkpoint, each graph restores its snapshot: the checkpoint's journal
// position is the snapshot's, so the plan is exact.
//
// For a point in time T, the graph's journal (when its catalog graph implements
// [graph.Journal]) decides: the plan takes the newest completed snapshot whose last
// change was made at or before T, then the batches after the snapshot's position
// through the last one made at or before T. Batch times are taken to grow with
// positions. When the batch at the snapshot's position is no longer kept, the oldest
// kept batch, or else the time the snapshot finished, bounds its time. Without a
// journal the newest snapshot finished at or before T is taken. The journal
// speaks only for snapshots taken from it ([graph.Meta].Journal, recorded in the
// manifest): positions of another journal (the graph's before a restart) are
// unrelated to the current one's, so such a snapshot counts as taken without a
// journal (finished at or before T) and nothing is replayed after it.
//
// The plan is not exact, and Execute refuses it unless AllowEarlier, when the graph
// has no journal, or the journal no longer holds the batches after the snapshot
// (a gap: retention or a limit dropped them); the step then reaches only the
// snapshot and says so. When no snapshot is at or before T, the plan is not
// executable at all. A graph the catalog does not know and that has no snapshots is
// ErrNotFound.
func (s *Service) Plan(ctx context.Context, req PlanRequest) (*Plan, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	p := &Plan{
		CheckpointID: req.CheckpointID, GraphID: req.GraphID, AllowEarlier: req.AllowEarlier,
		FullVerify: req.FullVerify, CreatedAt: s.cfg.now().UTC(),
	}
	if req.CheckpointID != "" {
		cp, err := s.Get(ctx, req.CheckpointID)
		if err != nil {
			return nil, err
		}
		for _, g := range cp.Graphs {
			st, err := s.checkpointStep(ctx, g)
			if err != nil {
				return nil, err
			}
			p.Steps = append(p.Steps, st)
		}
	} else {
		p.At = req.At.UTC()
		if p.At.IsZero() {
			p.At = p.CreatedAt
		}
		st, err := s.pointStep(ctx, req.GraphID, p.At)
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, st)
	}
	for src := range req.Targets {
		found := false
		for _, st := range p.Steps {
			found = found || st.GraphID == src
		}
		if !found {
			return nil, fmt.Errorf("%w: target given for graph %q, which the plan does not restore", ErrInvalid, src)
		}
	}
	p.Exact, p.Executable = true, true
	var reasons []string
	ops := 0
	for i := range p.Steps {
		st := &p.Steps[i]
		st.TargetGraph = st.GraphID
		if t := req.Targets[st.GraphID]; t != "" {
			st.TargetGraph = t
		}
		st.ExpectedDuration, _ = s.estimate(st.Bytes, st.Operations)
		p.Objects += st.Objects
		p.Bytes += st.Bytes
		p.Records += st.Records
		p.Batches += st.Batches
		ops += st.Operations
		p.Exact = p.Exact && st.Exact
		if st.SnapshotID == "" {
			p.Executable = false
		}
		if st.Reason != "" {
			reasons = append(reasons, "graph "+st.GraphID+": "+st.Reason)
		}
	}
	if !p.Exact && !p.AllowEarlier {
		p.Executable = false
		reasons = append(reasons, "the point asked for cannot be reached exactly and allow_earlier is not set")
	}
	p.Reason = strings.Join(reasons, "; ")
	p.ExpectedDuration, p.EstimateBasis = s.estimate(p.Bytes, ops)
	return p, nil
}

// checkpointStep plans the restore of one graph of a checkpoint.
func (s *Service) checkpointStep(ctx context.Context, g meta.CheckpointGraph) (Step, error) {
	st := Step{GraphID: g.GraphID, Exact: true}
	m, err := s.e.Manifest(ctx, g.SnapshotID)
	if err != nil {
		return st, snapshotError(g.GraphID, g.SnapshotID, err)
	}
	fillFromManifest(&st, m)
	st.RecoveryPoint = st.SnapshotTime
	if int64(m.Position) != g.JournalPos {
		return st, fmt.Errorf("%w: snapshot %s of graph %s reflects journal position %d, the checkpoint records %d",
			ErrCorrupt, g.SnapshotID, g.GraphID, m.Position, g.JournalPos)
	}
	return st, nil
}

// snapshotError maps a backup error about a snapshot to this package's errors,
// keeping the original (and the object it names) in the chain.
func snapshotError(graphID, snapshotID string, err error) error {
	switch {
	case errors.Is(err, backup.ErrNotFound):
		return fmt.Errorf("%w: snapshot %s of graph %s: %w", ErrNotFound, snapshotID, graphID, err)
	case errors.Is(err, backup.ErrCorrupt):
		return fmt.Errorf("%w: snapshot %s of graph %s: %w", ErrCorrupt, snapshotID, graphID, err)
	}
	return fmt.Errorf("recovery: snapshot %s of graph %s: %w", snapshotID, graphID, err)
}

func fillFromManifest(st *Step, m *backup.Manifest) {
	st.SnapshotID = m.ID
	st.SnapshotTime = m.StartedAt
	st.SnapshotPosition = m.Position
	st.Objects = 1 + len(m.Objects()) // and the manifest
	st.Bytes = m.BytesStored
	st.Records = m.Nodes + m.Edges
}

// pointStep plans the restore of one graph to time at.
func (s *Service) pointStep(ctx context.Context, gid string, at time.Time) (Step, error) {
	st := Step{GraphID: gid}
	var cur journal
	var r graph.Reader
	g, err := s.graphs.Graph(ctx, gid)
	switch {
	case err == nil:
		r = g
		if j, ok := g.(graph.Journal); ok {
			if cur, err = currentJournal(ctx, j, r); err != nil {
				return st, fmt.Errorf("recovery: graph %s: %w", gid, err)
			}
		}
	case !errors.Is(err, graph.ErrNotFound):
		return st, fmt.Errorf("recovery: graph %s: %w", gid, err)
	}
	found := false
	f := meta.SnapshotFilter{GraphID: gid, Status: meta.SnapshotCompleted, Limit: 100}
	for {
		rows, next, err := s.st.ListSnapshots(ctx, f)
		if err != nil {
			return st, err
		}
		for i := range rows {
			found = true
			ok, err := s.tryPoint(ctx, &st, &rows[i], cur, r, at)
			if err != nil || ok {
				return st, err
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	switch {
	case !found && g == nil:
		return st, fmt.Errorf("%w: graph %q does not exist and has no snapshots", ErrNotFound, gid)
	case !found:
		st.Reason = "the graph has no completed snapshot"
	default:
		st.Reason = fmt.Sprintf("no completed snapshot is at or before %s", at.Format(time.RFC3339Nano))
	}
	return st, nil
}

// order says whether a snapshot's content is at or before a point in time.
type order int

const (
	orderUnknown order = iota
	orderBefore        // every change it holds was made at or before the point
	orderAfter         // it holds a change made after the point
)

// journal is a graph's change journal and the name its positions count in.
type journal struct {
	j    graph.Journal // nil: the graph keeps none
	name string        // [graph.Meta].Journal; "" when unknown
}

// currentJournal names the journal of a graph that keeps one, from a view.
func currentJournal(ctx context.Context, j graph.Journal, r graph.Reader) (journal, error) {
	v, err := r.View(ctx)
	if err != nil {
		return journal{}, err
	}
	defer v.Close()
	return journal{j: j, name: v.Meta().Journal}, nil
}

// tryPoint fills st from row if row can serve the point at; it reports false when
// row holds changes made after at.
func (s *Service) tryPoint(ctx context.Context, st *Step, row *meta.Snapshot, cur journal, r graph.Reader, at time.Time) (bool, error) {
	pos := uint64(row.JournalPos)
	var m *backup.Manifest
	load := func() error {
		var err error
		if m == nil {
			if m, err = s.e.Manifest(ctx, row.ID); err != nil {
				return snapshotError(row.GraphID, row.ID, err)
			}
		}
		return nil
	}
	fill := func() error {
		if err := load(); err != nil {
			return err
		}
		fillFromManifest(st, m)
		return nil
	}
	j, other := cur.j, false
	if j != nil {
		// The journal places and continues only the snapshots taken from it.
		if err := load(); err != nil {
			if row.FinishedAt.After(at) {
				return false, nil // not a candidate anyway
			}
			return false, err
		}
		if m.Journal == "" || m.Journal != cur.name {
			j, other = nil, true
		}
	}
	if j == nil {
		if row.FinishedAt.After(at) {
			return false, nil
		}
		if err := fill(); err != nil {
			return false, err
		}
		st.RecoveryPoint = st.SnapshotTime
		st.Reason = fmt.Sprintf("the graph has no journal: restores snapshot %s as of %s; later changes cannot be replayed",
			row.ID, st.SnapshotTime.Format(time.RFC3339Nano))
		if other {
			st.Reason = fmt.Sprintf("snapshot %s was taken from another journal of the graph (before a restart): restores it as of %s; changes after it cannot be replayed",
				row.ID, st.SnapshotTime.Format(time.RFC3339Nano))
		}
		return true, nil
	}
	w, err := scanJournal(ctx, j, pos, at)
	if err != nil {
		return false, fmt.Errorf("recovery: read the journal of graph %s: %w", row.GraphID, err)
	}
	if w.order == orderUnknown && w.gap != nil {
		if t, ok, err := oldestKept(ctx, j, r, pos); err != nil {
			return false, err
		} else if ok && !t.After(at) {
			w.order = orderBefore
		}
	}
	if w.order == orderUnknown && !row.FinishedAt.After(at) {
		w.order = orderBefore
	}
	if w.order != orderBefore {
		return false, nil
	}
	if err := fill(); err != nil {
		return false, err
	}
	if w.gap != nil {
		st.RecoveryPoint = st.SnapshotTime
		if !w.at.IsZero() {
			st.RecoveryPoint = w.at
		}
		st.Reason = fmt.Sprintf("journal gap: the batches after position %d are no longer kept (%v); restores snapshot %s as of %s",
			pos, w.gap, row.ID, st.RecoveryPoint.Format(time.RFC3339Nano))
		return true, nil
	}
	st.Exact = true
	st.RecoveryPoint = at
	if w.to > pos {
		st.ReplayFrom, st.ReplayTo = pos+1, w.to
		st.Batches, st.Operations = w.batches, w.ops
	}
	return true, nil
}

// window is what a journal says about restoring a snapshot at position pos to a
// point in time.
type window struct {
	order   order
	at      time.Time // time of the batch at pos, when kept
	to      uint64    // the last position to replay; pos when none
	batches int
	ops     int
	gap     error // the journal cannot serve the batches after pos
}

// scanJournal reads the journal from the batch at pos (when still kept) up to the
// first batch made after t.
func scanJournal(ctx context.Context, j graph.Journal, pos uint64, t time.Time) (window, error) {
	w := window{to: pos}
	if pos == 0 {
		w.order = orderBefore // the empty graph before the first batch
	}
	after := pos
	if pos > 0 {
		after = pos - 1
	}
	for {
		retry := false
		for b, err := range j.Changes(ctx, after) {
			if err != nil {
				if !errors.Is(err, graph.ErrJournalGap) {
					return w, err
				}
				if after < pos { // the batch at pos is gone; those after it may not be
					retry = true
					break
				}
				w.gap = err
				return w, nil
			}
			if b.Seq <= pos {
				if b.Time.After(t) {
					w.order = orderAfter
					return w, nil
				}
				w.order, w.at = orderBefore, b.Time
				continue
			}
			if b.Seq != w.to+1 {
				return w, fmt.Errorf("journal yielded position %d after %d", b.Seq, w.to)
			}
			if b.Time.After(t) {
				return w, nil
			}
			// A batch after pos made at or before t: so was the snapshot's last change.
			w.order = orderBefore
			w.to = b.Seq
			w.batches++
			w.ops += len(b.Ops)
		}
		if !retry {
			return w, nil
		}
		after = pos
	}
}

// oldestKept returns the time of the oldest batch the journal still keeps after
// pos, found by bisecting positions between pos and the graph's current one.
func oldestKept(ctx context.Context, j graph.Journal, r graph.Reader, pos uint64) (time.Time, bool, error) {
	if r == nil {
		return time.Time{}, false, nil
	}
	v, err := r.View(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	head := v.Meta().Position
	v.Close()
	probe := func(after uint64) (gap bool, first graph.Batch, ok bool, err error) {
		for b, err := range j.Changes(ctx, after) {
			if err != nil {
				if errors.Is(err, graph.ErrJournalGap) {
					return true, b, false, nil
				}
				return false, b, false, err
			}
			return false, b, true, nil
		}
		return false, graph.Batch{}, false, nil
	}
	lo, hi := pos, head // gap after lo; none after hi
	if lo >= hi {
		return time.Time{}, false, nil
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		gap, _, _, err := probe(mid)
		if err != nil {
			return time.Time{}, false, err
		}
		if gap {
			lo = mid
		} else {
			hi = mid
		}
	}
	_, b, ok, err := probe(hi)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	return b.Time, true, nil
}
