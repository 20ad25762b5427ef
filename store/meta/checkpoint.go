package meta

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Checkpoint binds several graphs, each to a snapshot and a journal position taken
// together, so they can be restored to one consistent point.
type Checkpoint struct {
	bun.BaseModel `bun:"table:graphvault_checkpoints,alias:checkpoint"`

	ID              string            `bun:"id,pk" json:"id"`
	Description     string            `bun:"description,notnull" json:"description,omitempty"`
	CreatedBy       string            `bun:"created_by,notnull" json:"created_by,omitempty"`
	Metadata        map[string]any    `bun:"metadata,type:json" json:"metadata,omitempty"`
	Graphs          []CheckpointGraph `bun:"graphs,type:json" json:"graphs"`
	Validated       bool              `bun:"validated,notnull" json:"validated"`
	ValidatedAt     time.Time         `bun:"validated_at,nullzero" json:"validated_at,omitzero"`
	ValidationError string            `bun:"validation_error,notnull" json:"validation_error,omitempty"`
	CreatedAt       time.Time         `bun:"created_at,notnull" json:"created_at"`
}

// CheckpointGraph is one graph of a checkpoint.
type CheckpointGraph struct {
	GraphID    string `json:"graph_id"`
	SnapshotID string `json:"snapshot_id"`
	JournalPos int64  `json:"journal_pos"`
}

func (c *Checkpoint) normalize() {
	c.ValidatedAt = utc(c.ValidatedAt)
	c.CreatedAt = utc(c.CreatedAt)
}

// CreateCheckpoint inserts c, filling an empty ID and a zero CreatedAt.
func (s *Store) CreateCheckpoint(ctx context.Context, c *Checkpoint) error {
	return s.write(ctx, "create checkpoint", c.ID, func(ctx context.Context) error {
		if err := checkID(&c.ID); err != nil {
			return err
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = s.nowUTC()
		}
		c.normalize()
		_, err := s.db.NewInsert().Model(c).Exec(ctx)
		return err
	})
}

// GetCheckpoint returns the checkpoint with the given ID.
func (s *Store) GetCheckpoint(ctx context.Context, id string) (*Checkpoint, error) {
	c := new(Checkpoint)
	err := s.do(ctx, "get checkpoint", id, func(ctx context.Context) error {
		return notFoundIfNone(s.db.NewSelect().Model(c).Where("id = ?", id).Scan(ctx))
	})
	if err != nil {
		return nil, err
	}
	c.normalize()
	return c, nil
}

// ListCheckpoints returns one page of checkpoints, newest first, and the next page's
// cursor ("" after the last page). limit 0 means 50; at most 1000.
func (s *Store) ListCheckpoints(ctx context.Context, cursor string, limit int) ([]Checkpoint, string, error) {
	var out []Checkpoint
	var next string
	err := s.do(ctx, "list checkpoints", "", func(ctx context.Context) error {
		var err error
		next, err = page(ctx, s.db.NewSelect().Model(&out), &out, cursor, limit, 50, 1000, func(c Checkpoint) string { return c.ID })
		return err
	})
	if err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].normalize()
	}
	return out, next, nil
}

// UpdateCheckpoint writes every field of c except CreatedAt over the row with its ID.
// An absent row is ErrNotFound.
func (s *Store) UpdateCheckpoint(ctx context.Context, c *Checkpoint) error {
	return s.write(ctx, "update checkpoint", c.ID, func(ctx context.Context) error {
		c.normalize()
		res, err := s.db.NewUpdate().Model(c).ExcludeColumn("created_at").WherePK().Exec(ctx)
		if err != nil {
			return err
		}
		return s.checkAffected(ctx, res, s.exists((*Checkpoint)(nil), "id", c.ID))
	})
}

// DeleteCheckpoint deletes the checkpoint with the given ID. An absent row is
// ErrNotFound.
func (s *Store) DeleteCheckpoint(ctx context.Context, id string) error {
	return s.write(ctx, "delete checkpoint", id, func(ctx context.Context) error {
		return s.deleteByID(ctx, "graphvault_checkpoints", id)
	})
}
