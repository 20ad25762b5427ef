// Package store is graphvault's metadata store: snapshots, replication targets and
// events, checkpoints, health events, leases and metric samples, kept in a SQL
// database through bun.
//
// [Open] picks the database from the DSN: a path or a "file:" URI opens SQLite (the
// embedded default, in WAL mode with a busy timeout, foreign keys on and immediate
// write transactions, through whichever driver sqliteshim links); ":memory:" opens a
// private in-memory SQLite database on a single connection; "postgres://" or
// "postgresql://" opens PostgreSQL through pgx; "mysql://user:pass@host:port/db"
// opens MySQL or MariaDB. [New] accepts a host's own *bun.DB instead. Both run
// [Store.Migrate], which applies the embedded SQL migrations for the dialect and
// records them in the table graphvault_migrations; running it again is a no-op and
// concurrent runs against one database are serialised (advisory lock on PostgreSQL,
// GET_LOCK on MySQL, an immediate transaction on SQLite). [Store.SchemaVersion]
// tells whether a database is migrated, for health checks.
//
// Every table is prefixed graphvault_ so the store can share the host's database.
// Primary keys are ULIDs made by [NewID]: they sort by creation time, which is the
// order of every list (newest first). Lists are paginated by an opaque cursor: pass
// the cursor a list returned to get the next page; an empty cursor means the last
// page was returned. An empty page is an empty (not nil) slice.
//
// Times are stored and returned in UTC at microsecond precision; a zero optional
// time is stored as NULL. Maps and slices are stored as JSON. A [Target]'s Secret is
// stored as given but never serialised to JSON nor logged.
//
// A [Store] is safe for concurrent use by multiple goroutines, and several Stores
// (in one process or many) may share a database: [Store.AcquireLease] grants a
// lease to exactly one holder at a time. Lease expiry is decided with the clock of
// the process that asks, so the processes sharing a lease should keep their clocks
// in step well within the lease's time to live.
//
// # Errors
//
// Errors can be tested with errors.Is against the sentinels:
//   - [ErrNotFound]: the row asked for (by id or name) does not exist.
//   - [ErrConflict]: a unique constraint was violated (a duplicate id or target name).
//   - [ErrInvalid]: an argument was rejected before any query ran: a bad filter value,
//     a malformed cursor or id, a missing required field, an unknown kind or status.
//   - [ErrClosed]: the Store was closed.
//   - [ErrSealed]: a target secret sealed at rest (see [WithSealer]) cannot be
//     opened with the keys the Store was given.
//
// Every error returned by a method is an [*Error] carrying the operation; the
// database's own error stays reachable with errors.As.
//
// # Metrics
//
// Through the meter provider given with [WithMeterProvider] (the global one
// otherwise), meter "github.com/graphvault/graphvault/store/meta":
//   - graphvault.store.operations (counter, {operation}): calls by operation and
//     result ("ok", "not_found", "conflict", "invalid", "canceled", "error"); operations
//     are snake_case ("acquire_lease", "list_snapshots").
//   - graphvault.store.operation.duration (histogram, s): call latency by operation.
package meta
