package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/internal/loop"
	"github.com/graphvault/graphvault/store/meta"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrInvalid: an argument or option was rejected.
	ErrInvalid = errors.New("health: invalid argument")
	// ErrBusy: the runner is already started.
	ErrBusy = errors.New("health: busy")
)

const meterName = "github.com/graphvault/graphvault/recovery/health"

// recordTimeout bounds writing a run's health events, at least.
const recordTimeout = 10 * time.Second

// triggerDelay is how long the loop of [Runner.Start] waits after a trigger before
// it runs the checks, so that a burst of triggers (a checkpoint of several graphs,
// a restore) makes one run. It keeps a triggered run within about 100 ms.
const triggerDelay = 50 * time.Millisecond

// Status is the outcome of a health check, and the overall status of a report.
type Status string

// The statuses, from best to worst. They are the values meta.HealthEvent keeps.
const (
	Pass Status = meta.HealthPass
	Warn Status = meta.HealthWarn
	Fail Status = meta.HealthFail
)

// rank orders statuses from best (0) to worst.
func (s Status) rank() int {
	switch s {
	case Pass:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// Value is the status as a number for gauges: 1 pass, 0.5 warn, 0 fail.
func (s Status) Value() float64 {
	switch s {
	case Pass:
		return 1
	case Warn:
		return 0.5
	}
	return 0
}

// Worse returns the worse of s and o.
func (s Status) Worse(o Status) Status {
	if o.rank() > s.rank() {
		return o
	}
	return s
}

// Result is what one check found.
type Result struct {
	Status   Status         `json:"status"`
	Message  string         `json:"message,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	Duration time.Duration  `json:"duration_ns"` // filled in by Runner
}

// Checker is one health check of one component. Component names what is checked
// ("store", "bucket", "backup"), Name the check ("database", "data", "snapshots");
// together they are unique among the checkers of one [Runner].
//
// Check must honour ctx: Runner cancels it at the check's timeout and reports the
// check as failed then, whether it returned or not. Check is called from its own
// goroutine and may run concurrently with other checkers and, when a slow run
// overlaps the next, with itself.
type Checker interface {
	Name() string
	Component() string
	Check(ctx context.Context) Result
}

// CheckResult is the result of one checker in a report.
type CheckResult struct {
	Component string    `json:"component"`
	Check     string    `json:"check"`
	Time      time.Time `json:"time"`
	Result
}

// Key returns "component:check", the key of the check in a health answer.
func (c CheckResult) Key() string { return c.Component + ":" + c.Check }

// Report is the outcome of one run of every check.
type Report struct {
	Status   Status        `json:"status"`            // the worst of the checks; pass without checks
	Reasons  []string      `json:"reasons,omitempty"` // "component:check: message" of every check not passing
	Checks   []CheckResult `json:"checks"`            // sorted by component then check
	Time     time.Time     `json:"time"`              // when the run started
	Duration time.Duration `json:"duration_ns"`
}

// Option configures a [Runner].
type Option func(*healthConfig)

type healthConfig struct {
	timeout  time.Duration
	interval time.Duration
	mp       metric.MeterProvider
	logger   *slog.Logger
	now      func() time.Time
}

// WithCheckTimeout bounds each check; default 5s.
func WithCheckTimeout(d time.Duration) Option {
	return func(c *healthConfig) { c.timeout = d }
}

// WithInterval sets how long after a run [Runner.Start] runs the checks again
// when nothing triggers them sooner; default 30s.
func WithInterval(d time.Duration) Option {
	return func(c *healthConfig) { c.interval = d }
}

// WithMeterProvider records metrics through mp; nil means
// otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *healthConfig) { c.mp = mp }
}

// WithLogger logs through l; nil means slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *healthConfig) { c.logger = l }
}

// WithClock sets the clock that stamps results; nil means time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *healthConfig) { c.now = now }
}

// Runner runs health checks, records their results and keeps the last report: on
// demand with [Runner.Run], and between [Runner.Start] and [Runner.Close] after
// every [Runner.Trigger] and on an interval. It is safe for concurrent use.
type Runner struct {
	st       *meta.Store
	checkers []Checker
	cfg      healthConfig
	log      *slog.Logger

	status   metric.Float64Gauge
	checks   metric.Int64Counter
	duration metric.Float64Histogram

	mu   sync.Mutex
	last *Report

	loop *loop.Loop // the runs of Start, Trigger and Close
}

// New returns a runner of the checkers that records results in st.
func New(st *meta.Store, checkers []Checker, opts ...Option) (*Runner, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalid)
	}
	c := healthConfig{timeout: 5 * time.Second, interval: 30 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	if c.timeout <= 0 || c.interval <= 0 {
		return nil, fmt.Errorf("%w: check timeout and interval must be positive", ErrInvalid)
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
	seen := map[string]bool{}
	for i, ch := range checkers {
		if ch == nil {
			return nil, fmt.Errorf("%w: checker %d is nil", ErrInvalid, i)
		}
		if ch.Component() == "" || ch.Name() == "" {
			return nil, fmt.Errorf("%w: checker %d needs a component and a name", ErrInvalid, i)
		}
		key := ch.Component() + ":" + ch.Name()
		if seen[key] {
			return nil, fmt.Errorf("%w: two checkers named %s", ErrInvalid, key)
		}
		seen[key] = true
	}
	h := &Runner{st: st, checkers: append([]Checker(nil), checkers...), cfg: c, log: c.logger}
	h.loop = loop.New(func(ctx context.Context) { h.Run(ctx) },
		loop.Options{Interval: c.interval, FromEnd: true, Settle: triggerDelay})
	meter := c.mp.Meter(meterName)
	var err error
	if h.status, err = meter.Float64Gauge("graphvault.health.status",
		metric.WithDescription("Status of each health check: 1 pass, 0.5 warn, 0 fail.")); err != nil {
		return nil, err
	}
	if h.checks, err = meter.Int64Counter("graphvault.health.checks",
		metric.WithUnit("{check}"),
		metric.WithDescription("Health checks run, by component, check and result.")); err != nil {
		return nil, err
	}
	if h.duration, err = meter.Float64Histogram("graphvault.health.check.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time each health check took."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)); err != nil {
		return nil, err
	}
	// Every check's counter is listed at zero, for each result, before its first run.
	for _, ch := range h.checkers {
		for _, s := range []Status{Pass, Warn, Fail} {
			h.checks.Add(context.Background(), 0, metric.WithAttributes(attribute.String("component", ch.Component()),
				attribute.String("check", ch.Name()), attribute.String("result", string(s))))
		}
	}
	return h, nil
}

// Checkers returns the checkers in the order given.
func (h *Runner) Checkers() []Checker { return append([]Checker(nil), h.checkers...) }

// Last returns the newest report and true, or false when no run has finished yet.
func (h *Runner) Last() (Report, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		return Report{}, false
	}
	return *h.last, true
}

// Run runs every check now, concurrently, each under the check timeout, records
// each result as a health event and returns the report. It returns once every check
// has returned or timed out, and at the latest when ctx ends (the checks still
// running are then reported as failed).
func (h *Runner) Run(ctx context.Context) Report {
	start := h.cfg.now()
	results := make([]CheckResult, len(h.checkers))
	var wg sync.WaitGroup
	for i, ch := range h.checkers {
		wg.Go(func() { results[i] = h.runOne(ctx, ch) })
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Key() < results[j].Key() })

	rep := Report{Status: Pass, Checks: results, Time: start}
	for _, r := range results {
		rep.Status = rep.Status.Worse(r.Status)
		if r.Status != Pass {
			rep.Reasons = append(rep.Reasons, r.Key()+": "+r.Message)
		}
	}
	rep.Duration = h.cfg.now().Sub(start)
	h.record(ctx, results)

	h.mu.Lock()
	if h.last == nil || !rep.Time.Before(h.last.Time) {
		h.last = &rep
	}
	h.mu.Unlock()
	return rep
}

// runOne runs one check in its own goroutine so that a check ignoring its context
// cannot hold the run: at the timeout the result is "timed out" and the goroutine
// is left to finish on its own.
func (h *Runner) runOne(ctx context.Context, ch Checker) CheckResult {
	cr := CheckResult{Component: ch.Component(), Check: ch.Name(), Time: h.cfg.now().UTC()}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.timeout)
	defer cancel()
	began := time.Now()
	out := make(chan Result, 1) // buffered: a late check never blocks
	go func() {
		defer func() {
			if p := recover(); p != nil {
				out <- Result{Status: Fail, Message: fmt.Sprintf("check panicked: %v", p)}
			}
		}()
		out <- ch.Check(cctx)
	}()
	var r Result
	var ok bool
	select {
	case r = <-out:
		ok = true
	case <-cctx.Done():
		// A result that arrived with the deadline still counts.
		select {
		case r = <-out:
			ok = true
		default:
		}
	}
	switch {
	case !ok:
		msg := "timed out"
		if ctx.Err() != nil {
			msg = "cancelled: " + ctx.Err().Error()
		}
		cr.Result = Result{Status: Fail, Message: msg, Details: map[string]any{"timeout_seconds": h.cfg.timeout.Seconds()}}
	case r.Status != Pass && r.Status != Warn && r.Status != Fail:
		cr.Result = Result{Status: Fail, Message: fmt.Sprintf("check returned unknown status %q: %s", r.Status, r.Message), Details: r.Details}
	default:
		cr.Result = r
	}
	cr.Duration = time.Since(began)
	return cr
}

// record writes the results as health events and metrics. The events are written
// even when ctx has ended, under a bounded context of their own.
func (h *Runner) record(ctx context.Context, results []CheckResult) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(h.cfg.timeout, recordTimeout))
	defer cancel()
	var errs []error
	for _, r := range results {
		attrs := []attribute.KeyValue{attribute.String("component", r.Component), attribute.String("check", r.Check)}
		h.status.Record(rctx, r.Status.Value(), metric.WithAttributes(attrs...))
		h.duration.Record(rctx, r.Duration.Seconds(), metric.WithAttributes(attrs...))
		h.checks.Add(rctx, 1, metric.WithAttributes(append(attrs, attribute.String("result", string(r.Status)))...))

		details := make(map[string]any, len(r.Details)+1)
		for k, v := range r.Details {
			details[k] = v
		}
		details["duration_seconds"] = r.Duration.Seconds()
		ev := &meta.HealthEvent{
			Component: r.Component, Check: r.Check, Status: string(r.Status),
			Message: r.Message, Details: details, CreatedAt: r.Time,
		}
		if err := h.st.AddHealthEvent(rctx, ev); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		h.log.WarnContext(ctx, "health: recording health events", "err", err)
	}
}

// Trigger asks the loop of [Runner.Start] to run every check again within about
// 100 ms (or, when a run is in progress, as soon as it ends), because something the
// checks look at has changed: a snapshot finished, a checkpoint was made. It never
// blocks and may be called from any goroutine. Triggers coalesce: those that arrive
// before a run starts make that one run, and those during a run one more after it,
// so that a run always starts after the newest trigger. Before Start and after
// Close it does nothing; the interval stays the fallback.
func (h *Runner) Trigger() { h.loop.Kick() }

// Start runs the checks now, then again soon after each [Runner.Trigger] and at
// the latest an interval after the previous run, in a goroutine, until Close or
// until ctx ends. Checks run under a context that ctx's end does not cancel: a run
// in progress finishes first, unless Close gives up waiting for it. Starting
// twice, or after Close, is ErrBusy.
func (h *Runner) Start(ctx context.Context) error {
	if err := h.loop.Start(ctx); err != nil {
		return fmt.Errorf("%w: health checks already started or closed", ErrBusy)
	}
	return nil
}

// Close stops the loop of [Runner.Start] and waits for a run in progress; if ctx ends first,
// the run is cancelled and Close returns ctx's error. It is safe to call twice.
func (h *Runner) Close(ctx context.Context) error { return h.loop.Close(ctx) }
