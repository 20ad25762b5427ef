package replication

import (
	"errors"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/meta"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func findStatus(t *testing.T, sts []Status, target string) Status {
	t.Helper()
	for _, s := range sts {
		if s.TargetName == target {
			return s
		}
	}
	t.Fatalf("no status of target %s in %+v", target, sts)
	return Status{}
}

func TestStatusAndLag(t *testing.T) {
	clk := &clock{now: time.Now()}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100, service: []Option{WithClock(clk.Now), WithMeterProvider(mp)}})
	a, b := h.target("a"), h.target("b")
	s1 := h.snapshot(backup.KindFull)
	h.replicate(s1.ID, a.ID, false)

	sts, err := h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := findStatus(t, sts, "a"); !got.UpToDate || got.LagSeconds != 0 || got.LastSnapshotID != s1.ID || got.NewestSnapshotID != s1.ID {
		t.Errorf("a after replicating the newest: got %+v, want up to date, lag 0", got)
	}
	clk.Set(s1.FinishedAt.Add(30 * time.Second))
	sts, err = h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := findStatus(t, sts, "b"); got.UpToDate || got.LastSnapshotID != "" || got.LagSeconds != 30 {
		t.Errorf("b holding nothing: got %+v, want lag 30 (now − newest snapshot)", got)
	}

	h.change(0.05)
	s2 := h.snapshot(backup.KindIncremental)
	clk.Set(s1.FinishedAt.Add(90 * time.Second))
	sts, err = h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := findStatus(t, sts, "a"); got.UpToDate || got.LastSnapshotID != s1.ID || got.NewestSnapshotID != s2.ID || got.LagSeconds != 90 {
		t.Errorf("a behind by one snapshot: got %+v, want lag 90 (now − the snapshot it holds)", got)
	}
	if got := lagGauge(t, reader, "a", "g1"); got != 90 {
		t.Errorf("lag gauge of a: got %v, want 90", got)
	}

	// A failed run: the error shows, a check says degraded.
	remove := h.fault("a").Inject(faultblob.Rule{Ops: faultblob.OpWrite, Err: errors.New("disk full")})
	if _, err := h.svc.Replicate(h.ctx, s2.ID, ReplicateOptions{TargetID: a.ID}); err == nil {
		t.Fatal("replication to a failing target succeeded")
	}
	remove()
	chk, err := h.svc.Check(h.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if chk.Health != HealthDegraded {
		t.Errorf("check after a failed run: got %q, want degraded", chk.Health)
	}
	sts, err = h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := findStatus(t, sts, "a"); got.LastError == "" || got.Health != HealthDegraded {
		t.Errorf("status after a failed run: got %+v, want the error and degraded", got)
	}

	// Unreachable: the probe fails; the check is an event of its own.
	h.fault("b").Inject(faultblob.Rule{Ops: faultblob.OpList, Err: errors.New("no route")})
	chk, err = h.svc.Check(h.ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if chk.Health != HealthUnreachable || chk.Error == "" {
		t.Errorf("check of a target that fails: got %+v, want unreachable with the error", chk)
	}
	evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: b.ID, Kind: meta.EventCheck})
	if err != nil || len(evs) != 1 || evs[0].Status != meta.EventFailed {
		t.Fatalf("check events of b: %+v, %v; want one failed", evs, err)
	}
	got, err := h.svc.Get(h.ctx, b.ID)
	if err != nil || got.Health != HealthUnreachable || got.LastError == "" || got.LastCheckAt.IsZero() {
		t.Errorf("stored target after the check: %+v, %v", got, err)
	}

	// Once a holds the newest snapshot again it is up to date.
	h.replicate(s2.ID, a.ID, false)
	sts, err = h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := findStatus(t, sts, "a"); !got.UpToDate || got.LagSeconds != 0 || got.LastError != "" {
		t.Errorf("a caught up: got %+v", got)
	}
	if got := lagGauge(t, reader, "a", "g1"); got != 0 {
		t.Errorf("lag gauge of a: got %v, want 0", got)
	}
}

func lagGauge(t *testing.T, r *sdkmetric.ManualReader, target, graph string) float64 {
	t.Helper()
	v, ok := metrictest.Floats(t, r, "graphvault.replication.lag", "target", "graph")[target+"/"+graph]
	if !ok {
		t.Fatalf("no lag gauge for %s/%s", target, graph)
	}
	return v
}

func TestMetricsByTargetName(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100, service: []Option{WithMeterProvider(mp)}})
	tg := h.target("replica")
	row := h.snapshot(backup.KindFull)
	res := h.replicate(row.ID, tg.ID, false)
	h.replicate(row.ID, tg.ID, false)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(h.ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != meterName {
			continue
		}
		for _, m := range sm.Metrics {
			s, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range s.DataPoints {
				tv, _ := dp.Attributes.Value("target")
				rv, _ := dp.Attributes.Value("result")
				if tv.AsString() != "replica" {
					t.Errorf("%s: target label %q, want the name", m.Name, tv.AsString())
				}
				sums[m.Name+"/"+rv.AsString()] += dp.Value
			}
		}
	}
	want := map[string]int64{
		"graphvault.replication.bytes/ok":        res.Bytes,
		"graphvault.replication.objects/copied":  res.ObjectsCopied,
		"graphvault.replication.objects/skipped": res.ObjectsCopied, // the second run skips them all
		"graphvault.replication.operations/ok":   2,
	}
	for k, v := range want {
		if sums[k] != v {
			t.Errorf("%s: got %d, want %d", k, sums[k], v)
		}
	}
}
