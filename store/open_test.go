package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/store"
)

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		dsn     string
		wantErr error // nil: any error
	}{
		{"empty", "", store.ErrInvalid},
		{"unknown scheme", "oracle://db/x", store.ErrInvalid},
		{"sqlite in a missing directory", filepath.Join(t.TempDir(), "missing", "x.db"), nil},
		{"postgres nobody listens", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(ctx, tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.dsn)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Open(%q) error = %v, want %v", tc.dsn, err, tc.wantErr)
			}
			var se *store.Error
			if !errors.As(err, &se) {
				t.Errorf("error %v is not a *store.Error", err)
			}
		})
	}
}

func TestNewWithHostConnection(t *testing.T) {
	ctx := context.Background()
	if _, err := store.New(ctx, nil); !errors.Is(err, store.ErrInvalid) {
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
	s, err := store.New(ctx, db, store.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), store.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != db {
		t.Errorf("DB() is not the host's connection")
	}
	if _, err := s.GetSnapshot(ctx, store.NewID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get absent: %v, want ErrNotFound", err)
	}
	if err := s.CreateTarget(ctx, &store.Target{Name: "t", Kind: store.TargetFile, Secret: "hunter2"}); err != nil {
		t.Fatal(err)
	}
	// A second store on the same connection finds the schema migrated.
	s2, err := store.New(ctx, db)
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
	var histograms int
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/graphvault/graphvault/store" {
			continue
		}
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name != "graphvault.store.operations" {
					continue
				}
				for _, dp := range data.DataPoints {
					o, _ := dp.Attributes.Value("outcome")
					outcomes[o.AsString()] += dp.Value
				}
			case metricdata.Histogram[float64]:
				if m.Name == "graphvault.store.operation.duration" && m.Unit == "s" {
					histograms += len(data.DataPoints)
				}
			}
		}
	}
	if outcomes["ok"] < 2 || outcomes["not_found"] != 1 {
		t.Errorf("operations by outcome = %v, want at least 2 ok and 1 not_found", outcomes)
	}
	if histograms == 0 {
		t.Errorf("no duration histogram recorded")
	}
}

func TestMemoryStoresAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, err := store.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.CreateSnapshot(ctx, &store.Snapshot{GraphID: "g"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *store.Store
		want int
	}{{"a", a, 1}, {"b", b, 0}} {
		n, err := tc.s.CountSnapshots(ctx, store.SnapshotFilter{})
		if err != nil || n != tc.want {
			t.Errorf("store %s: %d snapshots (%v), want %d", tc.name, n, err, tc.want)
		}
	}
}
