package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/store/meta"
)

const meterName = "github.com/graphvault/graphvault/backup"

// durationBuckets are the explicit histogram bounds, in seconds, of every duration
// this package records.
var durationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

type metrics struct {
	snapshots        metric.Int64Counter
	snapshotDuration metric.Float64Histogram
	bytesWritten     metric.Int64Counter
	bytesRaw         metric.Int64Counter
	records          metric.Int64Counter
	lastSuccess      metric.Float64Gauge
	restores         metric.Int64Counter
	restoreDuration  metric.Float64Histogram
	verifies         metric.Int64Counter
	verifyDuration   metric.Float64Histogram
	pruned           metric.Int64Counter
	gcDeleted        metric.Int64Counter
	gcBytes          metric.Int64Counter
	liveLookups      metric.Int64Counter
	liveRecords      metric.Int64Gauge
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	mt := mp.Meter(meterName)
	var m metrics
	var err error
	c := func(name, unit, desc string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var x metric.Int64Counter
		x, err = mt.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return x
	}
	h := func(name, desc string) metric.Float64Histogram {
		if err != nil {
			return nil
		}
		var x metric.Float64Histogram
		x, err = mt.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		return x
	}
	g := func(name, unit, desc string) metric.Int64Gauge {
		if err != nil {
			return nil
		}
		var x metric.Int64Gauge
		x, err = mt.Int64Gauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return x
	}
	m.snapshots = c("graphvault.backup.snapshots", "{snapshot}", "Snapshots finished, by kind and result.")
	m.snapshotDuration = h("graphvault.backup.snapshot.duration", "Time to take a snapshot.")
	m.bytesWritten = c("graphvault.backup.written", "By", "Bytes of new objects stored by snapshots.")
	m.bytesRaw = c("graphvault.backup.scanned", "By", "Bytes of encoded records in completed snapshots before compression.")
	m.records = c("graphvault.backup.records", "{record}", "Records in completed snapshots.")
	m.restores = c("graphvault.backup.restores", "{restore}", "Restores finished, by result.")
	m.restoreDuration = h("graphvault.backup.restore.duration", "Time to restore a snapshot.")
	m.verifies = c("graphvault.backup.verifications", "{verification}", "Verifications finished, by mode and result.")
	m.verifyDuration = h("graphvault.backup.verify.duration", "Time to verify a snapshot.")
	m.pruned = c("graphvault.backup.pruned", "{snapshot}", "Snapshots removed by retention.")
	m.gcDeleted = c("graphvault.backup.gc.deleted", "{object}", "Unreferenced objects removed by garbage collection.")
	m.gcBytes = c("graphvault.backup.gc.freed", "By", "Bytes freed by garbage collection.")
	m.liveLookups = c("graphvault.backup.live_cache.lookups", "{lookup}", "Incremental snapshots that looked for their parent's live records in the live cache, by result (hit, miss).")
	m.liveRecords = g("graphvault.backup.live_cache.records", "{record}", "Live records the live cache holds for each graph.")
	if err != nil {
		return nil, err
	}
	// The unit makes the Prometheus name end in _timestamp_seconds, the convention
	// for a Unix time.
	if m.lastSuccess, err = mt.Float64Gauge("graphvault.backup.last_success_timestamp", metric.WithUnit("s"),
		metric.WithDescription("Unix time the newest completed snapshot of each graph finished; 0 when it has none.")); err != nil {
		return nil, err
	}
	m.zero(context.Background())
	return &m, nil
}

// Label values of the families whose label sets are known in advance.
var (
	snapshotResults = []string{"completed", "failed"}
	verifyModes     = []string{"quick", "full"}
	verifyResults   = []string{"ok", "corrupt", "error"}
	restoreResults  = []string{"ok", "failed"}
	lookupResults   = []string{"hit", "miss"}
)

// zero makes every counter whose label sets are known present at zero, so that a
// scrape lists the family before its first event and rate() sees the first one.
func (m *metrics) zero(ctx context.Context) {
	for _, k := range snapshotKinds {
		for _, r := range snapshotResults {
			m.snapshots.Add(ctx, 0, metric.WithAttributes(attribute.String("kind", k), attribute.String("result", r)))
		}
	}
	for _, md := range verifyModes {
		for _, r := range verifyResults {
			m.verifies.Add(ctx, 0, metric.WithAttributes(attribute.String("mode", md), attribute.String("result", r)))
		}
	}
	for _, r := range restoreResults {
		m.restores.Add(ctx, 0, metric.WithAttributes(attribute.String("result", r)))
	}
	for _, r := range lookupResults {
		m.liveLookups.Add(ctx, 0, metric.WithAttributes(attribute.String("result", r)))
	}
	m.gcDeleted.Add(ctx, 0)
	m.gcBytes.Add(ctx, 0)
}

