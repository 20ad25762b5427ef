package meta

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// SnapshotTotals are the running totals of one graph's snapshots: how many
// completed and what they wrote, counted when each completes. Deleting or
// pruning snapshots does not lower them, so they stay totals; [GraphStats] sums
// the rows that still exist instead.
type SnapshotTotals struct {
	bun.BaseModel `bun:"table:graphvault_snapshot_totals,alias:totals"`

	GraphID     string    `bun:"graph_id,pk" json:"graph_id"`
	Completed   int64     `bun:"completed,notnull" json:"completed"`       // snapshots completed
	Records     int64     `bun:"records,notnull" json:"records"`           // records they held
	BytesRaw    int64     `bun:"bytes_raw,notnull" json:"bytes_raw"`       // raw bytes they held
	BytesStored int64     `bun:"bytes_stored,notnull" json:"bytes_stored"` // bytes each needed in the bucket
	BytesNew    int64     `bun:"bytes_new,notnull" json:"bytes_new"`       // bytes written to the bucket
	UpdatedAt   time.Time `bun:"updated_at,notnull" json:"updated_at"`     // when a snapshot last completed
}

// SnapshotTotals returns the running totals of every graph that has completed a
// snapshot, sorted by graph ID.
func (s *Store) SnapshotTotals(ctx context.Context) ([]SnapshotTotals, error) {
	out := []SnapshotTotals{}
	err := s.do(ctx, "snapshot totals", "", func(ctx context.Context) error {
		return s.db.NewSelect().Model(&out).OrderExpr("graph_id ASC").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].UpdatedAt = utc(out[i].UpdatedAt)
	}
	return out, nil
}

// addToTotals counts sn, which has just completed, into its graph's totals, in
// the transaction that records the completion.
func (s *Store) addToTotals(ctx context.Context, tx bun.IDB, sn *Snapshot) error {
	t := &SnapshotTotals{GraphID: sn.GraphID, Completed: 1, Records: sn.Records, BytesRaw: sn.BytesRaw,
		BytesStored: sn.BytesStored, BytesNew: sn.BytesNew, UpdatedAt: s.nowUTC()}
	q := tx.NewInsert().Model(t)
	const set = "completed = ?0.completed + 1, records = ?0.records + ?1, bytes_raw = ?0.bytes_raw + ?2, " +
		"bytes_stored = ?0.bytes_stored + ?3, bytes_new = ?0.bytes_new + ?4, updated_at = ?5"
	args := []any{nil, t.Records, t.BytesRaw, t.BytesStored, t.BytesNew, t.UpdatedAt}
	if s.dialect == DialectMySQL {
		// The stored row's columns, by table name.
		args[0] = bun.Ident("graphvault_snapshot_totals")
		q = q.On("DUPLICATE KEY UPDATE").Set(set, args...)
	} else {
		// The stored row's columns, by the alias the insert gives the table.
		args[0] = bun.Ident("totals")
		q = q.On("CONFLICT (graph_id) DO UPDATE").Set(set, args...)
	}
	_, err := q.Exec(ctx)
	return err
}
