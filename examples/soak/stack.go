package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
)

// graphID is the primary's graph id.
const graphID = "soak"

// token guards the mutating calls of the API, as examples/server's -token does.
const token = "soak-token"

// journalLimit is how many batches the primary's journal keeps; a follower further
// behind resyncs from a snapshot.
const journalLimit = 20000

// The intervals of the Vault's background work during a soak: shorter than a
// server's, so that a run of minutes sees many of each.
const (
	healthInterval      = 10 * time.Second
	sampleInterval      = 10 * time.Second
	replicationInterval = 5 * time.Second
)

// scheduleLease is the store lease the Vault's scheduler takes for each run of the
// primary's job (see backup.Scheduler): while the soak holds it, the schedule takes
// no snapshot, which is how several instances on one store share a schedule.
const scheduleLease = "graphvault.schedule." + graphID

// stack is what examples/server runs — a graphvault.Vault — serving a memgraph
// primary, with a file replication target, behind an HTTP server on loopback.
type stack struct {
	log       *slog.Logger
	v         *graphvault.Vault
	primary   *memgraph.Graph
	targetDir string

	srv  *http.Server
	base string // http://127.0.0.1:PORT
	done chan error

	holder string // the soak's name in the schedule lease, once it holds it
}

// newStack opens the Vault on dir with the primary as its only graph and registers
// the file target; nothing runs in the background yet.
func newStack(ctx context.Context, c config, dir string, log *slog.Logger) (_ *stack, err error) {
	s := &stack{log: log, targetDir: filepath.Join(dir, "targets", "follower")} // under the default target root
	if err := os.MkdirAll(s.targetDir, 0o755); err != nil {
		return nil, err
	}
	s.primary = memgraph.New(memgraph.WithJournalLimit(journalLimit))
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: c.nodes, Edges: 3 * c.nodes, Seed: 1, Labels: true})
	if err := gen.Replace(ctx, s.primary); err != nil {
		return nil, err
	}
	s.v, err = graphvault.Open(ctx, graphvault.Config{
		Data:                dir,
		Graphs:              map[string]graph.Graph{graphID: s.primary},
		Every:               c.every,
		Token:               token,
		Logger:              log,
		HealthInterval:      healthInterval,
		SampleInterval:      sampleInterval,
		ReplicationInterval: replicationInterval,
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.v.Replication().Register(ctx, replication.TargetSpec{
		Name: "follower", Kind: replication.KindFile, Config: map[string]string{"path": s.targetDir}, Verify: true,
	}); err != nil && !errors.Is(err, replication.ErrConflict) {
		return nil, errors.Join(fmt.Errorf("register the target: %w", err), s.v.Close(context.Background()))
	}
	return s, nil
}

// start serves the Vault's handler on a loopback port and starts the background work.
func (s *stack) start(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.base = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.v.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return s.v.Start(ctx)
}

// holdSchedule stops the schedule while the Vault keeps running: it takes the
// lease the scheduler runs the primary's job under, waiting for a run in progress
// to end, and keeps it until shutdown.
func (s *stack) holdSchedule(ctx context.Context) error {
	s.holder = fmt.Sprintf("soak checks %d", os.Getpid())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := s.v.Store().AcquireLease(ctx, scheduleLease, s.holder, time.Hour)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("the scheduler kept its lease for 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// schedule returns what the Vault's scheduler knows of the primary's job, read
// through the scheduler's health check (the Vault does not expose the scheduler).
func (s *stack) schedule(ctx context.Context) (health.JobHealth, error) {
	for _, ch := range s.v.Health().Checkers() {
		sc, ok := ch.(*health.SchedulerCheck)
		if !ok {
			continue
		}
		jobs, _ := sc.Check(ctx).Details["jobs"].(map[string]health.JobHealth)
		if j, ok := jobs[graphID]; ok {
			return j, nil
		}
		return health.JobHealth{}, fmt.Errorf("the scheduler has no job for graph %s", graphID)
	}
	return health.JobHealth{}, errors.New("the Vault has no scheduler check")
}

// scheduledRuns is the number of scheduled runs so far, 0 if unknown.
func (s *stack) scheduledRuns(ctx context.Context) int {
	j, _ := s.schedule(ctx)
	return j.Runs
}

// waitReplicated waits until every target has the primary's newest snapshot, so
// that no push is cut short by the shutdown.
func (s *stack) waitReplicated(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		sts, err := s.v.Replication().Status(ctx)
		if err != nil {
			return err
		}
		behind := ""
		for _, st := range sts {
			if st.GraphID == graphID && st.Enabled && !st.UpToDate {
				behind = fmt.Sprintf("target %s has %q, the newest is %q (last error %q)",
					st.TargetName, st.LastSnapshotID, st.NewestSnapshotID, st.LastError)
			}
		}
		if behind == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(behind)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shutdown stops the server, gives the schedule back and closes the Vault, letting
// running work end until ctx does.
func (s *stack) shutdown(ctx context.Context) error {
	var errs []error
	if s.srv != nil {
		errs = append(errs, s.srv.Shutdown(ctx))
		if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		s.srv = nil
	}
	if s.holder != "" {
		errs = append(errs, s.v.Store().ReleaseLease(ctx, scheduleLease, s.holder))
		s.holder = ""
	}
	return errors.Join(append(errs, s.v.Close(ctx))...)
}

// close releases what is left after an early return; Vault.Close is safe to
// call twice.
func (s *stack) close() {
	s.shutdown(context.Background()) //nolint:errcheck // a run that got here reports its own error
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
