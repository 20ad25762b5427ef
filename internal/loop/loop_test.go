package loop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// counter is a pass that counts its runs and takes d of fake time.
type counter struct {
	n atomic.Int32
	d time.Duration
}

func (c *counter) pass(ctx context.Context) {
	c.n.Add(1)
	select {
	case <-time.After(c.d):
	case <-ctx.Done():
	}
}

func TestStartRunsNowAndEveryInterval(t *testing.T) {
	for _, fromEnd := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			c := &counter{d: 10 * time.Second}
			l := New(c.pass, Options{Interval: time.Minute, FromEnd: fromEnd})
			if err := l.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if n := c.n.Load(); n != 1 {
				t.Fatalf("fromEnd=%v: %d passes at start, want 1", fromEnd, n)
			}
			// Ticker: passes start at 0, 60, 120. From the end: at 0, 70, 140.
			time.Sleep(125 * time.Second)
			synctest.Wait()
			want := int32(3)
			if fromEnd {
				want = 2
			}
			if n := c.n.Load(); n != want {
				t.Errorf("fromEnd=%v: %d passes after 125s, want %d", fromEnd, n, want)
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStartTwiceAndAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counter{}
		l := New(c.pass, Options{Interval: time.Hour})
		if err := l.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := l.Start(t.Context()); !errors.Is(err, ErrStarted) {
			t.Errorf("second Start: %v, want ErrStarted", err)
		}
		synctest.Wait()
		for i := range 2 {
			if err := l.Close(context.Background()); err != nil {
				t.Errorf("Close %d: %v", i+1, err)
			}
		}
		if err := l.Start(t.Context()); !errors.Is(err, ErrStarted) {
			t.Errorf("Start after Close: %v, want ErrStarted", err)
		}
		if n := c.n.Load(); n != 1 {
			t.Errorf("%d passes, want 1", n)
		}

		// Close before Start does nothing: the loop still starts.
		l2 := New(c.pass, Options{Interval: time.Hour})
		if err := l2.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := l2.Start(t.Context()); err != nil {
			t.Errorf("Start after an early Close: %v", err)
		}
		synctest.Wait()
		if n := c.n.Load(); n != 2 {
			t.Errorf("%d passes, want 2", n)
		}
		if err := l2.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCloseWaitsForThePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var finished atomic.Bool
		l := New(func(ctx context.Context) {
			time.Sleep(time.Minute)
			finished.Store(ctx.Err() == nil)
		}, Options{Interval: time.Hour})
		if err := l.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !finished.Load() {
			t.Error("Close returned before the pass finished")
		}
	})
}

func TestCloseDeadlineCancelsThePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counter{d: time.Hour}
		l := New(c.pass, Options{Interval: time.Hour})
		if err := l.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		began := time.Now()
		if err := l.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(began); d != time.Second {
			t.Errorf("Close took %v, want the 1s deadline", d)
		}
	})
}

func TestStartContextEndsTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counter{}
		ctx, cancel := context.WithCancel(t.Context())
		l := New(c.pass, Options{Interval: time.Minute})
		if err := l.Start(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		cancel()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := c.n.Load(); n != 1 {
			t.Errorf("%d passes after the context ended, want 1", n)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestKick checks that kicks coalesce and run a pass after the settle time, and
// that a kick during a pass makes exactly one more.
func TestKick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &counter{d: time.Second}
		l := New(c.pass, Options{Interval: time.Hour, FromEnd: true, Settle: 50 * time.Millisecond})
		l.Kick() // before Start: answered by the first pass
		if err := l.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := c.n.Load(); n != 1 {
			t.Fatalf("%d passes after start and an early kick, want 1", n)
		}
		for range 5 {
			l.Kick()
		}
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if n := c.n.Load(); n != 1 {
			t.Fatalf("%d passes before the settle time, want 1", n)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if n := c.n.Load(); n != 2 {
			t.Fatalf("%d passes after a burst of kicks, want 2", n)
		}
		// Kicks during that pass make one more after it.
		l.Kick()
		l.Kick()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := c.n.Load(); n != 3 {
			t.Fatalf("%d passes after kicks during a pass, want 3", n)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		l.Kick() // after Close: nothing
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := c.n.Load(); n != 3 {
			t.Errorf("%d passes after a kick past Close, want 3", n)
		}
	})
}
