package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Dialect names returned by [Store.Dialect].
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
	DialectMySQL    = "mysql"
)

const meterName = "github.com/graphvault/graphvault/store/meta"

// Store is the metadata meta. Make one with [Open] or [New].
type Store struct {
	db      *bun.DB
	dialect string
	ownDB   bool // Open made the connection, so Close closes it
	log     *slog.Logger
	now     func() time.Time
	closed  atomic.Bool

	ops metric.Int64Counter
	dur metric.Float64Histogram

	gen   atomic.Uint64 // see Generation
	stats statsCache

	sealer atomic.Pointer[Sealer] // seals target secrets; nil: none (secret.go)
}

// statsCache keeps the last SnapshotStats answer. Snapshot writes through this
// Store invalidate it at once: the next caller recomputes it and the others wait
// for its answer. Past statsTTL, one caller recomputes it while the others are
// still answered the older one, for at most another statsTTL: writes by other
// processes sharing the database are seen within two.
type statsCache struct {
	gen     atomic.Uint64 // bumped by every snapshot write
	compute sync.Mutex    // one computation at a time

	mu         sync.Mutex
	val        []GraphStats
	valAt      time.Time
	valOf      uint64 // gen the value was computed at
	refreshing bool   // a computation runs for a value of gen valOf
}

const statsTTL = 2 * time.Second

func (c *statsCache) invalidate() { c.gen.Add(1) }

// cached returns a copy of the kept answer if it is of the current generation and
// young enough: within statsTTL, or within two while another caller refreshes it.
func (c *statsCache) cached(fresh bool) ([]GraphStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.val == nil || c.valOf != c.gen.Load() {
		return nil, false
	}
	age := time.Since(c.valAt)
	if age < statsTTL || !fresh && c.refreshing && age < 2*statsTTL {
		return slices.Clone(c.val), true
	}
	return nil, false
}

type config struct {
	logger *slog.Logger
	mp     metric.MeterProvider
	now    func() time.Time
	sealer *Sealer
}

// Option configures a Store.
type Option func(*config)

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMeterProvider sets the meter provider; nil means otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithClock sets the clock used for created/updated times and lease expiry; nil
// means time.Now. Tests use it to move time without waiting.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Open connects to the database the DSN names (see the package doc), migrates it
// and returns a Store that owns the connection.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	sqldb, err := sql.Open(t.driver, t.dsn)
	if err != nil {
		return nil, &Error{Op: "open", Err: err}
	}
	var db *bun.DB
	switch t.dialect {
	case DialectSQLite:
		if t.memory {
			// Every connection to :memory: is a new database: keep exactly one.
			sqldb.SetMaxOpenConns(1)
			sqldb.SetMaxIdleConns(1)
			sqldb.SetConnMaxLifetime(0)
			sqldb.SetConnMaxIdleTime(0)
		} else {
			// A file database: a few pooled connections serve concurrent readers (WAL);
			// opening one per request would re-read the schema and start with a cold
			// page cache each time.
			n := max(4, 2*runtime.NumCPU())
			sqldb.SetMaxOpenConns(n)
			sqldb.SetMaxIdleConns(n)
		}
		db = bun.NewDB(sqldb, sqlitedialect.New())
	case DialectPostgres:
		db = bun.NewDB(sqldb, pgdialect.New())
	case DialectMySQL:
		db = bun.NewDB(sqldb, mysqldialect.New())
	}
	s, err := newStore(db, opts)
	if err != nil {
		return nil, closeOnError(db, err)
	}
	s.ownDB = true
	if err := s.Ping(ctx); err != nil {
		return nil, closeOnError(db, err)
	}
	if err := s.Migrate(ctx); err != nil {
		return nil, closeOnError(db, err)
	}
	return s, nil
}

func closeOnError(db *bun.DB, err error) error {
	if cerr := db.Close(); cerr != nil {
		return fmt.Errorf("%w (closing: %v)", err, cerr)
	}
	return err
}

