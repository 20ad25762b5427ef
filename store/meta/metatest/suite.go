package metatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

// Opener returns a fresh, migrated, empty store for one test, closed when the test
// ends, built with the given options.
type Opener func(t *testing.T, opts ...meta.Option) *meta.Store

// OpenerFor returns the Opener of a database kind, made with [Open].
func OpenerFor(kind string) Opener {
	return func(t *testing.T, opts ...meta.Option) *meta.Store { return Open(t, kind, opts...) }
}

// Run runs the conformance suite. Every subtest asks open for its own meta.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Migrate", testMigrate},
		{"SnapshotCRUD", testSnapshotCRUD},
		{"SnapshotList", testSnapshotList},
		{"SnapshotAggregates", testSnapshotAggregates},
		{"SnapshotTotals", testSnapshotTotals},
		{"Pagination", testPagination},
		{"Targets", testTargets},
		{"ReplicationEvents", testReplicationEvents},
		{"Checkpoints", testCheckpoints},
		{"Health", testHealth},
		{"Leases", testLeases},
		{"LeaseConcurrency", testLeaseConcurrency},
		{"MetricSamples", testMetricSamples},
		{"TimesUTC", testTimesUTC},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// Clock is a settable clock for [meta.WithClock].
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// wantErr fails unless errors.Is(err, want) (or err is nil when want is nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	wantErr(t, what, err, nil)
}

// equalJSON fails unless got and want marshal to the same JSON.
func equalJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	must(t, "marshal got", err)
	w, err := json.Marshal(want)
	must(t, "marshal want", err)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func testMigrate(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	count := func() int {
		n, err := s.DB().NewSelect().Table(meta.MigrationsTable).Count(ctx)
		must(t, "count migrations", err)
		return int(n)
	}
	before := count()
	if before == 0 {
		t.Fatalf("no row in %s after Open", meta.MigrationsTable)
	}
	sn := &meta.Snapshot{GraphID: "g"}
	must(t, "create snapshot", s.CreateSnapshot(ctx, sn))
	for i := range 2 {
		must(t, fmt.Sprintf("migrate #%d", i+2), s.Migrate(ctx))
	}
	if got := count(); got != before {
		t.Errorf("migrations recorded: got %d after migrating again, want %d", got, before)
	}
	if _, err := s.GetSnapshot(ctx, sn.ID); err != nil {
		t.Errorf("snapshot after migrating again: %v", err)
	}
	if got := s.Dialect(); !slices.Contains(Kinds(), got) {
		t.Errorf("Dialect() = %q, want one of %v", got, Kinds())
	}
	must(t, "ping", s.Ping(ctx))
}

func fullSnapshot(graphID string) *meta.Snapshot {
	return &meta.Snapshot{
		GraphID:     graphID,
		ParentID:    meta.NewID(),
		Kind:        meta.SnapshotIncremental,
		Status:      meta.SnapshotRunning,
		StartedAt:   t0,
		Nodes:       1_000_000,
		Edges:       2_500_000,
		Records:     3_500_000,
		BytesRaw:    1 << 40,
		BytesStored: 1 << 33,
		BytesNew:    1 << 20,
		RootHash:    "sha256:abc",
		ManifestKey: "graphs/g/manifests/x.json",
		JournalPos:  int64(^uint64(0) >> 1),
		ChainLen:    7,
		Encrypted:   true,
		RetainUntil: t0.Add(30 * 24 * time.Hour),
		Labels:      map[string]string{"env": "prod", "quote": `a "b" 'c'`, "unicode": "héllo ✓"},
	}
}

func testSnapshotCRUD(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))

	sn := fullSnapshot("graph-1")
	must(t, "create", s.CreateSnapshot(ctx, sn))
	if !meta.ValidID(sn.ID) {
		t.Fatalf("created ID %q is not a ULID", sn.ID)
	}
	if !sn.CreatedAt.Equal(t0) || !sn.UpdatedAt.Equal(t0) {
		t.Errorf("times after create: created %v updated %v, want %v", sn.CreatedAt, sn.UpdatedAt, t0)
	}
	got, err := s.GetSnapshot(ctx, sn.ID)
	must(t, "get", err)
	if !reflect.DeepEqual(got, sn) {
		t.Fatalf("get:\n got %+v\nwant %+v", got, sn)
	}

	clock.Advance(time.Minute)
	sn.Status = meta.SnapshotCompleted
	sn.FinishedAt = t0.Add(50 * time.Second)
	sn.Error = ""
	sn.Labels = map[string]string{"env": "staging"}
	sn.RetainUntil = time.Time{}
	must(t, "update", s.UpdateSnapshot(ctx, sn))
	got, err = s.GetSnapshot(ctx, sn.ID)
	must(t, "get after update", err)
	if !reflect.DeepEqual(got, sn) {
		t.Fatalf("get after update:\n got %+v\nwant %+v", got, sn)
	}
	if !got.UpdatedAt.Equal(t0.Add(time.Minute)) || !got.CreatedAt.Equal(t0) {
		t.Errorf("after update: created %v updated %v, want %v and %v", got.CreatedAt, got.UpdatedAt, t0, t0.Add(time.Minute))
	}
	// Updating with nothing changed is not "not found", on any dialect.
	must(t, "update unchanged", s.UpdateSnapshot(ctx, got))

	minimal := &meta.Snapshot{GraphID: "graph-1"}
	must(t, "create minimal", s.CreateSnapshot(ctx, minimal))
	if minimal.Kind != meta.SnapshotFull || minimal.Status != meta.SnapshotPending {
		t.Errorf("defaults: kind %q status %q, want full pending", minimal.Kind, minimal.Status)
	}
	gotMin, err := s.GetSnapshot(ctx, minimal.ID)
	must(t, "get minimal", err)
	if len(gotMin.Labels) != 0 || !gotMin.StartedAt.IsZero() || !gotMin.FinishedAt.IsZero() {
		t.Errorf("minimal snapshot: labels %v started %v finished %v, want empty and zero", gotMin.Labels, gotMin.StartedAt, gotMin.FinishedAt)
	}

	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate id", s.CreateSnapshot(ctx, &meta.Snapshot{ID: sn.ID, GraphID: "graph-1"}), meta.ErrConflict},
		{"no graph", s.CreateSnapshot(ctx, &meta.Snapshot{}), meta.ErrInvalid},
		{"bad kind", s.CreateSnapshot(ctx, &meta.Snapshot{GraphID: "g", Kind: "differential"}), meta.ErrInvalid},
		{"bad status", s.CreateSnapshot(ctx, &meta.Snapshot{GraphID: "g", Status: "done"}), meta.ErrInvalid},
		{"bad id", s.CreateSnapshot(ctx, &meta.Snapshot{ID: "snap-1", GraphID: "g"}), meta.ErrInvalid},
		{"update absent", s.UpdateSnapshot(ctx, &meta.Snapshot{ID: meta.NewID(), GraphID: "g"}), meta.ErrNotFound},
		{"update bad status", s.UpdateSnapshot(ctx, &meta.Snapshot{ID: sn.ID, GraphID: "g", Status: "x"}), meta.ErrInvalid},
		{"delete", s.DeleteSnapshot(ctx, sn.ID), nil},
		{"delete again", s.DeleteSnapshot(ctx, sn.ID), meta.ErrNotFound},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.err, tc.want) })
	}
	_, err = s.GetSnapshot(ctx, sn.ID)
	wantErr(t, "get deleted", err, meta.ErrNotFound)
	_, err = s.GetSnapshot(ctx, "not-an-id")
	wantErr(t, "get malformed id", err, meta.ErrNotFound)
	var se *meta.Error
	if !errors.As(err, &se) || se.Op != "get snapshot" || se.ID != "not-an-id" {
		t.Errorf("error %v: want *meta.Error with Op %q and ID", err, "get snapshot")
	}
}

