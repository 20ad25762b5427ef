package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// fixture is a service over a memory bucket and an in-memory meta.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	st     *meta.Store
	drv    *memblob.Driver
	e      *backup.Engine
	reg    *graph.Registry
	svc    *Service
	reader *sdkmetric.ManualReader
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	drv := memblob.New()
	e, err := backup.New(st, blob.NewBucket(drv), backup.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	reg := &graph.Registry{}
	svc, err := New(e, reg, WithLogger(quietLog), WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, st: st, drv: drv, e: e, reg: reg, svc: svc, reader: reader}
}

// graph registers a memgraph under id holding the people named.
func (f *fixture) graph(id string, people ...string) *memgraph.Graph {
	f.t.Helper()
	g := memgraph.New()
	f.apply(g, peopleOps(people...))
	f.reg.Register(id, g)
	return g
}

func (f *fixture) apply(g graph.Writer, ops []graph.Op) {
	f.t.Helper()
	if err := g.Apply(f.ctx, ops); err != nil {
		f.t.Fatal(err)
	}
}

// peopleOps upserts a node per name and a "knows" edge from each to the next.
func peopleOps(names ...string) []graph.Op {
	var ops []graph.Op
	for i, n := range names {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: n, Labels: []string{"person"}, Props: map[string]any{"rank": int64(i)}}})
		if i > 0 {
			ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: names[i-1], Target: n, Type: "knows"}})
		}
	}
	return ops
}

func (f *fixture) snapshot(id string, r graph.Reader) *meta.Snapshot {
	f.t.Helper()
	row, err := f.e.Snapshot(f.ctx, id, r, backup.SnapshotOptions{Kind: backup.KindFull})
	if err != nil {
		f.t.Fatal(err)
	}
	return row
}

