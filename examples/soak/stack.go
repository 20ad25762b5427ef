package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/graphvault/graphvault/recovery/health"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/monitoring"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// graphID is the primary's graph id.
const graphID = "soak"

// token guards the mutating calls of the API, as examples/server's -token does.
const token = "soak-token"

// journalLimit is how many batches the primary's journal keeps; a follower further
// behind resyncs from a snapshot.
const journalLimit = 20000

// stack is what examples/server builds, on a memgraph primary, with a file
// replication target; built once, started, shut down and closed in reverse order.
type stack struct {
	log       *slog.Logger
	store     *meta.Store
	bucket    *blob.Bucket
	prom      *monitoring.Prometheus
	engine    *backup.Engine
	catalog   *graph.Registry
	primary   *memgraph.Graph
	ops       *api.Operations
	sched     *backup.Scheduler
	recovery  *recovery.Service
	health    *health.Runner
	collector *monitoring.Collector
	repl      *replication.Service
	targetDir string

	srv  *http.Server
	base string // http://127.0.0.1:PORT
	done chan error
}

func newStack(ctx context.Context, c config, dir string, log *slog.Logger) (_ *stack, err error) {
	s := &stack{log: log, catalog: &graph.Registry{}, targetDir: filepath.Join(dir, "target")}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.MkdirAll(s.targetDir, 0o755); err != nil {
		return nil, err
	}
	if s.prom, err = monitoring.NewPrometheus(); err != nil {
		return nil, err
	}
	mp := s.prom.MeterProvider
	if s.store, err = meta.Open(ctx, filepath.Join(dir, "graphvault.db"), meta.WithLogger(log), meta.WithMeterProvider(mp)); err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	drv, err := fileblob.Open(filepath.Join(dir, "bucket"))
	if err != nil {
		return nil, fmt.Errorf("open bucket: %w", err)
	}
	s.bucket = blob.NewBucket(drv, blob.WithMeterProvider(mp))
	var hook replication.Hook
	if s.engine, err = backup.New(s.store, s.bucket, backup.WithMeterProvider(mp), backup.WithLogger(log),
		backup.WithCommitHook(hook.OnCommit), backup.WithLiveCache()); err != nil {
		return nil, err
	}
	if _, err := s.engine.ResolveInterrupted(ctx, 0); err != nil {
		return nil, err
	}

	s.primary = memgraph.New(memgraph.WithJournalLimit(journalLimit))
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: c.nodes, Edges: 3 * c.nodes, Seed: 1, Labels: true})
	if err := gen.Replace(ctx, s.primary); err != nil {
		return nil, err
	}
	s.catalog.Register(graphID, s.primary)

	s.ops = api.NewOperations()
	s.sched = backup.NewScheduler(s.engine, s.catalog, backup.WithTick(min(time.Second, c.every/2)))
	if err := s.sched.Add(backup.Job{GraphID: graphID, Every: c.every}); err != nil {
		return nil, err
	}
	if s.recovery, err = recovery.New(s.engine, s.catalog, recovery.WithMeterProvider(mp), recovery.WithLogger(log)); err != nil {
		return nil, err
	}
	checks := []health.Checker{
		health.NewStoreCheck(s.store),
		health.NewBucketCheck("snapshots", s.bucket),
		health.NewSnapshotFreshnessCheck(s.engine, s.catalog, health.FreshnessPolicy{WarnAfter: 4 * c.every, FailAfter: 8 * c.every}),
		health.NewJournalCheck(s.store, s.catalog),
		health.NewSchedulerCheck(s.sched, health.SchedulePolicy{}),
		recovery.NewCheckpointCheck(s.recovery),
	}
	if s.health, err = health.New(s.store, checks, health.WithMeterProvider(mp),
		health.WithLogger(log), health.WithInterval(10*time.Second)); err != nil {
		return nil, err
	}
	if s.collector, err = monitoring.NewCollector(s.store, monitoring.WithMeterProvider(mp), monitoring.WithLogger(log),
		monitoring.WithInterval(10*time.Second)); err != nil {
		return nil, err
	}
	if s.repl, err = replication.New(s.engine, replication.WithMeterProvider(mp), replication.WithLogger(log),
		replication.WithCheckInterval(5*time.Second), replication.WithHook(&hook),
		replication.WithJournal(s.catalog)); err != nil {
		return nil, err
	}
	if _, err := s.repl.Register(ctx, replication.TargetSpec{
		Name: "follower", Kind: replication.KindFile, Config: map[string]string{"path": s.targetDir}, Verify: true,
	}); err != nil && !errors.Is(err, replication.ErrConflict) {
		return nil, fmt.Errorf("register the target: %w", err)
	}
	return s, nil
}

// routes mounts the handlers under /api as examples/server does, without its
// limit on mutating calls.
func (s *stack) routes() http.Handler {
	auth := api.BearerToken(api.Tokens{Write: token})
	mux := http.NewServeMux()
	mux.Handle("/api/backup/backup/", http.StripPrefix("/api/backup/backup",
		backup.NewHandler(s.engine, s.catalog, backup.WithOperations(s.ops), backup.WithAuthorizer(auth), backup.WithHandlerLogger(s.log))))
	mux.Handle("/api/monitoring/", http.StripPrefix("/api/monitoring",
		monitoring.NewHandler(s.store, monitoring.WithPrometheus(s.prom), monitoring.WithCollector(s.collector),
			monitoring.WithHealth(s.health), monitoring.WithAuthorizer(auth), monitoring.WithHandlerLogger(s.log))))
	mux.Handle("/api/backup/recovery/", http.StripPrefix("/api/backup/recovery",
		recovery.NewHandler(s.recovery, s.health, recovery.WithOperations(s.ops), recovery.WithAuthorizer(auth), recovery.WithHandlerLogger(s.log))))
	mux.Handle("/api/backup/replication/", http.StripPrefix("/api/backup/replication",
		replication.NewHandler(s.repl, replication.WithOperations(s.ops), replication.WithAuthorizer(auth), replication.WithHandlerLogger(s.log))))
	return mux
}

// start serves the API on a loopback port and starts the background work.
func (s *stack) start(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.base = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return errors.Join(s.sched.Start(ctx), s.health.Start(ctx), s.repl.Start(ctx), s.collector.Start(ctx))
}

// shutdown stops the server and the background work, letting running work end.
func (s *stack) shutdown(ctx context.Context) error {
	var errs []error
	if s.srv != nil {
		errs = append(errs, s.srv.Shutdown(ctx))
		if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, s.sched.Close(ctx), s.ops.Close(ctx), s.health.Close(ctx),
		s.collector.Close(ctx), s.repl.Close(ctx))...)
}

// close releases resources; safe on a partly built stack.
func (s *stack) close() {
	if s.prom != nil {
		s.prom.Shutdown(context.Background())
	}
	if s.bucket != nil {
		s.bucket.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

// countingHandler passes records on and counts those at error level, keeping the
// first few messages.
type countingHandler struct {
	slog.Handler
	c *logCount
}

type logCount struct {
	n       atomic.Int64
	mu      sync.Mutex
	samples []string
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.c.n.Add(1)
		h.c.mu.Lock()
		if len(h.c.samples) < 5 {
			msg := r.Message
			r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
			h.c.samples = append(h.c.samples, msg)
		}
		h.c.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(as), h.c}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(name), h.c}
}
