// Package graphvault is the whole system in one value: a [Vault] opens the metadata
// store and the bucket, builds the snapshot engine, its schedule, replication,
// recovery, health checks and monitoring, brings every graph back at start, and
// serves all of it under one [http.Handler].
//
//	v, err := graphvault.Open(ctx, graphvault.Config{Data: "graphvault-data", Demo: true})
//	if err != nil { ... }
//	defer v.Close(context.Background())
//	if err := v.Start(ctx); err != nil { ... }
//	http.ListenAndServe(":9621", v.Handler())
//
// The parts stay reachable ([Vault.Engine], [Vault.Recovery], [Vault.Replication],
// [Vault.Health], [Vault.Store]) for a host that wants to call them directly.
//
// # Lifecycle
//
// Open finishes start-up before it returns, so the first request sees a settled
// system: snapshots a crash left running are marked failed; temporary objects
// older than Config.TempMaxAge are removed from the bucket; every graph the store
// knows and the host does not serve is restored into memory from its newest intact
// snapshot (a damaged newer one is named in the log and skipped); a graph with no
// completed snapshot is served empty and logged. Start launches the background
// work (schedule, health, replication, metric samples); Close stops it, lets
// running operations finish until its context ends, and releases everything.
// RELIABILITY.md states the rules and the tests behind them.
//
// # Several instances
//
// Instances given the same Config.Store and Config.Bucket (PostgreSQL or MySQL
// and S3, say) are one system: they list the same snapshots, checkpoints and
// targets, and a snapshot one of them is taking shows as running on all. Each
// holds a lease named after it (Config.Instance) while it is open, renewed
// every third of Config.LeaseTTL; health's store:leases check says which
// instance holds which lease. A scheduled slot runs once across them: the
// instance that holds the graph's schedule lease takes it, and renews that
// lease while it runs. A pending or running snapshot is settled (completed if
// its manifest committed, failed otherwise) only when no live instance writes
// it: at start, the previous run's snapshots of the same instance name; at
// start and at every renewal, those of an instance whose lease expired or was
// released, or whose default name says it ran on this host in a process that
// is gone; and snapshots that name no instance once older than
// Config.TempMaxAge. A live instance's running snapshot is never settled.
//
// Graphs are the host's: each instance serves the graphs it is given. Two
// instances serving the same graph id both take snapshots of it on demand (they
// are serialised per instance, not across instances: each is a complete
// snapshot of what that instance serves), and the schedule's snapshot of each
// slot is taken by whichever holds the lease, of its own copy of the graph.
// Graphs held in memory (Config.MemoryGraphs, and the graphs the store knows
// that nobody serves) are restored at start from the newest snapshot, so two
// instances serve the same content after a restart, not while changes flow
// to one of them.
package graphvault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/monitoring"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// DemoGraph is the id of the LightRAG-shaped graph Config.Demo serves.
const DemoGraph = "graph1"

// ErrInvalid reports a Config that cannot be opened.
var ErrInvalid = errors.New("graphvault: invalid config")

