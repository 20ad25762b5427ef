package meta

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// sqliteBusyTimeout is how long a SQLite connection waits for another's write lock.
const sqliteBusyTimeout = 30 * time.Second

// target is what a DSN resolves to.
type target struct {
	dialect string // "sqlite", "postgres", "mysql"
	driver  string // database/sql driver name
	dsn     string // the driver's DSN
	memory  bool   // in-memory SQLite: one connection only
}

// parseDSN picks the dialect and builds the driver DSN.
func parseDSN(dsn string) (target, error) {
	switch {
	case dsn == "":
		return target{}, fmt.Errorf("%w: empty DSN", ErrInvalid)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return target{}, fmt.Errorf("%w: postgres DSN: %v", ErrInvalid, err)
		}
		return target{dialect: "postgres", driver: "pgx", dsn: dsn}, nil
	case strings.HasPrefix(dsn, "mysql://"):
		d, err := mysqlDSN(dsn)
		if err != nil {
			return target{}, err
		}
		return target{dialect: "mysql", driver: "mysql", dsn: d}, nil
	case strings.HasPrefix(dsn, "file:"):
		return sqliteDSN(dsn, sqliteshim.DriverName()), nil
	case strings.Contains(dsn, "://"):
		return target{}, fmt.Errorf("%w: unsupported DSN scheme in %q", ErrInvalid, redactDSN(dsn))
	}
	return sqliteDSN(dsn, sqliteshim.DriverName()), nil
}

// sqliteDSN adds the connection settings to a SQLite path or file: URI, in the form
// the linked driver understands: modernc.org/sqlite ("sqlite") takes _pragma=name(value),
// mattn/go-sqlite3 ("sqlite3") takes _name=value. Settings the DSN already has win.
func sqliteDSN(dsn, driverName string) target {
	t := target{dialect: "sqlite", driver: sqliteshim.ShimName}
	if dsn == ":memory:" || dsn == "file::memory:" {
		t.memory = true
		dsn = "file::memory:"
	}
	existing := ""
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		existing = strings.ToLower(dsn[i+1:])
	}
	busy := fmt.Sprint(sqliteBusyTimeout.Milliseconds())
	settings := []struct{ name, value string }{
		{"busy_timeout", busy},
		{"foreign_keys", "1"},
		{"journal_mode", "WAL"},
		{"synchronous", "NORMAL"},
	}
	var params []string
	for _, s := range settings {
		if strings.Contains(existing, s.name) || (t.memory && s.name == "journal_mode") {
			continue
		}
		if driverName == "sqlite3" {
			params = append(params, "_"+s.name+"="+s.value)
		} else {
			params = append(params, "_pragma="+url.QueryEscape(s.name+"("+s.value+")"))
		}
	}
	if !strings.Contains(existing, "_txlock") {
		params = append(params, "_txlock=immediate")
	}
	if len(params) > 0 {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + strings.Join(params, "&")
	}
	t.dsn = dsn
	return t
}

// mysqlDSN translates mysql://user:pass@host:port/db?params to the driver's DSN,
// with parseTime=true and loc=UTC forced.
func mysqlDSN(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("%w: mysql DSN: %v", ErrInvalid, err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return "", fmt.Errorf("%w: mysql DSN %q names no database", ErrInvalid, redactDSN(dsn))
	}
	// Let the driver parse the query parameters it knows; user, password and address
	// are set from the URL so they need no escaping.
	cfg, err := mysql.ParseDSN("/" + db + "?" + u.RawQuery)
	if err != nil {
		return "", fmt.Errorf("%w: mysql DSN parameters: %v", ErrInvalid, err)
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	host := u.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "3306")
	}
	cfg.Addr = host
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	return cfg.FormatDSN(), nil
}

// RedactDSN returns the DSN with its password hidden, for messages and logs.
func RedactDSN(dsn string) string { return redactDSN(dsn) }

// redactDSN hides a password in a DSN for error messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparseable DSN>"
	}
	return u.Redacted()
}
