package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Operation statuses.
const (
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
)

// Errors from Operations.Start. Both answer 503.
var (
	ErrOperationsClosed error = &statusError{http.StatusServiceUnavailable, "operations: shutting down"}
	ErrTooManyRunning   error = &statusError{http.StatusServiceUnavailable, "operations: too many running"}
)

// OperationFunc is the work of an operation. ctx is cancelled when the registry
// closes; report records the latest progress (a JSON-encodable value) and may be
// called from any goroutine. The result is shown once the function returns nil.
type OperationFunc func(ctx context.Context, report func(progress any)) (result any, err error)

// OperationsOption configures Operations.
type OperationsOption func(*opsConfig)

type opsConfig struct {
	max      int
	ttl      time.Duration
	now      func() time.Time
	logger   *slog.Logger
	finished func(kind string, err error)
}

// WithMaxOperations bounds how many operations the registry holds, running or
// finished (default 1000). When it is full the oldest finished one is forgotten; if
// all are running, Start fails with ErrTooManyRunning.
func WithMaxOperations(n int) OperationsOption { return func(c *opsConfig) { c.max = n } }

// WithTTL sets how long a finished operation stays visible (default 1h).
func WithTTL(d time.Duration) OperationsOption { return func(c *opsConfig) { c.ttl = d } }

// WithClock sets the clock for timestamps and expiry (default time.Now).
func WithClock(now func() time.Time) OperationsOption { return func(c *opsConfig) { c.now = now } }

// WithOperationsLogger logs failed operations whose error is withheld from clients
// (5xx) through l. Nil means slog.Default().
func WithOperationsLogger(l *slog.Logger) OperationsOption {
	return func(c *opsConfig) { c.logger = l }
}

// WithFinished calls fn when an operation has finished, with its kind and its
// error (nil when it succeeded), after its result is visible to clients. A host
// uses it to refresh what the operation may have changed, such as health.
func WithFinished(fn func(kind string, err error)) OperationsOption {
	return func(c *opsConfig) { c.finished = fn }
}

// Operations is an in-memory registry of long-running work that requests answer
// with 202 Accepted and a Location to poll. Each operation runs in its own
// goroutine with a context detached from the request that started it and cancelled
// by Close. Finished operations are forgotten after the TTL, or earlier when the
// registry is full. It is safe for concurrent use; operations live in one process
// and do not survive it.
type Operations struct {
	cfg    opsConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	ops    map[string]*Operation
	order  []*Operation // by start, oldest first
}

