package meta

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		name        string
		dsn         string
		wantDialect string
		wantMemory  bool
		wantIn      []string // substrings of the driver DSN
		wantErr     error
	}{
		{"path", "/var/lib/gv/meta.db", DialectSQLite, false, []string{"/var/lib/gv/meta.db?", "_txlock=immediate", "busy_timeout", "journal_mode", "foreign_keys"}, nil},
		{"relative path", "meta.db", DialectSQLite, false, []string{"meta.db?"}, nil},
		{"file URI with params", "file:meta.db?mode=rwc", DialectSQLite, false, []string{"file:meta.db?mode=rwc&", "_txlock=immediate"}, nil},
		{"memory", ":memory:", DialectSQLite, true, []string{"file::memory:?", "foreign_keys"}, nil},
		{"postgres", "postgres://u:p@db:5432/x?sslmode=disable", DialectPostgres, false, []string{"postgres://u:p@db:5432/x?sslmode=disable"}, nil},
		{"postgresql", "postgresql://db/x", DialectPostgres, false, []string{"postgresql://db/x"}, nil},
		{"mysql", "mysql://root@127.0.0.1:3306/test", DialectMySQL, false, []string{"root@tcp(127.0.0.1:3306)/test?", "parseTime=true", "clientFoundRows=true"}, nil},
		{"mysql default port", "mysql://u:p@db/test?timeout=5s", DialectMySQL, false, []string{"u:p@tcp(db:3306)/test?", "timeout=5s"}, nil},
		{"empty", "", "", false, nil, ErrInvalid},
		{"unknown scheme", "mssql://sa:secret@db/x", "", false, nil, ErrInvalid},
		{"mysql without database", "mysql://root@db:3306/", "", false, nil, ErrInvalid},
		{"mysql bad parameter", "mysql://root@db:3306/x?parseTime=maybe", "", false, nil, ErrInvalid},
		{"bad postgres URL", "postgres://db:port/x", "", false, nil, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDSN(tc.dsn)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("parseDSN(%q) error = %v, want %v", tc.dsn, err, tc.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if got.dialect != tc.wantDialect || got.memory != tc.wantMemory {
				t.Errorf("dialect %q memory %v, want %q %v", got.dialect, got.memory, tc.wantDialect, tc.wantMemory)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(got.dsn, s) {
					t.Errorf("driver DSN %q lacks %q", got.dsn, s)
				}
			}
		})
	}
}

