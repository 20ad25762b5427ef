package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/graphvault/graphvault/internal/loop"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// Job is a periodic snapshot of one graph.
type Job struct {
	GraphID   string        `json:"graph_id"`
	Every     time.Duration `json:"every"`
	Kind      Kind          `json:"kind,omitempty"`
	Retention Retention     `json:"retention"` // applied after each run; zero keeps all
}

// JobStatus is what a scheduler knows of one job.
type JobStatus struct {
	Job
	Runs         int       `json:"runs"`
	Failures     int       `json:"failures"`
	LastRun      time.Time `json:"last_run,omitzero"`
	LastSnapshot string    `json:"last_snapshot,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	NextRun      time.Time `json:"next_run"`
}

// Scheduler takes periodic snapshots. Time is cut into slots of each job's period;
// a slot is due when no snapshot of the graph started inside it. Several schedulers
// sharing one store (several instances of a host on one PostgreSQL database) take
// each slot exactly once: a scheduler runs a job only while it holds the graph's
// store lease, and checks the slot again after taking it.
type Scheduler struct {
	e      *Engine
	graphs graph.Catalog
	holder string
	ttl    time.Duration
	tick   time.Duration

	mu   sync.Mutex
	jobs map[string]*JobStatus

	loop *loop.Loop
}

// SchedulerOption configures a Scheduler.
type SchedulerOption func(*Scheduler)

// WithHolder names this scheduler in leases. Default: host name and process id.
func WithHolder(name string) SchedulerOption { return func(s *Scheduler) { s.holder = name } }

// WithLeaseTTL sets how long a job's store lease holds without renewal: a
// running job renews it every third of that, so another scheduler takes the
// job over no later than this after the holder died. Default 5m; it must be
// positive.
func WithLeaseTTL(d time.Duration) SchedulerOption {
	return func(s *Scheduler) {
		if d > 0 {
			s.ttl = d
		}
	}
}

// WithTick sets how often jobs are checked. Default 1s.
func WithTick(d time.Duration) SchedulerOption { return func(s *Scheduler) { s.tick = d } }

// NewScheduler returns a scheduler taking snapshots with e of graphs from the catalog.
func NewScheduler(e *Engine, graphs graph.Catalog, opts ...SchedulerOption) *Scheduler {
	host, _ := os.Hostname()
	s := &Scheduler{
		e: e, graphs: graphs, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), meta.NewID()),
		ttl: 5 * time.Minute, tick: time.Second, jobs: map[string]*JobStatus{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.tick <= 0 {
		s.tick = time.Second
	}
	s.loop = loop.New(func(ctx context.Context) {
		if _, err := s.RunDue(ctx); err != nil {
			s.e.log.WarnContext(ctx, "scheduler", "err", err)
		}
	}, loop.Options{Interval: s.tick})
	return s
}

// Add schedules a job, replacing any job of the same graph.
func (s *Scheduler) Add(j Job) error {
	if !ValidGraphID(j.GraphID) {
		return fmt.Errorf("%w: graph id %q", ErrInvalid, j.GraphID)
	}
	if j.Every < 10*time.Millisecond {
		return fmt.Errorf("%w: job period %v is too short", ErrInvalid, j.Every)
	}
	if err := j.Retention.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[j.GraphID] = &JobStatus{Job: j, NextRun: slotStart(time.Now(), j.Every)}
	return nil
}

// Remove unschedules the graph's job.
func (s *Scheduler) Remove(graphID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, graphID)
}

// Status lists the jobs, sorted by graph id.
func (s *Scheduler) Status() []JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobStatus, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, *j)
	}
	slices.SortFunc(out, func(a, b JobStatus) int { return compareStrings(a.GraphID, b.GraphID) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func slotStart(t time.Time, every time.Duration) time.Time { return t.Truncate(every) }

// Start runs due jobs every tick in a goroutine until Close or until ctx ends.
// A job already running when either happens is allowed to finish. Starting twice,
// or after Close, is ErrBusy.
func (s *Scheduler) Start(ctx context.Context) error {
	if err := s.loop.Start(ctx); err != nil {
		return fmt.Errorf("%w: scheduler already started or closed", ErrBusy)
	}
	return nil
}

// Close stops the scheduler and waits for a running job to finish; if ctx ends
// first, the job is cancelled (its snapshot is marked failed) and Close returns
// ctx's error. It is safe to call twice.
func (s *Scheduler) Close(ctx context.Context) error { return s.loop.Close(ctx) }

// RunDue runs every job whose slot has no snapshot yet and returns how many
// snapshots it took.
func (s *Scheduler) RunDue(ctx context.Context) (int, error) {
	now := time.Now()
	var due []Job
	s.mu.Lock()
	for _, j := range s.jobs {
		if !now.Before(j.NextRun) {
			due = append(due, j.Job)
		}
	}
	s.mu.Unlock()
	taken := 0
	var errs []error
	for _, j := range due {
		ran, err := s.run(ctx, j, now)
		if ran {
			taken++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("graph %s: %w", j.GraphID, err))
		}
	}
	return taken, errors.Join(errs...)
}

// run takes the job's snapshot for the slot of now, if no one has.
func (s *Scheduler) run(ctx context.Context, j Job, now time.Time) (bool, error) {
	slot := slotStart(now, j.Every)
	s.setNext(j.GraphID, slot.Add(j.Every))
	lease := "graphvault.schedule." + j.GraphID
	ok, err := s.e.store.AcquireLease(ctx, lease, s.holder, s.ttl)
	if err != nil || !ok {
		return false, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.e.store.ReleaseLease(rctx, lease, s.holder); err != nil {
			s.e.log.WarnContext(ctx, "release schedule lease", "graph", j.GraphID, "err", err)
		}
	}()
	defer s.keepLease(ctx, lease)()
	// Another scheduler may have taken this slot before we got the lease.
	taken, _, err := s.e.store.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: j.GraphID, Since: slot, Limit: 1})
	if err != nil {
		return false, err
	}
	if len(taken) > 0 {
		return false, nil
	}
	g, err := s.graphs.Graph(ctx, j.GraphID)
	if err != nil {
		s.record(j.GraphID, nil, err)
		return false, err
	}
	row, err := s.e.Snapshot(ctx, j.GraphID, g, SnapshotOptions{Kind: j.Kind, Labels: map[string]string{"scheduled": "true"}})
	if err == nil && !j.Retention.IsZero() {
		if _, perr := s.e.Prune(ctx, j.GraphID, j.Retention, false); perr != nil {
			err = fmt.Errorf("prune: %w", perr)
		}
	}
	s.record(j.GraphID, row, err)
	return row != nil && row.Status == meta.SnapshotCompleted, err
}

// keepLease renews the lease every third of its time to live until the returned
// function is called, so that a job longer than the lease keeps it.
func (s *Scheduler) keepLease(ctx context.Context, lease string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if ok, err := s.e.store.AcquireLease(ctx, lease, s.holder, s.ttl); err != nil && ctx.Err() == nil {
				s.e.log.WarnContext(ctx, "renew schedule lease", "lease", lease, "err", err)
			} else if err == nil && !ok {
				s.e.log.WarnContext(ctx, "schedule lease taken over while its job runs", "lease", lease)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Scheduler) setNext(graphID string, next time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[graphID]; ok {
		j.NextRun = next
	}
}

func (s *Scheduler) record(graphID string, row *meta.Snapshot, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[graphID]
	if !ok {
		return
	}
	j.Runs++
	j.LastRun = time.Now().UTC()
	j.LastError = ""
	if row != nil {
		j.LastSnapshot = row.ID
	}
	if err != nil {
		j.Failures++
		j.LastError = err.Error()
	}
}