// Config says where a Vault keeps things and what it serves. The zero value is a
// working system under ./graphvault-data with no graphs, no schedule and no token.
type Config struct {
	// Data is the folder for the default store and bucket (default
	// "graphvault-data").
	Data string
	// Store is the metadata store's DSN (see store/meta.Open): a path or a
	// "file:" URI for SQLite (default graphvault.db in Data), "postgres://..."
	// or "mysql://...". Instances that share a store and a bucket act as one
	// system (see the package doc).
	Store string
	// Bucket is the URL of the bucket snapshots are kept in (see
	// store/blob.OpenURL): a folder path or "file://" URL (default the folder
	// bucket in Data), "s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R&secure=false"
	// with the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or
	// "mem://" (in memory, for trials).
	Bucket string
	// Instance names this instance in leases and in the snapshots it takes
	// (default host name and process id, "host/pid"). Instances that share a
	// store need different names: a name another running instance holds fails
	// Open with ErrInstance.
	Instance string
	// LeaseTTL is how long this instance's leases hold without renewal (default
	// DefaultLeaseTTL): when an instance dies, the others settle its running
	// snapshots and take its scheduled jobs over within this time.
	LeaseTTL time.Duration
	// Graphs are the host's graphs, by id. Graphs the store holds snapshots of and
	// that are not here are served from memory, restored at start.
	Graphs map[string]graph.Graph
	// GraphML files are served as graphs named after the file (store/lightrag.File:
	// a restore gives back the bytes NetworkX wrote; DATA/index keeps what lets a
	// snapshot of a rewritten file decode only what changed).
	GraphML []string
	// ChunkedGraphML keeps the GraphML files' own bytes in pieces
	// (store/lightrag.Chunked) instead of their entities: snapshots run at the
	// speed of reading and compressing the file, a rewritten file stores patches
	// of the pieces that changed, and a restore gives the bytes back; a diff of
	// such snapshots and a restore of chosen nodes see pieces, not entities.
	ChunkedGraphML bool
	// LightRAG working directories are served whole, one graph per workspace
	// (see store/lightrag.Workspaces): a snapshot holds the folder's GraphML,
	// key-value and vector stores and every other file, and a restore gives them
	// back byte for byte. A folder that holds the store files is one graph named
	// after the folder; a folder of workspace folders (rag_storage/<workspace>/)
	// is a graph per workspace, named after it.
	LightRAG []string
	// MemoryGraphs are graphs the Vault holds in memory, restored at start from
	// their newest intact snapshot (or empty when they have none). Like the graphs
	// the store knows that nobody else serves, they take changes through
	// POST .../graphs/{id}/changes; the host's graphs (Graphs, GraphML, LightRAG) do not.
	MemoryGraphs []string
	// Demo serves a generated LightRAG-shaped graph as DemoGraph when no graph of
	// that id exists yet.
	Demo bool

	// Every is the snapshot period per graph; 0 means no schedule.
	Every time.Duration
	// Keep is how many snapshots per graph the schedule's retention keeps
	// (default 48).
	Keep int

	// Token, if set, is required (as "Authorization: Bearer ...") for every
	// change and for graph content; ReadToken, if set, allows graph content only.
	Token, ReadToken string
	// CloseStatus makes status (health, metrics, stats, lists, the dashboard)
	// need the read or the write token too; it needs Token.
	CloseStatus bool
	// Rate bounds changes per second per client address (0: no limit).
	Rate float64

	// Logger receives the system's log (default slog.Default()).
	Logger *slog.Logger

	// Intervals of the background work, for tests and soak runs: how often the
	// health checks run when nothing triggers them (default 1m), how often metric
	// samples are taken (default 1m), and how often replication checks its targets
	// and catches up (default 10s).
	HealthInterval, SampleInterval, ReplicationInterval time.Duration

	// TempMaxAge is how old a temporary object left in the bucket by an
	// interrupted write must be before start-up or a GC removes it (default an
	// hour); younger ones may be writes of another instance sharing the bucket.
	TempMaxAge time.Duration

	// TargetRoots are the folders file replication targets must lie in (default:
	// the folder targets/ in Data). The Vault's own bucket, database and key file
	// are refused even under a root.
	TargetRoots []string
	// TargetHosts, if any, are the only hosts ("host" or "host:port") http and
	// s3 replication targets may be at.
	TargetHosts []string

	// SecretKey seals the target secrets (S3 secret keys, http tokens) in the
	// metadata store with AES-256-GCM: 64 hex digits or the base64 of 32 bytes
	// (see NewSecretKey). Without it the key is read from SecretKeyFile, by
	// default secret.key in Data, made with a new key (mode 0600) if missing.
	// Instances that share a store need the same key; one whose key cannot open
	// the store's secrets fails to open with ErrSecretKey.
	SecretKey     string
	SecretKeyFile string
	// PreviousSecretKeys open secrets sealed before a rotation: at start they
	// are sealed again with the current key (see Vault.RotateSecretKey).
	PreviousSecretKeys []string

	// EncryptionKeyFile names a file holding the master key snapshots are
	// encrypted with at rest (AES-256-GCM): 32 random bytes, or their text as 64
	// hex digits or base64. EncryptionKey gives the key itself instead; give one
	// or neither. Without a key new snapshots are not encrypted. Instances that
	// share a bucket need the same key. Open refuses a key that is missing or
	// wrong for encrypted snapshots in the bucket with ErrEncryptionKey (see
	// RotateEncryptionKey to change it). This key is not SecretKey, which seals
	// target secrets in the metadata store.
	EncryptionKeyFile string
	EncryptionKey     []byte

	// wrapBucket, if set, wraps the driver of the bucket: the tests inject
	// storage faults through it.
	wrapBucket func(blob.Driver) blob.Driver
}

