package health

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

var quiet = slog.New(slog.DiscardHandler)

func openStore(t *testing.T) *meta.Store {
	t.Helper()
	st, err := meta.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fakeCheck answers a fixed result, or does what fn does.
type fakeCheck struct {
	component, name string
	fn              func(ctx context.Context) Result
}

func (f fakeCheck) Component() string                { return f.component }
func (f fakeCheck) Name() string                     { return f.name }
func (f fakeCheck) Check(ctx context.Context) Result { return f.fn(ctx) }

func fixed(component, name string, s Status, msg string) fakeCheck {
	return fakeCheck{component, name, func(context.Context) Result { return Result{Status: s, Message: msg} }}
}

// hanging ignores its context and returns only when the test ends.
func hanging(t *testing.T, component, name string) fakeCheck {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return fakeCheck{component, name, func(context.Context) Result {
		<-release
		return Result{Status: Pass}
	}}
}

func TestRunnerRun(t *testing.T) {
	tests := []struct {
		name     string
		checkers func(t *testing.T) []Checker
		want     Status
		checks   map[string]Status // key → status
		reason   string            // a substring of the reasons
	}{
		{
			name:     "no checks",
			checkers: func(*testing.T) []Checker { return nil },
			want:     Pass,
			checks:   map[string]Status{},
		},
		{
			name: "all pass",
			checkers: func(*testing.T) []Checker {
				return []Checker{fixed("a", "one", Pass, "ok"), fixed("b", "two", Pass, "ok")}
			},
			want:   Pass,
			checks: map[string]Status{"a:one": Pass, "b:two": Pass},
		},
		{
			name: "a warning",
			checkers: func(*testing.T) []Checker {
				return []Checker{fixed("a", "one", Pass, "ok"), fixed("b", "two", Warn, "getting old")}
			},
			want:   Warn,
			checks: map[string]Status{"a:one": Pass, "b:two": Warn},
			reason: "b:two: getting old",
		},
		{
			name: "fail beats warn",
			checkers: func(*testing.T) []Checker {
				return []Checker{fixed("a", "one", Fail, "down"), fixed("b", "two", Warn, "old")}
			},
			want:   Fail,
			checks: map[string]Status{"a:one": Fail, "b:two": Warn},
			reason: "a:one: down",
		},
		{
			name: "a hanging check times out",
			checkers: func(t *testing.T) []Checker {
				return []Checker{fixed("a", "one", Pass, "ok"), hanging(t, "b", "stuck")}
			},
			want:   Fail,
			checks: map[string]Status{"a:one": Pass, "b:stuck": Fail},
			reason: "b:stuck: timed out",
		},
		{
			name: "a panicking check fails",
			checkers: func(*testing.T) []Checker {
				return []Checker{fakeCheck{"a", "boom", func(context.Context) Result { panic("kaput") }}}
			},
			want:   Fail,
			checks: map[string]Status{"a:boom": Fail},
			reason: "panicked: kaput",
		},
		{
			name: "an unknown status fails",
			checkers: func(*testing.T) []Checker {
				return []Checker{fixed("a", "odd", Status("great"), "fine")}
			},
			want:   Fail,
			checks: map[string]Status{"a:odd": Fail},
			reason: `unknown status "great"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			h, err := New(st, tt.checkers(t), WithCheckTimeout(50*time.Millisecond),
				WithMeterProvider(mp), WithLogger(quiet))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := h.Last(); ok {
				t.Fatal("Last before any run: got a report")
			}
			rep := h.Run(context.Background())
			if rep.Status != tt.want {
				t.Errorf("status = %s, want %s (reasons %q)", rep.Status, tt.want, rep.Reasons)
			}
			got := map[string]Status{}
			for _, c := range rep.Checks {
				got[c.Key()] = c.Status
			}
			if len(got) != len(tt.checks) {
				t.Errorf("checks = %v, want %v", got, tt.checks)
			}
			for k, want := range tt.checks {
				if got[k] != want {
					t.Errorf("check %s = %s, want %s", k, got[k], want)
				}
			}
			if tt.reason != "" && !strings.Contains(strings.Join(rep.Reasons, "\n"), tt.reason) {
				t.Errorf("reasons %q lack %q", rep.Reasons, tt.reason)
			}
			if last, ok := h.Last(); !ok || last.Status != rep.Status || !last.Time.Equal(rep.Time) {
				t.Errorf("Last = %v, %v; want the report just made", last.Status, ok)
			}

			// Every result is a health event.
			events, err := st.LatestHealth(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			stored := map[string]string{}
			for _, e := range events {
				stored[e.Component+":"+e.Check] = e.Status
			}
			for k, want := range tt.checks {
				if stored[k] != string(want) {
					t.Errorf("stored event %s = %q, want %q", k, stored[k], want)
				}
			}

			// And a gauge value.
			gauges := healthGauges(t, reader)
			for k, want := range tt.checks {
				if v, ok := gauges[k]; !ok || v != want.Value() {
					t.Errorf("graphvault.health.status %s = %v (present %v), want %v", k, v, ok, want.Value())
				}
			}
		})
	}
}

// healthGauges reads graphvault.health.status by "component:check".
func healthGauges(t *testing.T, r sdkmetric.Reader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "graphvault.health.status" {
				continue
			}
			g, ok := m.Data.(metricdata.Gauge[float64])
			if !ok {
				t.Fatalf("graphvault.health.status is %T, want a float64 gauge", m.Data)
			}
			for _, dp := range g.DataPoints {
				c, _ := dp.Attributes.Value(attribute.Key("component"))
				n, _ := dp.Attributes.Value(attribute.Key("check"))
				out[c.AsString()+":"+n.AsString()] = dp.Value
			}
		}
	}
	return out
}

func TestNewRejects(t *testing.T) {
	st := openStore(t)
	ok := fixed("a", "one", Pass, "")
	tests := []struct {
		name     string
		st       *meta.Store
		checkers []Checker
		opts     []Option
	}{
		{"nil store", nil, []Checker{ok}, nil},
		{"nil checker", st, []Checker{ok, nil}, nil},
		{"duplicate", st, []Checker{ok, fixed("a", "one", Warn, "")}, nil},
		{"no name", st, []Checker{fixed("a", "", Pass, "")}, nil},
		{"zero timeout", st, []Checker{ok}, []Option{WithCheckTimeout(0)}},
		{"negative interval", st, []Checker{ok}, []Option{WithInterval(-time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.st, tt.checkers, tt.opts...)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRunnerRunCancelled(t *testing.T) {
	st := openStore(t)
	h, err := New(st, []Checker{hanging(t, "a", "stuck")}, WithCheckTimeout(time.Hour), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := h.Run(ctx)
	if rep.Status != Fail || len(rep.Checks) != 1 || !strings.HasPrefix(rep.Checks[0].Message, "cancelled") {
		t.Fatalf("report = %+v, want one cancelled failure", rep)
	}
	// The event is recorded although ctx had ended.
	events, _, err := st.ListHealthEvents(context.Background(), meta.HealthFilter{Component: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Status != meta.HealthFail {
		t.Fatalf("events = %+v, want one fail", events)
	}
}

func TestRunnerStartClose(t *testing.T) {
	st := openStore(t)
	ran := make(chan struct{}, 1)
	var runs atomic.Int32
	signal := fakeCheck{"a", "signal", func(context.Context) Result {
		runs.Add(1)
		select {
		case ran <- struct{}{}:
		default:
		}
		return Result{Status: Warn, Message: "signalled"}
	}}
	h, err := New(st, []Checker{signal}, WithInterval(time.Hour), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close before Start: %v", err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("second Start: err = %v, want ErrBusy", err)
	}
	<-ran // Start runs the checks at once
	for i := range 2 {
		if err := h.Close(ctx); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
	}
	rep, ok := h.Last()
	if !ok || rep.Status != Warn {
		t.Fatalf("Last = %+v, %v; want the warn report", rep, ok)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("runs = %d, want 1 (the interval is an hour)", got)
	}
}

func TestStoreCheck(t *testing.T) {
	ctx := context.Background()
	st, err := meta.Open(ctx, "file:"+t.TempDir()+"/meta.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	check := NewStoreCheck(st)

	expect := func(want Status, msg string) {
		t.Helper()
		r := check.Check(ctx)
		if r.Status != want || !strings.Contains(r.Message, msg) {
			t.Fatalf("check = %s %q, want %s containing %q", r.Status, r.Message, want, msg)
		}
	}
	expect(Pass, "schema version")

	// Forget the migrations: not migrated.
	var saved []map[string]any
	if err := st.DB().NewSelect().TableExpr(meta.MigrationsTable).Scan(ctx, &saved); err != nil {
		t.Fatal(err)
	}
	if len(saved) == 0 {
		t.Fatal("no migrations recorded")
	}
	if _, err := st.DB().NewDelete().TableExpr(meta.MigrationsTable).Where("1 = 1").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	expect(Fail, "not migrated")
	for _, row := range saved {
		if _, err := st.DB().NewInsert().TableExpr(meta.MigrationsTable).Model(&row).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	expect(Pass, "schema version")

	// Drop a table the schema needs.
	if _, err := st.DB().ExecContext(ctx, "ALTER TABLE graphvault_snapshots RENAME TO graphvault_snapshots_away"); err != nil {
		t.Fatal(err)
	}
	expect(Fail, "snapshots table")
	if _, err := st.DB().ExecContext(ctx, "ALTER TABLE graphvault_snapshots_away RENAME TO graphvault_snapshots"); err != nil {
		t.Fatal(err)
	}
	expect(Pass, "schema version")

	st.Close()
	expect(Fail, "unreachable")
}

func TestBucketCheck(t *testing.T) {
	ctx := context.Background()
	mem := memblob.New()
	fd := faultblob.New(mem)
	b := blob.NewBucket(fd)
	check := NewBucketCheck("data", b)
	if check.Component() != "bucket" || check.Name() != "data" {
		t.Fatalf("names = %s:%s", check.Component(), check.Name())
	}
	tests := []struct {
		name string
		rule faultblob.Rule
		want Status
		msg  string
	}{
		{"healthy", faultblob.Rule{Ops: faultblob.OpStat, Err: io.ErrUnexpectedEOF}, Pass, "succeeded"}, // a rule that does not apply
		{"write error", faultblob.Rule{Ops: faultblob.OpWrite, Prefix: ProbePrefix, Err: errors.New("disk full")}, Fail, "write failed: "},
		{"lost write", faultblob.Rule{Ops: faultblob.OpWrite, Write: faultblob.LoseWrite}, Fail, "read failed"},
		{"truncated write", faultblob.Rule{Ops: faultblob.OpWrite, Write: faultblob.TruncateWrite}, Fail, "differ"},
		{"bit flip", faultblob.Rule{Ops: faultblob.OpGet, FlipBit: true}, Fail, "differ"},
		{"read error", faultblob.Rule{Ops: faultblob.OpGet, Err: errors.New("io")}, Fail, "read failed"},
		{"delete error", faultblob.Rule{Ops: faultblob.OpDelete, Err: errors.New("denied")}, Fail, "delete failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remove := fd.Inject(tt.rule)
			r := check.Check(ctx)
			remove()
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("check = %s %q, want %s containing %q", r.Status, r.Message, tt.want, tt.msg)
			}
			// Repaired: the same check passes again.
			if r := check.Check(ctx); r.Status != Pass {
				t.Errorf("after repair: %s %q, want pass", r.Status, r.Message)
			}
		})
	}
	// No probe is left behind except where the delete itself failed.
	var left []string
	for a, err := range b.List(ctx, ProbePrefix) {
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, a.Key)
	}
	if len(left) != 1 {
		t.Errorf("probes left = %q, want only the one whose delete failed", left)
	}

	// A bucket that hangs: the runner reports the timeout.
	fd.Inject(faultblob.Rule{Ops: faultblob.OpGet, Hang: true})
	h, err := New(openStore(t), []Checker{check}, WithCheckTimeout(20*time.Millisecond), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	rep := h.Run(ctx)
	if rep.Status != Fail || !strings.Contains(rep.Checks[0].Message, "read failed") && rep.Checks[0].Message != "timed out" {
		t.Errorf("hanging bucket: %+v", rep.Checks)
	}
	fd.Reset()
	if rep := h.Run(ctx); rep.Status != Pass {
		t.Errorf("after reset: %+v", rep.Checks)
	}
}

// backupHarness is an engine over a memory bucket behind a fault injector.
type backupHarness struct {
	st     *meta.Store
	fd     *faultblob.Driver
	engine *backup.Engine
	graphs *graph.Registry
	g      *memgraph.Graph
}

func newBackupHarness(t *testing.T) *backupHarness {
	t.Helper()
	st := openStore(t)
	fd := faultblob.New(memblob.New())
	e, err := backup.New(st, blob.NewBucket(fd), backup.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	g := memgraph.New()
	var ops []graph.Op
	for _, id := range []string{"alice", "bob", "carol"} {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"person"}}})
	}
	ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "alice", Target: "bob", Type: "knows"}})
	if err := g.Apply(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
	reg := &graph.Registry{}
	reg.Register("g1", g)
	return &backupHarness{st: st, fd: fd, engine: e, graphs: reg, g: g}
}

func (h *backupHarness) snapshot(t *testing.T) *meta.Snapshot {
	t.Helper()
	row, err := h.engine.Snapshot(context.Background(), "g1", h.g, backup.SnapshotOptions{Kind: backup.KindFull})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func TestSnapshotFreshnessCheck(t *testing.T) {
	ctx := context.Background()
	h := newBackupHarness(t)
	var now atomic.Pointer[time.Time]
	setNow := func(t time.Time) { now.Store(&t) }
	setNow(time.Now())
	check := NewSnapshotFreshnessCheck(h.engine, h.graphs, FreshnessPolicy{
		WarnAfter: time.Hour, FailAfter: 3 * time.Hour, Now: func() time.Time { return *now.Load() },
	})
	expect := func(want Status, msg string) Result {
		t.Helper()
		r := check.Check(ctx)
		if r.Status != want || !strings.Contains(r.Message, msg) {
			t.Fatalf("check = %s %q, want %s containing %q", r.Status, r.Message, want, msg)
		}
		return r
	}
	expect(Warn, "g1: no completed snapshot")

	row := h.snapshot(t)
	r := expect(Pass, "fresh and verified")
	gf := r.Details["graphs"].(map[string]GraphFreshness)["g1"]
	if gf.Snapshot != row.ID || !gf.Verified {
		t.Errorf("details = %+v, want snapshot %s verified", gf, row.ID)
	}

	setNow(row.FinishedAt.Add(2 * time.Hour))
	expect(Warn, "more than 1h0m0s")
	setNow(row.FinishedAt.Add(4 * time.Hour))
	expect(Fail, "more than 3h0m0s")
	setNow(row.FinishedAt.Add(time.Minute))
	expect(Pass, "fresh")

	// Delete a segment behind the newest snapshot: verification fails naming it.
	man, err := h.engine.Manifest(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	seg := man.Layers[0].Segments[0].Key
	data, err := h.fd.Unwrap().Get(ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.fd.Unwrap().Delete(ctx, seg); err != nil {
		t.Fatal(err)
	}
	expect(Fail, "object "+seg+": missing")
	if err := h.fd.Unwrap().Put(ctx, seg, data); err != nil {
		t.Fatal(err)
	}
	expect(Pass, "fresh and verified")

	// A full verification reads the bytes: a flipped bit is found.
	full := NewSnapshotFreshnessCheck(h.engine, nil, FreshnessPolicy{FullVerify: true})
	remove := h.fd.Inject(faultblob.Rule{Ops: faultblob.OpGet, Prefix: seg, FlipBit: true})
	if r := full.Check(ctx); r.Status != Fail || !strings.Contains(r.Message, seg) {
		t.Errorf("flipped bit: %s %q, want fail naming %s", r.Status, r.Message, seg)
	}
	remove()
	if r := full.Check(ctx); r.Status != Pass {
		t.Errorf("after repair: %s %q", r.Status, r.Message)
	}

	// A graph registered later without snapshots warns.
	h.graphs.Register("g2", memgraph.New())
	expect(Warn, "g2: no completed snapshot")
}

func TestSchedulerCheck(t *testing.T) {
	ctx := context.Background()
	h := newBackupHarness(t)
	sched := backup.NewScheduler(h.engine, h.graphs, backup.WithHolder("test"))
	var now atomic.Pointer[time.Time]
	setNow := func(t time.Time) { now.Store(&t) }
	setNow(time.Now())
	check := NewSchedulerCheck(sched, SchedulePolicy{Now: func() time.Time { return *now.Load() }})
	expect := func(want Status, msg string) {
		t.Helper()
		r := check.Check(ctx)
		if r.Status != want || !strings.Contains(r.Message, msg) {
			t.Fatalf("check = %s %q, want %s containing %q", r.Status, r.Message, want, msg)
		}
	}
	expect(Warn, "no scheduled jobs")

	// A job for a graph the catalog lacks fails when it runs.
	if err := sched.Add(backup.Job{GraphID: "missing", Every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := sched.RunDue(ctx); err == nil {
		t.Fatal("RunDue of a missing graph: no error")
	}
	expect(Fail, "missing: last run failed")

	// Repaired: the graph exists and the job is scheduled again; its run succeeds.
	h.graphs.Register("missing", memgraph.New())
	if err := sched.Add(backup.Job{GraphID: "missing", Every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if n, err := sched.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue = %d, %v; want one snapshot", n, err)
	}
	expect(Pass, "1 jobs on time")

	// Nobody runs the scheduler: the job becomes overdue.
	next := sched.Status()[0].NextRun
	setNow(next.Add(90 * time.Minute))
	expect(Warn, "overdue")
	setNow(next.Add(4 * time.Hour))
	expect(Fail, "overdue")
}

func TestReplicationLagCheck(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Now().UTC().Truncate(time.Second)
	check := NewReplicationLagCheck(st, LagPolicy{WarnAfter: time.Hour, FailAfter: 3 * time.Hour, Now: func() time.Time { return now }})
	expect := func(want Status, msg string) {
		t.Helper()
		r := check.Check(ctx)
		if r.Status != want || !strings.Contains(r.Message, msg) {
			t.Fatalf("check = %s %q, want %s containing %q", r.Status, r.Message, want, msg)
		}
	}
	expect(Pass, "0 targets")

	tgt := &meta.Target{Name: "offsite", Kind: meta.TargetFile, Enabled: true}
	if err := st.CreateTarget(ctx, tgt); err != nil {
		t.Fatal(err)
	}
	off := &meta.Target{Name: "disabled", Kind: meta.TargetFile}
	if err := st.CreateTarget(ctx, off); err != nil {
		t.Fatal(err)
	}
	expect(Warn, "offsite: never replicated")

	event := func(status string, started time.Time, errText string) {
		t.Helper()
		e := &meta.ReplicationEvent{TargetID: tgt.ID, Kind: meta.EventSnapshot, Status: status,
			StartedAt: started, DurationSeconds: 60, Error: errText}
		if err := st.AddReplicationEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	event(meta.EventOK, now.Add(-5*time.Hour), "")
	expect(Fail, "more than 3h0m0s")
	event(meta.EventOK, now.Add(-2*time.Hour), "")
	expect(Warn, "more than 1h0m0s")
	event(meta.EventOK, now.Add(-10*time.Minute), "")
	expect(Pass, "1 targets")
	event(meta.EventFailed, now.Add(-time.Minute), "connection refused")
	expect(Warn, "newest replication failed: connection refused")
}

// counter is a check that counts its runs and, when gate is not nil, waits on it
// before it returns.
type counter struct {
	runs atomic.Int32
	gate chan struct{}
}

func (c *counter) checker() Checker {
	return fakeCheck{"a", "count", func(ctx context.Context) Result {
		c.runs.Add(1)
		if c.gate != nil {
			select {
			case <-c.gate:
			case <-ctx.Done():
			}
		}
		return Result{Status: Pass}
	}}
}

// TestRunnerTrigger runs a runner with an hour's interval in a synctest bubble,
// where time moves only when every goroutine waits: a trigger reruns the checks
// within 100 ms, a burst of triggers makes one run, a trigger during a run makes one
// more after it, and the interval is still the fallback.
func TestRunnerTrigger(t *testing.T) {
	st := openStore(t) // outside the bubble: the store's goroutines are not the test's
	synctest.Test(t, func(t *testing.T) {
		c := &counter{}
		h, err := New(st, []Checker{c.checker()}, WithInterval(time.Hour), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		expect := func(what string, want int32) {
			t.Helper()
			synctest.Wait()
			if got := c.runs.Load(); got != want {
				t.Fatalf("%s: runs = %d, want %d", what, got, want)
			}
		}
		h.Trigger() // before Start: the first run answers it
		if err := h.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer h.Close(context.Background())
		expect("after Start", 1)
		time.Sleep(time.Second)
		expect("a second later", 1)

		triggered := time.Now()
		for range 5 {
			h.Trigger()
		}
		time.Sleep(100 * time.Millisecond)
		expect("100 ms after a burst of triggers", 2)
		if rep, ok := h.Last(); !ok || rep.Time.Before(triggered) || rep.Time.Sub(triggered) > 100*time.Millisecond {
			t.Errorf("last report at %v, want within 100 ms after the trigger at %v", rep.Time, triggered)
		}

		// A trigger during a run: the run in progress may have read the old state, so
		// one more run follows it, and only one.
		c.gate = make(chan struct{})
		h.Trigger()
		time.Sleep(100 * time.Millisecond)
		expect("a run held in progress", 3)
		h.Trigger()
		h.Trigger()
		close(c.gate)
		time.Sleep(100 * time.Millisecond)
		expect("triggers during a run", 4)
		time.Sleep(time.Minute)
		expect("a minute later", 4)

		// The interval runs the checks an hour after the last run, without a trigger.
		time.Sleep(time.Hour)
		expect("an hour later", 5)

		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.Trigger() // after Close: nothing runs, nothing blocks
		time.Sleep(time.Hour)
		expect("after Close", 5)
	})
}

// TestRunnerCountersPresentBeforeRun checks that every check's counter is listed at
// zero, for each result, as soon as the runner is made.
func TestRunnerCountersPresentBeforeRun(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	if _, err := New(openStore(t), []Checker{fixed("a", "one", Pass, ""), fixed("b", "two", Pass, "")},
		WithMeterProvider(mp), WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	got := metrictest.Ints(t, reader, "graphvault.health.checks", "component", "check", "result")
	if len(got) != 6 || got["a/one/pass"] != 0 || got["b/two/fail"] != 0 {
		t.Errorf("graphvault.health.checks before a run = %v, want 2 checks x 3 results at 0", got)
	}
}
