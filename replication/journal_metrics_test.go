package replication

import (
	"errors"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/store/blob/faultblob"
)

// journalPoints collects the journal instruments: the position gauge by target and
// graph, the batches counter by target and result.
func journalPoints(t *testing.T, r *sdkmetric.ManualReader) (pos map[string]int64, batches map[string]int64) {
	t.Helper()
	return metrictest.Ints(t, r, "graphvault.replication.journal.position", "target", "graph"),
		metrictest.Ints(t, r, "graphvault.replication.journal.batches", "target", "result")
}

func TestJournalMetricsAndStatus(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 100, service: []Option{WithMeterProvider(mp)}})
	h.target("replica")
	h.snapshot(backup.KindFull) // Status lists graphs with snapshots
	h.edit(4, "m")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	pos, batches := journalPoints(t, reader)
	if got, want := pos["replica/g1"], int64(h.position()); got != want {
		t.Errorf("position gauge %d, want %d", got, want)
	}
	if got, want := batches["replica/ok"], int64(h.position()); got != want {
		t.Errorf("batches ok %d, want %d", got, want)
	}
	h.fault("replica").Inject(faultblob.Rule{Ops: faultblob.OpWrite, Err: errors.New("down")})
	h.edit(3, "n")
	if err := h.svc.ShipJournal(h.ctx); err == nil {
		t.Fatal("no error while the target is down")
	}
	_, batches = journalPoints(t, reader)
	if got := batches["replica/failed"]; got != 3 {
		t.Errorf("batches failed %d, want 3", got)
	}
	st, err := h.svc.Status(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].JournalShipped != h.position()-3 || st[0].JournalError == "" || st[0].JournalLagSeconds < 0 {
		t.Fatalf("status %+v; want the journal 3 batches behind with an error", st)
	}
}