// Vault is the composed system. Its methods are safe for concurrent use.
type Vault struct {
	cfg       Config
	log       *slog.Logger
	store     *meta.Store
	bucket    *blob.Bucket
	prom      *monitoring.Prometheus
	engine    *backup.Engine
	catalog   *graph.Registry
	mem       memory
	ops       *api.Operations
	sched     *backup.Scheduler
	health    *health.Runner
	recovery  *recovery.Service
	collector *monitoring.Collector
	repl      *replication.Service
	handler   http.Handler
	keys      secretKeys
	inst      instance
	encKey    []byte // the snapshot master key, nil when not encrypting

	unsubscribe func()

	closeOnce sync.Once
	closeErr  error
}

// Open builds the system and settles it (see the package doc); it does not start
// background work. On error everything opened so far is closed.
func Open(ctx context.Context, cfg Config) (_ *Vault, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Vault{cfg: cfg, log: cfg.Logger, catalog: &graph.Registry{}}
	defer func() {
		if err != nil {
			v.release()
		}
	}()
	if v.encKey, err = v.loadEncryptionKey(); err != nil {
		return nil, err
	}
	if err := v.openStorage(ctx); err != nil {
		return nil, err
	}
	if err := v.buildServices(); err != nil {
		return nil, err
	}
	if err := v.checkEncryptionKey(ctx); err != nil {
		return nil, err
	}
	if err := v.settle(ctx); err != nil {
		return nil, err
	}
	// Every family a scrape lists is there from the start, the served graphs' too.
	if err := v.engine.InitMetrics(ctx, v.GraphIDs()...); err != nil {
		return nil, err
	}
	if err := v.buildSchedule(ctx); err != nil {
		return nil, err
	}
	if err := v.buildHealth(); err != nil {
		return nil, err
	}
	v.handler = v.routes()
	return v, nil
}