func testSnapshotList(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	type spec struct {
		graph, kind, status, err string
	}
	specs := []spec{
		{"a", meta.SnapshotFull, meta.SnapshotCompleted, ""},
		{"a", meta.SnapshotIncremental, meta.SnapshotCompleted, "damaged, found by ü verification"},
		{"a", meta.SnapshotIncremental, meta.SnapshotFailed, "damaged, found at start: x"},
		{"b", meta.SnapshotFull, meta.SnapshotRunning, "damaged"},
		{"b", meta.SnapshotSynthetic, meta.SnapshotCompleted, "damagedX, 100%"},
		{"c", meta.SnapshotFull, meta.SnapshotPending, ""},
	}
	ids := make([]string, len(specs)) // index i created at t0 + i hours
	for i, sp := range specs {
		sn := &meta.Snapshot{GraphID: sp.graph, Kind: sp.kind, Status: sp.status, Error: sp.err}
		must(t, "create", s.CreateSnapshot(ctx, sn))
		ids[i] = sn.ID
		clock.Advance(time.Hour)
	}
	pick := func(idx ...int) []string {
		out := []string{}
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		name    string
		filter  meta.SnapshotFilter
		want    []string // newest first
		wantErr error
	}{
		{"all", meta.SnapshotFilter{}, pick(5, 4, 3, 2, 1, 0), nil},
		{"graph", meta.SnapshotFilter{GraphID: "a"}, pick(2, 1, 0), nil},
		{"graph and status", meta.SnapshotFilter{GraphID: "a", Status: meta.SnapshotCompleted}, pick(1, 0), nil},
		{"kind", meta.SnapshotFilter{Kind: meta.SnapshotFull}, pick(5, 3, 0), nil},
		{"since", meta.SnapshotFilter{Since: t0.Add(4 * time.Hour)}, pick(5, 4), nil},
		{"until", meta.SnapshotFilter{Until: t0.Add(2 * time.Hour)}, pick(1, 0), nil},
		{"since until non-UTC", meta.SnapshotFilter{Since: t0.Add(time.Hour).In(time.FixedZone("X", -7*3600)), Until: t0.Add(3 * time.Hour).In(time.FixedZone("Y", 9*3600))}, pick(2, 1), nil},
		{"error prefix", meta.SnapshotFilter{ErrorPrefix: "damaged, "}, pick(2, 1), nil},
		{"error prefix with a multibyte character", meta.SnapshotFilter{ErrorPrefix: "damaged, found by ü"}, pick(1), nil},
		{"error prefix is no pattern", meta.SnapshotFilter{ErrorPrefix: "damaged_"}, []string{}, nil},
		{"error prefix and status", meta.SnapshotFilter{ErrorPrefix: "damaged", Status: meta.SnapshotCompleted}, pick(4, 1), nil},
		{"unknown graph", meta.SnapshotFilter{GraphID: "zzz"}, []string{}, nil},
		{"limit", meta.SnapshotFilter{Limit: 2}, pick(5, 4), nil},
		{"bad status", meta.SnapshotFilter{Status: "done"}, nil, meta.ErrInvalid},
		{"bad kind", meta.SnapshotFilter{Kind: "diff"}, nil, meta.ErrInvalid},
		{"until before since", meta.SnapshotFilter{Since: t0.Add(time.Hour), Until: t0}, nil, meta.ErrInvalid},
		{"bad cursor", meta.SnapshotFilter{Cursor: "!!!"}, nil, meta.ErrInvalid},
		{"short cursor", meta.SnapshotFilter{Cursor: "AAAA"}, nil, meta.ErrInvalid},
		{"negative limit", meta.SnapshotFilter{Limit: -1}, nil, meta.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := s.ListSnapshots(ctx, tc.filter)
			wantErr(t, "list", err, tc.wantErr)
			if tc.wantErr != nil {
				return
			}
			if got == nil {
				t.Fatalf("list returned a nil slice, want an empty one")
			}
			gotIDs := []string{}
			for _, sn := range got {
				gotIDs = append(gotIDs, sn.ID)
			}
			if !slices.Equal(gotIDs, tc.want) {
				t.Errorf("ids: got %v, want %v", gotIDs, tc.want)
			}
			if tc.wantErr == nil && tc.filter.Limit == 0 {
				n, err := s.CountSnapshots(ctx, tc.filter)
				must(t, "count", err)
				if n != len(tc.want) {
					t.Errorf("count: got %d, want %d", n, len(tc.want))
				}
			}
		})
	}
	_, err := s.CountSnapshots(ctx, meta.SnapshotFilter{Status: "x"})
	wantErr(t, "count bad status", err, meta.ErrInvalid)
}

