package replication

import (
	"errors"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/meta"
)

// journalEvents returns the journal events of a target, newest first.
func journalEvents(h *harness, targetID string) []meta.ReplicationEvent {
	h.t.Helper()
	evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: targetID, Kind: meta.EventJournal})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// segmentBytes sums the stored sizes of a graph's segments at a target.
func segmentBytes(h *harness, name string) int64 {
	h.t.Helper()
	var n int64
	for a, err := range targetBucket(h, name).List(h.ctx, JournalPrefix("g1")) {
		if err != nil {
			h.t.Fatal(err)
		}
		if _, ok := ParseSegmentKey(a.Key); ok {
			n += a.Size
		}
	}
	return n
}

// TestJournalEvents: a pass that ships records one ok event with what it shipped,
// an idle pass records none, and the events never count as snapshot replications.
func TestJournalEvents(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
	tg := h.target("replica")
	s1 := h.snapshot(backup.KindFull)
	h.replicate(s1.ID, tg.ID, false)
	h.edit(10, "a")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	evs := journalEvents(h, tg.ID)
	if len(evs) != 1 {
		t.Fatalf("%d journal events after a pass that shipped, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	// The graph's journal holds every batch from 1: the first pass ships them all.
	if ev.Status != meta.EventOK || ev.GraphID != "g1" || ev.Error != "" || ev.SnapshotID != "" {
		t.Fatalf("event %+v; want ok for g1, without a baseline", ev)
	}
	if got, want := ev.JournalPos, int64(h.position()); got != want {
		t.Errorf("journal_pos %d, want %d", got, want)
	}
	if got, want := ev.ObjectsCopied, int64(h.position()); got != want {
		t.Errorf("objects_copied (batches) %d, want %d", got, want)
	}
	if got, want := ev.Bytes, segmentBytes(h, "replica"); got != want || got == 0 {
		t.Errorf("bytes %d, want the %d stored at the target", got, want)
	}
	if ev.DurationSeconds < 0 || ev.StartedAt.IsZero() {
		t.Errorf("duration %v, started %v", ev.DurationSeconds, ev.StartedAt)
	}

	// Idle passes record nothing.
	for range 3 {
		if err := h.svc.ShipJournal(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if evs := journalEvents(h, tg.ID); len(evs) != 1 {
		t.Fatalf("%d journal events after idle passes, want 1: %+v", len(evs), evs)
	}

	// The next pass records what it shipped, and only that.
	before, bytesBefore := h.position(), segmentBytes(h, "replica")
	h.edit(4, "b")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	evs = journalEvents(h, tg.ID)
	if len(evs) != 2 {
		t.Fatalf("%d journal events, want 2: %+v", len(evs), evs)
	}
	ev = evs[0]
	if ev.Status != meta.EventOK || ev.SnapshotID != "" || ev.ObjectsCopied != 4 ||
		ev.JournalPos != int64(h.position()) || ev.JournalPos-ev.ObjectsCopied != int64(before) ||
		ev.Bytes != segmentBytes(h, "replica")-bytesBefore {
		t.Fatalf("event %+v; want 4 batches after %d up to %d, %d bytes", ev, before, h.position(), segmentBytes(h, "replica")-bytesBefore)
	}

	// A newer snapshot not replicated yet: the journal events do not make the
	// target up to date with it, nor change the snapshot it last received.
	s2 := h.snapshot(backup.KindIncremental)
	h.edit(2, "c")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	st, err := h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].UpToDate || st[0].LastSnapshotID != s1.ID || st[0].NewestSnapshotID != s2.ID ||
		st[0].JournalPos != s1.JournalPos || st[0].LastError != "" || st[0].JournalShipped != h.position() {
		t.Fatalf("status %+v; want %s last replicated, %s newest, not up to date, journal at %d", st, s1.ID, s2.ID, h.position())
	}
}

// TestJournalEventsFailing: a failing target records one failed event when it
// starts failing, none while it goes on failing, and an ok event with what it
// shipped once it is back.
func TestJournalEventsFailing(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
	tg := h.target("replica")
	h.edit(3, "a")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	shipped := h.position()
	h.fault("replica").Inject(faultblob.Rule{Ops: faultblob.OpWrite, Err: errors.New("down")})
	for range 3 {
		h.edit(2, "down")
		if err := h.svc.ShipJournal(h.ctx); err == nil {
			t.Fatal("no error while the target is down")
		}
	}
	evs := journalEvents(h, tg.ID)
	if len(evs) != 2 || evs[0].Status != meta.EventFailed || evs[0].JournalPos != int64(shipped) || evs[0].Error == "" ||
		evs[1].Status != meta.EventOK || evs[1].JournalPos != int64(shipped) {
		t.Fatalf("events %+v; want the ok pass to %d, then one failure", evs, shipped)
	}
	h.fault("replica").Reset()
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	evs = journalEvents(h, tg.ID)
	if len(evs) != 3 || evs[0].Status != meta.EventOK || evs[0].ObjectsCopied != 6 || evs[0].JournalPos != int64(h.position()) {
		t.Fatalf("events %+v; want the recovery with the 6 batches to %d", evs, h.position())
	}
}
