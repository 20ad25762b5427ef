package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Health statuses.
const (
	HealthPass = "pass"
	HealthWarn = "warn"
	HealthFail = "fail"
)

// HealthEvent is the result of one health check of one component.
type HealthEvent struct {
	bun.BaseModel `bun:"table:graphvault_health_events,alias:health_event"`

	ID        string         `bun:"id,pk" json:"id"`
	Component string         `bun:"component,notnull" json:"component"`
	Check     string         `bun:"check_name,notnull" json:"check"`
	Status    string         `bun:"status,notnull" json:"status"` // "pass", "warn" or "fail"
	Message   string         `bun:"message,notnull" json:"message,omitempty"`
	Details   map[string]any `bun:"details,type:json" json:"details,omitempty"`
	CreatedAt time.Time      `bun:"created_at,notnull" json:"created_at"`
}

func (h *HealthEvent) validate() error {
	if h.Component == "" || h.Check == "" {
		return fmt.Errorf("%w: health event needs a component and a check", ErrInvalid)
	}
	return oneOf("health status", h.Status, HealthPass, HealthWarn, HealthFail)
}

// AddHealthEvent inserts h, filling an empty ID and a zero CreatedAt.
func (s *Store) AddHealthEvent(ctx context.Context, h *HealthEvent) error {
	return s.write(ctx, "add health event", h.ID, func(ctx context.Context) error {
		if err := checkID(&h.ID); err != nil {
			return err
		}
		if err := h.validate(); err != nil {
			return err
		}
		if h.CreatedAt.IsZero() {
			h.CreatedAt = s.nowUTC()
		}
		h.CreatedAt = utc(h.CreatedAt)
		_, err := s.db.NewInsert().Model(h).Exec(ctx)
		return err
	})
}

// HealthFilter selects health events. Zero fields match everything.
type HealthFilter struct {
	Component string
	Check     string
	Status    string    // "pass", "warn" or "fail"
	Since     time.Time // CreatedAt >= Since
	Cursor    string    // from a previous page
	Limit     int       // page size: 0 means 50, at most 1000
}

// ListHealthEvents returns one page of the events matching f, newest first, and the
// next page's cursor ("" after the last page).
func (s *Store) ListHealthEvents(ctx context.Context, f HealthFilter) ([]HealthEvent, string, error) {
	var out []HealthEvent
	var next string
	err := s.do(ctx, "list health events", "", func(ctx context.Context) error {
		if err := oneOfOrEmpty("health status", f.Status, HealthPass, HealthWarn, HealthFail); err != nil {
			return err
		}
		q := s.db.NewSelect().Model(&out)
		if f.Component != "" {
			q = q.Where("component = ?", f.Component)
		}
		if f.Check != "" {
			q = q.Where("check_name = ?", f.Check)
		}
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if !f.Since.IsZero() {
			q = q.Where("created_at >= ?", utc(f.Since))
		}
		var err error
		next, err = page(ctx, q, &out, f.Cursor, f.Limit, 50, 1000, func(h HealthEvent) string { return h.ID })
		return err
	})
	if err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].CreatedAt = utc(out[i].CreatedAt)
	}
	return out, next, nil
}

// LatestHealth returns the most recently added event of every (component, check),
// ordered by component then check.
func (s *Store) LatestHealth(ctx context.Context) ([]HealthEvent, error) {
	out := []HealthEvent{}
	err := s.do(ctx, "latest health", "", func(ctx context.Context) error {
		newest := s.db.NewSelect().
			TableExpr("graphvault_health_events").
			ColumnExpr("MAX(id)").
			Group("component", "check_name")
		return s.db.NewSelect().Model(&out).
			Where("id IN (?)", newest).
			OrderExpr("component ASC, check_name ASC").
			Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].CreatedAt = utc(out[i].CreatedAt)
	}
	return out, nil
}

// PruneHealthEvents deletes the events created before the given time and returns how
// many it deleted.
func (s *Store) PruneHealthEvents(ctx context.Context, before time.Time) (int64, error) {
	return s.prune(ctx, "prune health events", "graphvault_health_events", "created_at", before)
}

// prune deletes the rows of table whose column is before the given time.
func (s *Store) prune(ctx context.Context, op, table, column string, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, op, "", func(ctx context.Context) error {
		if before.IsZero() {
			return fmt.Errorf("%w: zero time", ErrInvalid)
		}
		res, err := s.db.NewDelete().TableExpr("?", bun.Ident(table)).
			Where("? < ?", bun.Ident(column), utc(before)).Exec(ctx)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
