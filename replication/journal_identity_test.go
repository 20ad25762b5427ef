package replication

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

// journalOf returns the journal a graph counts in.
func journalOf(t *testing.T, g graph.Reader) string {
	t.Helper()
	_, j, err := graphMeta(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// restart is a restart of the primary: a new graph restored from snapshot sid
// (a new journal, continuing from the snapshot's position) serves the graph id,
// and a new service ships it.
func (h *harness) restart(reg *graph.Registry, sid string) {
	h.t.Helper()
	g := memgraph.New()
	if _, err := h.engine.Restore(h.ctx, sid, g, backup.RestoreOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.graph = g
	reg.Register("g1", g)
	if err := h.svc.Close(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	svc, err := New(h.engine, WithJournal(reg), WithBucketOpener(h.open), WithLogger(slog.New(slog.DiscardHandler)),
		WithRetry(RetryPolicy{Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { svc.Close(h.ctx) })
	h.svc = svc
}

func (h *harness) ship() {
	h.t.Helper()
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// TestJournalRestartKeepsJournalsApart: the primary restarts from an older
// snapshot (a new journal, continuing from the snapshot's position) and, before it
// ships again, passes the position the target's HEAD names or stays below it. The
// target's segments never continue the old journal with batches of the new one,
// and a failover replays onto each snapshot only its own journal.
func TestJournalRestartKeepsJournalsApart(t *testing.T) {
	tests := []struct {
		name  string
		edits int // batches after the restart, before the first ship
	}{
		{"passes the target's position", 15},
		{"stays below the target's position", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testRestart(t, tt.edits) })
	}
}

func testRestart(t *testing.T, edits int) {
	h, reg := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
	tg := h.target("replica")
	h.edit(5, "a")
	h.ship()
	s1 := h.snapshot(backup.KindFull)
	h.replicate(s1.ID, tg.ID, false)
	h.edit(10, "b")
	h.ship()
	old, j1, q2 := h.graph, journalOf(t, h.graph), h.position()

	h.restart(reg, s1.ID)
	j2 := journalOf(t, h.graph)
	if j1 == j2 || h.position() != uint64(s1.JournalPos)+1 {
		t.Fatalf("restarted graph in journal %q at %d; want a new journal continuing from %d", j2, h.position(), s1.JournalPos)
	}
	h.edit(edits, "c")
	if past := h.position() > q2; past != (edits > 10) {
		t.Fatalf("restarted graph at %d, the target's HEAD at %d", h.position(), q2)
	}
	h.ship()
	h.edit(3, "d")
	h.ship()

	b := targetBucket(h, "replica")
	head, err := ReadJournalHead(h.ctx, b, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if head.Format != 2 || head.Journal != j2 || head.Position != h.position() || head.BaselineSnapshot == "" {
		t.Fatalf("HEAD %+v; want format 2, journal %s at %d after a baseline", head, j2, h.position())
	}
	base, err := h.store.GetSnapshot(h.ctx, head.BaselineSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := ListSegments(h.ctx, b, "g1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var n1, n2 int
	for _, sg := range segs {
		if _, err := ReadSegment(h.ctx, b, sg); err != nil {
			t.Fatalf("segment %s: %v", sg.Key, err)
		}
		switch {
		case sg.InJournal(j1):
			n1++
			if sg.Last > q2 {
				t.Errorf("segment %s of the old journal reaches %d, past its %d", sg.Key, sg.Last, q2)
			}
		case sg.InJournal(j2):
			n2++
			if sg.First <= uint64(base.JournalPos) {
				t.Errorf("segment %s of the new journal starts at or before its baseline at %d", sg.Key, base.JournalPos)
			}
		default:
			t.Errorf("segment %s belongs to neither journal", sg.Key)
		}
	}
	if n1 == 0 || n2 == 0 {
		t.Fatalf("%d segments of the old journal, %d of the new; want both", n1, n2)
	}

	// A failover restores the newest state: the new journal's snapshot and tail.
	got := memgraph.New()
	res, err := h.svc.Failover(h.ctx, "g1", got, FailoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != base.ID || res.Position != h.position() {
		t.Fatalf("failover from %s reached %d, want %s continued to %d: %+v", res.SnapshotID, res.Position, base.ID, h.position(), res)
	}
	sameContent(t, h.graph, got)

	// Without the new journal's snapshot, the old one's is continued by the old
	// journal only: the state of the old graph at its last shipped position.
	for _, bk := range []*blob.Bucket{h.engine.Bucket(), b} {
		if err := bk.Delete(h.ctx, base.ManifestKey); err != nil {
			t.Fatal(err)
		}
	}
	got = memgraph.New()
	res, err = h.svc.Failover(h.ctx, "g1", got, FailoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != s1.ID || res.Position != q2 {
		t.Fatalf("failover from %s reached %d; want %s continued by the old journal to %d: %+v", res.SnapshotID, res.Position, s1.ID, q2, res)
	}
	sameContent(t, old, got)
}

// TestChainKeepsToOneJournal: Chain continues a position only with segments of
// the journal asked for, whatever the positions of the others.
func TestChainKeepsToOneJournal(t *testing.T) {
	seg := func(journal string, first, last uint64) SegmentInfo {
		bs := make([]graph.Batch, 0, last-first+1)
		for s := first; s <= last; s++ {
			bs = append(bs, graph.Batch{Seq: s, Ops: []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: journal}}}})
		}
		key, _, err := encodeSegment("g1", journal, bs)
		if err != nil {
			t.Fatal(err)
		}
		info, ok := ParseSegmentKey(key)
		if !ok {
			t.Fatalf("key %q does not parse", key)
		}
		return info
	}
	// In key order: the old journal's segments to 20, the new one's from 16.
	segs := []SegmentInfo{seg("old", 1, 10), seg("old", 11, 20), seg("new", 16, 25), seg("", 21, 30)}
	tests := []struct {
		journal   string
		pos, want uint64
		n         int
	}{
		{"old", 10, 20, 1},
		{"new", 15, 25, 1},
		{"new", 10, 10, 0}, // nothing of the new journal continues 10
		{"", 20, 30, 1},    // the journal without a name: untagged segments only
		{"other", 0, 0, 0},
	}
	for _, tt := range tests {
		reach, chain := Chain(segs, tt.journal, tt.pos)
		if reach != tt.want || len(chain) != tt.n {
			t.Errorf("Chain(%q, %d) reaches %d with %d segments, want %d with %d", tt.journal, tt.pos, reach, len(chain), tt.want, tt.n)
		}
		for _, sg := range chain {
			if !sg.InJournal(tt.journal) {
				t.Errorf("Chain(%q, %d) took %s", tt.journal, tt.pos, sg.Key)
			}
		}
	}
}

// TestSegmentJournalName: a named journal's segment carries its name, checked
// against the key's tag.
func TestSegmentJournalName(t *testing.T) {
	bs := []graph.Batch{{Seq: 3, Ops: []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "x"}}}}}
	key, stored, err := encodeSegment("g1", "j-1", bs)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := ParseSegmentKey(key)
	if !ok || info.JournalTag != JournalTag("j-1") || len(info.JournalTag) != 16 || !info.InJournal("j-1") || info.InJournal("") {
		t.Fatalf("key %q parses to %+v, %t", key, info, ok)
	}
	if _, err := DecodeSegment(info, stored); err != nil {
		t.Fatal(err)
	}
	// The same bytes under a key of another journal (rehashed so that only the
	// tag differs) do not decode.
	other := info
	other.JournalTag = JournalTag("j-2")
	if _, err := DecodeSegment(other, stored); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("segment under another journal's tag: %v, want ErrCorrupt", err)
	}
	untagged := info
	untagged.JournalTag = ""
	if _, err := DecodeSegment(untagged, stored); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("named segment under an untagged key: %v, want ErrCorrupt", err)
	}
}

// oldSegment encodes batches as segments were written before they named their
// journal: "GVJ1" str(graph id) uvarint(count) batch*, under an untagged key.
func oldSegment(t *testing.T, graphID string, bs []graph.Batch) (string, []byte) {
	t.Helper()
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	raw := str([]byte("GVJ1"), graphID)
	raw = binary.AppendUvarint(raw, uint64(len(bs)))
	for _, bt := range bs {
		raw = binary.AppendUvarint(raw, bt.Seq)
		raw = binary.AppendVarint(raw, bt.Time.UnixNano())
		raw = binary.AppendUvarint(raw, uint64(len(bt.Ops)))
		for _, op := range bt.Ops {
			if op.Kind != graph.OpDeleteNode {
				t.Fatal("oldSegment writes node deletes only")
			}
			raw = str(append(raw, byte(op.Kind)), op.Node.ID)
		}
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := enc.EncodeAll(raw, nil)
	return segmentKey(graphID, "", bs[0].Seq, bs[len(bs)-1].Seq, stored), stored
}

// TestOldJournalFormatReads: a HEAD and segments written before they named their
// journal still read, as the journal without a name; a shipper meeting such a HEAD
// for a named journal restarts from a baseline snapshot of it instead of
// continuing segments whose journal it cannot tell.
func TestOldJournalFormatReads(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 50, edges: 50})
	h.target("replica")
	b := targetBucket(h, "replica")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var bs []graph.Batch
	for s := uint64(1); s <= 4; s++ {
		bs = append(bs, graph.Batch{Seq: s, Time: at, Ops: []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "gone"}}}})
	}
	key, stored := oldSegment(t, "g1", bs)
	if err := b.Put(h.ctx, key, stored); err != nil {
		t.Fatal(err)
	}
	oldHead := []byte(`{"format":1,"graph_id":"g1","position":4,"batch_time":"2025-01-02T03:04:05Z","segment":"` + key + `","updated_at":"2025-01-02T03:04:06Z"}`)
	if err := b.Put(h.ctx, JournalHeadKey("g1"), oldHead); err != nil {
		t.Fatal(err)
	}

	head, err := ReadJournalHead(h.ctx, b, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if head.Format != 1 || head.Journal != "" || head.Position != 4 || head.Segment != key {
		t.Fatalf("old HEAD reads as %+v", head)
	}
	segs, err := ListSegments(h.ctx, b, "g1", 0)
	if err != nil || len(segs) != 1 || segs[0].JournalTag != "" || !segs[0].InJournal("") {
		t.Fatalf("old segment lists as %+v, %v", segs, err)
	}
	got, err := ReadSegment(h.ctx, b, segs[0])
	if err != nil || len(got) != 4 || got[3].Seq != 4 || !got[3].Time.Equal(at) || got[0].Ops[0].Node.ID != "gone" {
		t.Fatalf("old segment reads as %+v, %v", got, err)
	}
	if reach, chain := Chain(segs, "", 0); reach != 4 || len(chain) != 1 {
		t.Fatalf("the journal without a name reaches %d with %v", reach, chain)
	}
	if reach, _ := Chain(segs, journalOf(t, h.graph), 0); reach != 0 {
		t.Fatalf("a named journal continued by an untagged segment to %d", reach)
	}

	// The graph counts in a named journal; the HEAD names none: a baseline first.
	h.edit(2, "a")
	h.ship()
	head, err = ReadJournalHead(h.ctx, b, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if head.Journal != journalOf(t, h.graph) || head.BaselineSnapshot == "" || head.Position != h.position() {
		t.Fatalf("HEAD after the first ship %+v; want the graph's journal from a baseline", head)
	}
	var raw map[string]any
	data, _ := b.Get(h.ctx, JournalHeadKey("g1"))
	if err := json.Unmarshal(data, &raw); err != nil || raw["format"] != 2.0 {
		t.Fatalf("HEAD %s; want format 2", data)
	}
	h.edit(2, "b")
	h.ship()
	segs, err = ListSegments(h.ctx, b, "g1", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sg := range segs[1:] {
		if !sg.InJournal(head.Journal) {
			t.Errorf("segment %s written after the baseline is not tagged with the graph's journal", sg.Key)
		}
	}
	gotG := memgraph.New()
	res, err := h.svc.Failover(h.ctx, "g1", gotG, FailoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position != h.position() {
		t.Fatalf("failover reached %d, want %d", res.Position, h.position())
	}
	sameContent(t, h.graph, gotG)
}
