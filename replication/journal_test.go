package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// journalHarness is a harness whose service ships the journal of graph g1.
func journalHarness(t *testing.T, o harnessOpts) (*harness, *graph.Registry) {
	t.Helper()
	reg := &graph.Registry{}
	o.service = append(o.service, WithJournal(reg))
	h := newHarness(t, o)
	reg.Register("g1", h.graph)
	return h, reg
}

// edit applies n batches of small changes to the harness graph.
func (h *harness) edit(n int, tag string) {
	h.t.Helper()
	for i := range n {
		id := fmt.Sprintf("%s-%d", tag, i)
		ops := []graph.Op{
			{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Labels: []string{"x"}, Props: map[string]any{"i": int64(i), "f": 1.0, "s": tag}}},
			{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: id, Target: h.gen.NodeID(i % 50), Type: "t", Props: map[string]any{"w": 0.5}}},
		}
		if i%3 == 2 {
			ops = append(ops, graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: fmt.Sprintf("%s-%d", tag, i-1)}})
		}
		if err := h.graph.Apply(h.ctx, ops); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) position() uint64 {
	h.t.Helper()
	p, _, err := graphMeta(h.ctx, h.graph)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// replay rebuilds a graph from a bucket's journal segments alone, from position 0
// of the journal HEAD names.
func replay(t *testing.T, b *blob.Bucket, graphID string) (*memgraph.Graph, uint64) {
	t.Helper()
	ctx := context.Background()
	head, err := ReadJournalHead(ctx, b, graphID)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := ListSegments(ctx, b, graphID, 0)
	if err != nil {
		t.Fatal(err)
	}
	reach, chain := Chain(segs, head.Journal, 0)
	g := memgraph.New()
	pos := uint64(0)
	for _, sg := range chain {
		bs, err := ReadSegment(ctx, b, sg)
		if err != nil {
			t.Fatal(err)
		}
		for _, bt := range bs {
			if bt.Seq <= pos {
				continue
			}
			if err := g.Apply(ctx, bt.Ops); err != nil {
				t.Fatalf("apply batch %d: %v", bt.Seq, err)
			}
			pos = bt.Seq
		}
	}
	if pos != reach {
		t.Fatalf("replayed to %d, the chain reaches %d", pos, reach)
	}
	return g, pos
}

func targetBucket(h *harness, name string) *blob.Bucket {
	return blob.NewBucket(nopClose{h.fault(name).Unwrap()})
}

func sameContent(t *testing.T, want, got graph.Reader) {
	t.Helper()
	ctx := context.Background()
	w, err := graphtest.Read(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := graphtest.Read(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	if d := graphtest.DiffContent(w, g); d != "" {
		t.Fatalf("content differs: %s", d)
	}
}

func TestSegmentRoundTrip(t *testing.T) {
	batches := []graph.Batch{
		{Seq: 7, Ops: []graph.Op{{Kind: graph.OpReset}, {Kind: graph.OpUpsertNode, Node: graph.Node{ID: "a", Labels: []string{"l"}, Props: map[string]any{"i": int64(3), "f": 3.0, "l": []any{"x", nil, true}}}}}},
		{Seq: 8, Ops: []graph.Op{{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: "a", Target: "a", Type: "self", Props: map[string]any{"m": map[string]any{"k": 1.5}}}}, {Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: "a", Target: "a", Type: "self"}}, {Kind: graph.OpDeleteNode, Node: graph.Node{ID: "a"}}}},
	}
	key, stored, err := encodeSegment("g1", "", batches)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := ParseSegmentKey(key)
	if !ok || info.First != 7 || info.Last != 8 || info.GraphID != "g1" {
		t.Fatalf("key %q parses to %+v, %t", key, info, ok)
	}
	got, err := DecodeSegment(info, stored)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		if got[i].Seq != batches[i].Seq || len(got[i].Ops) != len(batches[i].Ops) {
			t.Fatalf("batch %d: got %+v, want %+v", i, got[i], batches[i])
		}
		for k, op := range got[i].Ops {
			w := batches[i].Ops[k]
			if op.Kind != w.Kind || !graph.EqualNodes(op.Node, w.Node) || !graph.EqualEdges(op.Edge, w.Edge, true) {
				t.Errorf("batch %d op %d: got %+v, want %+v", i, k, op, w)
			}
		}
	}
	tests := []struct {
		name   string
		mangle func(info SegmentInfo, b []byte) (SegmentInfo, []byte)
	}{
		{"flipped bit", func(i SegmentInfo, b []byte) (SegmentInfo, []byte) {
			c := append([]byte(nil), b...)
			c[len(c)/2] ^= 1
			return i, c
		}},
		{"truncated", func(i SegmentInfo, b []byte) (SegmentInfo, []byte) { return i, b[:len(b)-3] }},
		{"other graph in key", func(i SegmentInfo, b []byte) (SegmentInfo, []byte) { i.GraphID = "g2"; return i, b }},
		{"wrong range in key", func(i SegmentInfo, b []byte) (SegmentInfo, []byte) { i.Last = 9; return i, b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, b := tt.mangle(info, stored)
			if _, err := DecodeSegment(i, b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestShipJournal ships in several passes; the target's segments alone rebuild
// the primary, and HEAD names the primary's position.
func TestShipJournal(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 200, edges: 400})
	tg := h.target("replica")
	for pass := range 3 {
		h.edit(10+pass, fmt.Sprintf("p%d", pass))
		if err := h.svc.ShipJournal(h.ctx); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
	}
	b := targetBucket(h, "replica")
	head, err := ReadJournalHead(h.ctx, b, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := head.Position, h.position(); got != want {
		t.Fatalf("HEAD at %d, want %d", got, want)
	}
	got, pos := replay(t, b, "g1")
	if pos != h.position() {
		t.Fatalf("replayed to %d, want %d", pos, h.position())
	}
	sameContent(t, h.graph, got)
	js := h.svc.JournalStatus()
	if len(js) != 1 || js[0].TargetID != tg.ID || js[0].Position != h.position() || js[0].LagSeconds != 0 || js[0].LastError != "" {
		t.Fatalf("journal status %+v", js)
	}
	// A pass with nothing new writes nothing.
	puts := h.fault("replica").Calls(faultblob.OpPut)
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.fault("replica").Calls(faultblob.OpPut); got != puts {
		t.Errorf("an idle pass made %d puts", got-puts)
	}
}

// TestJournalTargetDown: a target failing for a while catches up by itself once it
// returns, losing nothing; the failure shows in status and events meanwhile.
func TestJournalTargetDown(t *testing.T) {
	boom := errors.New("injected outage")
	tests := []struct {
		name string
		rule faultblob.Rule
	}{
		{"every call fails", faultblob.Rule{Err: boom}},
		{"segment writes fail", faultblob.Rule{Ops: faultblob.OpWrite, Prefix: "journal/g1/0", Err: boom}},
		{"HEAD writes fail", faultblob.Rule{Ops: faultblob.OpPut, Match: func(k string) bool { return strings.HasSuffix(k, "/HEAD") }, Err: boom}},
		{"segment writes lost", faultblob.Rule{Ops: faultblob.OpPut, Prefix: "journal/g1/0", Write: faultblob.LoseWrite}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
			tg := h.target("replica")
			h.edit(5, "before")
			if err := h.svc.ShipJournal(h.ctx); err != nil {
				t.Fatal(err)
			}
			fd := h.fault("replica")
			fd.Inject(tt.rule)
			for pass := range 3 {
				h.edit(7, fmt.Sprintf("down%d", pass))
				if err := h.svc.ShipJournal(h.ctx); err == nil {
					t.Fatalf("pass %d during the outage: no error", pass)
				}
			}
			js := h.svc.JournalStatus()
			if len(js) != 1 || js[0].LastError == "" || js[0].Position >= h.position() {
				t.Fatalf("status during the outage: %+v", js)
			}
			st, err := h.svc.Status(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = st // no snapshot yet: Status lists graphs with snapshots only
			evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: tg.ID, Kind: meta.EventJournal})
			if err != nil {
				t.Fatal(err)
			}
			// The pass before the outage, then one failure however many passes fail.
			if len(evs) != 2 || evs[0].Status != meta.EventFailed || evs[0].Error == "" || evs[1].Status != meta.EventOK {
				t.Fatalf("events during the outage: %+v; want the first pass, then one failed", evs)
			}
			fd.Reset()
			h.edit(3, "after")
			if err := h.svc.ShipJournal(h.ctx); err != nil {
				t.Fatalf("after the outage: %v", err)
			}
			got, pos := replay(t, targetBucket(h, "replica"), "g1")
			if pos != h.position() {
				t.Fatalf("replayed to %d, want %d", pos, h.position())
			}
			sameContent(t, h.graph, got)
			evs, _, _ = h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: tg.ID, Kind: meta.EventJournal})
			if len(evs) != 3 || evs[0].Status != meta.EventOK || evs[0].JournalPos != int64(pos) || evs[0].ObjectsCopied == 0 {
				t.Fatalf("events after the outage: %+v; want a recovery shipping up to %d", evs, pos)
			}
		})
	}
}