// NewOperations returns an empty registry.
func NewOperations(opts ...OperationsOption) *Operations {
	c := opsConfig{max: 1000, ttl: time.Hour, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.max < 1 {
		c.max = 1000
	}
	if c.ttl <= 0 {
		c.ttl = time.Hour
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Operations{cfg: c, ctx: ctx, cancel: cancel, ops: map[string]*Operation{}}
}

// Operation is one piece of long-running work.
type Operation struct {
	id      string
	kind    string
	started time.Time
	done    chan struct{}

	mu       sync.Mutex
	progress any
	finished time.Time
	result   any
	err      error
	problem  *Problem
}

// OperationStatus is the JSON view of an operation.
type OperationStatus struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"` // running, succeeded or failed
	Progress   any       `json:"progress,omitempty"`
	Result     any       `json:"result,omitempty"`
	Error      *Problem  `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// ID returns the operation's id.
func (o *Operation) ID() string { return o.id }

// Done is closed when the operation has finished.
func (o *Operation) Done() <-chan struct{} { return o.done }

// Err returns the error the operation failed with, or nil (also while running).
func (o *Operation) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Status returns the operation's current state.
func (o *Operation) Status() OperationStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := OperationStatus{
		ID: o.id, Kind: o.kind, Status: OpRunning, Progress: o.progress,
		StartedAt: o.started, FinishedAt: o.finished,
	}
	switch {
	case o.finished.IsZero():
	case o.problem != nil:
		s.Status, s.Error = OpFailed, o.problem
	default:
		s.Status, s.Result = OpSucceeded, o.result
	}
	return s
}

// Start runs fn as a new operation of the given kind ("snapshot", "restore", ...).
// ctx gives only its values (the logger and error map a [Mux] puts there, so the
// operation's error answers as the request's would); fn's context is cancelled by
// Close, never by ctx. It fails with ErrOperationsClosed after Close and with ErrTooManyRunning when the
// registry is full of running operations. A panic in fn fails the operation.
func (ops *Operations) Start(ctx context.Context, kind string, fn OperationFunc) (*Operation, error) {
	ops.mu.Lock()
	defer ops.mu.Unlock()
	if ops.closed {
		return nil, ErrOperationsClosed
	}
	now := ops.cfg.now()
	ops.evictLocked(now)
	if len(ops.order) >= ops.cfg.max {
		return nil, ErrTooManyRunning
	}
	o := &Operation{id: rand.Text(), kind: kind, started: now.UTC(), done: make(chan struct{})}
	ops.ops[o.id] = o
	ops.order = append(ops.order, o)
	ops.wg.Add(1)
	errs, log := errorMapOf(ctx), ops.cfg.logger
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		log = l
	}
	go ops.run(o, fn, errs, log)
	return o, nil
}

func (ops *Operations) run(o *Operation, fn OperationFunc, errs ErrorMap, log *slog.Logger) {
	defer ops.wg.Done()
	defer close(o.done)
	var (
		result any
		err    error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("operation %s panicked: %v", o.kind, p)
			}
		}()
		ctx := WithErrorMap(WithLogger(ops.ctx, log), errs)
		result, err = fn(ctx, func(p any) {
			o.mu.Lock()
			o.progress = p
			o.mu.Unlock()
		})
	}()
	var prob *Problem
	if err != nil {
		p, withheld := ProblemOf(errs, err, "")
		if withheld {
			log.Error("operation failed", slog.String("operation", o.id),
				slog.String("kind", o.kind), slog.Any("error", err))
		}
		prob = &p
	}
	o.mu.Lock()
	o.finished = ops.cfg.now().UTC()
	o.result, o.err, o.problem = result, err, prob
	o.mu.Unlock()
	if ops.cfg.finished != nil {
		ops.cfg.finished(o.kind, err)
	}
}

// evictLocked forgets finished operations past the TTL, and if the registry is still
// full, the oldest finished one.
func (ops *Operations) evictLocked(now time.Time) {
	keep := ops.order[:0]
	for _, o := range ops.order {
		o.mu.Lock()
		fin := o.finished
		o.mu.Unlock()
		if !fin.IsZero() && now.Sub(fin) >= ops.cfg.ttl {
			delete(ops.ops, o.id)
			continue
		}
		keep = append(keep, o)
	}
	clear(ops.order[len(keep):])
	ops.order = keep
	if len(ops.order) < ops.cfg.max {
		return
	}
	for i, o := range ops.order {
		o.mu.Lock()
		fin := o.finished
		o.mu.Unlock()
		if !fin.IsZero() {
			delete(ops.ops, o.id)
			ops.order = slices.Delete(ops.order, i, i+1)
			return
		}
	}
}

// Get returns the operation with the id, if the registry still holds it.
func (ops *Operations) Get(id string) (*Operation, bool) {
	ops.mu.Lock()
	defer ops.mu.Unlock()
	ops.evictLocked(ops.cfg.now())
	o, ok := ops.ops[id]
	return o, ok
}

// ValidOperationID reports whether id has the shape of an operation id.
func ValidOperationID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// ServeHTTP answers GET .../{id} with the operation's OperationStatus: 200, 400 for
// a malformed id, 404 for an unknown or forgotten one. Mount it on a pattern with an
// {id} wildcard, such as "GET /operations/{id}".
func (ops *Operations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := PathID(r, "id", ValidOperationID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	o, ok := ops.Get(id)
	if !ok {
		WriteProblem(w, r, http.StatusNotFound, "no operation "+id)
		return
	}
	WriteJSON(w, http.StatusOK, o.Status())
}

// Close stops new operations (Start fails afterwards) and lets running ones finish
// until ctx ends; then it cancels their context and returns ctx's error without
// waiting further. Close may be called more than once.
func (ops *Operations) Close(ctx context.Context) error {
	ops.mu.Lock()
	ops.closed = true
	ops.mu.Unlock()
	done := make(chan struct{})
	go func() {
		ops.wg.Wait()
		close(done)
	}()
	defer ops.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Accepted answers a request that started o: 202 with o's status and a Location
// header pointing at GET {root}/operations/{id} under the handler's mount prefix.
func Accepted(w http.ResponseWriter, r *http.Request, o *Operation) {
	w.Header().Set("Location", Location(r, "/operations/"+o.ID()))
	WriteJSON(w, http.StatusAccepted, o.Status())
}
