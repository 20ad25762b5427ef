package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

const meterName = "github.com/graphvault/graphvault/recovery"

// Sentinel errors. Test them with errors.Is.
var (
	// ErrNotFound: the checkpoint, graph or snapshot is unknown.
	ErrNotFound = errors.New("recovery: not found")
	// ErrInvalid: an argument or option was rejected.
	ErrInvalid = errors.New("recovery: invalid argument")
	// ErrBusy: the operation conflicts with one in progress.
	ErrBusy = errors.New("recovery: busy")
	// ErrCorrupt: data a checkpoint or a plan needs is missing or damaged. The error
	// names the object when one is at fault.
	ErrCorrupt = errors.New("recovery: corrupt")
	// ErrInexact: a restore cannot reach the point asked for exactly, and the
	// nearest earlier point was not allowed (or there is none).
	ErrInexact = errors.New("recovery: point not reachable exactly")
)

// Request bounds.
const (
	maxCheckpointGraphs = 256
	maxDescription      = 4096
	maxCreatedBy        = 256
)

// Defaults of the restore time estimate. Stored bytes are compressed, so the rate
// covers reading, hashing, decompressing, decoding and writing them.
const (
	defaultRestoreRate = 64 << 20 // stored bytes per second
	defaultReplayRate  = 50000    // journal operations per second
	minMeasuredBytes   = 1 << 20  // smaller restores measure overhead, not throughput
)

// durationBuckets are the explicit histogram bounds, in seconds, of restore durations.
var durationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// Option configures a [Service].
type Option func(*config)

type config struct {
	mp          metric.MeterProvider
	logger      *slog.Logger
	now         func() time.Time
	restoreRate float64
	replayRate  float64
}

// WithMeterProvider records metrics through mp. Nil means otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithLogger logs through l. Nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock that stamps validations and judges recovery points. Nil
// means time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithRestoreRate sets the throughput restore estimates assume until restores run
// by the service have measured one: bytesPerSecond of stored snapshot data
// (default 64 MiB/s) and opsPerSecond of journal operations replayed (default
// 50000). Zero keeps a default.
func WithRestoreRate(bytesPerSecond, opsPerSecond float64) Option {
	return func(c *config) { c.restoreRate, c.replayRate = bytesPerSecond, opsPerSecond }
}

// Service creates, validates and restores checkpoints, plans and runs
// point-in-time restores, and reports how recoverable each graph is. It keeps its
// state in the engine's metadata store and bucket, and is safe for concurrent use.
type Service struct {
	e      *backup.Engine
	st     *meta.Store
	graphs graph.Catalog
	cfg    config
	log    *slog.Logger

	checkpoints     metric.Int64Counter
	validations     metric.Int64Counter
	restores        metric.Int64Counter
	restoreDuration metric.Float64Histogram

	mu       sync.Mutex
	measured float64 // stored bytes per second of past restores, 0 before the first
	samples  int
}