// TestJournalGap: batches dropped from the primary's journal before they were
// shipped are reported, and shipping restarts from a baseline snapshot at the target.
func TestJournalGap(t *testing.T) {
	h, reg := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
	g := memgraph.New(memgraph.WithJournalLimit(5))
	if err := h.gen.Replace(h.ctx, g); err != nil {
		t.Fatal(err)
	}
	h.graph = g
	reg.Register("g1", g)
	tg := h.target("replica")
	h.edit(3, "a")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	shipped := h.position()
	h.edit(12, "b") // more than the journal keeps
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatalf("the pass after the gap: %v", err)
	}
	evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: tg.ID, Kind: meta.EventJournal})
	if err != nil {
		t.Fatal(err)
	}
	// The first pass, the gap, then the pass's restart from a baseline (it shipped
	// no batch: the baseline is at the graph's position).
	if len(evs) != 3 || evs[2].Status != meta.EventOK || evs[2].JournalPos != int64(shipped) ||
		evs[1].Status != meta.EventFailed || !strings.Contains(evs[1].Error, "journal gap") ||
		evs[1].JournalPos != int64(shipped) || evs[0].Status != meta.EventOK || evs[0].SnapshotID == "" ||
		evs[0].ObjectsCopied != 0 || evs[0].JournalPos != int64(h.position()) {
		t.Fatalf("events %+v; want the first pass to %d, a failed gap event at %d, then the baseline at %d", evs, shipped, shipped, h.position())
	}
	b := targetBucket(h, "replica")
	head, err := ReadJournalHead(h.ctx, b, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if head.BaselineSnapshot != evs[0].SnapshotID || head.Position != h.position() {
		t.Fatalf("HEAD %+v; want baseline %s at %d", head, evs[0].SnapshotID, h.position())
	}
	// The baseline snapshot is at the target: a failover from it equals the primary.
	h.edit(2, "c")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	got := memgraph.New()
	res, err := h.svc.Failover(h.ctx, "g1", got, FailoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position != h.position() {
		t.Fatalf("failover reached %d, want %d: %+v", res.Position, h.position(), res)
	}
	sameContent(t, h.graph, got)
}

// TestFailover damages sources and checks where the restore comes from.
func TestFailover(t *testing.T) {
	damage := func(del bool) func(ctx context.Context, b *blob.Bucket, row *meta.Snapshot) error {
		return func(ctx context.Context, b *blob.Bucket, row *meta.Snapshot) error {
			for a, err := range b.List(ctx, "data/") {
				if err != nil {
					return err
				}
				if del {
					return b.Delete(ctx, a.Key)
				}
				data, err := b.Get(ctx, a.Key)
				if err != nil {
					return err
				}
				data[len(data)/2] ^= 1 // same size: only a full verification sees it
				return b.Put(ctx, a.Key, data)
			}
			return errors.New("no data object")
		}
	}
	deleteManifest := func(ctx context.Context, b *blob.Bucket, row *meta.Snapshot) error {
		return b.Delete(ctx, row.ManifestKey)
	}
	type damager = func(ctx context.Context, b *blob.Bucket, row *meta.Snapshot) error
	tests := []struct {
		name       string
		primary    damager
		replica    damager
		journal    bool // ship the journal, and change the graph after the snapshot
		wantSource string
		wantErr    error
	}{
		{name: "intact primary", wantSource: PrimarySource},
		{name: "primary object deleted", primary: damage(true), wantSource: "replica"},
		{name: "primary object corrupted", primary: damage(false), wantSource: "replica"},
		{name: "primary manifest lost", primary: deleteManifest, wantSource: "replica"},
		{name: "replica fresher by its journal", journal: true, wantSource: "replica"},
		{name: "fresher replica corrupted", journal: true, replica: damage(false), wantSource: PrimarySource},
		{name: "every source corrupted", primary: damage(false), replica: damage(true), wantErr: ErrCorrupt},
		{name: "no snapshot anywhere", primary: deleteManifest, replica: deleteManifest, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts harnessOpts
			opts.nodes, opts.edges = 200, 400
			var h *harness
			if tt.journal {
				h, _ = journalHarness(t, opts)
			} else {
				h = newHarness(t, opts)
			}
			h.target("replica")
			row := h.snapshot(backup.KindFull)
			if _, err := h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{}); err != nil {
				t.Fatal(err)
			}
			if tt.journal {
				h.edit(6, "late")
				if err := h.svc.ShipJournal(h.ctx); err != nil {
					t.Fatal(err)
				}
			}
			if tt.primary != nil {
				if err := tt.primary(h.ctx, h.engine.Bucket(), row); err != nil {
					t.Fatal(err)
				}
			}
			if tt.replica != nil {
				if err := tt.replica(h.ctx, targetBucket(h, "replica"), row); err != nil {
					t.Fatal(err)
				}
			}
			want, err := graphtest.Read(h.ctx, h.graph)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSource == PrimarySource && tt.journal {
				// The primary holds the snapshot only: its content is what to expect.
				wantG := memgraph.New()
				if _, err := h.engine.Restore(h.ctx, row.ID, wantG, backup.RestoreOptions{}); err != nil {
					t.Fatal(err)
				}
				if want, err = graphtest.Read(h.ctx, wantG); err != nil {
					t.Fatal(err)
				}
			}
			// The writer holds other content: a failed failover must leave it so.
			got := memgraph.New()
			if err := got.Apply(h.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "untouched"}}}); err != nil {
				t.Fatal(err)
			}
			res, err := h.svc.Failover(h.ctx, "g1", got, FailoverOptions{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if n, _ := got.Len(); n != 1 {
					t.Fatalf("a failed failover wrote the graph: %d nodes", n)
				}
				for _, s := range res.Sources {
					if s.Used || s.Reason == "" {
						t.Errorf("source %+v: want a reason and not used", s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != tt.wantSource || res.Reason == "" {
				t.Fatalf("source %q (%s), want %q; sources %+v", res.Source, res.Reason, tt.wantSource, res.Sources)
			}
			used := 0
			for _, s := range res.Sources {
				if s.Reason == "" {
					t.Errorf("source %s without a reason", s.Name)
				}
				if s.Used {
					used++
				}
			}
			if used != 1 {
				t.Errorf("%d sources used, want 1: %+v", used, res.Sources)
			}
			gotC, err := graphtest.Read(h.ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			if d := graphtest.DiffContent(want, gotC); d != "" {
				t.Fatalf("restored graph differs: %s", d)
			}
			t.Logf("%s: %s; sources %+v", res.Source, res.Reason, res.Sources)
		})
	}
}

// TestJournalCatchesUpByItself runs the background loop: a target down for a
// while receives every batch once it returns, without a call from outside.
func TestJournalCatchesUpByItself(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 200, service: []Option{WithJournalInterval(20 * time.Millisecond)}})
	h.target("replica")
	fd := h.fault("replica")
	if fd == nil { // the target is opened lazily; the verify at registration opened it
		t.Fatal("no fault driver for the target")
	}
	fd.Inject(faultblob.Rule{Err: errors.New("down")})
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	if err := h.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.edit(10, "while-down")
	waitFor(t, "the outage to show in the status", func() bool {
		js := h.svc.JournalStatus()
		return len(js) == 1 && js[0].LastError != ""
	})
	fd.Reset()
	h.edit(5, "back")
	want := h.position()
	waitFor(t, "the target to catch up", func() bool {
		js := h.svc.JournalStatus()
		return len(js) == 1 && js[0].Position == want && js[0].LastError == ""
	})
	got, pos := replay(t, targetBucket(h, "replica"), "g1")
	if pos != want {
		t.Fatalf("replayed to %d, want %d", pos, want)
	}
	sameContent(t, h.graph, got)
}

// waitFor polls cond until it holds, failing after a deadline far above what the
// condition needs: a liveness check, not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
