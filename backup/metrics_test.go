package backup

import (
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
		"graphvault.backup.records", "graphvault.graph.nodes", "graphvault.graph.edges",
		"graphvault.backup.last_success", "graphvault.backup.restores", "graphvault.backup.restore.duration",
		"graphvault.backup.verifications", "graphvault.backup.verify.duration", "graphvault.backup.snapshot.size",
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
