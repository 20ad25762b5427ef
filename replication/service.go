package replication

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrInvalid: a target's configuration or an argument is malformed.
	ErrInvalid = errors.New("replication: invalid argument")
	// ErrNotFound: the target or snapshot is unknown.
	ErrNotFound = errors.New("replication: not found")
	// ErrConflict: the target name is taken, or a target holds a different manifest
	// under the same snapshot id.
	ErrConflict = errors.New("replication: conflict")
	// ErrUnreachable: the target could not be opened or probed.
	ErrUnreachable = errors.New("replication: target unreachable")
	// ErrCorrupt: an object failed its hash or size check.
	ErrCorrupt = errors.New("replication: corrupt object")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("replication: closed")
	// ErrNotAllowed: a target lies outside the allowed roots or hosts (see
	// [WithTargetRoots] and [WithTargetHosts]), or at a protected path.
	ErrNotAllowed = errors.New("replication: target not allowed")
	// ErrUnauthorized: a receive endpoint refused the token.
	ErrUnauthorized = errors.New("replication: unauthorized")
)

// Opener opens the bucket of a target. A host may give its own to [WithBucketOpener]
// (to wrap drivers, or to reach places the built-in drivers cannot); the built-in
// one opens file targets with fileblob, s3 targets with s3blob and http targets with
// a client of [NewReceiver]. It may be called concurrently.
type Opener func(ctx context.Context, t *meta.Target) (blob.Driver, error)

// RetryPolicy bounds the attempts made for one object.
type RetryPolicy struct {
	Attempts  int           // total attempts, default 5
	BaseDelay time.Duration // delay before the second attempt, default 200ms; doubles each time
	MaxDelay  time.Duration // longest delay, default 10s; every delay is jittered in [d/2, d]
}

type config struct {
	meter         metric.MeterProvider
	logger        *slog.Logger
	concurrency   int
	retry         RetryPolicy
	attempt       time.Duration
	bandwidth     int64
	checkInterval time.Duration
	opener        Opener
	client        *http.Client
	now           func() time.Time
	queue         int
	// allowed places (places.go)
	roots     []string
	rootsSet  bool
	hostSpecs []string
	hosts     []hostRule
	protected []string
	// journal shipping (journal.go)
	journal         graph.Catalog
	journalInterval time.Duration
}

// Option configures a Service.
type Option func(*config)

// WithMeterProvider records metrics through mp. Nil means otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.meter = mp } }

// WithLogger logs through l. Nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithConcurrency sets how many objects are copied to one target at once (default 4).
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// WithRetry sets how often a failed object copy is tried again.
func WithRetry(p RetryPolicy) Option { return func(c *config) { c.retry = p } }

// WithAttemptTimeout bounds each attempt at one object (a stat, a read, a write and
// its check); a target that hangs fails the attempt, which is retried. Default 2m.
func WithAttemptTimeout(d time.Duration) Option { return func(c *config) { c.attempt = d } }

// WithBandwidthLimit limits the object bytes sent to each target to n per second.
// Zero, the default, means no limit.
func WithBandwidthLimit(n int64) Option { return func(c *config) { c.bandwidth = n } }

// WithCheckInterval sets how often [Service.Start]'s loop checks the targets and
// catches up those that lack the newest snapshot of a graph (default 30s).
func WithCheckInterval(d time.Duration) Option { return func(c *config) { c.checkInterval = d } }

// WithBucketOpener replaces the built-in way targets are opened.
func WithBucketOpener(o Opener) Option { return func(c *config) { c.opener = o } }

// WithHTTPClient sets the client http targets are reached with (default: a client
// with a 5 minute timeout).
func WithHTTPClient(cl *http.Client) Option { return func(c *config) { c.client = cl } }

// WithClock sets the clock lag is measured with (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Service manages targets and replicates snapshots to them. It is safe for
// concurrent use.
type Service struct {
	engine *backup.Engine
	store  *meta.Store
	src    *blob.Bucket
	cfg    config
	log    *slog.Logger
	m      *metrics
	ship   *shipper // nil without WithJournal

	mu      sync.Mutex
	buckets map[string]*openBucket // by target id
	running map[string]*sync.Mutex // one run per target at a time

	queue       chan *meta.Snapshot
	unsubscribe func()      // from the engine's commits
	closing     atomic.Bool // Close has begun: no new background work
	closed      atomic.Bool // Close has finished: the buckets are closed
	startMu     sync.Mutex
	started     bool
	stop        chan struct{} // closed by Close: the loops return between runs
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closeErr    error
}

type openBucket struct {
	version string // fingerprint of the target's kind, config and secret when opened
	bucket  *blob.Bucket
}

