package meta

import (
	"context"

	"github.com/uptrace/bun"
)

// page runs q as one page of a list ordered by ULID id, newest first: rows with an
// id below the cursor's, limit+1 of them to learn whether another page follows. It
// returns the next page's cursor, or "" after the last page.
func page[T any](ctx context.Context, q *bun.SelectQuery, out *[]T, cursor string, limit, def, max int, id func(T) string) (string, error) {
	n, err := pageLimit(limit, def, max)
	if err != nil {
		return "", err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return "", err
	}
	if after != "" {
		q = q.Where("id < ?", after)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(n) + 1).Scan(ctx); err != nil {
		return "", err
	}
	if *out == nil {
		*out = []T{} // an empty page is [] in JSON, not null
	}
	if len(*out) <= n {
		return "", nil
	}
	*out = (*out)[:n]
	return encodeCursor(id((*out)[n-1])), nil
}

// exists returns a check that a row of model's table has column = value.
func (s *Store) exists(model any, column, value string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		return s.db.NewSelect().Model(model).Where("? = ?", bun.Ident(column), value).Exists(ctx)
	}
}
