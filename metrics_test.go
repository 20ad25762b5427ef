package graphvault_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/graphvault/graphvault"
)

// familiesAtStart are the families a scrape of a freshly opened Vault lists:
// every family but the duration histograms of work not done yet, which have no
// series before their first measurement.
var familiesAtStart = []string{
	"graphvault_backup_gc_deleted_total",
	"graphvault_backup_gc_freed_bytes_total",
	"graphvault_backup_last_success_timestamp_seconds",
	"graphvault_backup_live_cache_lookups_total",
	"graphvault_backup_live_cache_records",
	"graphvault_backup_pruned_total",
	"graphvault_backup_records_total",
	"graphvault_backup_restores_total",
	"graphvault_backup_scanned_bytes_total",
	"graphvault_backup_snapshots_total",
	"graphvault_backup_verifications_total",
	"graphvault_backup_written_bytes_total",
	"graphvault_blob_bytes_total",
	"graphvault_blob_duration_seconds",
	"graphvault_blob_operations_total",
	"graphvault_health_checks_total",
	"graphvault_recovery_checkpoints_total",
	"graphvault_recovery_restores_total",
	"graphvault_recovery_validations_total",
	"graphvault_stats_checkpoints",
	"graphvault_stats_replication_targets",
	"graphvault_stats_snapshots",
	"graphvault_stats_stored_bytes",
	"graphvault_store_operation_duration_seconds",
	"graphvault_store_operations_total",
}

// familiesAfterSnapshot are those one snapshot adds: its duration and the gauges
// of the graph's newest snapshot.
var familiesAfterSnapshot = []string{
	"graphvault_backup_snapshot_duration_seconds",
	"graphvault_stats_snapshot_age_seconds",
	"graphvault_stats_snapshot_duration_seconds",
	"graphvault_stats_snapshot_edges",
	"graphvault_stats_snapshot_nodes",
	"graphvault_stats_snapshot_size_bytes",
}

// repeatedFamilies are families that said what another says, by the family kept.
var repeatedFamilies = map[string]string{
	"graphvault_graph_nodes":                 "graphvault_stats_snapshot_nodes",
	"graphvault_graph_edges":                 "graphvault_stats_snapshot_edges",
	"graphvault_backup_snapshot_size_bytes":  "graphvault_stats_snapshot_size_bytes",
	"graphvault_stats_health":                "graphvault_health_status",
	"graphvault_backup_last_success_seconds": "graphvault_backup_last_success_timestamp_seconds",
}

// TestMetricFamilies scrapes a freshly opened Vault, before any snapshot and after
// one, and checks the exact family set, that label values are snake_case (no space)
// and that no family repeats another.
func TestMetricFamilies(t *testing.T) {
	v := openVault(t, graphvault.Config{Demo: true})
	srv := serveVault(t, v.Handler())
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		resp, err := http.Get(srv.URL + "/api/monitoring/metrics/prometheus")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape: status %d", resp.StatusCode)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("scrape does not parse: %v", err)
		}
		out := map[string]*dto.MetricFamily{}
		for name, mf := range fams {
			if strings.HasPrefix(name, "graphvault_") {
				out[name] = mf
			}
		}
		return out
	}
	check := func(when string, fams map[string]*dto.MetricFamily, want []string) {
		t.Helper()
		var got []string
		for name, mf := range fams {
			got = append(got, name)
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if strings.Contains(l.GetValue(), " ") && !strings.HasPrefix(l.GetName(), "otel_scope_") {
						t.Errorf("%s: %s{%s=%q}: a label value with a space", when, name, l.GetName(), l.GetValue())
					}
				}
			}
			if kept, ok := repeatedFamilies[name]; ok {
				t.Errorf("%s: family %s repeats %s", when, name, kept)
			}
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("%s: families\n got %q\nwant %q", when, got, want)
		}
	}
	check("before any snapshot", scrape(), familiesAtStart)

	resp, err := http.Post(srv.URL+"/api/backup/backup/graphs/"+graphvault.DemoGraph+"/snapshots?wait=true", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("snapshot: status %d", resp.StatusCode)
	}
	check("after a snapshot", scrape(), append(slices.Clone(familiesAtStart), familiesAfterSnapshot...))
}
