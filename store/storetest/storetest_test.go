package storetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store"
	"github.com/graphvault/graphvault/store/storetest"
)

// TestIsolation checks that two stores handed out for one kind share nothing, and
// that two stores opened on one DSN share everything.
func TestIsolation(t *testing.T) {
	storetest.ForEachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dsn := storetest.OpenDSN(t, kind)
		a := storetest.OpenWith(t, dsn)
		sameDB := storetest.OpenWith(t, dsn)
		other := storetest.Open(t, kind)
		if a.Dialect() != kind {
			t.Errorf("Dialect() = %q, want %q", a.Dialect(), kind)
		}
		if err := a.CreateTarget(ctx, &store.Target{Name: "t", Kind: store.TargetFile}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			s    *store.Store
			want int
		}{
			{"same DSN", sameDB, 1},
			{"another isolated store", other, 0},
		}
		for _, tc := range tests {
			got, err := tc.s.ListTargets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("%s: %d targets, want %d", tc.name, len(got), tc.want)
			}
		}
	})
}

func TestForEachDB(t *testing.T) {
	var ran []string
	storetest.ForEachDB(t, func(t *testing.T, s *store.Store) {
		ran = append(ran, s.Dialect())
		if err := s.Ping(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if len(ran) == 0 || ran[0] != storetest.SQLite {
		t.Errorf("ran on %v, want SQLite first", ran)
	}
}

func TestAvailable(t *testing.T) {
	tests := []struct {
		kind, env, value string
		want             bool
		wantReason       string
	}{
		{storetest.SQLite, "", "", true, ""},
		{storetest.Postgres, storetest.EnvPostgres, "", false, "skipped postgres: GRAPHVAULT_TEST_POSTGRES_DSN not set"},
		{storetest.MySQL, storetest.EnvMySQL, "", false, "skipped mysql: GRAPHVAULT_TEST_MYSQL_DSN not set"},
		{storetest.MySQL, storetest.EnvMySQL, "mysql://root@127.0.0.1:3306/test", true, ""},
		{"oracle", "", "", false, "skipped oracle: unknown database kind"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"="+tc.value, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.value)
			}
			ok, reason := storetest.Available(tc.kind)
			if ok != tc.want || reason != tc.wantReason {
				t.Errorf("Available(%q) = %v, %q; want %v, %q", tc.kind, ok, reason, tc.want, tc.wantReason)
			}
		})
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := storetest.NewClock(start)
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}

// TestSuiteOnSQLite runs the conformance suite from its own package, so that the
// suite's own code is measured by `go test -cover ./store/storetest`. The store
// package runs it on every database.
func TestSuiteOnSQLite(t *testing.T) {
	storetest.Run(t, storetest.OpenerFor(storetest.SQLite))
}
