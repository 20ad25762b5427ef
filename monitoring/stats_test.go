package monitoring

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

// TestChecksAreNotReplications records checks of a target newer than its last
// replication: neither the replication stats nor the collector take one for a
// replication, and a journal shipment is one.
func TestChecksAreNotReplications(t *testing.T) {
	e := newEnv(t)
	tgt := &meta.Target{Name: "offsite", Kind: meta.TargetFile, Enabled: true, Health: "unreachable",
		LastError: "connection refused", Config: map[string]string{"path": "replica"}}
	if err := e.st.CreateTarget(e.ctx, tgt); err != nil {
		t.Fatal(err)
	}
	add := func(kind, status string, ago time.Duration, seconds float64, bytes int64) *meta.ReplicationEvent {
		t.Helper()
		ev := &meta.ReplicationEvent{TargetID: tgt.ID, Kind: kind, Status: status, Bytes: bytes,
			StartedAt: e.clock().Add(-ago), DurationSeconds: seconds}
		if status == meta.EventFailed {
			ev.Error = "connection refused"
		}
		if err := e.st.AddReplicationEvent(e.ctx, ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	snap := add(meta.EventSnapshot, meta.EventOK, 2*time.Minute, 60, 1234)
	add(meta.EventCheck, meta.EventOK, 20*time.Second, 0.5, 0)
	add(meta.EventCheck, meta.EventFailed, 10*time.Second, 5, 0)

	var rep ReplicationStats
	e.getJSON("/stats/replication", http.StatusOK, &rep)
	if len(rep.Targets) != 1 {
		t.Fatalf("targets: got %d, want 1", len(rep.Targets))
	}
	tg := rep.Targets[0]
	if tg.LastSuccess == nil || tg.LastSuccess.ID != snap.ID {
		t.Errorf("last success: got %+v, want the snapshot event %s", tg.LastSuccess, snap.ID)
	}
	if tg.LagSeconds == nil || *tg.LagSeconds != 60 {
		t.Errorf("lag: got %s, want 60s since the snapshot replication finished", seconds(tg.LagSeconds))
	}
	if tg.RecentEvents != 1 || tg.RecentFailure != 0 {
		t.Errorf("recent: got %d events, %d failures; want 1 and 0 (checks are not replications)", tg.RecentEvents, tg.RecentFailure)
	}
	if tg.Health != "unreachable" || tg.LastError != "connection refused" {
		t.Errorf("the failed check shows in the target: got health %q, last error %q", tg.Health, tg.LastError)
	}
	if ev := rep.Events; ev.Considered != 1 || ev.OK != 1 || ev.Failed != 0 || ev.LastFailure != nil || ev.Bytes != 1234 {
		t.Errorf("events: got %+v, want the one snapshot replication", ev)
	}

	res, err := e.col.Collect(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Samples {
		if s.Name == SampleReplicationLag && s.Value != 60 {
			t.Errorf("sample %s{%s}: got %v, want 60", s.Name, s.Labels, s.Value)
		}
	}

	// A journal shipment is a replication: the newest, it is the last success.
	journal := add(meta.EventJournal, meta.EventOK, 5*time.Second, 1, 10)
	e.getJSON("/stats/replication", http.StatusOK, &rep)
	tg = rep.Targets[0]
	if tg.LastSuccess == nil || tg.LastSuccess.ID != journal.ID || tg.LagSeconds == nil || *tg.LagSeconds != 4 {
		t.Errorf("after a journal shipment: last success %+v, lag %s; want %s and 4s", tg.LastSuccess, seconds(tg.LagSeconds), journal.ID)
	}
	if rep.Events.Considered != 2 || tg.RecentEvents != 2 {
		t.Errorf("after a journal shipment: %d events considered, %d for the target; want 2", rep.Events.Considered, tg.RecentEvents)
	}
}

// seconds renders an optional number of seconds.
func seconds(s *float64) string {
	if s == nil {
		return "none"
	}
	return fmt.Sprintf("%gs", *s)
}
