package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestOps(t *testing.T, opts ...OperationsOption) (*Operations, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	ops := NewOperations(append([]OperationsOption{WithClock(c.now)}, opts...)...)
	t.Cleanup(func() { ops.Close(context.Background()) })
	return ops, c
}

func mustStart(t *testing.T, ops *Operations, fn OperationFunc) *Operation {
	t.Helper()
	return mustStartCtx(t, context.Background(), ops, fn)
}

// mustStartCtx starts fn with ctx, whose values (error map, logger) the operation
// uses, as it would the context of the request that started it.
func mustStartCtx(t *testing.T, ctx context.Context, ops *Operations, fn OperationFunc) *Operation {
	t.Helper()
	o, err := ops.Start(ctx, "test", fn)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func getOp(t *testing.T, ops *Operations, id string) (int, OperationStatus, Problem) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /operations/{id}", ops)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/operations/"+id, nil))
	var st OperationStatus
	var p Problem
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
	} else {
		p = decodeProblem(t, rec)
	}
	return rec.Code, st, p
}

func TestOperationLifecycle(t *testing.T) {
	ops, _ := newTestOps(t)
	release := make(chan struct{})
	reported := make(chan struct{})
	o := mustStart(t, ops, func(ctx context.Context, report func(any)) (any, error) {
		report(map[string]int{"records": 3})
		close(reported)
		<-release
		return map[string]string{"snapshot": "S1"}, nil
	})
	<-reported
	code, st, _ := getOp(t, ops, o.ID())
	if code != 200 || st.Status != OpRunning || st.Kind != "test" || st.Result != nil || !st.FinishedAt.IsZero() {
		t.Fatalf("running: %d %+v", code, st)
	}
	if got := st.Progress.(map[string]any)["records"]; got != float64(3) {
		t.Errorf("progress records = %v, want 3", got)
	}
	close(release)
	<-o.Done()
	code, st, _ = getOp(t, ops, o.ID())
	if code != 200 || st.Status != OpSucceeded || st.Result.(map[string]any)["snapshot"] != "S1" || st.FinishedAt.IsZero() || st.Error != nil {
		t.Fatalf("finished: %d %+v", code, st)
	}
	if o.Err() != nil {
		t.Errorf("Err = %v", o.Err())
	}
}

func TestOperationFailures(t *testing.T) {
	errBoom := errors.New("boom: secret")
	errMapped := errors.New("not here")
	errs := ErrorMap{{errMapped, http.StatusNotFound}}
	tests := []struct {
		name       string
		fn         OperationFunc
		wantStatus int
		wantDetail string
		wantLogged bool
	}{
		{"internal error is withheld", func(context.Context, func(any)) (any, error) { return nil, errBoom }, 500, "internal error", true},
		{"mapped error", func(context.Context, func(any)) (any, error) { return nil, errMapped }, 404, "not here", false},
		{"panic", func(context.Context, func(any)) (any, error) { panic("oops") }, 500, "internal error", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			ctx := WithErrorMap(WithLogger(context.Background(), slog.New(slog.NewTextHandler(&logs, nil))), errs)
			ops, _ := newTestOps(t)
			o := mustStartCtx(t, ctx, ops, tt.fn)
			<-o.Done()
			_, st, _ := getOp(t, ops, o.ID())
			if st.Status != OpFailed || st.Error == nil || st.Error.Status != tt.wantStatus || st.Error.Detail != tt.wantDetail || st.Result != nil {
				t.Fatalf("got %+v (error %+v), want failed %d %q", st, st.Error, tt.wantStatus, tt.wantDetail)
			}
			if o.Err() == nil {
				t.Error("Err() = nil")
			}
			if got := strings.Contains(logs.String(), "operation failed"); got != tt.wantLogged {
				t.Errorf("logged through the start context's logger = %v, want %v (%s)", got, tt.wantLogged, logs.String())
			}
		})
	}
	// Without the table the same error is an internal one.
	ops, _ := newTestOps(t)
	o := mustStart(t, ops, func(context.Context, func(any)) (any, error) { return nil, errMapped })
	<-o.Done()
	if st := o.Status(); st.Error == nil || st.Error.Status != 500 {
		t.Fatalf("unmapped: got %+v, want failed 500", st)
	}
}

func TestOperationContext(t *testing.T) {
	errMapped := errors.New("not here")
	start, cancel := context.WithCancel(WithErrorMap(context.Background(), ErrorMap{{errMapped, http.StatusNotFound}}))
	cancel() // the request that started it is over; the operation runs on
	ops, _ := newTestOps(t)
	var status int
	var ctxErr error
	o := mustStartCtx(t, start, ops, func(ctx context.Context, _ func(any)) (any, error) {
		status, ctxErr = StatusOf(ctx, errMapped), ctx.Err()
		return "ok", nil
	})
	<-o.Done()
	if ctxErr != nil {
		t.Errorf("operation's context = %v, want not cancelled by the start context", ctxErr)
	}
	if status != http.StatusNotFound {
		t.Errorf("StatusOf in the operation = %d, want 404 from the start context's table", status)
	}
	if st := o.Status(); st.Status != OpSucceeded {
		t.Errorf("got %+v, want succeeded", st)
	}
}

