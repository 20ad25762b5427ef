package replication

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	store  *meta.Store
	engine *backup.Engine
	svc    *Service
	graph  *memgraph.Graph
	gen    *graphtest.Generated
	logs   *syncBuffer
	// faults holds, per target name, the fault driver the test opener hands out.
	mu     sync.Mutex
	faults map[string]*faultblob.Driver
}

type harnessOpts struct {
	engine  []backup.Option
	service []Option
	nodes   int
	edges   int
}

// newHarness builds a store, an engine over a memory bucket, a graph and a service
// whose file targets open as fault drivers over memory (see target).
func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, ctx: ctx, store: st, logs: &syncBuffer{}, faults: map[string]*faultblob.Driver{}}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eopts := append([]backup.Option{backup.WithSegmentSize(1<<10, 16<<10, 16), backup.WithLogger(slog.New(slog.DiscardHandler))}, o.engine...)
	if h.engine, err = backup.New(st, blob.NewBucket(memblob.New()), eopts...); err != nil {
		t.Fatal(err)
	}
	sopts := append([]Option{
		WithLogger(logger),
		WithRetry(RetryPolicy{Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}),
		WithBucketOpener(h.open),
	}, o.service...)
	if h.svc, err = New(h.engine, sopts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.svc.Close(context.Background()) })
	if o.nodes == 0 {
		o.nodes, o.edges = 2000, 4000
	}
	h.gen = graphtest.Generate(graphtest.GenerateOptions{Nodes: o.nodes, Edges: o.edges, Seed: 7})
	h.graph = memgraph.New()
	if err := h.gen.Replace(ctx, h.graph); err != nil {
		t.Fatal(err)
	}
	return h
}

// open is the test opener: file targets are memory buckets behind a fault driver,
// one per target name; other kinds use the built-in drivers.
func (h *harness) open(ctx context.Context, t *meta.Target) (blob.Driver, error) {
	if t.Kind != KindFile {
		return h.svc.builtinDriver(ctx, t)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fd := h.faults[t.Name]
	if fd == nil {
		fd = faultblob.New(memblob.New())
		h.faults[t.Name] = fd
	}
	return nopClose{fd}, nil
}

// nopClose keeps a fault driver's memory alive across bucket reopenings.
type nopClose struct{ blob.Driver }

func (nopClose) Close() error { return nil }

func (h *harness) fault(name string) *faultblob.Driver {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.faults[name]
}

// target registers a file target served by the test opener.
func (h *harness) target(name string) *meta.Target {
	h.t.Helper()
	t, err := h.svc.Register(h.ctx, TargetSpec{Name: name, Kind: KindFile, Config: map[string]string{"path": "/srv/replica/" + name}, Verify: true})
	if err != nil {
		h.t.Fatalf("register %s: %v", name, err)
	}
	return t
}

func (h *harness) snapshot(kind backup.Kind) *meta.Snapshot {
	h.t.Helper()
	row, err := h.engine.Snapshot(h.ctx, "g1", h.graph, backup.SnapshotOptions{Kind: kind})
	if err != nil {
		h.t.Fatalf("snapshot: %v", err)
	}
	return row
}

// change rewrites a share of the nodes' properties.
func (h *harness) change(fraction float64) {
	h.t.Helper()
	n, _ := h.graph.Len()
	var ops []graph.Op
	step := int(1 / fraction)
	for i := 0; i < n; i += step {
		nd, ok := h.graph.Node(h.gen.NodeID(i))
		if !ok {
			h.t.Fatalf("node %d missing", i)
		}
		nd.Props = map[string]any{"description": "changed " + nd.ID}
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: nd})
	}
	if err := h.graph.Apply(h.ctx, ops); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) replicate(sid, targetID string, verify bool) Result {
	h.t.Helper()
	res, err := h.svc.Replicate(h.ctx, sid, ReplicateOptions{TargetID: targetID, VerifyContent: verify})
	if err != nil {
		h.t.Fatalf("replicate: %v", err)
	}
	if len(res) != 1 {
		h.t.Fatalf("got %d results, want 1", len(res))
	}
	return res[0]
}

// restoreFrom builds a second engine over a target's objects, reindexes it and
// checks that the snapshot restores to content equal to want.
func restoreFrom(t *testing.T, drv blob.Driver, sid string, want graphtest.Content) {
	t.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := backup.New(st, blob.NewBucket(nopClose{drv}), backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Reindex(ctx); err != nil {
		t.Fatalf("reindex: %v", err)
	}
	rep, err := e.Verify(ctx, sid, true)
	if err != nil {
		t.Fatalf("verify at the target: %v", err)
	}
	if !rep.OK {
		t.Fatalf("verify at the target: %+v", rep.Problems)
	}
	got := memgraph.New()
	if _, err := e.Restore(ctx, sid, got, backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore at the target: %v", err)
	}
	gotC, err := graphtest.Read(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if d := graphtest.DiffContent(want, gotC); d != "" {
		t.Fatalf("graph restored from the target differs: %s", d)
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// faultRule fails the nth write of data objects for good.
func faultRule(nth int) faultblob.Rule {
	return faultblob.Rule{Ops: faultblob.OpWrite, Nth: nth, Err: errors.New("injected write failure")}
}
