package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/graphvault/graphvault/recovery/health"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/monitoring"
	"github.com/graphvault/graphvault/monitoring/dashboard"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// demoGraph is the id of the LightRAG-shaped graph served by -demo.
const demoGraph = "graph1"

// app is everything the server runs, built once and closed in reverse order.
type app struct {
	opts      options
	log       *slog.Logger
	store     *meta.Store
	bucket    *blob.Bucket
	prom      *monitoring.Prometheus
	engine    *backup.Engine
	catalog   *graph.Registry
	memGraphs []string // graphs held in memory, restored from snapshots at start
	ops       *api.Operations
	sched     *backup.Scheduler
	health    *health.Runner
	recovery  *recovery.Service
	collector *monitoring.Collector
	repl      *replication.Service
	handler   http.Handler
}

func newApp(ctx context.Context, o options, log *slog.Logger) (_ *app, err error) {
	a := &app{opts: o, log: log, catalog: &graph.Registry{}}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		return nil, err
	}
	if a.prom, err = monitoring.NewPrometheus(); err != nil {
		return nil, err
	}
	mp := a.prom.MeterProvider
	if a.store, err = meta.Open(ctx, filepath.Join(o.data, "graphvault.db"), meta.WithLogger(log), meta.WithMeterProvider(mp)); err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	drv, err := fileblob.Open(filepath.Join(o.data, "bucket"))
	if err != nil {
		return nil, fmt.Errorf("open bucket: %w", err)
	}
	a.bucket = blob.NewBucket(drv, blob.WithMeterProvider(mp))
	// Every committed snapshot is pushed to the replication targets at once; the
	// hook is bound to the replication service once it exists.
	var replHook replication.Hook
	// The graphs are in memory already; the live cache adds 24 bytes a record so
	// that a snapshot after a node deletion, which the journal cannot describe,
	// does not read its parent's chain back from the bucket.
	if a.engine, err = backup.New(a.store, a.bucket, backup.WithMeterProvider(mp), backup.WithLogger(log),
		backup.WithCommitHook(replHook.OnCommit), backup.WithLiveCache()); err != nil {
		return nil, err
	}
	if n, err := a.engine.ResolveInterrupted(ctx, 0); err != nil {
		return nil, fmt.Errorf("settle interrupted snapshots: %w", err)
	} else if n > 0 {
		log.Info("settled snapshots interrupted by the last stop", "count", n)
	}
	if err := a.loadGraphs(ctx); err != nil {
		return nil, err
	}

	a.ops = api.NewOperations()
	a.sched = backup.NewScheduler(a.engine, a.catalog)
	ids, _ := a.catalog.GraphIDs(ctx)
	if o.every > 0 {
		for _, id := range ids {
			if err := a.sched.Add(backup.Job{GraphID: id, Every: o.every, Retention: backup.Retention{KeepLast: o.keep}}); err != nil {
				return nil, err
			}
		}
	}
	if a.recovery, err = recovery.New(a.engine, a.catalog, recovery.WithMeterProvider(mp), recovery.WithLogger(log)); err != nil {
		return nil, err
	}
	checks := []health.Checker{
		health.NewStoreCheck(a.store),
		health.NewBucketCheck("snapshots", a.bucket),
		health.NewSnapshotFreshnessCheck(a.engine, a.catalog, freshness(o.every)),
		health.NewJournalCheck(a.store, a.catalog),
	}
	if o.every > 0 {
		checks = append(checks, health.NewSchedulerCheck(a.sched, health.SchedulePolicy{}))
	}
	checks = append(checks, recovery.NewCheckpointCheck(a.recovery))
	if a.health, err = health.New(a.store, checks, health.WithMeterProvider(mp),
		health.WithLogger(log), health.WithInterval(time.Minute)); err != nil {
		return nil, err
	}
	if a.collector, err = monitoring.NewCollector(a.store, monitoring.WithMeterProvider(mp), monitoring.WithLogger(log)); err != nil {
		return nil, err
	}
	// Automatic replication: the service's loop pushes each graph's newest snapshot
	// to every enabled target that lacks it, and checks the targets' health; the
	// journals of the graphs that keep one are shipped to the targets every second.
	if a.repl, err = replication.New(a.engine, replication.WithMeterProvider(mp), replication.WithLogger(log),
		replication.WithCheckInterval(10*time.Second), replication.WithHook(&replHook),
		replication.WithJournal(a.catalog)); err != nil {
		return nil, err
	}
	a.handler = a.routes()
	return a, nil
}

