package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Lease names the one holder of a named job (a scheduled snapshot, say) among every
// process that shares the store, until ExpiresAt.
type Lease struct {
	bun.BaseModel `bun:"table:graphvault_leases,alias:lease"`

	Name       string    `bun:"name,pk" json:"name"`
	Holder     string    `bun:"holder,notnull" json:"holder"`
	ExpiresAt  time.Time `bun:"expires_at,notnull" json:"expires_at"`
	AcquiredAt time.Time `bun:"acquired_at,notnull" json:"acquired_at"`
	RenewedAt  time.Time `bun:"renewed_at,notnull" json:"renewed_at"`
}

// Expired reports whether the lease no longer holds at the given time.
func (l *Lease) Expired(now time.Time) bool { return !now.Before(l.ExpiresAt) }

func (l *Lease) normalize() {
	l.ExpiresAt = utc(l.ExpiresAt)
	l.AcquiredAt = utc(l.AcquiredAt)
	l.RenewedAt = utc(l.RenewedAt)
}

// AcquireLease tries to make holder the holder of the named lease for ttl. It returns
// true when the lease was free, expired, or already held by holder (then it is
// renewed: ExpiresAt moves to now+ttl and AcquiredAt stays); false when another
// holder has it. Among any number of concurrent callers, in one process or many,
// at most one gets true for a given lease at a time.
//
// Each step is one atomic statement, so the race is decided by the database: an
// INSERT that does nothing if the row exists, then an UPDATE conditioned on the row
// being expired or already ours.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.do(ctx, "acquire lease", name, func(ctx context.Context) error {
		if name == "" || holder == "" {
			return fmt.Errorf("%w: lease needs a name and a holder", ErrInvalid)
		}
		if ttl <= 0 {
			return fmt.Errorf("%w: lease ttl %v is not positive", ErrInvalid, ttl)
		}
		now := s.nowUTC()
		expires := utc(now.Add(ttl))
		l := &Lease{Name: name, Holder: holder, ExpiresAt: expires, AcquiredAt: now, RenewedAt: now}
		res, err := s.db.NewInsert().Model(l).Ignore().Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			ok = err == nil
			return err
		}
		// MySQL evaluates SET left to right, so acquired_at must be set before holder.
		res, err = s.db.NewUpdate().Model((*Lease)(nil)).
			Set("acquired_at = CASE WHEN holder = ? THEN acquired_at ELSE ? END", holder, now).
			Set("holder = ?", holder).
			Set("expires_at = ?", expires).
			Set("renewed_at = ?", now).
			Where("name = ?", name).
			WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
				return q.Where("holder = ?", holder).WhereOr("expires_at <= ?", now)
			}).
			Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			ok = true
			return nil
		}
		if s.dialect == DialectMySQL {
			// Without clientFoundRows MySQL counts changed rows: a renewal that wrote
			// the values already there reports 0. The row tells.
			cur := new(Lease)
			if err := s.db.NewSelect().Model(cur).Where("name = ?", name).Scan(ctx); err != nil {
				return notFoundIfNone(err)
			}
			ok = cur.Holder == holder && utc(cur.ExpiresAt).Equal(expires)
		}
		return nil
	})
	return ok, err
}

// ReleaseLease gives up the named lease if holder holds it. Releasing a lease held
// by someone else, or by no one, changes nothing and is not an error.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.do(ctx, "release lease", name, func(ctx context.Context) error {
		_, err := s.db.NewDelete().TableExpr("graphvault_leases").
			Where("name = ?", name).Where("holder = ?", holder).Exec(ctx)
		return err
	})
}

// GetLease returns the named lease, expired or not. A lease never acquired or
// released is ErrNotFound.
func (s *Store) GetLease(ctx context.Context, name string) (*Lease, error) {
	l := new(Lease)
	err := s.do(ctx, "get lease", name, func(ctx context.Context) error {
		return notFoundIfNone(s.db.NewSelect().Model(l).Where("name = ?", name).Scan(ctx))
	})
	if err != nil {
		return nil, err
	}
	l.normalize()
	return l, nil
}

// ListLeases returns every lease, expired or not, sorted by name: who holds
// which job among the processes sharing the store, and until when.
func (s *Store) ListLeases(ctx context.Context) ([]Lease, error) {
	var ls []Lease
	err := s.do(ctx, "list leases", "", func(ctx context.Context) error {
		return s.db.NewSelect().Model(&ls).Order("name").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	if ls == nil {
		ls = []Lease{}
	}
	for i := range ls {
		ls[i].normalize()
	}
	return ls, nil
}
