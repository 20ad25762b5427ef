package replication

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

func isData(key string) bool { return strings.HasPrefix(key, "data/") }

// TestReplicateFaults injects faults at the target. Whatever happens, an event that
// says ok must mean the target restores the snapshot, and one that says failed must
// mean the target shows no manifest.
func TestReplicateFaults(t *testing.T) {
	boom := errors.New("injected")
	tests := []struct {
		name   string
		rules  []faultblob.Rule
		wantOK bool
	}{
		{"no fault", nil, true},
		{"one write error", []faultblob.Rule{{Ops: faultblob.OpPut, Match: isData, Nth: 1, Err: boom}}, true},
		{"every write fails", []faultblob.Rule{{Ops: faultblob.OpWrite, Err: boom}}, false},
		{"one lost write", []faultblob.Rule{{Ops: faultblob.OpPut, Match: isData, Nth: 2, Write: faultblob.LoseWrite}}, true},
		{"every write lost", []faultblob.Rule{{Ops: faultblob.OpWrite, Write: faultblob.LoseWrite}}, false},
		{"one truncated write", []faultblob.Rule{{Ops: faultblob.OpPut, Match: isData, Nth: 1, Write: faultblob.TruncateWrite}}, true},
		{"every data write truncated", []faultblob.Rule{{Ops: faultblob.OpPut, Prefix: "data/", Write: faultblob.TruncateWrite}}, false},
		{"manifest write lost once", []faultblob.Rule{{Ops: faultblob.OpPutIfAbsent, Prefix: "manifests/", Nth: 1, Write: faultblob.LoseWrite}}, true},
		{"manifest truncated once", []faultblob.Rule{{Ops: faultblob.OpPutIfAbsent, Prefix: "manifests/", Nth: 1, Write: faultblob.TruncateWrite}}, true},
		{"manifest always lost", []faultblob.Rule{{Ops: faultblob.OpWrite, Prefix: "manifests/", Write: faultblob.LoseWrite}}, false},
		{"one hanging write", []faultblob.Rule{{Ops: faultblob.OpPut, Match: isData, Nth: 1, Hang: true}}, true},
		{"every stat hangs", []faultblob.Rule{{Ops: faultblob.OpStat, Hang: true}}, false},
		{"one stat error", []faultblob.Rule{{Ops: faultblob.OpStat, Nth: 3, Err: boom}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{nodes: 300, edges: 600, service: []Option{WithAttemptTimeout(50 * time.Millisecond)}})
			tg := h.target("replica")
			row := h.snapshot(backup.KindFull)
			fd := h.fault("replica")
			for _, r := range tt.rules {
				fd.Inject(r)
			}
			res, err := h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{TargetID: tg.ID})
			if (err == nil) != tt.wantOK || len(res) != 1 || res[0].OK != tt.wantOK {
				t.Fatalf("got %+v, %v; want ok %t", res, err, tt.wantOK)
			}
			evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: tg.ID, Kind: meta.EventSnapshot})
			if err != nil || len(evs) != 1 {
				t.Fatalf("events: %v, %v; want one", evs, err)
			}
			fd.Reset()
			inner := fd.Unwrap()
			hasManifest, err := blob.NewBucket(nopClose{inner}).Exists(h.ctx, row.ManifestKey)
			if err != nil {
				t.Fatal(err)
			}
			switch evs[0].Status {
			case meta.EventOK:
				want, err := graphtest.Read(h.ctx, h.graph)
				if err != nil {
					t.Fatal(err)
				}
				restoreFrom(t, inner, row.ID, want)
			case meta.EventFailed:
				if hasManifest {
					t.Fatal("a failed run left a manifest at the target")
				}
				if evs[0].Error == "" {
					t.Error("a failed event without an error")
				}
			}
			if tt.wantOK {
				return
			}
			// Once the target behaves, a rerun completes what is missing.
			again := h.replicate(row.ID, tg.ID, false)
			if !again.OK {
				t.Fatalf("rerun after the fault: %s", again.Error)
			}
		})
	}
}

