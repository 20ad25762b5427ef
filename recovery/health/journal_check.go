package health

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// JournalCheck finds journal gaps: for every graph of the catalog that keeps a
// change journal, the journal must still hold every batch after the position of
// the graph's newest completed snapshot, or point-in-time recovery past that
// snapshot is impossible; positions must follow each other without a hole.
type JournalCheck struct {
	st     *meta.Store
	graphs graph.Catalog
}

// NewJournalCheck returns a journal check of the catalog's graphs.
func NewJournalCheck(st *meta.Store, graphs graph.Catalog) *JournalCheck {
	return &JournalCheck{st: st, graphs: graphs}
}

// Component returns "journal".
func (*JournalCheck) Component() string { return "journal" }

// Name returns "gaps".
func (*JournalCheck) Name() string { return "gaps" }

// JournalState is what [JournalCheck] found for one graph; Details hold one under
// "graphs" → graph id.
type JournalState struct {
	Status   Status `json:"status"`
	Snapshot string `json:"snapshot,omitempty"`
	From     int64  `json:"from"`    // the snapshot's position
	Batches  int    `json:"batches"` // batches kept after it
	Newest   uint64 `json:"newest"`  // the newest position seen
	Problem  string `json:"problem,omitempty"`
}

// Check reads each journal from its graph's newest snapshot position onwards.
func (c *JournalCheck) Check(ctx context.Context) Result {
	ids, err := c.graphs.GraphIDs(ctx)
	if err != nil {
		return Result{Status: Fail, Message: "listing graphs: " + err.Error()}
	}
	status := Pass
	states := map[string]JournalState{}
	var problems []string
	journals := 0
	for _, id := range ids {
		g, err := c.graphs.Graph(ctx, id)
		if err != nil {
			return Result{Status: Fail, Message: fmt.Sprintf("graph %s: %v", id, err)}
		}
		j, ok := g.(graph.Journal)
		if !ok {
			continue
		}
		journals++
		s := c.journal(ctx, id, j)
		states[id] = s
		status = status.Worse(s.Status)
		if s.Problem != "" {
			problems = append(problems, id+": "+s.Problem)
		}
	}
	msg := strings.Join(problems, "; ")
	if journals == 0 {
		msg = "no graph keeps a journal"
	}
	return Result{Status: status, Message: msg, Details: map[string]any{"graphs": states}}
}

func (c *JournalCheck) journal(ctx context.Context, graphID string, j graph.Journal) JournalState {
	var s JournalState
	row, err := c.st.LatestSnapshot(ctx, graphID, meta.SnapshotCompleted)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		// No snapshot: the whole journal is the only way back.
	case err != nil:
		return JournalState{Status: Fail, Problem: "reading snapshots: " + err.Error()}
	default:
		s.Snapshot, s.From = row.ID, row.JournalPos
	}
	s.Status = Pass
	next := uint64(s.From) + 1
	for b, err := range j.Changes(ctx, uint64(s.From)) {
		if err != nil {
			s.Status = Fail
			if errors.Is(err, graph.ErrJournalGap) {
				s.Problem = fmt.Sprintf("journal no longer holds the batches after position %d: changes since the newest snapshot cannot be replayed", s.From)
			} else {
				s.Problem = "reading the journal: " + err.Error()
			}
			return s
		}
		if b.Seq != next {
			s.Status = Fail
			s.Problem = fmt.Sprintf("journal jumps from position %d to %d", next-1, b.Seq)
			return s
		}
		next++
		s.Batches++
		s.Newest = b.Seq
	}
	return s
}
