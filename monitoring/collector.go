package monitoring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/internal/loop"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrInvalid: an argument or option was rejected.
	ErrInvalid = errors.New("monitoring: invalid argument")
	// ErrBusy: the operation conflicts with one in progress.
	ErrBusy = errors.New("monitoring: busy")
	// ErrNotConfigured: the handler was built without what the request needs (a
	// Prometheus registry, a collector, a dashboard).
	ErrNotConfigured = errors.New("monitoring: not configured")
)

const meterName = "github.com/graphvault/graphvault/monitoring"

// Names of the metric samples [Collector.Collect] writes, the history the
// dashboard draws. Labels are in meta.CanonicalLabels form.
const (
	SampleSnapshots        = "graphvault.snapshots"         // {graph, status}: snapshots by status
	SampleSnapshotBytes    = "graphvault.snapshot.bytes"    // {graph}: stored bytes the newest completed snapshot needs
	SampleSnapshotNodes    = "graphvault.snapshot.nodes"    // {graph}: nodes in the newest completed snapshot
	SampleSnapshotEdges    = "graphvault.snapshot.edges"    // {graph}: edges in the newest completed snapshot
	SampleSnapshotDuration = "graphvault.snapshot.duration" // {graph}: seconds the newest completed snapshot took
	SampleSnapshotAge      = "graphvault.snapshot.age"      // {graph}: seconds since the newest completed snapshot finished
	SampleGraphStored      = "graphvault.graph.stored"      // {graph}: bytes written to the bucket by completed snapshots, pruned ones too
	SampleReplicationLag   = "graphvault.replication.lag"   // {target}: seconds since the last successful replication
	SampleHealthStatus     = "graphvault.health.status"     // {component, check}: 1 pass, 0.5 warn, 0 fail
	SampleHealthOverall    = "graphvault.health.overall"    // no labels: the worst health status
	SampleCheckpoints      = "graphvault.checkpoints"       // {validation}: checkpoints by validation outcome
)

const (
	defaultRetention       = 7 * 24 * time.Hour
	defaultCollectInterval = time.Minute
	callbackTimeout        = 10 * time.Second
)

// CollectorOption configures a [Collector].
type CollectorOption func(*collectorConfig)

type collectorConfig struct {
	mp        metric.MeterProvider
	retention time.Duration
	interval  time.Duration
	logger    *slog.Logger
	now       func() time.Time
	graphs    graph.Catalog
}

// WithMeterProvider publishes the collector's gauges through mp; nil means
// otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) CollectorOption {
	return func(c *collectorConfig) { c.mp = mp }
}

// WithRetention keeps metric samples for d; older ones are pruned by every
// collection. Default 7 days.
func WithRetention(d time.Duration) CollectorOption {
	return func(c *collectorConfig) { c.retention = d }
}

// WithInterval sets how often [Collector.Start] collects; default 1 minute.
func WithInterval(d time.Duration) CollectorOption {
	return func(c *collectorConfig) { c.interval = d }
}

// WithLogger logs through l; nil means slog.Default().
func WithLogger(l *slog.Logger) CollectorOption {
	return func(c *collectorConfig) { c.logger = l }
}

// WithCatalog lists the catalog's graphs in the per-graph gauges before their
// first snapshot (no snapshots, no bytes stored), so that a scrape lists those
// families from the start. Without it a graph appears with its first snapshot.
func WithCatalog(c graph.Catalog) CollectorOption {
	return func(cfg *collectorConfig) { cfg.graphs = c }
}

// WithClock sets the clock for ages, lags and sample times; nil means time.Now.
func WithClock(now func() time.Time) CollectorOption {
	return func(c *collectorConfig) { c.now = now }
}

// Collector publishes gauges read from the metadata store through observable
// instruments, and keeps metric samples in the store as history for dashboards. It
// is safe for concurrent use.
type Collector struct {
	st    *meta.Store
	state *stateCache // for metric callbacks, which run one at a time
	cfg   collectorConfig
	log   *slog.Logger
	reg   metric.Registration

	snapshots   metric.Int64ObservableGauge
	stored      metric.Int64ObservableGauge
	size        metric.Int64ObservableGauge
	nodes       metric.Int64ObservableGauge
	edges       metric.Int64ObservableGauge
	age         metric.Float64ObservableGauge
	duration    metric.Float64ObservableGauge
	checkpoints metric.Int64ObservableGauge
	targets     metric.Int64ObservableGauge
	lag         metric.Float64ObservableGauge

	loop       *loop.Loop // the collections of Start
	closeMu    sync.Mutex // orders Start and Close
	closed     bool
	unregister sync.Once
}