func TestMySQLDSNKeepsSpecialPassword(t *testing.T) {
	pass := "p@ss:w/rd?#"
	u := url.URL{Scheme: "mysql", User: url.UserPassword("gv", pass), Host: "[::1]:3307", Path: "/meta"}
	got, err := mysqlDSN(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(got)
	if err != nil {
		t.Fatalf("driver cannot parse %q: %v", got, err)
	}
	if cfg.User != "gv" || cfg.Passwd != pass || cfg.Addr != "[::1]:3307" || cfg.DBName != "meta" || !cfg.ParseTime || cfg.Loc != time.UTC {
		t.Errorf("config %+v: want user gv, the password, [::1]:3307, meta, parseTime, UTC", cfg)
	}
}

func TestSQLiteDSNPerDriver(t *testing.T) {
	tests := []struct {
		driver, dsn string
		want        string
	}{
		{"sqlite", "a.db", "a.db?_pragma=busy_timeout%2830000%29&_pragma=foreign_keys%281%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate"},
		{"sqlite3", "a.db", "a.db?_busy_timeout=30000&_foreign_keys=1&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"},
		{"sqlite3", ":memory:", "file::memory:?_busy_timeout=30000&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate"},
		{"sqlite", "a.db?_pragma=journal_mode(DELETE)&_txlock=deferred", "a.db?_pragma=journal_mode(DELETE)&_txlock=deferred&_pragma=busy_timeout%2830000%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29"},
	}
	for _, tc := range tests {
		t.Run(tc.driver+" "+tc.dsn, func(t *testing.T) {
			if got := sqliteDSN(tc.dsn, tc.driver).dsn; got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestNewIDMonotonic(t *testing.T) {
	prev := ""
	for i := range 20000 {
		id := NewID()
		if len(id) != 26 || !ValidID(id) {
			t.Fatalf("NewID() = %q: not a 26-character ULID", id)
		}
		if id <= prev {
			t.Fatalf("id %d: %s not above %s", i, id, prev)
		}
		prev = id
	}
}

func TestValidID(t *testing.T) {
	good := NewID()
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{strings.ToLower(good), false},
		{good[:25], false},
		{good + "0", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", false}, // U is not Crockford base32
		{"01ARZ3NDEKTSV4RRFFQ69G5FAI", false}, // I is not Crockford base32
		{"81ARZ3NDEKTSV4RRFFQ69G5FAV", false}, // overflows 48-bit time
		{"", false},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestCursor(t *testing.T) {
	id := NewID()
	c := encodeCursor(id)
	got, err := decodeCursor(c)
	if err != nil || got != id {
		t.Errorf("decodeCursor(encodeCursor(%s)) = %q, %v", id, got, err)
	}
	if c := encodeCursor("nope"); c != "" {
		t.Errorf("encodeCursor of a non-ULID = %q, want empty", c)
	}
	for _, bad := range []string{"@@", "AAAA", c + "AA"} {
		if _, err := decodeCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("decodeCursor(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestSplitSQL(t *testing.T) {
	src := "-- comment\nCREATE TABLE a (\n\tx INT\n);\n\n-- another\nCREATE INDEX i ON a (x);\nSELECT 1"
	want := []string{"CREATE TABLE a (\n\tx INT\n)", "CREATE INDEX i ON a (x)", "SELECT 1"}
	if got := splitSQL(src); !reflect.DeepEqual(got, want) {
		t.Errorf("splitSQL:\n got %q\nwant %q", got, want)
	}
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	var versions [][]int
	for _, d := range []string{DialectSQLite, DialectPostgres, DialectMySQL} {
		ms, err := loadMigrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		var vs []int
		for i, m := range ms {
			if m.version != i+1 {
				t.Errorf("%s: migration %d has version %d, want %d (no gaps)", d, i, m.version, i+1)
			}
			if len(m.stmts) == 0 {
				t.Errorf("%s: migration %d has no statement", d, m.version)
			}
			for _, s := range m.stmts {
				if strings.Contains(s, "?") {
					t.Errorf("%s: migration %d has a '?', which the query formatter would take for a parameter", d, m.version)
				}
			}
			vs = append(vs, m.version)
		}
		versions = append(versions, vs)
	}
	for i := 1; i < len(versions); i++ {
		if !slices.Equal(versions[i], versions[0]) {
			t.Errorf("migration versions differ between dialects: %v", versions)
		}
	}
	if _, err := loadMigrations("oracle"); err == nil {
		t.Errorf("loadMigrations of an unknown dialect succeeded")
	}
}

type codedErr int

func (c codedErr) Error() string { return fmt.Sprintf("sqlite error %d", int(c)) }
func (c codedErr) Code() int     { return int(c) }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "ok"},
		{"postgres unique", &pgconn.PgError{Code: "23505"}, "conflict"},
		{"postgres other", &pgconn.PgError{Code: "23503"}, "error"},
		{"mysql duplicate", &mysql.MySQLError{Number: 1062}, "conflict"},
		{"mysql other", &mysql.MySQLError{Number: 1146}, "error"},
		{"sqlite unique code", codedErr(2067), "conflict"},
		{"sqlite primary key code", codedErr(1555), "conflict"},
		{"sqlite busy", codedErr(5), "error"},
		{"sqlite text", errors.New("UNIQUE constraint failed: graphvault_targets.name"), "conflict"},
		{"wrapped", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), "conflict"},
		{"not found", ErrNotFound, "not_found"},
		{"invalid", fmt.Errorf("%w: x", ErrInvalid), "invalid"},
		{"closed", ErrClosed, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			if o := outcome(got); o != tc.want {
				t.Errorf("outcome(classify(%v)) = %q, want %q", tc.err, o, tc.want)
			}
			if tc.want == "conflict" {
				if got.Error() == "" || !errors.Is(got, tc.err) {
					t.Errorf("classified error %v lost the driver's error", got)
				}
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Error{Op: "get snapshot", ID: "01X", Err: ErrNotFound}, "store: get snapshot 01X: store: not found"},
		{&Error{Op: "ping", Err: ErrClosed}, "store: ping: store: closed"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
