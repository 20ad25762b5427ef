package meta

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// migrationFS holds one folder of numbered SQL files per dialect
// (migrations/<dialect>/NNNN_name.sql). Every dialect has the same versions.
//
//go:embed migrations/*/*.sql
var migrationFS embed.FS

// MigrationsTable is the table recording applied migrations.
const MigrationsTable = "graphvault_migrations"

// migration is one numbered schema change for one dialect.
type migration struct {
	version int
	name    string
	stmts   []string
}

// appliedMigration is a row of graphvault_migrations.
type appliedMigration struct {
	bun.BaseModel `bun:"table:graphvault_migrations"`

	Version   int       `bun:"version,pk"`
	Name      string    `bun:"name"`
	AppliedAt time.Time `bun:"applied_at"`
}

// loadMigrations reads the migrations of one dialect in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	var ms []migration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, stmts: splitSQL(string(b))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations for %s: version %d twice", dialect, ms[i].version)
		}
	}
	return ms, nil
}

// splitSQL splits a migration file into statements: comment lines ("--") are
// dropped and a statement ends with a semicolon at the end of a line.
func splitSQL(src string) []string {
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(src) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			stmts = append(stmts, stmt)
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		stmts = append(stmts, rest)
	}
	return stmts
}

// Migrate applies the embedded migrations not yet recorded in graphvault_migrations.
// Running it again is a no-op. Concurrent calls against one database, from this
// process or others, are serialised.
func (s *Store) Migrate(ctx context.Context) error {
	return s.do(ctx, "migrate", "", s.migrate)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}
	// One connection for the whole run: the lock is held by the session.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	unlock, err := s.lockMigrations(ctx, conn)
	if err != nil {
		return err
	}
	defer unlock()

	if _, err := conn.NewCreateTable().Model((*appliedMigration)(nil)).IfNotExists().Exec(ctx); err != nil {
		return fmt.Errorf("create %s: %w", MigrationsTable, err)
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// lockMigrations takes a lock that serialises migrators of one database. SQLite needs
// none: each migration runs in an immediate (write-locked) transaction.
func (s *Store) lockMigrations(ctx context.Context, conn bun.Conn) (unlock func(), err error) {
	switch s.dialect {
	case DialectPostgres:
		const key = "hashtext(coalesce(current_schema(), '') || '.graphvault_migrations')"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		return func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")"); err != nil {
				s.log.Warn("store: releasing migration lock", "err", err)
			}
		}, nil
	case DialectMySQL:
		const name = "CONCAT('graphvault_migrations.', COALESCE(DATABASE(), ''))"
		var got int
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+name+", 300)").Scan(&got); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if got != 1 {
			return nil, errors.New("lock: timed out waiting for another migrator")
		}
		return func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK("+name+")"); err != nil {
				s.log.Warn("store: releasing migration lock", "err", err)
			}
		}, nil
	}
	return func() {}, nil
}

// applyMigration applies one migration unless it is recorded. PostgreSQL and SQLite
// run it in a transaction with its record; MySQL commits DDL implicitly, so there the
// statements are written to be re-runnable and the record is written last.
func (s *Store) applyMigration(ctx context.Context, conn bun.Conn, m migration) error {
	record := &appliedMigration{Version: m.version, Name: m.name, AppliedAt: s.nowUTC()}
	applied := func(ctx context.Context, db bun.IDB) (bool, error) {
		return db.NewSelect().Model((*appliedMigration)(nil)).Where("version = ?", m.version).Exists(ctx)
	}
	if s.dialect == DialectMySQL {
		done, err := applied(ctx, conn)
		if err != nil || done {
			return err
		}
		for _, stmt := range m.stmts {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		_, err = conn.NewInsert().Model(record).Exec(ctx)
		return err
	}
	return conn.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		done, err := applied(ctx, tx)
		if err != nil || done {
			return err
		}
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		_, err = tx.NewInsert().Model(record).Exec(ctx)
		return err
	})
}

// SchemaVersion returns the highest migration version applied to the database (0
// if none) and the highest this package knows. current < latest means the
// database needs [Store.Migrate]; current > latest means a newer graphvault has
// migrated it.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	err = s.do(ctx, "schema version", "", func(ctx context.Context) error {
		ms, err := loadMigrations(s.dialect)
		if err != nil {
			return err
		}
		if len(ms) > 0 {
			latest = ms[len(ms)-1].version
		}
		var v struct {
			Max int `bun:"max"`
		}
		err = s.db.NewSelect().Model((*appliedMigration)(nil)).
			ColumnExpr("COALESCE(MAX(version), 0) AS max").Scan(ctx, &v)
		current = v.Max
		return err
	})
	return current, latest, err
}