// New returns a Service over the snapshots e keeps of the graphs in graphs.
func New(e *backup.Engine, graphs graph.Catalog, opts ...Option) (*Service, error) {
	if e == nil || graphs == nil {
		return nil, fmt.Errorf("%w: an engine and a catalog are required", ErrInvalid)
	}
	c := config{restoreRate: defaultRestoreRate, replayRate: defaultReplayRate}
	for _, o := range opts {
		o(&c)
	}
	if c.restoreRate < 0 || c.replayRate < 0 {
		return nil, fmt.Errorf("%w: restore rates must not be negative", ErrInvalid)
	}
	if c.restoreRate == 0 {
		c.restoreRate = defaultRestoreRate
	}
	if c.replayRate == 0 {
		c.replayRate = defaultReplayRate
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
	s := &Service{e: e, st: e.Store(), graphs: graphs, cfg: c, log: c.logger}
	meter := c.mp.Meter(meterName)
	var err error
	if s.checkpoints, err = meter.Int64Counter("graphvault.recovery.checkpoints",
		metric.WithUnit("{checkpoint}"), metric.WithDescription("Checkpoints created.")); err != nil {
		return nil, err
	}
	if s.validations, err = meter.Int64Counter("graphvault.recovery.validations",
		metric.WithUnit("{validation}"), metric.WithDescription("Checkpoint validations, by result: valid, invalid or error.")); err != nil {
		return nil, err
	}
	if s.restores, err = meter.Int64Counter("graphvault.recovery.restores",
		metric.WithUnit("{restore}"), metric.WithDescription("Planned restores run, by result: ok, refused or failed.")); err != nil {
		return nil, err
	}
	if s.restoreDuration, err = meter.Float64Histogram("graphvault.recovery.restore.duration",
		metric.WithUnit("s"), metric.WithDescription("Time to run a planned restore."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	s.zeroMetrics(context.Background())
	return s, nil
}

// zeroMetrics makes the counters present at zero, with every result they count,
// so that a scrape lists them before the first checkpoint, validation or restore.
func (s *Service) zeroMetrics(ctx context.Context) {
	s.checkpoints.Add(ctx, 0)
	for _, r := range []string{"valid", "invalid", "error"} {
		s.validations.Add(ctx, 0, metric.WithAttributes(attribute.String("result", r)))
	}
	for _, r := range []string{"ok", "refused", "failed"} {
		s.restores.Add(ctx, 0, metric.WithAttributes(attribute.String("result", r)))
	}
}

// Engine returns the backup engine the service uses.
func (s *Service) Engine() *backup.Engine { return s.e }

// Catalog returns the catalog the service resolves graph ids with.
func (s *Service) Catalog() graph.Catalog { return s.graphs }

// CreateRequest asks for a checkpoint. The zero value is invalid: at least one
// graph is needed.
type CreateRequest struct {
	GraphIDs    []string
	Description string
	CreatedBy   string
	Metadata    map[string]any
	// Snapshots binds some graphs to an existing completed snapshot of theirs
	// (graph id → snapshot id) instead of a new one. Every key must be in GraphIDs.
	Snapshots map[string]string
}

func (r *CreateRequest) validate() error {
	if len(r.GraphIDs) == 0 {
		return fmt.Errorf("%w: a checkpoint needs at least one graph", ErrInvalid)
	}
	if len(r.GraphIDs) > maxCheckpointGraphs {
		return fmt.Errorf("%w: a checkpoint holds at most %d graphs", ErrInvalid, maxCheckpointGraphs)
	}
	if len(r.Description) > maxDescription || len(r.CreatedBy) > maxCreatedBy {
		return fmt.Errorf("%w: description or created_by too long", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, id := range r.GraphIDs {
		if !backup.ValidGraphID(id) {
			return fmt.Errorf("%w: graph id %q", ErrInvalid, id)
		}
		if seen[id] {
			return fmt.Errorf("%w: graph %q named twice", ErrInvalid, id)
		}
		seen[id] = true
	}
	for gid, sid := range r.Snapshots {
		if !seen[gid] {
			return fmt.Errorf("%w: snapshot given for graph %q, which is not among the graph ids", ErrInvalid, gid)
		}
		if !meta.ValidID(sid) {
			return fmt.Errorf("%w: snapshot id %q", ErrInvalid, sid)
		}
	}
	return nil
}

// binding is one graph of a checkpoint being created.
type binding struct {
	graphID string
	g       graph.Graph    // set when a new snapshot is to be taken
	row     *meta.Snapshot // the snapshot, once known
	taken   bool           // the snapshot was taken for this checkpoint
}

// Create makes a checkpoint: every graph is bound to a snapshot and the journal
// position it reflects. A graph with an entry in Snapshots is bound to that
// completed snapshot of its own; a graph the catalog knows gets a new full
// snapshot; a graph the catalog does not know is bound to its newest completed
// snapshot, and is ErrNotFound when it has none. Every graph is resolved before any
// snapshot is taken, and if one fails, the snapshots already taken for the
// checkpoint are deleted and nothing is stored.
//
// The snapshots are taken one after the other, so each graph is bound to its own
// state when its snapshot began; a host that needs them consistent with each other
// pauses writes meanwhile. They are full snapshots, so that a checkpoint never
// depends on an older chain: content-defined segments make a full snapshot store
// only the segments that changed.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*meta.Checkpoint, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	binds := make([]*binding, len(req.GraphIDs))
	for i, gid := range req.GraphIDs {
		b, err := s.resolve(ctx, gid, req.Snapshots[gid])
		if err != nil {
			return nil, err
		}
		binds[i] = b
	}
	cp := &meta.Checkpoint{
		ID: meta.NewID(), Description: req.Description, CreatedBy: req.CreatedBy,
		Metadata: req.Metadata, Graphs: make([]meta.CheckpointGraph, len(binds)),
	}
	for i, b := range binds {
		if b.g != nil {
			row, err := s.e.Snapshot(ctx, b.graphID, b.g, backup.SnapshotOptions{
				Kind: backup.KindFull, Labels: map[string]string{"checkpoint": cp.ID},
			})
			if err != nil {
				return nil, errors.Join(fmt.Errorf("recovery: snapshot of graph %s: %w", b.graphID, err), s.undo(ctx, binds))
			}
			b.row, b.taken = row, true
		}
		cp.Graphs[i] = meta.CheckpointGraph{GraphID: b.graphID, SnapshotID: b.row.ID, JournalPos: b.row.JournalPos}
	}
	if err := s.st.CreateCheckpoint(ctx, cp); err != nil {
		return nil, errors.Join(fmt.Errorf("recovery: record checkpoint: %w", err), s.undo(ctx, binds))
	}
	s.checkpoints.Add(ctx, 1)
	s.log.InfoContext(ctx, "checkpoint created", "checkpoint", cp.ID, "graphs", len(cp.Graphs))
	return cp, nil
}

// resolve finds what one graph of a new checkpoint is bound to.
func (s *Service) resolve(ctx context.Context, gid, sid string) (*binding, error) {
	b := &binding{graphID: gid}
	if sid != "" {
		row, err := s.completedSnapshot(ctx, sid)
		if err != nil {
			return nil, err
		}
		if row.GraphID != gid {
			return nil, fmt.Errorf("%w: snapshot %s is of graph %q, not %q", ErrInvalid, sid, row.GraphID, gid)
		}
		b.row = row
		return b, nil
	}
	g, err := s.graphs.Graph(ctx, gid)
	if err == nil {
		b.g = g
		return b, nil
	}
	if !errors.Is(err, graph.ErrNotFound) {
		return nil, fmt.Errorf("recovery: graph %s: %w", gid, err)
	}
	row, err := s.st.LatestSnapshot(ctx, gid, meta.SnapshotCompleted)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("%w: graph %q does not exist and has no snapshots", ErrNotFound, gid)
	}
	if err != nil {
		return nil, err
	}
	b.row = row
	return b, nil
}

// undo deletes the snapshots taken for a checkpoint that is not stored, with a
// context of its own: the caller's may be what ended.
func (s *Service) undo(ctx context.Context, binds []*binding) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for _, b := range binds {
		if b.taken {
			if err := s.e.Delete(uctx, b.row.ID); err != nil {
				errs = append(errs, fmt.Errorf("recovery: delete snapshot %s of the abandoned checkpoint: %w", b.row.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// completedSnapshot returns the row of a completed snapshot, or ErrNotFound.
func (s *Service) completedSnapshot(ctx context.Context, sid string) (*meta.Snapshot, error) {
	row, err := s.st.GetSnapshot(ctx, sid)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("%w: snapshot %s", ErrNotFound, sid)
	}
	if err != nil {
		return nil, err
	}
	if row.Status != meta.SnapshotCompleted {
		return nil, fmt.Errorf("%w: snapshot %s is %s, not completed", ErrNotFound, sid, row.Status)
	}
	return row, nil
}

// Get returns the checkpoint with the id.
func (s *Service) Get(ctx context.Context, id string) (*meta.Checkpoint, error) {
	if !meta.ValidID(id) {
		return nil, fmt.Errorf("%w: checkpoint id %q", ErrInvalid, id)
	}
	cp, err := s.st.GetCheckpoint(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("%w: checkpoint %s", ErrNotFound, id)
	}
	return cp, err
}

// List returns one page of checkpoints, newest first, and the cursor of the next
// page ("" after the last). limit 0 means 50; at most 1000.
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]meta.Checkpoint, string, error) {
	return s.st.ListCheckpoints(ctx, cursor, limit)
}

// Delete deletes the checkpoint. Its snapshots stay: retention decides their fate.
func (s *Service) Delete(ctx context.Context, id string) error {
	if !meta.ValidID(id) {
		return fmt.Errorf("%w: checkpoint id %q", ErrInvalid, id)
	}
	err := s.st.DeleteCheckpoint(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("%w: checkpoint %s", ErrNotFound, id)
	}
	return err
}

// newest returns the newest checkpoint, or nil when there is none.
func (s *Service) newest(ctx context.Context) (*meta.Checkpoint, error) {
	cps, _, err := s.st.ListCheckpoints(ctx, "", 1)
	if err != nil || len(cps) == 0 {
		return nil, err
	}
	return &cps[0], nil
}

// newestFor returns the newest checkpoint naming the graph, looking at most at
// scan checkpoints, or nil.
func (s *Service) newestFor(ctx context.Context, graphID string, scan int) (*meta.Checkpoint, error) {
	cursor := ""
	for scanned := 0; scanned < scan; {
		cps, next, err := s.st.ListCheckpoints(ctx, cursor, 100)
		if err != nil {
			return nil, err
		}
		for i := range cps {
			if slices.ContainsFunc(cps[i].Graphs, func(g meta.CheckpointGraph) bool { return g.GraphID == graphID }) {
				return &cps[i], nil
			}
		}
		scanned += len(cps)
		if next == "" {
			break
		}
		cursor = next
	}
	return nil, nil
}

func (s *Service) countValidation(ctx context.Context, result string) {
	s.validations.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result)))
}

func (s *Service) countRestore(ctx context.Context, result string, d time.Duration) {
	attrs := metric.WithAttributes(attribute.String("result", result))
	s.restores.Add(ctx, 1, attrs)
	s.restoreDuration.Record(ctx, d.Seconds(), attrs)
}

// observeRate folds the throughput of a finished restore into the measured rate.
func (s *Service) observeRate(bytes int64, d time.Duration) {
	if bytes < minMeasuredBytes || d <= 0 {
		return
	}
	rate := float64(bytes) / d.Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == 0 {
		s.measured = rate
	} else {
		s.measured = 0.7*s.measured + 0.3*rate
	}
	s.samples++
}

// estimate returns how long restoring bytes of snapshot data and replaying ops
// journal operations should take, and what the estimate rests on.
func (s *Service) estimate(bytes int64, ops int) (time.Duration, string) {
	s.mu.Lock()
	rate, n := s.measured, s.samples
	s.mu.Unlock()
	basis := fmt.Sprintf("assumed %.1f MiB/s of stored data", s.cfg.restoreRate/(1<<20))
	if n > 0 {
		basis = fmt.Sprintf("measured %.1f MiB/s of stored data over %d restores", rate/(1<<20), n)
	} else {
		rate = s.cfg.restoreRate
	}
	basis += fmt.Sprintf(", %.0f journal operations/s", s.cfg.replayRate)
	secs := float64(bytes)/rate + float64(ops)/s.cfg.replayRate
	return time.Duration(secs * float64(time.Second)), basis
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