// graph makes the series of one graph present: its counters at zero, the size of
// its live cache at zero, and the time of its newest completed snapshot (0 when
// none is known).
func (m *metrics) graph(ctx context.Context, graphID string, lastSuccess time.Time) {
	g := metric.WithAttributes(attribute.String("graph", graphID))
	m.bytesWritten.Add(ctx, 0, g)
	m.bytesRaw.Add(ctx, 0, g)
	m.records.Add(ctx, 0, g)
	m.pruned.Add(ctx, 0, g)
	m.liveRecords.Record(ctx, 0, g)
	var unix float64
	if !lastSuccess.IsZero() {
		unix = float64(lastSuccess.Unix())
	}
	m.lastSuccess.Record(ctx, unix, g)
}

func (m *metrics) snapshotDone(ctx context.Context, kind, result string, d time.Duration, man *Manifest) {
	attrs := metric.WithAttributes(attribute.String("kind", kind), attribute.String("result", result))
	m.snapshots.Add(ctx, 1, attrs)
	m.snapshotDuration.Record(ctx, d.Seconds(), attrs)
	if man == nil {
		return
	}
	g := metric.WithAttributes(attribute.String("graph", man.GraphID))
	m.bytesWritten.Add(ctx, man.BytesNew, g)
	var raw int64
	for _, s := range man.Layers[len(man.Layers)-1].Segments {
		raw += s.Raw
	}
	m.bytesRaw.Add(ctx, raw, g)
	m.records.Add(ctx, man.Nodes+man.Edges, g)
	m.lastSuccess.Record(ctx, float64(time.Now().Unix()), g)
}

// liveCacheLookup records whether an incremental snapshot found its parent in the
// live cache; the graph's entry is out of the cache while the snapshot runs.
func (m *metrics) liveCacheLookup(ctx context.Context, graphID string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.liveLookups.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result)))
	m.liveCacheHeld(ctx, graphID, 0)
}

// liveCacheHeld records how many live records the cache holds for a graph.
func (m *metrics) liveCacheHeld(ctx context.Context, graphID string, records int) {
	m.liveRecords.Record(ctx, int64(records), metric.WithAttributes(attribute.String("graph", graphID)))
}

func (m *metrics) restoreDone(ctx context.Context, result string, d time.Duration) {
	attrs := metric.WithAttributes(attribute.String("result", result))
	m.restores.Add(ctx, 1, attrs)
	m.restoreDuration.Record(ctx, d.Seconds(), attrs)
}

func (m *metrics) verifyDone(ctx context.Context, mode, result string, d time.Duration) {
	attrs := metric.WithAttributes(attribute.String("mode", mode), attribute.String("result", result))
	m.verifies.Add(ctx, 1, attrs)
	m.verifyDuration.Record(ctx, d.Seconds(), attrs)
}

const slogInfo = slog.LevelInfo

func attrsOf(row *meta.Snapshot) []slog.Attr {
	return []slog.Attr{
		slog.String("graph", row.GraphID), slog.String("snapshot", row.ID), slog.String("kind", row.Kind),
		slog.Int64("nodes", row.Nodes), slog.Int64("edges", row.Edges), slog.Int64("bytes_new", row.BytesNew),
	}
}

// InitMetrics makes the per-graph metric series of the graphs present before their
// first event, so that a scrape lists every family: their counters (bytes written
// and scanned, records, snapshots pruned) and the size of their live cache at zero,
// and the time of their newest completed snapshot, read from the store (0 when a
// graph has none). A host calls it with the graphs it serves; graphs it leaves out
// get their series with their first snapshot.
func (e *Engine) InitMetrics(ctx context.Context, graphIDs ...string) error {
	for _, id := range graphIDs {
		if !ValidGraphID(id) {
			return fmt.Errorf("%w: graph id %q", ErrInvalid, id)
		}
	}
	for _, id := range graphIDs {
		var finished time.Time
		row, err := e.store.LatestSnapshot(ctx, id, meta.SnapshotCompleted)
		switch {
		case err == nil:
			finished = row.FinishedAt
		case err != nil && !errors.Is(err, meta.ErrNotFound):
			return fmt.Errorf("backup: newest snapshot of %s: %w", id, err)
		}
		e.m.graph(ctx, id, finished)
	}
	return nil
}