func TestReplicateResendsDamagedObjects(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, h *harness, key string)
		verify bool
	}{
		{"bit flip found by hash", func(t *testing.T, h *harness, key string) { flipStored(t, h, key) }, true},
		{"truncated found by size", func(t *testing.T, h *harness, key string) {
			b := blob.NewBucket(nopClose{h.fault("replica").Unwrap()})
			data, err := b.Get(h.ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Put(h.ctx, key, data[:len(data)-1]); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"bit flip on read", func(t *testing.T, h *harness, key string) {
			h.fault("replica").Inject(faultblob.Rule{Ops: faultblob.OpGet, Prefix: key, Nth: 1, FlipBit: true})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{nodes: 300, edges: 600})
			tg := h.target("replica")
			row := h.snapshot(backup.KindFull)
			h.replicate(row.ID, tg.ID, false)
			src, err := h.svc.loadSource(h.ctx, row.ID)
			if err != nil {
				t.Fatal(err)
			}
			obj := src.objects[len(src.objects)/2]
			tt.damage(t, h, obj.Key)
			res := h.replicate(row.ID, tg.ID, tt.verify)
			if !res.OK || res.ObjectsResent != 1 || res.ObjectsCopied != 1 || res.Bytes != obj.Size {
				t.Fatalf("got %+v; want one object (%d bytes) re-sent", res, obj.Size)
			}
			h.fault("replica").Reset()
			want, err := graphtest.Read(h.ctx, h.graph)
			if err != nil {
				t.Fatal(err)
			}
			restoreFrom(t, h.fault("replica").Unwrap(), row.ID, want)
		})
	}
}

func TestReplicateReplacesDamagedManifest(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100})
	tg := h.target("replica")
	row := h.snapshot(backup.KindFull)
	h.replicate(row.ID, tg.ID, false)
	flipStored(t, h, row.ManifestKey)
	res := h.replicate(row.ID, tg.ID, false)
	if !res.OK || res.ObjectsCopied != 1 {
		t.Fatalf("got %+v; want the manifest sent again", res)
	}
	want, err := graphtest.Read(h.ctx, h.graph)
	if err != nil {
		t.Fatal(err)
	}
	restoreFrom(t, h.fault("replica").Unwrap(), row.ID, want)
}

// flipStored flips one bit of an object held by the target named replica.
func flipStored(t *testing.T, h *harness, key string) {
	t.Helper()
	b := blob.NewBucket(nopClose{h.fault("replica").Unwrap()})
	data, err := b.Get(h.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x04
	if err := b.Put(h.ctx, key, data); err != nil {
		t.Fatal(err)
	}
}

func TestBandwidthLimitedCopyCompletes(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100, service: []Option{WithBandwidthLimit(1 << 30)}})
	tg := h.target("replica")
	row := h.snapshot(backup.KindFull)
	total, _ := snapshotBytes(t, h, row.ID)
	if res := h.replicate(row.ID, tg.ID, false); !res.OK || res.Bytes != total {
		t.Fatalf("got %+v, want ok and %d bytes", res, total)
	}
	if _, err := New(h.engine, WithBandwidthLimit(-1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative limit: got %v, want ErrInvalid", err)
	}
}

func TestAutomaticReplication(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100, service: []Option{WithCheckInterval(time.Hour)}})
	a, b := h.target("a"), h.target("b")
	if _, err := h.svc.Disable(h.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	if err := h.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	row := h.snapshot(backup.KindFull)
	// Wait for the background run's event (the loop's first catch-up may also run).
	var evs []meta.ReplicationEvent
	for range 1000 {
		var err error
		evs, _, err = h.store.ListReplicationEvents(h.ctx, meta.EventFilter{Kind: meta.EventSnapshot, Status: meta.EventOK})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(evs) == 0 {
		t.Fatal("the committed snapshot was not replicated")
	}
	for _, ev := range evs {
		if ev.TargetID != a.ID || ev.SnapshotID != row.ID {
			t.Errorf("event %+v: want target a and snapshot %s only", ev, row.ID)
		}
	}
	if err := h.svc.Close(h.ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Close(h.ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCatchUpAfterOutage(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100})
	h.target("replica")
	fd := h.fault("replica")
	remove := fd.Inject(faultblob.Rule{Err: errors.New("down")})
	h.snapshot(backup.KindFull)
	if r := h.svc.CheckAll(h.ctx); len(r) != 1 || r[0].Health != HealthUnreachable {
		t.Fatalf("check while down: got %+v, want unreachable", r)
	}
	if n, err := h.svc.CatchUp(h.ctx); n != 0 || err != nil {
		t.Fatalf("catch-up while unreachable: got %d runs, %v; want none", n, err)
	}
	h.change(0.05)
	second := h.snapshot(backup.KindIncremental)
	remove()
	if r := h.svc.CheckAll(h.ctx); len(r) != 1 || r[0].Health != HealthHealthy {
		t.Fatalf("check once back: got %+v, want healthy", r)
	}
	if n, err := h.svc.CatchUp(h.ctx); n != 1 || err != nil {
		t.Fatalf("catch-up once back: got %d runs, %v; want 1", n, err)
	}
	if n, err := h.svc.CatchUp(h.ctx); n != 0 || err != nil {
		t.Fatalf("second catch-up: got %d runs, %v; want none", n, err)
	}
	want, err := graphtest.Read(h.ctx, h.graph)
	if err != nil {
		t.Fatal(err)
	}
	restoreFrom(t, fd.Unwrap(), second.ID, want)
}
