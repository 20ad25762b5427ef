// Package loop runs a pass of background work now and then on an interval, and
// soon after a kick, in one goroutine between Start and Close: the shape of the
// snapshot schedule, the health runner and the metric collector.
package loop

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrStarted is returned by [Loop.Start] on a loop started before.
var ErrStarted = errors.New("loop: already started")

// Options configure a [Loop].
type Options struct {
	// Interval separates passes; it must be positive.
	Interval time.Duration
	// FromEnd counts the interval from the end of the previous pass. Otherwise
	// passes start every Interval, like the ticks of a time.Ticker: a pass that
	// runs longer than Interval is followed by the next one at once.
	FromEnd bool
	// Settle is how long the loop waits after a [Loop.Kick] before the pass, so
	// that a burst of kicks makes one pass.
	Settle time.Duration
}

// Loop runs pass in a goroutine of its own between Start and Close. A Loop runs
// once: it cannot be started again after it was stopped. Its methods are safe for
// concurrent use.
type Loop struct {
	pass func(ctx context.Context)
	opts Options
	kick chan struct{} // at most one pending kick

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
}

// New returns a loop that will run pass. pass runs under a context that the end
// of Start's ctx does not cancel (a pass in progress finishes first); Close
// cancels it when its own ctx ends before the pass does.
func New(pass func(ctx context.Context), opts Options) *Loop {
	if opts.Interval <= 0 {
		panic("loop: interval must be positive")
	}
	return &Loop{pass: pass, opts: opts, kick: make(chan struct{}, 1)}
}

// Start runs a pass now and then one on every interval and soon after every kick,
// until Close or until ctx ends. It fails with ErrStarted, changing nothing, when
// the loop was started before (and perhaps closed since).
func (l *Loop) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return ErrStarted
	}
	l.started = true
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.done, l.cancel = make(chan struct{}), make(chan struct{}), cancel
	go func(stop <-chan struct{}, done chan<- struct{}) {
		defer close(done)
		defer cancel()
		l.run(ctx, work, stop)
	}(l.stop, l.done)
	return nil
}

// run is the goroutine of Start.
func (l *Loop) run(ctx, work context.Context, stop <-chan struct{}) {
	var tick <-chan time.Time
	var next *time.Timer
	if l.opts.FromEnd {
		next = time.NewTimer(l.opts.Interval)
		defer next.Stop()
		tick = next.C
	} else {
		t := time.NewTicker(l.opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	// wait returns false when the loop is to end.
	wait := func(c <-chan time.Time) bool {
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		case <-c:
			return true
		}
	}
	for {
		l.drainKick() // this pass answers every kick so far
		l.pass(work)
		if next != nil {
			next.Reset(l.opts.Interval)
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick:
			continue
		case <-l.kick:
		}
		// Kicked: wait a moment for the rest of a burst.
		if l.opts.Settle > 0 && !wait(time.After(l.opts.Settle)) {
			return
		}
	}
}

func (l *Loop) drainKick() {
	select {
	case <-l.kick:
	default:
	}
}

// Kick asks for a pass within the settle time, or as soon as the pass in progress
// ends. It never blocks. Kicks coalesce: those before a pass starts make that one
// pass, those during a pass one more after it. Before Start and after Close it
// does nothing.
func (l *Loop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default: // a pass is already pending
	}
}

// Close stops the loop and waits for the pass in progress; if ctx ends first, the
// pass's context is cancelled, Close waits for it to return and returns ctx's
// error. Close before Start does nothing: the loop may still be started. It is
// safe to call more than once.
func (l *Loop) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.started || l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	stop, done, cancel := l.stop, l.done, l.cancel
	l.mu.Unlock()
	close(stop)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return ctx.Err()
	}
}
