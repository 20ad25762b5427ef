package meta

import (
	"context"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors. Test them with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
	ErrInvalid  = errors.New("store: invalid argument")
	ErrClosed   = errors.New("store: closed")
)

// Error is the error type every Store method returns.
type Error struct {
	Op  string // "get snapshot", "acquire lease", ...
	ID  string // the id or name the call was about, if any
	Err error
}

func (e *Error) Error() string {
	if e.ID == "" {
		return "store: " + e.Op + ": " + e.Err.Error()
	}
	return "store: " + e.Op + " " + e.ID + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// conflictError marks a database error as a unique violation while keeping the
// driver's error reachable.
type conflictError struct{ err error }

func (e *conflictError) Error() string        { return "conflict: " + e.err.Error() }
func (e *conflictError) Unwrap() []error      { return []error{ErrConflict, e.err} }
func (e *conflictError) Is(target error) bool { return target == ErrConflict }

// classify turns driver errors into the package's sentinels where one applies.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrConflict) {
		return err
	}
	if isUniqueViolation(err) {
		return &conflictError{err: err}
	}
	return err
}

// isUniqueViolation reports whether err is a unique or primary key violation from
// any of the supported drivers.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == 1062 || myErr.Number == 1586
	}
	// SQLite: modernc.org/sqlite errors have Code() with the extended result code;
	// mattn/go-sqlite3 errors carry the same text. Both name the constraint.
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		switch coded.Code() {
		case 1555, 2067: // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") ||
		strings.Contains(msg, "PRIMARY KEY constraint failed")
}

// outcome names an error for metrics.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	default:
		return "error"
	}
}