// testSnapshotTotals checks that completions are counted once, in Create and in
// Update, that deleting or failing a snapshot lowers nothing, and that the
// migration that makes the totals initialises them from the rows there are.
func testSnapshotTotals(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	totals := func() map[string]meta.SnapshotTotals {
		t.Helper()
		all, err := s.SnapshotTotals(ctx)
		must(t, "totals", err)
		out := map[string]meta.SnapshotTotals{}
		for _, tt := range all {
			tt.UpdatedAt = time.Time{}
			out[tt.GraphID] = tt
		}
		return out
	}
	want := func(what string, exp map[string]meta.SnapshotTotals) {
		t.Helper()
		got := totals()
		for id, e := range exp {
			e.GraphID = id
			exp[id] = e
		}
		equalJSON(t, what, got, exp)
	}
	sized := func(graph, status string, records, raw, stored, written int64) *meta.Snapshot {
		return &meta.Snapshot{GraphID: graph, Status: status, Records: records, BytesRaw: raw, BytesStored: stored, BytesNew: written}
	}
	want("empty", map[string]meta.SnapshotTotals{})

	a1 := sized("a", meta.SnapshotCompleted, 10, 1000, 200, 200)
	must(t, "create a1", s.CreateSnapshot(ctx, a1))
	a2 := sized("a", meta.SnapshotRunning, 0, 0, 0, 0)
	must(t, "create a2", s.CreateSnapshot(ctx, a2))
	a2.Status, a2.Records, a2.BytesRaw, a2.BytesStored, a2.BytesNew = meta.SnapshotCompleted, 12, 1200, 240, 40
	must(t, "complete a2", s.UpdateSnapshot(ctx, a2))
	a2.Labels = map[string]string{"k": "v"}
	must(t, "update a2 completed again", s.UpdateSnapshot(ctx, a2))
	must(t, "create a3 failed", s.CreateSnapshot(ctx, sized("a", meta.SnapshotFailed, 5, 5, 5, 5)))
	must(t, "create b1", s.CreateSnapshot(ctx, sized("b", meta.SnapshotCompleted, 1, 10, 3, 3)))
	missing := sized("a", meta.SnapshotCompleted, 1, 1, 1, 1)
	missing.ID = meta.NewID()
	wantErr(t, "complete a missing row", s.UpdateSnapshot(ctx, missing), meta.ErrNotFound)
	after := map[string]meta.SnapshotTotals{
		"a": {Completed: 2, Records: 22, BytesRaw: 2200, BytesStored: 440, BytesNew: 240},
		"b": {Completed: 1, Records: 1, BytesRaw: 10, BytesStored: 3, BytesNew: 3},
	}
	want("after completions", after)

	must(t, "delete a1", s.DeleteSnapshot(ctx, a1.ID))
	a2.Status, a2.Error = meta.SnapshotFailed, "damaged"
	must(t, "fail a2", s.UpdateSnapshot(ctx, a2))
	want("after a delete and a failure", after)

	// Run the totals migration again on an emptied table: it counts the
	// completed rows that exist (b1 and a4).
	must(t, "create a4", s.CreateSnapshot(ctx, sized("a", meta.SnapshotCompleted, 7, 70, 7, 7)))
	_, err := s.DB().NewDelete().TableExpr("graphvault_snapshot_totals").Where("1 = 1").Exec(ctx)
	must(t, "empty the totals", err)
	_, err = s.DB().NewDelete().TableExpr(meta.MigrationsTable).Where("version = 2").Exec(ctx)
	must(t, "forget the totals migration", err)
	must(t, "migrate", s.Migrate(ctx))
	want("initialised by the migration", map[string]meta.SnapshotTotals{
		"a": {Completed: 1, Records: 7, BytesRaw: 70, BytesStored: 7, BytesNew: 7},
		"b": {Completed: 1, Records: 1, BytesRaw: 10, BytesStored: 3, BytesNew: 3},
	})
}

func testSnapshotAggregates(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))

	stats, err := s.SnapshotStats(ctx)
	must(t, "stats empty", err)
	if len(stats) != 0 {
		t.Errorf("stats of an empty store: got %v, want none", stats)
	}
	gids, err := s.GraphIDs(ctx)
	must(t, "graph ids empty", err)
	if len(gids) != 0 {
		t.Errorf("graph ids of an empty store: got %v", gids)
	}
	_, err = s.LatestSnapshot(ctx, "a", "")
	wantErr(t, "latest of nothing", err, meta.ErrNotFound)

	rows := []meta.Snapshot{
		{GraphID: "b", Status: meta.SnapshotCompleted, BytesRaw: 100, BytesStored: 10, BytesNew: 1, FinishedAt: t0.Add(time.Minute)},
		{GraphID: "b", Status: meta.SnapshotCompleted, BytesRaw: 200, BytesStored: 20, BytesNew: 2, FinishedAt: t0.Add(2 * time.Hour)},
		{GraphID: "b", Status: meta.SnapshotFailed, BytesRaw: 999, BytesStored: 999, BytesNew: 999},
		{GraphID: "a", Status: meta.SnapshotRunning},
		{GraphID: "a", Status: meta.SnapshotPending},
	}
	var created []string
	for i := range rows {
		must(t, "create", s.CreateSnapshot(ctx, &rows[i]))
		created = append(created, rows[i].ID)
		clock.Advance(time.Hour)
	}
	gids, err = s.GraphIDs(ctx)
	must(t, "graph ids", err)
	if want := []string{"a", "b"}; !slices.Equal(gids, want) {
		t.Errorf("graph ids: got %v, want %v", gids, want)
	}

	latestTests := []struct {
		graph, status string
		want          string
		wantErr       error
	}{
		{"b", "", created[2], nil},
		{"b", meta.SnapshotCompleted, created[1], nil},
		{"a", meta.SnapshotCompleted, "", meta.ErrNotFound},
		{"a", "", created[4], nil},
		{"a", "bogus", "", meta.ErrInvalid},
	}
	for _, tc := range latestTests {
		got, err := s.LatestSnapshot(ctx, tc.graph, tc.status)
		wantErr(t, "latest "+tc.graph+"/"+tc.status, err, tc.wantErr)
		if err == nil && got.ID != tc.want {
			t.Errorf("latest %s/%s: got %s, want %s", tc.graph, tc.status, got.ID, tc.want)
		}
	}

	stats, err = s.SnapshotStats(ctx)
	must(t, "stats", err)
	want := []meta.GraphStats{
		{GraphID: "a", Snapshots: 2, Pending: 1, Running: 1, LatestCreatedAt: t0.Add(4 * time.Hour)},
		{GraphID: "b", Snapshots: 3, Completed: 2, Failed: 1, BytesRaw: 300, BytesStored: 30, BytesNew: 3,
			LatestCreatedAt: t0.Add(2 * time.Hour), LatestCompletedAt: t0.Add(2 * time.Hour)},
	}
	equalJSON(t, "stats", stats, want)
	for _, st := range stats {
		for _, tm := range []time.Time{st.LatestCreatedAt, st.LatestCompletedAt} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Errorf("stats time %v not in UTC", tm)
			}
		}
	}
}

