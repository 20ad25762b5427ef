package meta_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/store/meta"
	"github.com/graphvault/graphvault/store/meta/metatest"
)

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		dsn     string
		wantErr error // nil: any error
	}{
		{"empty", "", meta.ErrInvalid},
		{"unknown scheme", "oracle://db/x", meta.ErrInvalid},
		{"sqlite in a missing directory", filepath.Join(t.TempDir(), "missing", "x.db"), nil},
		{"postgres nobody listens", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := meta.Open(ctx, tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.dsn)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Open(%q) error = %v, want %v", tc.dsn, err, tc.wantErr)
			}
			var se *meta.Error
			if !errors.As(err, &se) {
				t.Errorf("error %v is not a *meta.Error", err)
			}
		})
	}
}

func TestNewWithHostConnection(t *testing.T) {
	ctx := context.Background()
	if _, err := meta.New(ctx, nil); !errors.Is(err, meta.ErrInvalid) {
		t.Errorf("New(nil) error = %v, want ErrInvalid", err)
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, filepath.Join(t.TempDir(), "host.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()

	var logs bytes.Buffer
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s, err := meta.New(ctx, db, meta.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), meta.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != db {
		t.Errorf("DB() is not the host's connection")
	}
	if _, err := s.GetSnapshot(ctx, meta.NewID()); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("get absent: %v, want ErrNotFound", err)
	}
	if err := s.CreateTarget(ctx, &meta.Target{Name: "t", Kind: meta.TargetFile, Secret: "hunter2"}); err != nil {
		t.Fatal(err)
	}
	// A second store on the same connection finds the schema migrated.
	s2, err := meta.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.GetTargetByName(ctx, "t"); err != nil {
		t.Errorf("second store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Errorf("Close of a store made by New closed the host's connection: %v", err)
	}
	if bytes.Contains(logs.Bytes(), []byte("hunter2")) {
		t.Errorf("logs carry a target secret: %s", logs.Bytes())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int64{}
	ops := map[string]bool{}
	var histograms int
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/graphvault/graphvault/store/meta" {
			continue
		}
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name != "graphvault.store.operations" {
					continue
				}
				for _, dp := range data.DataPoints {
					o, _ := dp.Attributes.Value("result")
					outcomes[o.AsString()] += dp.Value
					op, _ := dp.Attributes.Value("operation")
					if strings.ContainsAny(op.AsString(), " -") || op.AsString() == "" {
						t.Errorf("operation label %q is not snake_case", op.AsString())
					}
					ops[op.AsString()] = true
				}
			case metricdata.Histogram[float64]:
				if m.Name == "graphvault.store.operation.duration" && m.Unit == "s" {
					histograms += len(data.DataPoints)
				}
			}
		}
	}
	if outcomes["ok"] < 2 || outcomes["not_found"] != 1 {
		t.Errorf("operations by result = %v, want at least 2 ok and 1 not_found", outcomes)
	}
	if !ops["get_snapshot"] {
		t.Errorf("operations %v lack get_snapshot", ops)
	}
	if histograms == 0 {
		t.Errorf("no duration histogram recorded")
	}
}

func TestMemoryStoresAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.CreateSnapshot(ctx, &meta.Snapshot{GraphID: "g"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *meta.Store
		want int
	}{{"a", a, 1}, {"b", b, 0}} {
		n, err := tc.s.CountSnapshots(ctx, meta.SnapshotFilter{})
		if err != nil || n != tc.want {
			t.Errorf("store %s: %d snapshots (%v), want %d", tc.name, n, err, tc.want)
		}
	}
}

// TestMySQLChangedRows runs on a host's MySQL connection without clientFoundRows,
// where an UPDATE that writes the values already there reports no affected row.
func TestMySQLChangedRows(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(metatest.OpenDSN(t, metatest.MySQL))
	if err != nil {
		t.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, u.Path[1:]
	cfg.ParseTime, cfg.Loc = true, time.UTC
	sqldb, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, mysqldialect.New())
	defer db.Close()
	clock := metatest.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	s, err := meta.New(ctx, db, meta.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	sn := &meta.Snapshot{GraphID: "g"}
	if err := s.CreateSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		err  error
		want error
	}{
		{"update changing nothing", s.UpdateSnapshot(ctx, sn), nil},
		{"update absent", s.UpdateSnapshot(ctx, &meta.Snapshot{ID: meta.NewID(), GraphID: "g"}), meta.ErrNotFound},
	}
	for _, st := range steps {
		if !errors.Is(st.err, st.want) {
			t.Errorf("%s: error %v, want %v", st.name, st.err, st.want)
		}
	}
	leases := []struct {
		holder string
		want   bool
	}{
		{"a", true},
		{"a", true}, // renewal writing the same expiry: no changed row
		{"b", false},
	}
	for i, l := range leases {
		got, err := s.AcquireLease(ctx, "job", l.holder, time.Minute)
		if err != nil || got != l.want {
			t.Errorf("acquire #%d by %s = %v, %v; want %v", i+1, l.holder, got, err, l.want)
		}
	}
}

// TestOpenFileURI opens SQLite from "file:" DSNs, "file://" included, and finds
// the database where the path says.
func TestOpenFileURI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, dsn := range []string{"file:" + filepath.Join(dir, "a.db"), "file://" + filepath.ToSlash(filepath.Join(dir, "b.db"))} {
		s, err := meta.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if s.Dialect() != meta.DialectSQLite {
			t.Errorf("Open(%q): dialect %s, want sqlite", dsn, s.Dialect())
		}
		s.Close()
	}
	for _, name := range []string{"a.db", "b.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("database file %s: %v", name, err)
		}
	}
	if got := meta.RedactDSN("postgres://u:hunter2@db:5432/x"); strings.Contains(got, "hunter2") {
		t.Errorf("RedactDSN kept the password: %s", got)
	}
}
