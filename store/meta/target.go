package meta

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
)

// Target kinds.
const (
	TargetFile = "file"
	TargetS3   = "s3"
	TargetHTTP = "http"
)

// Target is a replication target: a place snapshots are copied to.
type Target struct {
	bun.BaseModel `bun:"table:graphvault_targets,alias:target"`

	ID          string            `bun:"id,pk" json:"id"`
	Name        string            `bun:"name,notnull" json:"name"` // unique
	Kind        string            `bun:"kind,notnull" json:"kind"` // "file", "s3" or "http"
	Config      map[string]string `bun:"config,type:json" json:"config,omitempty"`
	Secret      string            `bun:"secret,notnull" json:"-"` // credentials; never serialised or logged; sealed at rest with WithSealer
	Enabled     bool              `bun:"enabled,notnull" json:"enabled"`
	Health      string            `bun:"health,notnull" json:"health,omitempty"`
	LastError   string            `bun:"last_error,notnull" json:"last_error,omitempty"`
	LastCheckAt time.Time         `bun:"last_check_at,nullzero" json:"last_check_at,omitzero"`
	CreatedAt   time.Time         `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time         `bun:"updated_at,notnull" json:"updated_at"`
}

// LogValue logs a target without its secret.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", t.ID),
		slog.String("name", t.Name),
		slog.String("kind", t.Kind),
		slog.Bool("enabled", t.Enabled),
		slog.Bool("has_secret", t.Secret != ""),
	)
}

// String describes a target without its secret.
func (t Target) String() string {
	return fmt.Sprintf("target %s (%s %s)", t.Name, t.Kind, t.ID)
}

func (t *Target) normalize() {
	t.LastCheckAt = utc(t.LastCheckAt)
	t.CreatedAt = utc(t.CreatedAt)
	t.UpdatedAt = utc(t.UpdatedAt)
}

func (t *Target) validate() error {
	if t.Name == "" {
		return fmt.Errorf("%w: target needs a name", ErrInvalid)
	}
	return oneOf("target kind", t.Kind, TargetFile, TargetS3, TargetHTTP)
}

// CreateTarget inserts t, filling an empty ID and the times. A name already taken is
// ErrConflict.
func (s *Store) CreateTarget(ctx context.Context, t *Target) error {
	return s.write(ctx, "create target", t.Name, func(ctx context.Context) error {
		if err := checkID(&t.ID); err != nil {
			return err
		}
		if err := t.validate(); err != nil {
			return err
		}
		now := s.nowUTC()
		if t.CreatedAt.IsZero() {
			t.CreatedAt = now
		}
		t.UpdatedAt = now
		t.normalize()
		row, err := s.sealTarget(t)
		if err != nil {
			return err
		}
		_, err = s.db.NewInsert().Model(row).Exec(ctx)
		return err
	})
}

// GetTarget returns the target with the given ID.
func (s *Store) GetTarget(ctx context.Context, id string) (*Target, error) {
	return s.getTarget(ctx, "get target", "id", id)
}

// GetTargetByName returns the target with the given name.
func (s *Store) GetTargetByName(ctx context.Context, name string) (*Target, error) {
	return s.getTarget(ctx, "get target by name", "name", name)
}

func (s *Store) getTarget(ctx context.Context, op, column, value string) (*Target, error) {
	t := new(Target)
	err := s.do(ctx, op, value, func(ctx context.Context) error {
		if err := notFoundIfNone(s.db.NewSelect().Model(t).Where("? = ?", bun.Ident(column), value).Scan(ctx)); err != nil {
			return err
		}
		return s.openTarget(t)
	})
	if err != nil {
		return nil, err
	}
	t.normalize()
	return t, nil
}

// ListTargets returns every target ordered by name.
func (s *Store) ListTargets(ctx context.Context) ([]Target, error) {
	out := []Target{}
	err := s.do(ctx, "list targets", "", func(ctx context.Context) error {
		if err := s.db.NewSelect().Model(&out).OrderExpr("name ASC").Scan(ctx); err != nil {
			return err
		}
		for i := range out {
			if err := s.openTarget(&out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].normalize()
	}
	return out, nil
}

// UpdateTarget writes every field of t over the row with its ID and sets UpdatedAt.
// An absent row is ErrNotFound; a name taken by another target is ErrConflict.
func (s *Store) UpdateTarget(ctx context.Context, t *Target) error {
	return s.write(ctx, "update target", t.ID, func(ctx context.Context) error {
		if err := t.validate(); err != nil {
			return err
		}
		t.UpdatedAt = s.nowUTC()
		t.normalize()
		row, err := s.sealTarget(t)
		if err != nil {
			return err
		}
		res, err := s.db.NewUpdate().Model(row).ExcludeColumn("created_at").WherePK().Exec(ctx)
		if err != nil {
			return err
		}
		return s.checkAffected(ctx, res, s.exists((*Target)(nil), "id", t.ID))
	})
}

// DeleteTarget deletes the target with the given ID; its replication events stay.
// An absent row is ErrNotFound.
func (s *Store) DeleteTarget(ctx context.Context, id string) error {
	return s.write(ctx, "delete target", id, func(ctx context.Context) error {
		return s.deleteByID(ctx, "graphvault_targets", id)
	})
}

// deleteByID deletes one row by id. The query names the table without an alias,
// which every supported MySQL and MariaDB version accepts.
func (s *Store) deleteByID(ctx context.Context, table, id string) error {
	res, err := s.db.NewDelete().TableExpr("?", bun.Ident(table)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return err
	}
	return s.checkAffected(ctx, res, nil)
}