func (c Config) withDefaults() (Config, error) {
	if c.Data == "" {
		c.Data = "graphvault-data"
	}
	abs, err := filepath.Abs(c.Data)
	if err != nil {
		return c, fmt.Errorf("%w: data folder: %v", ErrInvalid, err)
	}
	c.Data = abs
	if c.Keep == 0 {
		c.Keep = 48
	}
	switch {
	case c.Every < 0:
		return c, fmt.Errorf("%w: Every must not be negative", ErrInvalid)
	case c.Keep < 1:
		return c, fmt.Errorf("%w: Keep must be at least 1", ErrInvalid)
	case c.ReadToken != "" && c.Token == "":
		return c, fmt.Errorf("%w: ReadToken needs Token", ErrInvalid)
	case c.CloseStatus && c.Token == "":
		return c, fmt.Errorf("%w: CloseStatus needs Token", ErrInvalid)
	case c.Rate < 0:
		return c, fmt.Errorf("%w: Rate must not be negative", ErrInvalid)
	}
	for id := range c.Graphs {
		if !backup.ValidGraphID(id) {
			return c, fmt.Errorf("%w: graph id %q", ErrInvalid, id)
		}
	}
	for _, id := range c.MemoryGraphs {
		if !backup.ValidGraphID(id) {
			return c, fmt.Errorf("%w: memory graph id %q", ErrInvalid, id)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = time.Minute
	}
	if c.SampleInterval <= 0 {
		c.SampleInterval = time.Minute
	}
	if c.ReplicationInterval <= 0 {
		c.ReplicationInterval = 10 * time.Second
	}
	switch {
	case c.TempMaxAge < 0:
		return c, fmt.Errorf("%w: TempMaxAge must not be negative", ErrInvalid)
	case c.TempMaxAge == 0:
		c.TempMaxAge = backup.DefaultTempMaxAge
	}
	if err := c.withPlaceDefaults(); err != nil {
		return c, err
	}
	if err := c.checkEncryptionConfig(); err != nil {
		return c, err
	}
	return c, c.checkTargetConfig()
}

// openStorage opens the metrics provider, the metadata store and the bucket.
func (v *Vault) openStorage(ctx context.Context) (err error) {
	if err := os.MkdirAll(v.cfg.Data, 0o755); err != nil {
		return err
	}
	if v.prom, err = monitoring.NewPrometheus(); err != nil {
		return err
	}
	mp := v.prom.MeterProvider
	sealer, err := v.loadSecretKeys()
	if err != nil {
		return err
	}
	if v.inst.name, err = claimName(v.cfg.Instance); err != nil {
		return err
	}
	v.cfg.Instance = v.inst.name
	if err := v.openStore(ctx, meta.WithLogger(v.log), meta.WithMeterProvider(mp), meta.WithSealer(sealer)); err != nil {
		return err
	}
	if err := v.sealSecrets(ctx); err != nil {
		return err
	}
	drv, err := v.openBucketDriver(ctx)
	if err != nil {
		return err
	}
	if v.cfg.wrapBucket != nil {
		drv = v.cfg.wrapBucket(drv)
	}
	v.bucket = blob.NewBucket(drv, blob.WithMeterProvider(mp))
	return v.join(ctx)
}

// replicationPins keeps the snapshots an enabled target has not caught up with
// (replication.Service.Pins); the service is built after the engine it pins for.
func (v *Vault) replicationPins(ctx context.Context, graphID string) (map[string]string, error) {
	if v.repl == nil {
		return nil, nil
	}
	return v.repl.Pins(ctx, graphID)
}

// buildServices makes the engine, replication, recovery and the metric collector.
func (v *Vault) buildServices() (err error) {
	mp, log := v.prom.MeterProvider, v.log
	// The graphs served from memory are in memory already; the live cache adds 24
	// bytes a record so that a snapshot after a node deletion, which the journal
	// cannot describe, does not read its parent's chain back from the bucket.
	engineOpts := append([]backup.Option{backup.WithMeterProvider(mp), backup.WithLogger(log), backup.WithLiveCache(),
		backup.WithTempMaxAge(v.cfg.TempMaxAge), backup.WithRetentionHold(v.replicationPins), backup.WithInstance(v.cfg.Instance)}, v.encryptionOptions()...)
	if v.engine, err = backup.New(v.store, v.bucket, engineOpts...); err != nil {
		return err
	}
	if v.recovery, err = recovery.New(v.engine, creatingCatalog{v.catalog, v}, recovery.WithMeterProvider(mp), recovery.WithLogger(log)); err != nil {
		return err
	}
	if v.collector, err = monitoring.NewCollector(v.store, monitoring.WithMeterProvider(mp), monitoring.WithLogger(log),
		monitoring.WithInterval(v.cfg.SampleInterval), monitoring.WithCatalog(v.catalog)); err != nil {
		return err
	}
	// Every committed snapshot is pushed to the enabled targets; the journals of
	// the graphs that keep one are shipped every second. Targets stay where
	// Config.TargetRoots and TargetHosts allow.
	places, err := v.targetPlaces()
	if err != nil {
		return err
	}
	if v.repl, err = replication.New(v.engine, append([]replication.Option{replication.WithMeterProvider(mp), replication.WithLogger(log),
		replication.WithCheckInterval(v.cfg.ReplicationInterval), replication.WithJournal(v.catalog)}, places...)...); err != nil {
		return err
	}
	// Health reflects what an operation changed (a verify, a restore, a prune)
	// at once instead of at the next periodic run.
	v.ops = api.NewOperations(api.WithOperationsLogger(log), api.WithFinished(func(string, error) { v.refreshHealth() }))
	return nil
}

// buildSchedule schedules a snapshot of every served graph, if a period is set.
func (v *Vault) buildSchedule(ctx context.Context) error {
	var opts []backup.SchedulerOption
	if v.cfg.Every > 0 {
		opts = append(opts, backup.WithTick(min(time.Second, v.cfg.Every/2)))
	}
	// The schedule's leases name this instance, so that health can say who runs
	// which job, and last as long as its own.
	opts = append(opts, backup.WithHolder(v.cfg.Instance), backup.WithLeaseTTL(v.cfg.LeaseTTL))
	v.sched = backup.NewScheduler(v.engine, v.catalog, opts...)
	if v.cfg.Every <= 0 {
		return nil
	}
	ids, err := v.catalog.GraphIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		job := backup.Job{GraphID: id, Every: v.cfg.Every, Retention: backup.Retention{KeepLast: v.cfg.Keep}}
		if err := v.sched.Add(job); err != nil {
			return err
		}
	}
	return nil
}

