package metatest_test

import (
	"context"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/meta"
	"github.com/graphvault/graphvault/store/meta/metatest"
)

// TestIsolation checks that two stores handed out for one kind share nothing, and
// that two stores opened on one DSN share everything.
func TestIsolation(t *testing.T) {
	metatest.ForEachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dsn := metatest.OpenDSN(t, kind)
		a := metatest.OpenWith(t, dsn)
		sameDB := metatest.OpenWith(t, dsn)
		other := metatest.Open(t, kind)
		if a.Dialect() != kind {
			t.Errorf("Dialect() = %q, want %q", a.Dialect(), kind)
		}
		if err := a.CreateTarget(ctx, &meta.Target{Name: "t", Kind: meta.TargetFile}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			s    *meta.Store
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
	metatest.ForEachDB(t, func(t *testing.T, s *meta.Store) {
		ran = append(ran, s.Dialect())
		if err := s.Ping(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if len(ran) == 0 || ran[0] != metatest.SQLite {
		t.Errorf("ran on %v, want SQLite first", ran)
	}
}

func TestAvailable(t *testing.T) {
	tests := []struct {
		kind, env, value string
		want             bool
		wantReason       string
	}{
		{metatest.SQLite, "", "", true, ""},
		{metatest.Postgres, metatest.EnvPostgres, "", false, "skipped postgres: GRAPHVAULT_TEST_POSTGRES_DSN not set"},
		{metatest.MySQL, metatest.EnvMySQL, "", false, "skipped mysql: GRAPHVAULT_TEST_MYSQL_DSN not set"},
		{metatest.MySQL, metatest.EnvMySQL, "mysql://root@127.0.0.1:3306/test", true, ""},
		{"oracle", "", "", false, "skipped oracle: unknown database kind"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"="+tc.value, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.value)
			}
			ok, reason := metatest.Available(tc.kind)
			if ok != tc.want || reason != tc.wantReason {
				t.Errorf("Available(%q) = %v, %q; want %v, %q", tc.kind, ok, reason, tc.want, tc.wantReason)
			}
		})
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := metatest.NewClock(start)
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}

// TestSuiteOnSQLite runs the conformance suite from its own package, so that the
// suite's own code is measured by `go test -cover ./store/storetest`. The store
// package runs it on every database.
func TestSuiteOnSQLite(t *testing.T) {
	metatest.Run(t, metatest.OpenerFor(metatest.SQLite))
}