// New wraps a host's own connection and migrates it. Close does not close db.
func New(ctx context.Context, db *bun.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, &Error{Op: "new", Err: fmt.Errorf("%w: nil *bun.DB", ErrInvalid)}
	}
	s, err := newStore(db, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func newStore(db *bun.DB, opts []Option) (*Store, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.now == nil {
		c.now = time.Now
	}
	s := &Store{db: db, log: c.logger, now: c.now}
	s.sealer.Store(c.sealer)
	switch db.Dialect().Name() {
	case dialect.SQLite:
		s.dialect = DialectSQLite
	case dialect.PG:
		s.dialect = DialectPostgres
	case dialect.MySQL:
		s.dialect = DialectMySQL
	default:
		return nil, &Error{Op: "new", Err: fmt.Errorf("%w: unsupported dialect %s", ErrInvalid, db.Dialect().Name())}
	}
	meter := c.mp.Meter(meterName)
	var err error
	s.ops, err = meter.Int64Counter("graphvault.store.operations",
		metric.WithDescription("Metadata store calls by operation and result."),
		metric.WithUnit("{operation}"))
	if err != nil {
		return nil, &Error{Op: "new", Err: err}
	}
	s.dur, err = meter.Float64Histogram("graphvault.store.operation.duration",
		metric.WithDescription("Metadata store call latency."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, &Error{Op: "new", Err: err}
	}
	return s, nil
}

// DB returns the underlying connection.
func (s *Store) DB() *bun.DB { return s.db }

// Dialect returns "sqlite", "postgres" or "mysql".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, "ping", "", func(ctx context.Context) error {
		return s.db.PingContext(ctx)
	})
}

// Close closes the connection if [Open] made it. It is safe to call twice; every
// other method returns ErrClosed afterwards.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Answers cached from the store are no longer current: the calls that would
	// compute them again return ErrClosed.
	s.gen.Add(1)
	s.stats.invalidate()
	if !s.ownDB {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return &Error{Op: "close", Err: err}
	}
	return nil
}

// do runs one operation: it refuses calls after Close, classifies and wraps the
// error, and records metrics.
func (s *Store) do(ctx context.Context, op, id string, fn func(ctx context.Context) error) error {
	if s.closed.Load() {
		return &Error{Op: op, ID: id, Err: ErrClosed}
	}
	start := time.Now()
	err := classify(fn(ctx))
	opAttr := attribute.String("operation", metricOp(op))
	s.ops.Add(ctx, 1, metric.WithAttributes(opAttr, attribute.String("result", outcome(err))))
	s.dur.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(opAttr))
	if err != nil {
		return &Error{Op: op, ID: id, Err: err}
	}
	return nil
}

// metricOp is an operation's name as a metric label value: snake_case, as every
// graphvault label value ("acquire lease" is acquire_lease).
func metricOp(op string) string { return strings.ReplaceAll(op, " ", "_") }

// write is do for an operation that changes rows: once it has returned, committed
// or not, the generation moves on, so that an answer computed before is not
// served as current.
func (s *Store) write(ctx context.Context, op, id string, fn func(ctx context.Context) error) error {
	defer s.gen.Add(1)
	return s.do(ctx, op, id, fn)
}

// Generation returns a number that changes after every write through this Store
// (of snapshots, checkpoints, targets, replication and health events, metric
// samples; leases aside). A cache of answers computed from the store keeps the
// generation read before computing one and drops the answer when the generation
// has moved on: it then never serves an answer older than a write of this
// process. Writes by other processes sharing the database do not move it; such
// caches also need a time limit.
func (s *Store) Generation() uint64 { return s.gen.Load() }

// nowUTC is the store clock, normalised like every stored time.
func (s *Store) nowUTC() time.Time { return utc(s.now()) }

// notFoundIfNone turns "no rows" into ErrNotFound.
func notFoundIfNone(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// checkAffected returns ErrNotFound when an UPDATE or DELETE touched no row. MySQL
// reports changed rather than matched rows unless the connection sets
// clientFoundRows, so there a zero count is confirmed with exists.
func (s *Store) checkAffected(ctx context.Context, res sql.Result, exists func(context.Context) (bool, error)) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if s.dialect == DialectMySQL && exists != nil {
		ok, err := exists(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return ErrNotFound
}