// fingerprint changes whenever what a target's bucket is opened from changes.
func fingerprint(t *meta.Target) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n%q\n", t.Kind, t.Secret)
	for _, k := range slices.Sorted(maps.Keys(t.Config)) {
		fmt.Fprintf(h, "%q=%q\n", k, t.Config[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// New returns a Service replicating the snapshots of engine. It subscribes to the
// engine's commits (see [backup.Engine.Subscribe]): after [Service.Start], every
// snapshot the engine commits is replicated in the background; Close ends the
// subscription.
func New(engine *backup.Engine, opts ...Option) (*Service, error) {
	if engine == nil {
		return nil, fmt.Errorf("%w: an engine is required", ErrInvalid)
	}
	c := config{
		concurrency:     4,
		retry:           RetryPolicy{Attempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second},
		attempt:         2 * time.Minute,
		checkInterval:   30 * time.Second,
		queue:           256,
		journalInterval: defaultJournalInterval,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.concurrency < 1:
		return nil, fmt.Errorf("%w: concurrency must be at least 1", ErrInvalid)
	case c.retry.Attempts < 1 || c.retry.BaseDelay < 0 || c.retry.MaxDelay < c.retry.BaseDelay:
		return nil, fmt.Errorf("%w: retry policy needs Attempts >= 1 and 0 <= BaseDelay <= MaxDelay", ErrInvalid)
	case c.attempt <= 0:
		return nil, fmt.Errorf("%w: attempt timeout must be positive", ErrInvalid)
	case c.bandwidth < 0:
		return nil, fmt.Errorf("%w: bandwidth limit must not be negative", ErrInvalid)
	case c.checkInterval <= 0:
		return nil, fmt.Errorf("%w: check interval must be positive", ErrInvalid)
	case c.journalInterval <= 0:
		return nil, fmt.Errorf("%w: journal interval must be positive", ErrInvalid)
	}
	hosts, err := parseHostRules(c.hostSpecs)
	if err != nil {
		return nil, err
	}
	c.hosts = hosts
	for _, p := range append(slices.Clone(c.roots), c.protected...) {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%w: target roots and protected paths must be absolute, not %q", ErrInvalid, p)
		}
	}
	if c.meter == nil {
		c.meter = otel.GetMeterProvider()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.client == nil {
		c.client = &http.Client{Timeout: 5 * time.Minute}
	}
	if c.now == nil {
		c.now = time.Now
	}
	m, err := newMetrics(c.meter)
	if err != nil {
		return nil, err
	}
	s := &Service{
		engine: engine, store: engine.Store(), src: engine.Bucket(), cfg: c, log: c.logger, m: m,
		buckets: map[string]*openBucket{}, running: map[string]*sync.Mutex{},
		queue: make(chan *meta.Snapshot, c.queue),
	}
	if s.ship, err = newShipper(s); err != nil {
		return nil, err
	}
	s.unsubscribe = engine.Subscribe(s.onCommit)
	return s, nil
}

// onCommit, the service's subscription to the engine, queues a committed snapshot
// for replication to every enabled target; it never blocks. Snapshots queued before
// Start wait for it; when the queue is full the snapshot is left to the periodic
// catch-up of the newest snapshots.
func (s *Service) onCommit(_ context.Context, row *meta.Snapshot) {
	if row == nil || row.Status != meta.SnapshotCompleted || s.closing.Load() {
		return
	}
	select {
	case s.queue <- row:
	default:
		s.log.Warn("replication queue full; the periodic catch-up will replicate the snapshot",
			"graph", row.GraphID, "snapshot", row.ID)
	}
}

// Start runs the background work until Close or until ctx ends: the queued
// snapshots are replicated to every enabled target, and every check interval each
// target is checked and caught up with the newest snapshot of every graph. Starting
// twice, or after Close, is an error.
func (s *Service) Start(ctx context.Context) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.closing.Load() {
		return ErrClosed
	}
	if s.started {
		return fmt.Errorf("%w: already started", ErrInvalid)
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	s.stop = make(chan struct{})
	s.wg.Add(2)
	go s.drain(ctx)
	go s.loop(ctx)
	if s.ship != nil {
		s.wg.Add(1)
		go s.ship.loop(ctx)
	}
	return nil
}

func (s *Service) drain(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case row := <-s.queue:
			if _, err := s.Replicate(ctx, row.ID, ReplicateOptions{}); err != nil && ctx.Err() == nil {
				s.log.Warn("automatic replication failed", "graph", row.GraphID, "snapshot", row.ID, "err", err)
			}
		}
	}
}

func (s *Service) loop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.checkInterval)
	defer t.Stop()
	for {
		s.CheckAll(ctx)
		if _, err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("replication catch-up failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Close ends the subscription to the engine's commits, stops the background work,
// waiting for a run in progress until ctx ends, and closes the buckets of the
// targets. It is safe to call twice.
func (s *Service) Close(ctx context.Context) error {
	if s.closing.Swap(true) {
		return nil
	}
	s.unsubscribe()
	s.startMu.Lock()
	stop, cancel := s.stop, s.cancel
	s.startMu.Unlock()
	if stop != nil {
		close(stop)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cancel != nil {
		cancel()
	}
	<-done
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ob := range s.buckets {
		err = errors.Join(err, ob.bucket.Close())
		delete(s.buckets, id)
	}
	return err
}

// bucketFor returns the open bucket of t, opening it (again, if t changed since).
func (s *Service) bucketFor(ctx context.Context, t *meta.Target) (*blob.Bucket, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	version := fingerprint(t)
	s.mu.Lock()
	ob := s.buckets[t.ID]
	s.mu.Unlock()
	if ob != nil && ob.version == version {
		return ob.bucket, nil
	}
	drv, err := s.openDriver(ctx, t)
	if err != nil {
		return nil, err
	}
	b := blob.NewBucket(drv, blob.WithMeterProvider(s.cfg.meter))
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.buckets[t.ID]; old != nil {
		if old.version == version { // opened meanwhile by another call
			b.Close()
			return old.bucket, nil
		}
		old.bucket.Close()
	}
	s.buckets[t.ID] = &openBucket{version: version, bucket: b}
	return b, nil
}

// forget closes the cached bucket of a target.
func (s *Service) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ob := s.buckets[id]; ob != nil {
		ob.bucket.Close()
		delete(s.buckets, id)
	}
}

// targetLock serializes runs to one target.
func (s *Service) targetLock(id string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	mu := s.running[id]
	if mu == nil {
		mu = &sync.Mutex{}
		s.running[id] = mu
	}
	return mu
}

// storeErr maps the store's sentinels to this package's.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, meta.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, meta.ErrConflict):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, meta.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}