// walk pages through a list and returns every id in order; it fails on a repeated
// page or an overlong walk.
func walk(t *testing.T, limit int, list func(cursor string, limit int) ([]string, string, error)) (ids []string, pages int) {
	t.Helper()
	cursor := ""
	for {
		got, next, err := list(cursor, limit)
		must(t, fmt.Sprintf("page %d", pages+1), err)
		pages++
		if len(got) > limit {
			t.Fatalf("page %d has %d rows, limit %d", pages, len(got), limit)
		}
		ids = append(ids, got...)
		if next == "" {
			return ids, pages
		}
		if next == cursor || pages > 10000 {
			t.Fatalf("pagination does not advance at page %d", pages)
		}
		cursor = next
	}
}

func testPagination(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	const rows, limit = 250, 20

	// Snapshots through the API; the other tables in bulk with the same ids (their
	// create methods are tested elsewhere).
	var want []string
	var (
		checkpoints []meta.Checkpoint
		events      []meta.ReplicationEvent
		health      []meta.HealthEvent
	)
	for range rows {
		sn := &meta.Snapshot{GraphID: "paged"}
		must(t, "create snapshot", s.CreateSnapshot(ctx, sn))
		want = append(want, sn.ID)
		checkpoints = append(checkpoints, meta.Checkpoint{ID: sn.ID, CreatedAt: t0})
		events = append(events, meta.ReplicationEvent{ID: sn.ID, TargetID: "t", Kind: meta.EventSnapshot, Status: meta.EventOK, StartedAt: t0})
		health = append(health, meta.HealthEvent{ID: sn.ID, Component: "c", Check: "k", Status: meta.HealthPass, CreatedAt: t0})
	}
	for _, rows := range []any{&checkpoints, &events, &health} {
		_, err := s.DB().NewInsert().Model(rows).Exec(ctx)
		must(t, "bulk insert", err)
	}
	slices.Reverse(want) // newest first

	ids := func(n int, id func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}
	lists := []struct {
		name string
		list func(cursor string, limit int) ([]string, string, error)
	}{
		{"snapshots", func(cursor string, limit int) ([]string, string, error) {
			got, next, err := s.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "paged", Cursor: cursor, Limit: limit})
			return ids(len(got), func(i int) string { return got[i].ID }), next, err
		}},
		{"checkpoints", func(cursor string, limit int) ([]string, string, error) {
			got, next, err := s.ListCheckpoints(ctx, cursor, limit)
			return ids(len(got), func(i int) string { return got[i].ID }), next, err
		}},
		{"replication events", func(cursor string, limit int) ([]string, string, error) {
			got, next, err := s.ListReplicationEvents(ctx, meta.EventFilter{TargetID: "t", Cursor: cursor, Limit: limit})
			return ids(len(got), func(i int) string { return got[i].ID }), next, err
		}},
		{"health events", func(cursor string, limit int) ([]string, string, error) {
			got, next, err := s.ListHealthEvents(ctx, meta.HealthFilter{Component: "c", Cursor: cursor, Limit: limit})
			return ids(len(got), func(i int) string { return got[i].ID }), next, err
		}},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			got, pages := walk(t, limit, l.list)
			if !slices.Equal(got, want) {
				t.Fatalf("walk: got %d ids, want the %d created, newest first, each once", len(got), len(want))
			}
			if wantPages := (rows + limit - 1) / limit; pages != wantPages {
				t.Errorf("pages: got %d, want %d", pages, wantPages)
			}
			// Exactly one full page: no further cursor.
			_, next, err := l.list("", rows)
			must(t, "one page", err)
			if next != "" {
				t.Errorf("list of all %d rows returned a next cursor", rows)
			}
			for _, bad := range []string{"%%%", "not-a-cursor", "AAAAAAAA"} {
				_, _, err := l.list(bad, limit)
				wantErr(t, "cursor "+bad, err, meta.ErrInvalid)
			}
			_, _, err = l.list("", -5)
			wantErr(t, "negative limit", err, meta.ErrInvalid)
		})
	}
	got, _, err := s.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "paged"})
	must(t, "default limit", err)
	if len(got) != 50 {
		t.Errorf("default page size: got %d, want 50", len(got))
	}
}