// NewCollector returns a collector reading st. Its gauges are registered on the
// meter provider at once and read the store whenever the provider's reader
// collects (a Prometheus scrape).
func NewCollector(st *meta.Store, opts ...CollectorOption) (*Collector, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalid)
	}
	c := collectorConfig{retention: defaultRetention, interval: defaultCollectInterval}
	for _, o := range opts {
		o(&c)
	}
	if c.retention <= 0 || c.interval <= 0 {
		return nil, fmt.Errorf("%w: retention and interval must be positive", ErrInvalid)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	col := &Collector{st: st, state: newStateCache(st), cfg: c, log: c.logger}
	col.loop = loop.New(func(ctx context.Context) {
		if _, err := col.Collect(ctx); err != nil && ctx.Err() == nil {
			col.log.WarnContext(ctx, "monitoring: collect", "err", err)
		}
	}, loop.Options{Interval: c.interval})
	if err := col.register(c.mp.Meter(meterName)); err != nil {
		return nil, fmt.Errorf("monitoring: instruments: %w", err)
	}
	return col, nil
}

func (c *Collector) register(m metric.Meter) error {
	var err error
	ig := func(name, unit, desc string) metric.Int64ObservableGauge {
		if err != nil {
			return nil
		}
		var g metric.Int64ObservableGauge
		g, err = m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return g
	}
	fg := func(name, unit, desc string) metric.Float64ObservableGauge {
		if err != nil {
			return nil
		}
		var g metric.Float64ObservableGauge
		g, err = m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return g
	}
	c.snapshots = ig("graphvault.stats.snapshots", "{snapshot}", "Snapshots in the metadata store, by graph and status.")
	c.stored = ig("graphvault.stats.stored", "By", "Bytes written to the bucket by each graph's completed snapshots, pruned ones too.")
	c.size = ig("graphvault.stats.snapshot.size", "By", "Stored bytes the newest completed snapshot of each graph needs to restore.")
	c.nodes = ig("graphvault.stats.snapshot.nodes", "{node}", "Nodes in the newest completed snapshot of each graph.")
	c.edges = ig("graphvault.stats.snapshot.edges", "{edge}", "Edges in the newest completed snapshot of each graph.")
	c.age = fg("graphvault.stats.snapshot.age", "s", "Time since the newest completed snapshot of each graph finished.")
	c.duration = fg("graphvault.stats.snapshot.duration", "s", "Time the newest completed snapshot of each graph took.")
	c.checkpoints = ig("graphvault.stats.checkpoints", "{checkpoint}", "Checkpoints by validation outcome: valid, invalid, unvalidated.")
	c.targets = ig("graphvault.stats.replication.targets", "{target}", "Replication targets by health.")
	c.lag = fg("graphvault.stats.replication.lag", "s", "Time since each replication target last finished a successful replication.")
	if err != nil {
		return err
	}
	c.reg, err = m.RegisterCallback(c.observe,
		c.snapshots, c.stored, c.size, c.nodes, c.edges, c.age, c.duration,
		c.checkpoints, c.targets, c.lag)
	return err
}

// observe reads the store and reports every gauge.
func (c *Collector) observe(ctx context.Context, o metric.Observer) error {
	ctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	s, err := c.state.read(ctx, c.cfg.now())
	if err != nil {
		return fmt.Errorf("monitoring: reading the store: %w", err)
	}
	graphs, err := c.withServed(ctx, s.graphs)
	if err != nil {
		return err
	}
	for _, g := range graphs {
		graph := attribute.String("graph", g.stats.GraphID)
		for status, n := range map[string]int64{
			meta.SnapshotPending: g.stats.Pending, meta.SnapshotRunning: g.stats.Running,
			meta.SnapshotCompleted: g.stats.Completed, meta.SnapshotFailed: g.stats.Failed,
		} {
			o.ObserveInt64(c.snapshots, n, metric.WithAttributes(graph, attribute.String("status", status)))
		}
		o.ObserveInt64(c.stored, g.totals.BytesNew, metric.WithAttributes(graph))
		if sn := g.newest; sn != nil {
			o.ObserveInt64(c.size, sn.BytesStored, metric.WithAttributes(graph))
			o.ObserveInt64(c.nodes, sn.Nodes, metric.WithAttributes(graph))
			o.ObserveInt64(c.edges, sn.Edges, metric.WithAttributes(graph))
			o.ObserveFloat64(c.age, snapshotAge(sn, s.at).Seconds(), metric.WithAttributes(graph))
			o.ObserveFloat64(c.duration, snapshotDuration(sn).Seconds(), metric.WithAttributes(graph))
		}
	}
	cp := s.checkpoints
	for v, n := range map[string]int64{"valid": cp.valid, "invalid": cp.invalid, "unvalidated": cp.unvalidated} {
		o.ObserveInt64(c.checkpoints, n, metric.WithAttributes(attribute.String("validation", v)))
	}
	// Every health a target can have is listed, at zero when no target has it.
	byHealth := map[string]int64{"healthy": 0, "degraded": 0, "unreachable": 0, "unknown": 0}
	for _, t := range s.targets {
		byHealth[targetHealth(t.target)]++
		if lag, ok := t.lag(s.at); ok {
			o.ObserveFloat64(c.lag, lag.Seconds(), metric.WithAttributes(attribute.String("target", t.target.Name)))
		}
	}
	for h, n := range byHealth {
		o.ObserveInt64(c.targets, n, metric.WithAttributes(attribute.String("health", h)))
	}
	return nil
}

