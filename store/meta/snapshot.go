package meta

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Snapshot kinds.
const (
	SnapshotFull        = "full"
	SnapshotIncremental = "incremental"
	SnapshotSynthetic   = "synthetic"
)

// Snapshot statuses.
const (
	SnapshotPending   = "pending"
	SnapshotRunning   = "running"
	SnapshotCompleted = "completed"
	SnapshotFailed    = "failed"
)

// Snapshot is the metadata of one snapshot of one graph.
type Snapshot struct {
	bun.BaseModel `bun:"table:graphvault_snapshots,alias:snapshot"`

	ID          string            `bun:"id,pk" json:"id"`
	GraphID     string            `bun:"graph_id,notnull" json:"graph_id"`
	ParentID    string            `bun:"parent_id,notnull" json:"parent_id,omitempty"`
	Kind        string            `bun:"kind,notnull" json:"kind"`
	Status      string            `bun:"status,notnull" json:"status"`
	StartedAt   time.Time         `bun:"started_at,nullzero" json:"started_at,omitzero"`
	FinishedAt  time.Time         `bun:"finished_at,nullzero" json:"finished_at,omitzero"`
	Nodes       int64             `bun:"nodes,notnull" json:"nodes"`
	Edges       int64             `bun:"edges,notnull" json:"edges"`
	Records     int64             `bun:"records,notnull" json:"records"`
	BytesRaw    int64             `bun:"bytes_raw,notnull" json:"bytes_raw"`
	BytesStored int64             `bun:"bytes_stored,notnull" json:"bytes_stored"`
	BytesNew    int64             `bun:"bytes_new,notnull" json:"bytes_new"`
	RootHash    string            `bun:"root_hash,notnull" json:"root_hash,omitempty"`
	ManifestKey string            `bun:"manifest_key,notnull" json:"manifest_key,omitempty"`
	JournalPos  int64             `bun:"journal_pos,notnull" json:"journal_pos"` // a uint64 position converted with int64(pos)
	ChainLen    int               `bun:"chain_len,notnull" json:"chain_len"`
	Encrypted   bool              `bun:"encrypted,notnull" json:"encrypted"`
	RetainUntil time.Time         `bun:"retain_until,nullzero" json:"retain_until,omitzero"`
	Error       string            `bun:"error,notnull" json:"error,omitempty"`
	Labels      map[string]string `bun:"labels,type:json" json:"labels,omitempty"`
	CreatedAt   time.Time         `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time         `bun:"updated_at,notnull" json:"updated_at"`
}

func (sn *Snapshot) normalize() {
	sn.StartedAt = utc(sn.StartedAt)
	sn.FinishedAt = utc(sn.FinishedAt)
	sn.RetainUntil = utc(sn.RetainUntil)
	sn.CreatedAt = utc(sn.CreatedAt)
	sn.UpdatedAt = utc(sn.UpdatedAt)
}

func (sn *Snapshot) validate() error {
	if sn.GraphID == "" {
		return fmt.Errorf("%w: snapshot needs a graph id", ErrInvalid)
	}
	if sn.Kind == "" {
		sn.Kind = SnapshotFull
	}
	if sn.Status == "" {
		sn.Status = SnapshotPending
	}
	if err := oneOf("snapshot kind", sn.Kind, SnapshotFull, SnapshotIncremental, SnapshotSynthetic); err != nil {
		return err
	}
	return oneOf("snapshot status", sn.Status, SnapshotPending, SnapshotRunning, SnapshotCompleted, SnapshotFailed)
}

// oneOf returns ErrInvalid unless v is one of allowed.
func oneOf(what, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%w: unknown %s %q", ErrInvalid, what, v)
}

// oneOfOrEmpty is oneOf for filters, where empty means any.
func oneOfOrEmpty(what, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	return oneOf(what, v, allowed...)
}

// CreateSnapshot inserts sn. It fills an empty ID with [NewID], an empty Kind with
// "full", an empty Status with "pending", and sets CreatedAt (if zero) and UpdatedAt.
// A duplicate ID is ErrConflict. A completed row is counted into its graph's
// [SnapshotTotals] in the same transaction.
func (s *Store) CreateSnapshot(ctx context.Context, sn *Snapshot) error {
	defer s.stats.invalidate()
	return s.write(ctx, "create snapshot", sn.ID, func(ctx context.Context) error {
		if err := checkID(&sn.ID); err != nil {
			return err
		}
		if err := sn.validate(); err != nil {
			return err
		}
		now := s.nowUTC()
		if sn.CreatedAt.IsZero() {
			sn.CreatedAt = now
		}
		sn.UpdatedAt = now
		sn.normalize()
		if sn.Status != SnapshotCompleted {
			_, err := s.db.NewInsert().Model(sn).Exec(ctx)
			return err
		}
		return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.NewInsert().Model(sn).Exec(ctx); err != nil {
				return err
			}
			return s.addToTotals(ctx, tx, sn)
		})
	})
}

// UpdateSnapshot writes every field of sn over the row with its ID and sets
// UpdatedAt. An absent row is ErrNotFound. A row that becomes completed is
// counted into its graph's [SnapshotTotals] in the same transaction.
func (s *Store) UpdateSnapshot(ctx context.Context, sn *Snapshot) error {
	defer s.stats.invalidate()
	return s.write(ctx, "update snapshot", sn.ID, func(ctx context.Context) error {
		if err := sn.validate(); err != nil {
			return err
		}
		sn.UpdatedAt = s.nowUTC()
		sn.normalize()
		if sn.Status != SnapshotCompleted {
			res, err := s.db.NewUpdate().Model(sn).ExcludeColumn("created_at").WherePK().Exec(ctx)
			if err != nil {
				return err
			}
			return s.checkAffected(ctx, res, s.exists((*Snapshot)(nil), "id", sn.ID))
		}
		// A row that becomes completed is counted into its graph's totals in the
		// same transaction; one that was completed already is not counted again.
		return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var was string
			q := tx.NewSelect().Model((*Snapshot)(nil)).Column("status").Where("id = ?", sn.ID)
			if s.dialect != DialectSQLite { // SQLite transactions here lock the database at BEGIN
				q = q.For("UPDATE")
			}
			if err := notFoundIfNone(q.Scan(ctx, &was)); err != nil {
				return err
			}
			if _, err := tx.NewUpdate().Model(sn).ExcludeColumn("created_at").WherePK().Exec(ctx); err != nil {
				return err
			}
			if was == SnapshotCompleted {
				return nil
			}
			return s.addToTotals(ctx, tx, sn)
		})
	})
}

// GetSnapshot returns the snapshot with the given ID.
func (s *Store) GetSnapshot(ctx context.Context, id string) (*Snapshot, error) {
	sn := new(Snapshot)
	err := s.do(ctx, "get snapshot", id, func(ctx context.Context) error {
		return notFoundIfNone(s.db.NewSelect().Model(sn).Where("id = ?", id).Scan(ctx))
	})
	if err != nil {
		return nil, err
	}
	sn.normalize()
	return sn, nil
}

// DeleteSnapshot deletes the snapshot with the given ID. An absent row is ErrNotFound.
func (s *Store) DeleteSnapshot(ctx context.Context, id string) error {
	defer s.stats.invalidate()
	return s.write(ctx, "delete snapshot", id, func(ctx context.Context) error {
		return s.deleteByID(ctx, "graphvault_snapshots", id)
	})
}

// SnapshotFilter selects snapshots for [Store.ListSnapshots] and
// [Store.CountSnapshots]. Zero fields match everything.
type SnapshotFilter struct {
	GraphID string
	Status  string    // one of the Snapshot* statuses
	Kind    string    // one of the Snapshot* kinds
	Since   time.Time // CreatedAt >= Since
	Until   time.Time // CreatedAt < Until
	// ErrorPrefix selects the snapshots whose Error starts with it.
	ErrorPrefix string
	Cursor      string // from a previous page; ListSnapshots only
	Limit       int    // page size: 0 means 50, at most 1000; ListSnapshots only
}

func (f SnapshotFilter) apply(q *bun.SelectQuery) (*bun.SelectQuery, error) {
	if err := oneOfOrEmpty("snapshot status", f.Status, SnapshotPending, SnapshotRunning, SnapshotCompleted, SnapshotFailed); err != nil {
		return nil, err
	}
	if err := oneOfOrEmpty("snapshot kind", f.Kind, SnapshotFull, SnapshotIncremental, SnapshotSynthetic); err != nil {
		return nil, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, fmt.Errorf("%w: until before since", ErrInvalid)
	}
	if f.GraphID != "" {
		q = q.Where("graph_id = ?", f.GraphID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", utc(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", utc(f.Until))
	}
	if f.ErrorPrefix != "" {
		// SUBSTR counts characters in every dialect; it needs no escaping, as
		// LIKE would.
		q = q.Where("SUBSTR(error, 1, ?) = ?", utf8.RuneCountInString(f.ErrorPrefix), f.ErrorPrefix)
	}
	return q, nil
}

// ListSnapshots returns one page of the snapshots matching f, newest first, and the
// cursor of the next page ("" after the last page). A malformed cursor or filter
// value is ErrInvalid.
func (s *Store) ListSnapshots(ctx context.Context, f SnapshotFilter) ([]Snapshot, string, error) {
	var out []Snapshot
	var next string
	err := s.do(ctx, "list snapshots", "", func(ctx context.Context) error {
		q, err := f.apply(s.db.NewSelect().Model(&out))
		if err != nil {
			return err
		}
		next, err = page(ctx, q, &out, f.Cursor, f.Limit, 50, 1000, func(sn Snapshot) string { return sn.ID })
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

// CountSnapshots returns how many snapshots match f (Cursor and Limit are ignored).
func (s *Store) CountSnapshots(ctx context.Context, f SnapshotFilter) (int, error) {
	var n int
	err := s.do(ctx, "count snapshots", "", func(ctx context.Context) error {
		q, err := f.apply(s.db.NewSelect().Model((*Snapshot)(nil)))
		if err != nil {
			return err
		}
		c, err := q.Count(ctx)
		n = int(c)
		return err
	})
	return n, err
}

// LatestSnapshot returns the newest snapshot of a graph, with the given status if
// status is not empty. None is ErrNotFound.
func (s *Store) LatestSnapshot(ctx context.Context, graphID, status string) (*Snapshot, error) {
	sn := new(Snapshot)
	err := s.do(ctx, "latest snapshot", graphID, func(ctx context.Context) error {
		q, err := SnapshotFilter{GraphID: graphID, Status: status}.apply(s.db.NewSelect().Model(sn))
		if err != nil {
			return err
		}
		return notFoundIfNone(q.OrderExpr("id DESC").Limit(1).Scan(ctx))
	})
	if err != nil {
		return nil, err
	}
	sn.normalize()
	return sn, nil
}

// GraphIDs returns the distinct graph IDs that have snapshots, sorted.
func (s *Store) GraphIDs(ctx context.Context) ([]string, error) {
	ids := []string{}
	err := s.do(ctx, "graph ids", "", func(ctx context.Context) error {
		return s.db.NewSelect().Model((*Snapshot)(nil)).Distinct().Column("graph_id").
			OrderExpr("graph_id ASC").Scan(ctx, &ids)
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// GraphStats aggregates the snapshots of one graph.
type GraphStats struct {
	GraphID           string    `bun:"graph_id" json:"graph_id"`
	Snapshots         int64     `bun:"snapshots" json:"snapshots"`
	Pending           int64     `bun:"pending" json:"pending"`
	Running           int64     `bun:"running" json:"running"`
	Completed         int64     `bun:"completed" json:"completed"`
	Failed            int64     `bun:"failed" json:"failed"`
	BytesRaw          int64     `bun:"bytes_raw" json:"bytes_raw"`       // sum over completed snapshots
	BytesStored       int64     `bun:"bytes_stored" json:"bytes_stored"` // sum over completed snapshots
	BytesNew          int64     `bun:"bytes_new" json:"bytes_new"`       // sum over completed snapshots
	LatestCreatedAt   time.Time `bun:"-" json:"latest_created_at,omitzero"`
	LatestCompletedAt time.Time `bun:"-" json:"latest_completed_at,omitzero"` // newest FinishedAt of a completed snapshot
}

// SnapshotStats returns one row per graph that has snapshots, sorted by graph ID.
// The answer is computed from every row, so it is cached: snapshot writes through
// this Store are reflected at once, writes by other processes within four seconds
// (past two, one caller computes it again while the others get the older answer).
func (s *Store) SnapshotStats(ctx context.Context) ([]GraphStats, error) {
	c := &s.stats
	if v, ok := c.cached(false); ok {
		return v, nil
	}
	c.compute.Lock()
	defer c.compute.Unlock()
	if v, ok := c.cached(true); ok {
		return v, nil // computed while this caller waited
	}
	gen := c.gen.Load()
	c.mu.Lock()
	c.refreshing = c.val != nil && c.valOf == gen
	c.mu.Unlock()
	out, err := s.snapshotStats(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err != nil {
		return nil, err
	}
	c.val, c.valAt, c.valOf = out, time.Now(), gen
	return slices.Clone(out), nil
}

func (s *Store) snapshotStats(ctx context.Context) ([]GraphStats, error) {
	var rows []struct {
		GraphStats
		LatestCreated   bun.NullTime `bun:"latest_created_at"`
		LatestCompleted bun.NullTime `bun:"latest_completed_at"`
	}
	err := s.do(ctx, "snapshot stats", "", func(ctx context.Context) error {
		const sumIf = "COALESCE(SUM(CASE WHEN status = ? THEN ? ELSE 0 END), 0) AS ?"
		one := bun.Safe("1")
		return s.db.NewSelect().Model((*Snapshot)(nil)).
			Column("graph_id").
			ColumnExpr("COUNT(*) AS snapshots").
			ColumnExpr(sumIf, SnapshotPending, one, bun.Ident("pending")).
			ColumnExpr(sumIf, SnapshotRunning, one, bun.Ident("running")).
			ColumnExpr(sumIf, SnapshotCompleted, one, bun.Ident("completed")).
			ColumnExpr(sumIf, SnapshotFailed, one, bun.Ident("failed")).
			ColumnExpr(sumIf, SnapshotCompleted, bun.Ident("bytes_raw"), bun.Ident("bytes_raw")).
			ColumnExpr(sumIf, SnapshotCompleted, bun.Ident("bytes_stored"), bun.Ident("bytes_stored")).
			ColumnExpr(sumIf, SnapshotCompleted, bun.Ident("bytes_new"), bun.Ident("bytes_new")).
			ColumnExpr("MAX(created_at) AS latest_created_at").
			ColumnExpr("MAX(CASE WHEN status = ? THEN finished_at END) AS latest_completed_at", SnapshotCompleted).
			Group("graph_id").
			OrderExpr("graph_id ASC").
			Scan(ctx, &rows)
	})
	if err != nil {
		return nil, err
	}
	out := make([]GraphStats, len(rows))
	for i, r := range rows {
		out[i] = r.GraphStats
		out[i].LatestCreatedAt = utc(r.LatestCreated.Time)
		out[i].LatestCompletedAt = utc(r.LatestCompleted.Time)
	}
	return out, nil
}
