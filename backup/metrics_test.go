package backup

import (
	"errors"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/store/memgraph"
)

func TestMetricsAreRecorded(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := newHarness(t, WithMeterProvider(mp))
	g := loadGenerated(t, 50, 100, false)
	row := h.snapshot(g, KindAuto)
	if _, err := h.engine.Restore(h.ctx, row.ID, memgraph.New(), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Verify(h.ctx, row.ID, true); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(h.ctx, &rm); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != meterName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, meterName)
		}
		for _, m := range sm.Metrics {
			seen[m.Name] = true
		}
	}
	for _, name := range []string{
		"graphvault.backup.snapshots", "graphvault.backup.snapshot.duration", "graphvault.backup.written",
		"graphvault.backup.records", "graphvault.backup.last_success_timestamp", "graphvault.backup.restores",
		"graphvault.backup.restore.duration", "graphvault.backup.verifications", "graphvault.backup.verify.duration",
	} {
		if !seen[name] {
			t.Errorf("metric %s not recorded; have %v", name, seen)
		}
	}
}

// TestLiveCacheMetrics checks the live cache's lookups by result and the records
// it holds for a graph, through a full snapshot, two incrementals and a deletion.
func TestLiveCacheMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := newHarness(t, WithMeterProvider(mp), WithLiveCache())
	g := loadGenerated(t, 50, 100, false)
	h.snapshot(g, KindFull)
	mutate(t, g, newRand(), 1)
	h.snapshot(g, KindIncremental) // hit
	h.engine.live.put("g1", "not a snapshot", nil)
	mutate(t, g, newRand(), 2)
	last := h.snapshot(g, KindIncremental) // miss: the entry is gone

	collect := func() (lookups map[string]int64, records int64) {
		held := metrictest.Ints(t, reader, "graphvault.backup.live_cache.records", "graph")
		r, ok := held["g1"]
		if !ok {
			t.Fatalf("no live cache records point for g1: %v", held)
		}
		return metrictest.Ints(t, reader, "graphvault.backup.live_cache.lookups", "result"), r
	}
	lookups, records := collect()
	if lookups["hit"] != 1 || lookups["miss"] != 1 || records != int64(last.Nodes+last.Edges) {
		t.Fatalf("lookups %v, records %d; want one hit, one miss and %d records", lookups, records, last.Nodes+last.Edges)
	}
	if err := h.engine.Delete(h.ctx, last.ID); err != nil {
		t.Fatal(err)
	}
	if _, records = collect(); records != 0 {
		t.Fatalf("records after deleting the cached snapshot: %d", records)
	}
}

// TestMetricsPresentBeforeEvents checks that the counters with known label sets are
// at zero from New, and that InitMetrics gives a graph its series: counters at zero
// and the finish time of its newest completed snapshot, 0 when it has none.
func TestMetricsPresentBeforeEvents(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h := newHarness(t, WithMeterProvider(mp))
	snaps := metrictest.Ints(t, reader, "graphvault.backup.snapshots", "kind", "result")
	if len(snaps) != 6 || snaps["full/completed"] != 0 || snaps["synthetic/failed"] != 0 {
		t.Errorf("snapshots before any = %v, want 3 kinds x 2 results at 0", snaps)
	}
	for name, want := range map[string]int{
		"graphvault.backup.verifications": 6, "graphvault.backup.restores": 2,
		"graphvault.backup.live_cache.lookups": 2, "graphvault.backup.gc.deleted": 1, "graphvault.backup.gc.freed": 1,
	} {
		if got := metrictest.Ints(t, reader, name, "mode", "result"); len(got) != want {
			t.Errorf("%s before any event: %v, want %d series", name, got, want)
		}
	}
	if got := metrictest.Ints(t, reader, "graphvault.backup.pruned", "graph"); len(got) != 0 {
		t.Errorf("pruned before InitMetrics: %v", got)
	}

	if err := h.engine.InitMetrics(h.ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"graphvault.backup.pruned", "graphvault.backup.written", "graphvault.backup.scanned",
		"graphvault.backup.records", "graphvault.backup.live_cache.records"} {
		if got := metrictest.Ints(t, reader, name, "graph"); len(got) != 1 || got["g1"] != 0 {
			t.Errorf("%s after InitMetrics = %v, want g1 at 0", name, got)
		}
	}
	if got := metrictest.Floats(t, reader, "graphvault.backup.last_success_timestamp", "graph"); got["g1"] != 0 || len(got) != 1 {
		t.Errorf("last success of a graph without snapshots = %v, want g1 at 0", got)
	}
	if err := h.engine.InitMetrics(h.ctx, "../x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("InitMetrics of a bad id: %v, want ErrInvalid", err)
	}

	// A new engine on the same store reads the newest completed snapshot's time.
	row := h.snapshot(loadGenerated(t, 10, 20, false), KindFull)
	reader2 := sdkmetric.NewManualReader()
	e2, err := New(h.store, h.bucket, WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader2))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.InitMetrics(h.ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	got := metrictest.Floats(t, reader2, "graphvault.backup.last_success_timestamp", "graph")
	if want := float64(row.FinishedAt.Unix()); got["g1"] != want {
		t.Errorf("last success after a restart = %v, want g1 at %v", got, want)
	}
}