func testTargets(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))

	tg := &meta.Target{
		Name:    "offsite",
		Kind:    meta.TargetS3,
		Config:  map[string]string{"endpoint": "s3.example.com", "bucket": "b", "prefix": "graphs/"},
		Secret:  "AKIA:sup3r-secret",
		Enabled: true,
		Health:  "unknown",
	}
	must(t, "create", s.CreateTarget(ctx, tg))
	got, err := s.GetTarget(ctx, tg.ID)
	must(t, "get", err)
	if !reflect.DeepEqual(got, tg) {
		t.Fatalf("get:\n got %+v\nwant %+v", got, tg)
	}
	byName, err := s.GetTargetByName(ctx, "offsite")
	must(t, "get by name", err)
	if byName.ID != tg.ID || byName.Secret != tg.Secret {
		t.Errorf("by name: got id %s, want %s (secret kept: %v)", byName.ID, tg.ID, byName.Secret == tg.Secret)
	}
	b, err := json.Marshal(got)
	must(t, "marshal", err)
	if strings.Contains(string(b), "sup3r") {
		t.Errorf("JSON of a target carries its secret: %s", b)
	}
	if strings.Contains(fmt.Sprint(got.LogValue()), "sup3r") || strings.Contains(got.String(), "sup3r") {
		t.Errorf("log value or String of a target carries its secret")
	}

	second := &meta.Target{Name: "local", Kind: meta.TargetFile, Config: map[string]string{"path": "/var/backups"}}
	must(t, "create second", s.CreateTarget(ctx, second))
	list, err := s.ListTargets(ctx)
	must(t, "list", err)
	var names []string
	for _, x := range list {
		names = append(names, x.Name)
	}
	if want := []string{"local", "offsite"}; !slices.Equal(names, want) {
		t.Errorf("list: got %v, want %v", names, want)
	}

	clock.Advance(time.Second)
	tg.Health = "healthy"
	tg.LastCheckAt = clock.Now()
	tg.LastError = "previous failure"
	tg.Enabled = false
	must(t, "update", s.UpdateTarget(ctx, tg))
	got, err = s.GetTarget(ctx, tg.ID)
	must(t, "get after update", err)
	if !reflect.DeepEqual(got, tg) {
		t.Fatalf("get after update:\n got %+v\nwant %+v", got, tg)
	}

	taken := *second
	taken.Name = "offsite"
	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate name", s.CreateTarget(ctx, &meta.Target{Name: "offsite", Kind: meta.TargetHTTP}), meta.ErrConflict},
		{"rename to taken name", s.UpdateTarget(ctx, &taken), meta.ErrConflict},
		{"no name", s.CreateTarget(ctx, &meta.Target{Kind: meta.TargetHTTP}), meta.ErrInvalid},
		{"bad kind", s.CreateTarget(ctx, &meta.Target{Name: "x", Kind: "ftp"}), meta.ErrInvalid},
		{"update absent", s.UpdateTarget(ctx, &meta.Target{ID: meta.NewID(), Name: "y", Kind: meta.TargetFile}), meta.ErrNotFound},
		{"delete", s.DeleteTarget(ctx, second.ID), nil},
		{"delete again", s.DeleteTarget(ctx, second.ID), meta.ErrNotFound},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.err, tc.want) })
	}
	_, err = s.GetTarget(ctx, second.ID)
	wantErr(t, "get deleted", err, meta.ErrNotFound)
	_, err = s.GetTargetByName(ctx, "local")
	wantErr(t, "get deleted by name", err, meta.ErrNotFound)
	// The deleted name is free again.
	must(t, "reuse name", s.CreateTarget(ctx, &meta.Target{Name: "local", Kind: meta.TargetFile}))
}

func testReplicationEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	events := []meta.ReplicationEvent{
		{TargetID: "t1", GraphID: "g1", SnapshotID: meta.NewID(), Kind: meta.EventSnapshot, Status: meta.EventOK, Bytes: 1 << 30, ObjectsCopied: 12, ObjectsSkipped: 30, DurationSeconds: 1.25},
		{TargetID: "t1", GraphID: "g1", Kind: meta.EventJournal, Status: meta.EventOK, JournalPos: 42, StartedAt: t0.Add(-time.Hour).In(time.FixedZone("Z", 3600))},
		{TargetID: "t2", GraphID: "g1", Kind: meta.EventCheck, Status: meta.EventFailed, Error: "connection refused"},
		{TargetID: "t1", GraphID: "g2", Kind: meta.EventSnapshot, Status: meta.EventFailed, Error: "timeout"},
	}
	for i := range events {
		must(t, "add", s.AddReplicationEvent(ctx, &events[i]))
	}
	if !events[0].StartedAt.Equal(t0) {
		t.Errorf("default StartedAt: got %v, want the clock's %v", events[0].StartedAt, t0)
	}
	tests := []struct {
		name    string
		filter  meta.EventFilter
		want    []int
		wantErr error
	}{
		{"all", meta.EventFilter{}, []int{3, 2, 1, 0}, nil},
		{"target", meta.EventFilter{TargetID: "t1"}, []int{3, 1, 0}, nil},
		{"target and graph", meta.EventFilter{TargetID: "t1", GraphID: "g1"}, []int{1, 0}, nil},
		{"kind", meta.EventFilter{Kind: meta.EventSnapshot}, []int{3, 0}, nil},
		{"status", meta.EventFilter{Status: meta.EventFailed}, []int{3, 2}, nil},
		{"latest ok snapshot of t1", meta.EventFilter{TargetID: "t1", Kind: meta.EventSnapshot, Status: meta.EventOK, Limit: 1}, []int{0}, nil},
		{"bad kind", meta.EventFilter{Kind: "push"}, nil, meta.ErrInvalid},
		{"bad status", meta.EventFilter{Status: "maybe"}, nil, meta.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := s.ListReplicationEvents(ctx, tc.filter)
			wantErr(t, "list", err, tc.wantErr)
			if tc.wantErr != nil {
				return
			}
			want := []meta.ReplicationEvent{}
			for _, i := range tc.want {
				want = append(want, events[i])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	addErrs := []struct {
		name string
		e    meta.ReplicationEvent
	}{
		{"no target", meta.ReplicationEvent{Kind: meta.EventCheck, Status: meta.EventOK}},
		{"bad kind", meta.ReplicationEvent{TargetID: "t", Kind: "x", Status: meta.EventOK}},
		{"bad status", meta.ReplicationEvent{TargetID: "t", Kind: meta.EventCheck, Status: "x"}},
		{"bad id", meta.ReplicationEvent{ID: "1", TargetID: "t", Kind: meta.EventCheck, Status: meta.EventOK}},
	}
	for _, tc := range addErrs {
		wantErr(t, tc.name, s.AddReplicationEvent(ctx, &tc.e), meta.ErrInvalid)
	}
	dup := events[0]
	wantErr(t, "duplicate id", s.AddReplicationEvent(ctx, &dup), meta.ErrConflict)
}

func testCheckpoints(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	cp := &meta.Checkpoint{
		Description: "before migration",
		CreatedBy:   "ops@example.com",
		Metadata: map[string]any{
			"ticket": "OPS-1", "attempt": 2.0, "dry_run": false,
			"tags":   []any{"a", "b"},
			"nested": map[string]any{"x": 1.5, "y": nil},
		},
		Graphs: []meta.CheckpointGraph{
			{GraphID: "entities", SnapshotID: meta.NewID(), JournalPos: 1234},
			{GraphID: "relations", SnapshotID: meta.NewID(), JournalPos: 0},
		},
	}
	must(t, "create", s.CreateCheckpoint(ctx, cp))
	if !cp.CreatedAt.Equal(t0) {
		t.Errorf("CreatedAt: got %v, want %v", cp.CreatedAt, t0)
	}
	got, err := s.GetCheckpoint(ctx, cp.ID)
	must(t, "get", err)
	if !reflect.DeepEqual(got, cp) {
		t.Fatalf("get:\n got %#v\nwant %#v", got, cp)
	}
	cp.Validated = true
	cp.ValidatedAt = t0.Add(time.Minute)
	cp.ValidationError = ""
	cp.Metadata["validated_by"] = "job"
	must(t, "update", s.UpdateCheckpoint(ctx, cp))
	got, err = s.GetCheckpoint(ctx, cp.ID)
	must(t, "get after update", err)
	if !reflect.DeepEqual(got, cp) {
		t.Fatalf("get after update:\n got %#v\nwant %#v", got, cp)
	}
	empty := &meta.Checkpoint{}
	must(t, "create empty", s.CreateCheckpoint(ctx, empty))
	list, next, err := s.ListCheckpoints(ctx, "", 0)
	must(t, "list", err)
	if len(list) != 2 || list[0].ID != empty.ID || list[1].ID != cp.ID || next != "" {
		t.Errorf("list: got %d checkpoints (next %q), want the empty one then the first", len(list), next)
	}
	wantErr(t, "duplicate", s.CreateCheckpoint(ctx, &meta.Checkpoint{ID: cp.ID}), meta.ErrConflict)
	wantErr(t, "bad id", s.CreateCheckpoint(ctx, &meta.Checkpoint{ID: "cp-1"}), meta.ErrInvalid)
	wantErr(t, "update absent", s.UpdateCheckpoint(ctx, &meta.Checkpoint{ID: meta.NewID()}), meta.ErrNotFound)
	must(t, "delete", s.DeleteCheckpoint(ctx, cp.ID))
	wantErr(t, "delete again", s.DeleteCheckpoint(ctx, cp.ID), meta.ErrNotFound)
	_, err = s.GetCheckpoint(ctx, cp.ID)
	wantErr(t, "get deleted", err, meta.ErrNotFound)
}

func testHealth(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	latest, err := s.LatestHealth(ctx)
	must(t, "latest of nothing", err)
	if len(latest) != 0 {
		t.Errorf("latest of nothing: got %v", latest)
	}
	events := []meta.HealthEvent{
		{Component: "store", Check: "ping", Status: meta.HealthPass},
		{Component: "bucket", Check: "reachable", Status: meta.HealthFail, Message: "dial tcp: refused", Details: map[string]any{"attempts": 3.0}},
		{Component: "store", Check: "ping", Status: meta.HealthWarn, Message: "slow"},
		{Component: "store", Check: "migrated", Status: meta.HealthPass},
		{Component: "bucket", Check: "reachable", Status: meta.HealthPass},
	}
	for i := range events {
		must(t, "add", s.AddHealthEvent(ctx, &events[i]))
		clock.Advance(time.Minute)
	}
	latest, err = s.LatestHealth(ctx)
	must(t, "latest", err)
	if want := []meta.HealthEvent{events[4], events[3], events[2]}; !reflect.DeepEqual(latest, want) {
		t.Errorf("latest:\n got %+v\nwant %+v", latest, want)
	}
	tests := []struct {
		name    string
		filter  meta.HealthFilter
		want    []int
		wantErr error
	}{
		{"component", meta.HealthFilter{Component: "store"}, []int{3, 2, 0}, nil},
		{"check", meta.HealthFilter{Component: "store", Check: "ping"}, []int{2, 0}, nil},
		{"status", meta.HealthFilter{Status: meta.HealthPass}, []int{4, 3, 0}, nil},
		{"since", meta.HealthFilter{Since: t0.Add(3 * time.Minute)}, []int{4, 3}, nil},
		{"bad status", meta.HealthFilter{Status: "ok"}, nil, meta.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := s.ListHealthEvents(ctx, tc.filter)
			wantErr(t, "list", err, tc.wantErr)
			if tc.wantErr != nil {
				return
			}
			want := []meta.HealthEvent{}
			for _, i := range tc.want {
				want = append(want, events[i])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	wantErr(t, "no check", s.AddHealthEvent(ctx, &meta.HealthEvent{Component: "x", Status: meta.HealthPass}), meta.ErrInvalid)
	wantErr(t, "bad status", s.AddHealthEvent(ctx, &meta.HealthEvent{Component: "x", Check: "y", Status: "green"}), meta.ErrInvalid)
	_, err = s.PruneHealthEvents(ctx, time.Time{})
	wantErr(t, "prune zero time", err, meta.ErrInvalid)

	n, err := s.PruneHealthEvents(ctx, t0.Add(2*time.Minute))
	must(t, "prune", err)
	if n != 2 {
		t.Errorf("pruned %d, want 2", n)
	}
	rest, _, err := s.ListHealthEvents(ctx, meta.HealthFilter{})
	must(t, "list after prune", err)
	if len(rest) != 3 {
		t.Errorf("after prune: %d events, want 3", len(rest))
	}
}

func testLeases(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	const ttl = 10 * time.Second

	_, err := s.GetLease(ctx, "job")
	wantErr(t, "get absent", err, meta.ErrNotFound)

	steps := []struct {
		name    string
		advance time.Duration
		holder  string
		want    bool
		holds   string // holder after the step
		expires time.Duration
	}{
		{"a takes free lease", 0, "a", true, "a", ttl},
		{"b refused while a holds", 5 * time.Second, "b", false, "a", ttl},
		{"a renews", 0, "a", true, "a", 15 * time.Second},
		{"b refused after a's first expiry thanks to renewal", 6 * time.Second, "b", false, "a", 15 * time.Second},
		{"b takes expired lease", 4 * time.Second, "b", true, "b", 25 * time.Second},
		{"a refused now", 0, "a", false, "b", 25 * time.Second},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got, err := s.AcquireLease(ctx, "job", st.holder, ttl)
		must(t, st.name, err)
		if got != st.want {
			t.Fatalf("%s: AcquireLease = %v, want %v", st.name, got, st.want)
		}
		l, err := s.GetLease(ctx, "job")
		must(t, st.name+": get", err)
		if l.Holder != st.holds || !l.ExpiresAt.Equal(t0.Add(st.expires)) {
			t.Fatalf("%s: lease held by %q until %v, want %q until %v", st.name, l.Holder, l.ExpiresAt, st.holds, t0.Add(st.expires))
		}
		if l.Expired(clock.Now()) {
			t.Fatalf("%s: lease expired right after acquire", st.name)
		}
	}
	l, err := s.GetLease(ctx, "job")
	must(t, "get", err)
	if !l.AcquiredAt.Equal(t0.Add(15*time.Second)) || !l.RenewedAt.Equal(t0.Add(15*time.Second)) {
		t.Errorf("b's lease: acquired %v renewed %v, want both %v", l.AcquiredAt, l.RenewedAt, t0.Add(15*time.Second))
	}
	clock.Advance(time.Second)
	ok, err := s.AcquireLease(ctx, "job", "b", ttl)
	if err != nil || !ok {
		t.Fatalf("b renews: %v %v", ok, err)
	}
	l, err = s.GetLease(ctx, "job")
	must(t, "get after renewal", err)
	if !l.AcquiredAt.Equal(t0.Add(15*time.Second)) || !l.RenewedAt.Equal(t0.Add(16*time.Second)) {
		t.Errorf("renewal: acquired %v renewed %v, want %v and %v", l.AcquiredAt, l.RenewedAt, t0.Add(15*time.Second), t0.Add(16*time.Second))
	}

	must(t, "release by non-holder", s.ReleaseLease(ctx, "job", "a"))
	if l, err := s.GetLease(ctx, "job"); err != nil || l.Holder != "b" {
		t.Fatalf("after release by non-holder: %v %v, want still held by b", l, err)
	}
	must(t, "release", s.ReleaseLease(ctx, "job", "b"))
	_, err = s.GetLease(ctx, "job")
	wantErr(t, "get released", err, meta.ErrNotFound)
	must(t, "release again", s.ReleaseLease(ctx, "job", "b"))
	if ok, err := s.AcquireLease(ctx, "job", "a", ttl); err != nil || !ok {
		t.Fatalf("a after release: %v %v, want true", ok, err)
	}
	if ok, err := s.AcquireLease(ctx, "other-job", "b", ttl); err != nil || !ok {
		t.Fatalf("b on another lease: %v %v, want true", ok, err)
	}
	ls, err := s.ListLeases(ctx)
	must(t, "list leases", err)
	if len(ls) != 2 || ls[0].Name != "job" || ls[0].Holder != "a" || ls[1].Name != "other-job" || ls[1].Holder != "b" ||
		!ls[1].ExpiresAt.Equal(clock.Now().Add(ttl)) {
		t.Fatalf("ListLeases = %+v, want job held by a and other-job by b until %v", ls, clock.Now().Add(ttl))
	}

	bad := []struct {
		name, lease, holder string
		ttl                 time.Duration
	}{
		{"no name", "", "a", ttl},
		{"no holder", "job", "", ttl},
		{"zero ttl", "job", "a", 0},
		{"negative ttl", "job", "a", -time.Second},
	}
	for _, tc := range bad {
		_, err := s.AcquireLease(ctx, tc.lease, tc.holder, tc.ttl)
		wantErr(t, tc.name, err, meta.ErrInvalid)
	}
}

func testLeaseConcurrency(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	const acquirers = 16
	for round, lease := range []string{"fresh", "expired"} {
		if lease == "expired" {
			// A lease whose holder is long gone: everyone races to take it over.
			ok, err := s.AcquireLease(ctx, lease, "ghost", time.Second)
			if err != nil || !ok {
				t.Fatalf("ghost: %v %v", ok, err)
			}
			clock.Advance(2 * time.Second)
		}
		var wg sync.WaitGroup
		won := make([]bool, acquirers)
		errs := make([]error, acquirers)
		start := make(chan struct{})
		for i := range acquirers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				won[i], errs[i] = s.AcquireLease(ctx, lease, fmt.Sprintf("holder-%d-%d", round, i), time.Hour)
			}()
		}
		close(start)
		wg.Wait()
		winners := 0
		winner := ""
		for i := range acquirers {
			if errs[i] != nil {
				t.Errorf("%s lease, acquirer %d: %v", lease, i, errs[i])
			}
			if won[i] {
				winners++
				winner = fmt.Sprintf("holder-%d-%d", round, i)
			}
		}
		if winners != 1 {
			t.Fatalf("%s lease: %d acquirers got it, want exactly 1", lease, winners)
		}
		l, err := s.GetLease(ctx, lease)
		must(t, "get", err)
		if l.Holder != winner {
			t.Errorf("%s lease: held by %q, want the winner %q", lease, l.Holder, winner)
		}
	}
}

func testMetricSamples(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := NewClock(t0)
	s := open(t, meta.WithClock(clock.Now))
	must(t, "add none", s.AddMetricSamples(ctx, nil))

	const n = 1234 // more than one insert batch
	in := make([]meta.MetricSample, n)
	for i := range in {
		in[i] = meta.MetricSample{
			Name:   "graphvault.snapshot.bytes",
			Labels: meta.CanonicalLabels(map[string]string{"graph": "g", "kind": "full"}),
			Value:  float64(i) + 0.5,
			At:     t0.Add(time.Duration(i) * time.Second),
		}
	}
	in = append(in, meta.MetricSample{Name: "other", Value: -1}) // At from the clock
	must(t, "add", s.AddMetricSamples(ctx, in))
	if in[0].ID != "" {
		t.Errorf("AddMetricSamples changed the caller's slice")
	}
	got, err := s.ListMetricSamples(ctx, "graphvault.snapshot.bytes", time.Time{}, 10000)
	must(t, "list", err)
	if len(got) != n {
		t.Fatalf("list: %d samples, want %d", len(got), n)
	}
	for i, m := range got {
		if !meta.ValidID(m.ID) || m.Value != float64(i)+0.5 || !m.At.Equal(in[i].At) || m.Labels != "graph=g,kind=full" {
			t.Fatalf("sample %d: got %+v, want value %v at %v", i, m, float64(i)+0.5, in[i].At)
		}
	}
	tests := []struct {
		name      string
		metric    string
		since     time.Time
		limit     int
		wantLen   int
		wantFirst float64
		wantErr   error
	}{
		{"since", "graphvault.snapshot.bytes", t0.Add(1000 * time.Second), 0, n - 1000, 1000.5, nil},
		{"limit", "graphvault.snapshot.bytes", t0.Add(10 * time.Second), 5, 5, 10.5, nil},
		{"default limit", "graphvault.snapshot.bytes", time.Time{}, 0, 1000, 0.5, nil},
		{"other", "other", time.Time{}, 0, 1, -1, nil},
		{"unknown", "nope", time.Time{}, 0, 0, 0, nil},
		{"negative limit", "other", time.Time{}, -1, 0, 0, meta.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListMetricSamples(ctx, tc.metric, tc.since, tc.limit)
			wantErr(t, "list", err, tc.wantErr)
			if len(got) != tc.wantLen {
				t.Fatalf("got %d samples, want %d", len(got), tc.wantLen)
			}
			if len(got) > 0 && got[0].Value != tc.wantFirst {
				t.Errorf("first value: got %v, want %v", got[0].Value, tc.wantFirst)
			}
		})
	}
	wantErr(t, "no name", s.AddMetricSamples(ctx, []meta.MetricSample{{Value: 1}}), meta.ErrInvalid)
	wantErr(t, "bad id", s.AddMetricSamples(ctx, []meta.MetricSample{{ID: "x", Name: "m"}}), meta.ErrInvalid)
	pruned, err := s.PruneMetricSamples(ctx, t0.Add(100*time.Second))
	must(t, "prune", err)
	if pruned != 101 { // the first 100 and the sample taken at t0 by the clock
		t.Errorf("pruned %d, want 101", pruned)
	}
	_, err = s.PruneMetricSamples(ctx, time.Time{})
	wantErr(t, "prune zero time", err, meta.ErrInvalid)
	if got := meta.CanonicalLabels(nil); got != "" {
		t.Errorf("CanonicalLabels(nil) = %q, want empty", got)
	}
}

func testTimesUTC(t *testing.T, open Opener) {
	ctx := context.Background()
	zones := []*time.Location{
		time.FixedZone("UTC+05:30", 5*3600+1800),
		time.FixedZone("UTC-08", -8*3600),
		time.UTC,
	}
	for _, loc := range zones {
		t.Run(loc.String(), func(t *testing.T) {
			local := time.Date(2024, 2, 29, 23, 59, 58, 123456000, loc)
			s := open(t, meta.WithClock(func() time.Time { return local }))
			sn := &meta.Snapshot{GraphID: "g", StartedAt: local, FinishedAt: local.Add(time.Second), RetainUntil: local.AddDate(1, 0, 0)}
			must(t, "create", s.CreateSnapshot(ctx, sn))
			got, err := s.GetSnapshot(ctx, sn.ID)
			must(t, "get", err)
			for _, c := range []struct {
				name      string
				got, want time.Time
			}{
				{"StartedAt", got.StartedAt, local},
				{"FinishedAt", got.FinishedAt, local.Add(time.Second)},
				{"RetainUntil", got.RetainUntil, local.AddDate(1, 0, 0)},
				{"CreatedAt", got.CreatedAt, local},
				{"UpdatedAt", got.UpdatedAt, local},
			} {
				if !c.got.Equal(c.want) || c.got.Location() != time.UTC {
					t.Errorf("%s: got %v, want %v in UTC", c.name, c.got, c.want.UTC())
				}
			}
			// Filters compare instants, whatever the zone of the argument.
			list, _, err := s.ListSnapshots(ctx, meta.SnapshotFilter{Since: local, Until: local.Add(time.Microsecond)})
			must(t, "list", err)
			if len(list) != 1 {
				t.Errorf("list by instant: got %d, want 1", len(list))
			}
		})
	}
}

func testConcurrentWriters(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	const writers, each = 32, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*3)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			graph := fmt.Sprintf("g%02d", w)
			for range each {
				sn := &meta.Snapshot{GraphID: graph}
				if err := s.CreateSnapshot(ctx, sn); err != nil {
					errs <- err
					continue
				}
				sn.Status = meta.SnapshotCompleted
				if err := s.UpdateSnapshot(ctx, sn); err != nil {
					errs <- err
				}
				if err := s.AddMetricSamples(ctx, []meta.MetricSample{{Name: "m", Value: 1}, {Name: "m", Value: 2}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	n, err := s.CountSnapshots(ctx, meta.SnapshotFilter{Status: meta.SnapshotCompleted})
	must(t, "count", err)
	if n != writers*each {
		t.Errorf("completed snapshots: got %d, want %d", n, writers*each)
	}
	samples, err := s.ListMetricSamples(ctx, "m", time.Time{}, 10000)
	must(t, "samples", err)
	if len(samples) != writers*each*2 {
		t.Errorf("samples: got %d, want %d", len(samples), writers*each*2)
	}
}

func testClosed(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	must(t, "close", s.Close())
	must(t, "close again", s.Close())
	_, err := s.GetSnapshot(ctx, meta.NewID())
	wantErr(t, "get after close", err, meta.ErrClosed)
	wantErr(t, "ping after close", s.Ping(ctx), meta.ErrClosed)
	_, err = s.AcquireLease(ctx, "x", "y", time.Second)
	wantErr(t, "lease after close", err, meta.ErrClosed)
}