// withServed adds to the graphs the store knows those of the catalog it does not,
// with nothing counted.
func (c *Collector) withServed(ctx context.Context, known []graphState) ([]graphState, error) {
	if c.cfg.graphs == nil {
		return known, nil
	}
	ids, err := c.cfg.graphs.GraphIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitoring: listing the graphs: %w", err)
	}
	seen := make(map[string]bool, len(known))
	for _, g := range known {
		seen[g.stats.GraphID] = true
	}
	out := slices.Clone(known) // known may be shared with the state cache
	for _, id := range ids {
		if !seen[id] {
			out = append(out, graphState{stats: meta.GraphStats{GraphID: id}})
		}
	}
	return out, nil
}

// targetHealth is a target's recorded health, "unknown" when none is.
func targetHealth(t meta.Target) string {
	if t.Health == "" {
		return "unknown"
	}
	return t.Health
}

// CollectResult is what one collection wrote.
type CollectResult struct {
	Time    time.Time           `json:"time"`
	Samples []meta.MetricSample `json:"samples"`
	Pruned  int64               `json:"pruned"` // samples older than the retention deleted
}

// Collect reads the store, writes one set of metric samples (see the Sample*
// names) and prunes the samples older than the retention.
func (c *Collector) Collect(ctx context.Context) (*CollectResult, error) {
	now := c.cfg.now().UTC()
	s, err := readState(ctx, c.st, now)
	if err != nil {
		return nil, fmt.Errorf("monitoring: collect: %w", err)
	}
	samples := buildSamples(s)
	if err := c.st.AddMetricSamples(ctx, samples); err != nil {
		return nil, fmt.Errorf("monitoring: collect: %w", err)
	}
	pruned, err := c.st.PruneMetricSamples(ctx, now.Add(-c.cfg.retention))
	if err != nil {
		return nil, fmt.Errorf("monitoring: prune samples: %w", err)
	}
	return &CollectResult{Time: now, Samples: samples, Pruned: pruned}, nil
}

func buildSamples(s *state) []meta.MetricSample {
	var out []meta.MetricSample
	add := func(name string, v float64, labels ...string) {
		m := map[string]string{}
		for i := 0; i+1 < len(labels); i += 2 {
			m[labels[i]] = labels[i+1]
		}
		out = append(out, meta.MetricSample{Name: name, Labels: meta.CanonicalLabels(m), Value: v, At: s.at})
	}
	for _, g := range s.graphs {
		id := g.stats.GraphID
		add(SampleSnapshots, float64(g.stats.Completed), "graph", id, "status", meta.SnapshotCompleted)
		add(SampleSnapshots, float64(g.stats.Failed), "graph", id, "status", meta.SnapshotFailed)
		add(SampleGraphStored, float64(g.totals.BytesNew), "graph", id)
		if sn := g.newest; sn != nil {
			add(SampleSnapshotBytes, float64(sn.BytesStored), "graph", id)
			add(SampleSnapshotNodes, float64(sn.Nodes), "graph", id)
			add(SampleSnapshotEdges, float64(sn.Edges), "graph", id)
			add(SampleSnapshotDuration, snapshotDuration(sn).Seconds(), "graph", id)
			add(SampleSnapshotAge, snapshotAge(sn, s.at).Seconds(), "graph", id)
		}
	}
	for _, t := range s.targets {
		if lag, ok := t.lag(s.at); ok {
			add(SampleReplicationLag, lag.Seconds(), "target", t.target.Name)
		}
	}
	add(SampleCheckpoints, float64(s.checkpoints.valid), "validation", "valid")
	add(SampleCheckpoints, float64(s.checkpoints.invalid), "validation", "invalid")
	add(SampleCheckpoints, float64(s.checkpoints.unvalidated), "validation", "unvalidated")
	for _, e := range s.health {
		add(SampleHealthStatus, health.Status(e.Status).Value(), "component", e.Component, "check", e.Check)
	}
	if len(s.health) > 0 {
		add(SampleHealthOverall, healthOverall(s.health).Value())
	}
	return out
}

// Start collects now and then every interval in a goroutine, until Close or until
// ctx ends. A failed collection is logged. Starting twice, or after Close, is
// ErrBusy.
func (c *Collector) Start(ctx context.Context) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: collector closed", ErrBusy)
	}
	if err := c.loop.Start(ctx); err != nil {
		return fmt.Errorf("%w: collector already started or closed", ErrBusy)
	}
	return nil
}

// Close stops the interval collections, waiting for one in progress (cancelled if
// ctx ends first, when Close returns ctx's error), and unregisters the gauges. It is
// safe to call twice.
func (c *Collector) Close(ctx context.Context) error {
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	err := c.loop.Close(ctx)
	var uerr error
	c.unregister.Do(func() { uerr = c.reg.Unregister() })
	return errors.Join(err, uerr)
}
