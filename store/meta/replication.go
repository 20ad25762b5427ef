package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Replication event kinds.
const (
	EventSnapshot = "snapshot"
	EventJournal  = "journal"
	EventCheck    = "check"
)

// Replication event statuses.
const (
	EventOK     = "ok"
	EventFailed = "failed"
)

// ReplicationEvent records one replication run to one target. A snapshot event
// counts the objects copied and skipped; a journal event (one shipping run) counts
// the journal batches shipped in ObjectsCopied, the stored bytes of their segments
// in Bytes, and names the newest position shipped in JournalPos and, when the run
// restarted from a baseline snapshot, that snapshot in SnapshotID.
type ReplicationEvent struct {
	bun.BaseModel `bun:"table:graphvault_replication_events,alias:event"`

	ID              string    `bun:"id,pk" json:"id"`
	TargetID        string    `bun:"target_id,notnull" json:"target_id"`
	GraphID         string    `bun:"graph_id,notnull" json:"graph_id,omitempty"`
	SnapshotID      string    `bun:"snapshot_id,notnull" json:"snapshot_id,omitempty"`
	Kind            string    `bun:"kind,notnull" json:"kind"`     // "snapshot", "journal" or "check"
	Status          string    `bun:"status,notnull" json:"status"` // "ok" or "failed"
	Bytes           int64     `bun:"bytes,notnull" json:"bytes"`
	ObjectsCopied   int64     `bun:"objects_copied,notnull" json:"objects_copied"`
	ObjectsSkipped  int64     `bun:"objects_skipped,notnull" json:"objects_skipped"`
	JournalPos      int64     `bun:"journal_pos,notnull" json:"journal_pos"`
	StartedAt       time.Time `bun:"started_at,notnull" json:"started_at"`
	DurationSeconds float64   `bun:"duration_seconds,notnull" json:"duration_seconds"`
	Error           string    `bun:"error,notnull" json:"error,omitempty"`
}

func (e *ReplicationEvent) validate() error {
	if e.TargetID == "" {
		return fmt.Errorf("%w: replication event needs a target id", ErrInvalid)
	}
	if err := oneOf("replication event kind", e.Kind, EventSnapshot, EventJournal, EventCheck); err != nil {
		return err
	}
	return oneOf("replication event status", e.Status, EventOK, EventFailed)
}

// AddReplicationEvent inserts e, filling an empty ID, and StartedAt with now if zero.
func (s *Store) AddReplicationEvent(ctx context.Context, e *ReplicationEvent) error {
	return s.write(ctx, "add replication event", e.ID, func(ctx context.Context) error {
		if err := checkID(&e.ID); err != nil {
			return err
		}
		if err := e.validate(); err != nil {
			return err
		}
		if e.StartedAt.IsZero() {
			e.StartedAt = s.nowUTC()
		}
		e.StartedAt = utc(e.StartedAt)
		_, err := s.db.NewInsert().Model(e).Exec(ctx)
		return err
	})
}

// EventFilter selects replication events. Zero fields match everything.
type EventFilter struct {
	TargetID string
	GraphID  string
	Kind     string // one of the Event* kinds
	Status   string // "ok" or "failed"
	Cursor   string // from a previous page
	Limit    int    // page size: 0 means 50, at most 1000
}

// ListReplicationEvents returns one page of the events matching f, newest first, and
// the next page's cursor ("" after the last page).
func (s *Store) ListReplicationEvents(ctx context.Context, f EventFilter) ([]ReplicationEvent, string, error) {
	var out []ReplicationEvent
	var next string
	err := s.do(ctx, "list replication events", "", func(ctx context.Context) error {
		if err := oneOfOrEmpty("replication event kind", f.Kind, EventSnapshot, EventJournal, EventCheck); err != nil {
			return err
		}
		if err := oneOfOrEmpty("replication event status", f.Status, EventOK, EventFailed); err != nil {
			return err
		}
		q := s.db.NewSelect().Model(&out)
		if f.TargetID != "" {
			q = q.Where("target_id = ?", f.TargetID)
		}
		if f.GraphID != "" {
			q = q.Where("graph_id = ?", f.GraphID)
		}
		if f.Kind != "" {
			q = q.Where("kind = ?", f.Kind)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		var err error
		next, err = page(ctx, q, &out, f.Cursor, f.Limit, 50, 1000, func(e ReplicationEvent) string { return e.ID })
		return err
	})
	if err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].StartedAt = utc(out[i].StartedAt)
	}
	return out, next, nil
}