func (f *fixture) countSnapshots() int {
	f.t.Helper()
	n, err := f.st.CountSnapshots(f.ctx, meta.SnapshotFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) countCheckpoints() int {
	f.t.Helper()
	cps, _, err := f.svc.List(f.ctx, "", 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(cps)
}

// counter sums the data points of an Int64 counter with the given attribute value
// ("" for any).
func (f *fixture) counter(name, result string) int64 {
	f.t.Helper()
	var n int64
	for r, v := range metrictest.Ints(f.t, f.reader, name, "result") {
		if result == "" || r == result {
			n += v
		}
	}
	return n
}

var quietLog = slog.New(slog.DiscardHandler)

// TestCountersPresentAtStart checks that a new service's counters are listed, at
// zero and with every result, before their first event.
func TestCountersPresentAtStart(t *testing.T) {
	f := newFixture(t)
	for name, want := range map[string]int{
		"graphvault.recovery.checkpoints": 1, "graphvault.recovery.validations": 3, "graphvault.recovery.restores": 3,
	} {
		got := metrictest.Ints(t, f.reader, name, "result")
		if len(got) != want {
			t.Errorf("%s = %v, want %d series", name, got, want)
		}
		for r, v := range got {
			if v != 0 {
				t.Errorf("%s{result=%q} = %d before any event", name, r, v)
			}
		}
	}
}

func TestNewRejects(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		e      *backup.Engine
		graphs graph.Catalog
		opts   []Option
	}{
		{"nil engine", nil, f.reg, nil},
		{"nil catalog", f.e, nil, nil},
		{"negative rate", f.e, f.reg, []Option{WithRestoreRate(-1, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.e, tt.graphs, tt.opts...); !errors.Is(err, ErrInvalid) {
				t.Errorf("New = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCreateCheckpoint(t *testing.T) {
	f := newFixture(t)
	a := f.graph("a", "alice", "bob")
	f.graph("b", "carol")
	f.apply(a, peopleOps("dave"))
	old := f.snapshot("a", a)
	// "gone" has snapshots but is no longer in the catalog.
	gone := memgraph.New()
	f.apply(gone, peopleOps("eve"))
	goneRow := f.snapshot("gone", gone)

	tests := []struct {
		name    string
		req     CreateRequest
		wantErr error
		want    map[string]string // graph → snapshot id, "new" for a new one
		newSnap int               // snapshots the call should add
	}{
		{name: "two graphs", req: CreateRequest{GraphIDs: []string{"a", "b"}, Description: "before import", CreatedBy: "ops", Metadata: map[string]any{"ticket": "T-1"}},
			want: map[string]string{"a": "new", "b": "new"}, newSnap: 2},
		{name: "existing snapshot", req: CreateRequest{GraphIDs: []string{"a", "b"}, Snapshots: map[string]string{"a": old.ID}},
			want: map[string]string{"a": old.ID, "b": "new"}, newSnap: 1},
		{name: "graph gone from the catalog uses its newest snapshot", req: CreateRequest{GraphIDs: []string{"gone"}},
			want: map[string]string{"gone": goneRow.ID}},
		{name: "unknown graph", req: CreateRequest{GraphIDs: []string{"a", "nosuch"}}, wantErr: ErrNotFound},
		{name: "unknown snapshot", req: CreateRequest{GraphIDs: []string{"a"}, Snapshots: map[string]string{"a": meta.NewID()}}, wantErr: ErrNotFound},
		{name: "snapshot of another graph", req: CreateRequest{GraphIDs: []string{"b"}, Snapshots: map[string]string{"b": old.ID}}, wantErr: ErrInvalid},
		{name: "snapshot for a graph not named", req: CreateRequest{GraphIDs: []string{"b"}, Snapshots: map[string]string{"a": old.ID}}, wantErr: ErrInvalid},
		{name: "no graphs", req: CreateRequest{}, wantErr: ErrInvalid},
		{name: "graph twice", req: CreateRequest{GraphIDs: []string{"a", "a"}}, wantErr: ErrInvalid},
		{name: "bad graph id", req: CreateRequest{GraphIDs: []string{"../x"}}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snapsBefore, cpsBefore := f.countSnapshots(), f.countCheckpoints()
			cp, err := f.svc.Create(f.ctx, tt.req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Create = %v, want %v", err, tt.wantErr)
				}
				if got := f.countSnapshots(); got != snapsBefore {
					t.Errorf("snapshots after a failed create = %d, want %d", got, snapsBefore)
				}
				if got := f.countCheckpoints(); got != cpsBefore {
					t.Errorf("checkpoints after a failed create = %d, want %d", got, cpsBefore)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.countSnapshots() - snapsBefore; got != tt.newSnap {
				t.Errorf("new snapshots = %d, want %d", got, tt.newSnap)
			}
			if len(cp.Graphs) != len(tt.want) {
				t.Fatalf("graphs = %+v, want %v", cp.Graphs, tt.want)
			}
			for _, g := range cp.Graphs {
				row, err := f.st.GetSnapshot(f.ctx, g.SnapshotID)
				if err != nil {
					t.Fatal(err)
				}
				if want := tt.want[g.GraphID]; want != "new" && g.SnapshotID != want {
					t.Errorf("graph %s bound to %s, want %s", g.GraphID, g.SnapshotID, want)
				}
				if row.GraphID != g.GraphID || row.JournalPos != g.JournalPos {
					t.Errorf("graph %s: snapshot of %s at %d, checkpoint says %d", g.GraphID, row.GraphID, row.JournalPos, g.JournalPos)
				}
				if reg, err := f.reg.Graph(f.ctx, g.GraphID); err == nil && tt.want[g.GraphID] == "new" {
					if pos := reg.(*memgraph.Graph).Position(); g.JournalPos != int64(pos) {
						t.Errorf("graph %s bound at position %d, graph is at %d", g.GraphID, g.JournalPos, pos)
					}
				}
			}
			got, err := f.svc.Get(f.ctx, cp.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Description != tt.req.Description || got.CreatedBy != tt.req.CreatedBy || fmt.Sprint(got.Metadata) != fmt.Sprint(tt.req.Metadata) {
				t.Errorf("stored %+v, want the request's fields %+v", got, tt.req)
			}
		})
	}
}

func TestCreateUndoesSnapshotsOnFailure(t *testing.T) {
	f := newFixture(t)
	f.graph("a", "alice")
	f.reg.Register("broken", failingReader{memgraph.New()})
	before := f.countSnapshots()
	_, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a", "broken"}})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("Create = %v, want an error naming the broken graph", err)
	}
	rows, _, err := f.st.ListSnapshots(f.ctx, meta.SnapshotFilter{Status: meta.SnapshotCompleted})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("completed snapshots left behind: %d (before: %d)", len(rows), before)
	}
	if n := f.countCheckpoints(); n != 0 {
		t.Errorf("checkpoints = %d, want 0", n)
	}
}

// failingReader is a graph whose views cannot be opened.
type failingReader struct{ *memgraph.Graph }

func (failingReader) View(context.Context) (graph.View, error) {
	return nil, errors.New("disk on fire")
}

func TestListGetDelete(t *testing.T) {
	f := newFixture(t)
	f.graph("a", "alice")
	var ids []string
	for range 3 {
		cp, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cp.ID)
	}
	page1, next, err := f.svc.List(f.ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	page2, last, err := f.svc.List(f.ctx, next, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cp := range append(page1, page2...) {
		got = append(got, cp.ID)
	}
	if want := []string{ids[2], ids[1], ids[0]}; fmt.Sprint(got) != fmt.Sprint(want) || last != "" {
		t.Errorf("pages = %v (last cursor %q), want %v newest first", got, last, want)
	}
	if err := f.svc.Delete(f.ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   string
		want error
	}{
		{ids[0], nil},
		{ids[1], ErrNotFound},
		{meta.NewID(), ErrNotFound},
		{"not-an-id", ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := f.svc.Get(f.ctx, tt.id); !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
			t.Errorf("Get(%s) = %v, want %v", tt.id, err, tt.want)
		}
	}
	if err := f.svc.Delete(f.ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete twice = %v, want ErrNotFound", err)
	}
	if n := f.counter("graphvault.recovery.checkpoints", ""); n != 3 {
		t.Errorf("checkpoints counter = %d, want 3", n)
	}
}

// flipBit rewrites a stored object with one bit changed, keeping its size.
func flipBit(t *testing.T, ctx context.Context, drv *memblob.Driver, key string) {
	t.Helper()
	b, err := drv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := drv.Put(ctx, key, b); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptionFailsEverythingUntilAFreshCheckpoint damages the data behind a
// checkpoint and sees validation fail naming the object, the health check fail
// and a restore refuse; then a fresh checkpoint passes all three.
func TestCorruptionFailsEverythingUntilAFreshCheckpoint(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, f *fixture, key string)
		detail string // in the validation error, after the object key
		// change alters the graph before the fresh checkpoint, so that its segment
		// differs from the damaged one; a deleted segment is written again anyway.
		change bool
	}{
		{"segment deleted", func(t *testing.T, f *fixture, key string) {
			if err := f.drv.Delete(f.ctx, key); err != nil {
				t.Fatal(err)
			}
		}, "missing", false},
		{"bit flipped in a segment", func(t *testing.T, f *fixture, key string) { flipBit(t, f.ctx, f.drv, key) }, "SHA-256", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.graph("a", "alice", "bob", "carol")
			f.graph("b", "dave")
			check := NewCheckpointCheck(f.svc, CheckpointPolicy{Required: true})
			expectHealth := func(want health.Status, msg string) {
				t.Helper()
				r := check.Check(f.ctx)
				if r.Status != want || !strings.Contains(r.Message, msg) {
					t.Fatalf("health = %s %q, want %s containing %q", r.Status, r.Message, want, msg)
				}
			}
			expectHealth(health.Warn, "no checkpoint")

			cp, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a", "b"}})
			if err != nil {
				t.Fatal(err)
			}
			expectHealth(health.Warn, "not validated")
			if v, err := f.svc.Validate(f.ctx, cp.ID); err != nil || !v.OK {
				t.Fatalf("Validate = %+v, %v; want ok", v, err)
			}
			expectHealth(health.Pass, "validated")

			m, err := f.e.Manifest(f.ctx, cp.Graphs[0].SnapshotID)
			if err != nil {
				t.Fatal(err)
			}
			key := m.Layers[0].Segments[0].Key
			tt.damage(t, f, key)

			v, err := f.svc.Validate(f.ctx, cp.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || len(v.Findings) == 0 || v.Findings[0].Object != key {
				t.Fatalf("Validate = ok %t findings %+v, want a finding on %s", v.OK, v.Findings, key)
			}
			stored, err := f.svc.Get(f.ctx, cp.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Validated || !strings.Contains(stored.ValidationError, key) || !strings.Contains(stored.ValidationError, tt.detail) || stored.ValidatedAt.IsZero() {
				t.Errorf("recorded validated=%t at %v error %q, want false, a time, and %s %s", stored.Validated, stored.ValidatedAt, stored.ValidationError, key, tt.detail)
			}
			events, _, err := f.st.ListHealthEvents(f.ctx, meta.HealthFilter{Component: "recovery", Check: "checkpoint", Status: meta.HealthFail})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 || !strings.Contains(events[0].Message, key) {
				t.Errorf("fail events = %+v, want one naming %s", events, key)
			}
			expectHealth(health.Fail, key)

			target := memgraph.New()
			f.reg.Register("target", target)
			plan, err := f.svc.Plan(f.ctx, PlanRequest{CheckpointID: cp.ID, Targets: map[string]string{"a": "target"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Execute(f.ctx, plan); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Execute = %v, want ErrCorrupt", err)
			}
			if n, e := target.Len(); n+e != 0 || target.Position() != 0 {
				t.Errorf("refused restore wrote %d nodes, %d edges", n, e)
			}

			if tt.change {
				f.apply(a, peopleOps("alice", "bob", "carol", "zoe"))
			}
			fresh, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a", "b"}})
			if err != nil {
				t.Fatal(err)
			}
			if v, err := f.svc.Validate(f.ctx, fresh.ID); err != nil || !v.OK {
				t.Fatalf("Validate(fresh) = %+v, %v; want ok", v, err)
			}
			expectHealth(health.Pass, fresh.ID)
			plan, err = f.svc.Plan(f.ctx, PlanRequest{CheckpointID: fresh.ID, Targets: map[string]string{"a": "target"}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.svc.Execute(f.ctx, plan)
			if err != nil {
				t.Fatalf("Execute(fresh) = %v", err)
			}
			if len(res.Graphs) != 2 || !res.Exact {
				t.Errorf("result = %+v, want two exact graphs", res)
			}
			if d := diffGraphs(t, a, target); d != "" {
				t.Errorf("restored graph differs: %s", d)
			}
			if got := f.counter("graphvault.recovery.validations", "invalid"); got != 1 {
				t.Errorf("invalid validations = %d, want 1", got)
			}
			if got := f.counter("graphvault.recovery.restores", "refused"); got != 1 {
				t.Errorf("refused restores = %d, want 1", got)
			}
			if got := f.counter("graphvault.recovery.restores", "ok"); got != 1 {
				t.Errorf("ok restores = %d, want 1", got)
			}
		})
	}
}

func TestValidateRecordsBindingProblems(t *testing.T) {
	f := newFixture(t)
	f.graph("a", "alice")
	cp, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func(cp *meta.Checkpoint)
		detail string
	}{
		{"position moved", func(cp *meta.Checkpoint) { cp.Graphs[0].JournalPos += 5 }, "checkpoint records"},
		{"snapshot deleted", func(cp *meta.Checkpoint) { cp.Graphs[0].SnapshotID = meta.NewID() }, "snapshot is gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *cp
			c.Graphs = append([]meta.CheckpointGraph(nil), cp.Graphs...)
			tt.edit(&c)
			if err := f.st.UpdateCheckpoint(f.ctx, &c); err != nil {
				t.Fatal(err)
			}
			v, err := f.svc.Validate(f.ctx, cp.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || !strings.Contains(v.Checkpoint.ValidationError, tt.detail) {
				t.Errorf("Validate = ok %t error %q, want %q", v.OK, v.Checkpoint.ValidationError, tt.detail)
			}
		})
	}
	if _, err := f.svc.Validate(f.ctx, meta.NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Validate(unknown) = %v, want ErrNotFound", err)
	}
}

func diffGraphs(t *testing.T, want, got graph.Reader) string {
	t.Helper()
	d, err := graphtest.Diff(context.Background(), want, got)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// stepClock is a clock that moves one minute on every call, from base.
type stepClock struct {
	base time.Time
	n    atomic.Int64
}

func (c *stepClock) now() time.Time {
	return c.base.Add(time.Duration(c.n.Add(1)) * time.Minute)
}

// at returns the time of the ith call.
func (c *stepClock) at(i int) time.Time { return c.base.Add(time.Duration(i) * time.Minute) }