func TestOperationsGetErrors(t *testing.T) {
	ops, _ := newTestOps(t)
	tests := []struct {
		id   string
		want int
	}{{"short", 400}, {"abcdefghijklmnopqrstuvwxyz", 400}, {"AAAAAAAAAAAAAAAAAAAAAAAAAA", 404}}
	for _, tt := range tests {
		if code, _, _ := getOp(t, ops, tt.id); code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.id, code, tt.want)
		}
	}
}

func TestOperationsEviction(t *testing.T) {
	ops, c := newTestOps(t, WithTTL(time.Minute), WithMaxOperations(2))
	done := func(context.Context, func(any)) (any, error) { return "ok", nil }
	block := make(chan struct{})
	defer close(block)
	blocked := func(ctx context.Context, _ func(any)) (any, error) { <-block; return nil, nil }

	a := mustStart(t, ops, done)
	<-a.Done()
	c.add(59 * time.Second)
	if _, ok := ops.Get(a.ID()); !ok {
		t.Fatal("finished operation forgotten before its TTL")
	}
	c.add(time.Second)
	if _, ok := ops.Get(a.ID()); ok {
		t.Fatal("finished operation kept past its TTL")
	}

	b := mustStart(t, ops, done)
	<-b.Done()
	r1 := mustStart(t, ops, blocked)
	// Full: the finished one makes room.
	r2 := mustStart(t, ops, blocked)
	if _, ok := ops.Get(b.ID()); ok {
		t.Error("oldest finished operation kept in a full registry")
	}
	// Full of running ones: refused.
	if _, err := ops.Start(context.Background(), "test", done); !errors.Is(err, ErrTooManyRunning) || ErrorMap(nil).StatusOf(err) != 503 {
		t.Fatalf("Start on a full registry = %v, want ErrTooManyRunning (503)", err)
	}
	c.add(time.Hour) // running operations never expire
	for _, o := range []*Operation{r1, r2} {
		if _, ok := ops.Get(o.ID()); !ok {
			t.Errorf("running operation %s forgotten", o.ID())
		}
	}
}

func TestOperationsClose(t *testing.T) {
	ops, _ := newTestOps(t)
	o := mustStart(t, ops, func(ctx context.Context, _ func(any)) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ops.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close past its deadline = %v, want context.DeadlineExceeded", err)
	}
	<-o.Done() // cancelled once Close's context ended
	st := o.Status()
	if st.Status != OpFailed || st.Error.Status != 503 {
		t.Errorf("cancelled operation: %+v", st)
	}
	if err := ops.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := ops.Start(context.Background(), "test", nil); !errors.Is(err, ErrOperationsClosed) {
		t.Errorf("Start after Close = %v, want ErrOperationsClosed", err)
	}
}

// Close lets a running operation finish instead of cancelling it.
func TestOperationsCloseLetsRunningFinish(t *testing.T) {
	ops, _ := newTestOps(t)
	o := mustStart(t, ops, func(ctx context.Context, _ func(any)) (any, error) {
		select {
		case <-time.After(50 * time.Millisecond):
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	if err := ops.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := o.Status(); st.Status != OpSucceeded {
		t.Fatalf("an operation running at Close: %+v, want it finished", st)
	}
}

func TestOperationsCloseDeadline(t *testing.T) {
	ops, _ := newTestOps(t)
	release := make(chan struct{})
	o := mustStart(t, ops, func(ctx context.Context, _ func(any)) (any, error) { <-release; return nil, nil })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ops.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a done context = %v, want context.Canceled", err)
	}
	close(release)
	<-o.Done()
}

func TestAccepted(t *testing.T) {
	ops, _ := newTestOps(t)
	o := mustStart(t, ops, func(context.Context, func(any)) (any, error) { return nil, nil })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /jobs", func(w http.ResponseWriter, r *http.Request) { Accepted(w, r, o) })
	rec := httptest.NewRecorder()
	http.StripPrefix("/api", mux).ServeHTTP(rec, httptest.NewRequest("POST", "/api/jobs", nil))
	if rec.Code != 202 || rec.Header().Get("Location") != "/api/operations/"+o.ID() {
		t.Fatalf("got %d Location %q", rec.Code, rec.Header().Get("Location"))
	}
	var st OperationStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.ID != o.ID() {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
}