// buildHealth assembles the health checks.
func (v *Vault) buildHealth() (err error) {
	checks := []health.Checker{
		health.NewStoreCheck(v.store),
		health.NewLeasesCheck(v.store, v.cfg.Instance),
		health.NewBucketCheck("snapshots", v.bucket),
		health.NewSnapshotFreshnessCheck(v.engine, v.catalog, freshness(v.cfg.Every)),
		health.NewJournalCheck(v.store, v.catalog),
		health.NewDamagedSnapshotsCheck(v.store),
	}
	if v.cfg.Every > 0 {
		checks = append(checks, health.NewSchedulerCheck(v.sched, health.SchedulePolicy{}))
	}
	checks = append(checks, recovery.NewCheckpointCheck(v.recovery, recovery.CheckpointPolicy{}))
	if v.health, err = health.New(v.store, checks, health.WithMeterProvider(v.prom.MeterProvider),
		health.WithLogger(v.log), health.WithInterval(v.cfg.HealthInterval)); err != nil {
		return err
	}
	// Health reflects a commit at once instead of at the next periodic run.
	v.unsubscribe = v.engine.Subscribe(func(context.Context, *meta.Snapshot) { v.health.Trigger() })
	return nil
}

// freshness says how old a graph's newest snapshot may be: two periods warn, four fail.
func freshness(every time.Duration) health.FreshnessPolicy {
	if every <= 0 {
		return health.FreshnessPolicy{}
	}
	return health.FreshnessPolicy{WarnAfter: 2 * every, FailAfter: 4 * every}
}

// Start launches the background work: the schedule, health checks, replication
// and metric samples.
func (v *Vault) Start(ctx context.Context) error {
	for _, start := range []func(context.Context) error{v.sched.Start, v.health.Start, v.repl.Start, v.collector.Start} {
		if err := start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the background work, lets running operations finish until ctx
// ends (whatever still runs then is cancelled and its snapshot marked failed),
// and closes the store and the bucket. Close is safe to call more than once.
func (v *Vault) Close(ctx context.Context) error {
	v.closeOnce.Do(func() {
		if v.unsubscribe != nil {
			v.unsubscribe()
		}
		v.closeErr = errors.Join(
			v.sched.Close(ctx),
			v.ops.Close(ctx),
			v.health.Close(ctx),
			v.collector.Close(ctx),
			v.repl.Close(ctx),
			v.release(),
		)
	})
	return v.closeErr
}

// release closes what Open opened; safe on a partly built Vault.
func (v *Vault) release() error {
	errs := []error{v.leave()}
	if v.prom != nil {
		errs = append(errs, v.prom.Shutdown(context.Background()))
	}
	if v.bucket != nil {
		errs = append(errs, v.bucket.Close())
	}
	if v.store != nil {
		errs = append(errs, v.store.Close())
	}
	return errors.Join(errs...)
}

// Handler serves every route under /api (see the README), the OpenAPI document at
// /api/openapi.yaml and a redirect from / to the dashboard.
func (v *Vault) Handler() http.Handler { return v.handler }

// Engine returns the snapshot engine.
func (v *Vault) Engine() *backup.Engine { return v.engine }

// Recovery returns the checkpoint and restore-plan service.
func (v *Vault) Recovery() *recovery.Service { return v.recovery }

// Replication returns the replication service.
func (v *Vault) Replication() *replication.Service { return v.repl }

// Scheduler returns the snapshot schedule.
func (v *Vault) Scheduler() *backup.Scheduler { return v.sched }

// Health returns the health checks.
func (v *Vault) Health() *health.Runner { return v.health }

// Store returns the metadata store.
func (v *Vault) Store() *meta.Store { return v.store }

// Bucket returns the bucket snapshots are kept in.
func (v *Vault) Bucket() *blob.Bucket { return v.bucket }

// Graphs returns the served graphs.
func (v *Vault) Graphs() graph.Catalog { return v.catalog }

// Prometheus returns the metrics registry the Vault publishes through.
func (v *Vault) Prometheus() *monitoring.Prometheus { return v.prom }

// GraphIDs lists the served graphs.
func (v *Vault) GraphIDs() []string {
	ids, _ := v.catalog.GraphIDs(context.Background())
	return slices.Clone(ids)
}