// freshness says how old a graph's newest snapshot may be: two periods warn, four fail.
func freshness(every time.Duration) health.FreshnessPolicy {
	if every <= 0 {
		return health.FreshnessPolicy{}
	}
	return health.FreshnessPolicy{WarnAfter: 2 * every, FailAfter: 4 * every}
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// graphIDFor names a GraphML file's graph after the file.
func graphIDFor(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	id := strings.Trim(unsafeID.ReplaceAllString(base, "_"), "._-")
	if len(id) > 128 {
		id = id[:128]
	}
	return id
}

// loadGraphs registers the graphs to serve: GraphML files as they are, the demo
// graph when asked or when the store is empty, and every graph the store has
// snapshots of, restored into memory from its newest snapshot.
func (a *app) loadGraphs(ctx context.Context) error {
	for _, p := range a.opts.graphml {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("-graphml: %w", err)
		}
		id := graphIDFor(abs)
		if !backup.ValidGraphID(id) {
			return fmt.Errorf("-graphml %s: cannot make a graph id from the file name", p)
		}
		a.catalog.Register(id, graphml.NewFile(abs))
	}
	known, err := a.store.GraphIDs(ctx)
	if err != nil {
		return err
	}
	demo := a.opts.demo == "true" || (a.opts.demo == "" && len(known) == 0 && len(a.opts.graphml) == 0)
	registered, _ := a.catalog.GraphIDs(ctx)
	for _, id := range known {
		if contains(registered, id) {
			continue
		}
		g := memgraph.New()
		row, err := a.store.LatestSnapshot(ctx, id, meta.SnapshotCompleted)
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := a.engine.Restore(ctx, row.ID, g, backup.RestoreOptions{}); err != nil {
			a.log.Warn("cannot restore graph at start; serving it empty", "graph", id, "snapshot", row.ID, "err", err)
		} else {
			a.log.Info("restored graph from its newest snapshot", "graph", id, "snapshot", row.ID)
		}
		a.catalog.Register(id, g)
		a.memGraphs = append(a.memGraphs, id)
	}
	registered, _ = a.catalog.GraphIDs(ctx)
	if demo && !contains(registered, demoGraph) {
		g := memgraph.New()
		gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 2000, Edges: 6000, Seed: 1})
		if err := gen.Replace(ctx, g); err != nil {
			return err
		}
		a.catalog.Register(demoGraph, g)
		a.memGraphs = append(a.memGraphs, demoGraph)
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// routes mounts every handler under /api.
func (a *app) routes() http.Handler {
	var auth api.Authorizer
	if a.opts.token != "" {
		auth = api.BearerToken(api.Tokens{Write: a.opts.token})
	}
	mux := http.NewServeMux()
	backupH := backup.NewHandler(a.engine, a.catalog, backup.WithOperations(a.ops),
		backup.WithAuthorizer(auth), backup.WithHandlerLogger(a.log))
	mux.Handle("/api/backup/backup/", http.StripPrefix("/api/backup/backup", backupH))
	monH := monitoring.NewHandler(a.store, monitoring.WithPrometheus(a.prom), monitoring.WithCollector(a.collector),
		monitoring.WithHealth(a.health), monitoring.WithAuthorizer(auth), monitoring.WithHandlerLogger(a.log),
		monitoring.WithDashboard(dashboard.Handler()))
	mux.Handle("/api/monitoring/", http.StripPrefix("/api/monitoring", monH))
	recH := recovery.NewHandler(a.recovery, a.health, recovery.WithOperations(a.ops),
		recovery.WithAuthorizer(auth), recovery.WithHandlerLogger(a.log))
	mux.Handle("/api/backup/recovery/", http.StripPrefix("/api/backup/recovery", recH))
	replH := replication.NewHandler(a.repl, replication.WithOperations(a.ops),
		replication.WithAuthorizer(auth), replication.WithHandlerLogger(a.log))
	mux.Handle("/api/backup/replication/", http.StripPrefix("/api/backup/replication", replH))
	if a.opts.token != "" {
		// Another server's http target stores snapshot objects here, under the same token.
		recv := replication.NewReceiver(a.bucket, a.opts.token, replication.WithReceiverLogger(a.log))
		mux.Handle("/api/backup/replication/receive/", http.StripPrefix("/api/backup/replication/receive", recv))
	}
	mux.HandleFunc("GET /api/openapi.yaml", serveOpenAPI)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/monitoring/dashboard", http.StatusFound)
	})
	return newMutationLimiter(a.opts.rate, max(1, int(2*a.opts.rate))).wrap(mux)
}

func (a *app) printWhere(w io.Writer, addr net.Addr) {
	host := addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		host = fmt.Sprintf("localhost:%d", tcp.Port)
	}
	ids, _ := a.catalog.GraphIDs(context.Background())
	fmt.Fprintf(w, "graphvault listening on http://%s\n", host)
	fmt.Fprintf(w, "  data:        %s (metadata graphvault.db, snapshots bucket/)\n", a.opts.data)
	fmt.Fprintf(w, "  graphs:      %s\n", strings.Join(ids, ", "))
	fmt.Fprintf(w, "  snapshots:   http://%s/api/backup/backup/graphs/{id}/snapshots\n", host)
	fmt.Fprintf(w, "  metrics:     http://%s/api/monitoring/metrics/prometheus\n", host)
	fmt.Fprintf(w, "  health:      http://%s/api/monitoring/health\n", host)
	fmt.Fprintf(w, "  dashboard:   http://%s/api/monitoring/dashboard\n", host)
	if a.opts.every > 0 {
		fmt.Fprintf(w, "  schedule:    a snapshot of each graph every %v, keeping %d\n", a.opts.every, a.opts.keep)
	} else {
		fmt.Fprintln(w, "  schedule:    off")
	}
	if a.opts.token != "" {
		fmt.Fprintln(w, "  auth:        a bearer token is required for every POST, PUT, PATCH and DELETE")
	} else {
		fmt.Fprintln(w, "  auth:        none (set -token or GRAPHVAULT_TOKEN to require a bearer token)")
	}
}

// start launches the background work: schedule, health checks, metric samples.
func (a *app) start(ctx context.Context) error {
	if err := a.sched.Start(ctx); err != nil {
		return err
	}
	if err := a.health.Start(ctx); err != nil {
		return err
	}
	if err := a.repl.Start(ctx); err != nil {
		return err
	}
	return a.collector.Start(ctx)
}

// shutdown stops background work, letting running operations finish until ctx ends;
// whatever is still running then is cancelled and its snapshot marked failed.
func (a *app) shutdown(ctx context.Context) error {
	return errors.Join(
		a.sched.Close(ctx),
		a.ops.Close(ctx),
		a.health.Close(ctx),
		a.collector.Close(ctx),
		a.repl.Close(ctx),
	)
}

// close releases resources; safe on a partly built app.
func (a *app) close() {
	if a.prom != nil {
		a.prom.Shutdown(context.Background())
	}
	if a.bucket != nil {
		a.bucket.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
}
