package backup

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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
