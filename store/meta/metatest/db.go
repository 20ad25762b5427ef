// Package storetest is the conformance suite of package store and the helpers other
// packages' tests use to get an isolated store on SQLite, PostgreSQL or MySQL.
//
// SQLite is always available. PostgreSQL and MySQL/MariaDB are used when the
// environment names a server: GRAPHVAULT_TEST_POSTGRES_DSN (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable) and
// GRAPHVAULT_TEST_MYSQL_DSN (for example mysql://root@127.0.0.1:3306/test); tests of
// a kind whose variable is unset are skipped with a message saying so.
//
// Every store or DSN handed out is isolated, so test packages may run in parallel
// against one server: SQLite gets a file in t.TempDir(), PostgreSQL a new schema
// (selected with search_path in the DSN), MySQL a new database. Each is dropped when
// the test ends.
package metatest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/graphvault/graphvault/store/meta"
)

// Environment variables naming the servers to test against.
const (
	EnvPostgres = "GRAPHVAULT_TEST_POSTGRES_DSN"
	EnvMySQL    = "GRAPHVAULT_TEST_MYSQL_DSN"
)

// Database kinds, as [meta.Store.Dialect] names them.
const (
	SQLite   = meta.DialectSQLite
	Postgres = meta.DialectPostgres
	MySQL    = meta.DialectMySQL
)

// Kinds lists every database kind in test order.
func Kinds() []string { return []string{SQLite, Postgres, MySQL} }

// envFor returns the variable that enables a server kind.
func envFor(kind string) string {
	switch kind {
	case Postgres:
		return EnvPostgres
	case MySQL:
		return EnvMySQL
	}
	return ""
}

// Available reports whether tests of the kind can run here, and if not, why.
func Available(kind string) (ok bool, reason string) {
	switch kind {
	case SQLite:
		return true, ""
	case Postgres, MySQL:
		if os.Getenv(envFor(kind)) == "" {
			return false, fmt.Sprintf("skipped %s: %s not set", kind, envFor(kind))
		}
		return true, ""
	}
	return false, fmt.Sprintf("skipped %s: unknown database kind", kind)
}

// ForEachKind runs fn in a subtest named after each kind; a kind whose server is
// not configured is skipped with a message naming the variable to set.
func ForEachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			if ok, reason := Available(kind); !ok {
				t.Skip(reason)
			}
			fn(t, kind)
		})
	}
}

// ForEachDB runs fn in a subtest per kind with a fresh isolated meta.
func ForEachDB(t *testing.T, fn func(t *testing.T, s *meta.Store)) {
	t.Helper()
	ForEachKind(t, func(t *testing.T, kind string) {
		fn(t, Open(t, kind))
	})
}

// Open returns a migrated store on a fresh isolated database of the kind, closed
// and dropped when the test ends. It skips the test when the kind's server is not
// configured.
func Open(t testing.TB, kind string, opts ...meta.Option) *meta.Store {
	t.Helper()
	return OpenWith(t, OpenDSN(t, kind), opts...)
}

// OpenWith opens a store on dsn (from [OpenDSN], to share one isolated database
// between several stores) and closes it when the test ends.
func OpenWith(t testing.TB, dsn string, opts ...meta.Option) *meta.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := meta.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// OpenDSN returns the DSN of a fresh, empty, isolated database of the kind, dropped
// when the test ends (after the stores opened on it are closed, if they were opened
// later in the same test). Several stores may be opened on it. It skips the test
// when the kind's server is not configured.
func OpenDSN(t testing.TB, kind string) string {
	t.Helper()
	if ok, reason := Available(kind); !ok {
		t.Skip(reason)
	}
	name := "gvtest_" + strings.ToLower(meta.NewID())
	switch kind {
	case Postgres:
		return postgresDSN(t, os.Getenv(EnvPostgres), name)
	case MySQL:
		return mysqlDSN(t, os.Getenv(EnvMySQL), name)
	}
	return filepath.Join(t.TempDir(), "graphvault.db")
}

func postgresDSN(t testing.TB, base, schema string) string {
	t.Helper()
	admin := adminDB(t, "pgx", base)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func mysqlDSN(t testing.TB, base, database string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvMySQL, err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	admin := adminDB(t, "mysql", cfg.FormatDSN())
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+database+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+database); err != nil {
			t.Errorf("drop database %s: %v", database, err)
		}
	})
	u.Path = "/" + database
	return u.String()
}

// adminDB opens a connection for creating and dropping test databases; it is closed
// after the drop (cleanups run last-registered first).
func adminDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s admin connection: %v", driver, err)
		}
	})
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("connect to %s test server: %v", driver, err)
	}
	return db
}
