package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCache is a cache on a clock the test moves.
type testCache struct {
	*Cache
	mu     sync.Mutex
	at     time.Time
	builds atomic.Int64
}

func newTestCache(ttl time.Duration, maxBytes int) *testCache {
	tc := &testCache{Cache: NewCache(ttl, maxBytes), at: time.Unix(1e9, 0)}
	tc.Cache.now = func() time.Time {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		return tc.at
	}
	return tc
}

func (tc *testCache) advance(d time.Duration) {
	tc.mu.Lock()
	tc.at = tc.at.Add(d)
	tc.mu.Unlock()
}

// get asks for key at version; a computation answers "<key> <n>", n counting the
// computations of the cache.
func (tc *testCache) get(t *testing.T, key string, version any) string {
	t.Helper()
	resp, err := tc.Get(context.Background(), key, version, func(context.Context) (*Response, error) {
		n := tc.builds.Add(1)
		return JSONResponse(http.StatusOK, fmt.Sprintf("%s %d", key, n))
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(resp.Body)
}

func TestCacheVersionAndAge(t *testing.T) {
	tc := newTestCache(time.Second, 1<<20)
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		version any
		want    string
	}{
		{"first", 0, "a", uint64(1), `"a 1"` + "\n"},
		{"kept", 500 * time.Millisecond, "a", uint64(1), `"a 1"` + "\n"},
		{"another key", 0, "b", uint64(1), `"b 2"` + "\n"},
		{"new version", 0, "a", uint64(2), `"a 3"` + "\n"},
		{"kept at the new version", 900 * time.Millisecond, "a", uint64(2), `"a 3"` + "\n"},
		// Past its time, the answer is computed again by the request that finds it so.
		{"old", 200 * time.Millisecond, "a", uint64(2), `"a 4"` + "\n"},
		{"structured version", 0, "a", struct{ gen, at int64 }{2, 5}, `"a 5"` + "\n"},
		{"same structured version", 0, "a", struct{ gen, at int64 }{2, 5}, `"a 5"` + "\n"},
	}
	for _, s := range steps {
		tc.advance(s.advance)
		if got := tc.get(t, s.key, s.version); got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}
}

func TestCacheOneComputationForConcurrentRequests(t *testing.T) {
	tc := newTestCache(time.Minute, 1<<20)
	release := make(chan struct{})
	var builds atomic.Int64
	build := func(context.Context) (*Response, error) {
		builds.Add(1)
		<-release
		return JSONResponse(http.StatusOK, "answer")
	}
	const n = 20
	var wg sync.WaitGroup
	bodies := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := tc.Get(context.Background(), "k", 1, build)
			errs[i] = err
			if err == nil {
				bodies[i] = string(resp.Body)
			}
		})
	}
	for builds.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others reach the wait
	close(release)
	wg.Wait()
	if got := builds.Load(); got != 1 {
		t.Errorf("%d computations for %d concurrent requests, want 1", got, n)
	}
	for i := range n {
		if errs[i] != nil || bodies[i] != "\"answer\"\n" {
			t.Errorf("request %d: %q, %v", i, bodies[i], errs[i])
		}
	}
}

// TestCacheServesOlderAnswerWhileOneRefreshes checks that past its time an answer
// is computed again by one request while the others are served the older one,
// but only for one more time limit, and never at another version.
func TestCacheServesOlderAnswerWhileOneRefreshes(t *testing.T) {
	tc := newTestCache(time.Second, 1<<20)
	if got := tc.get(t, "k", 1); got != "\"k 1\"\n" {
		t.Fatalf("first: %q", got)
	}
	tc.advance(1500 * time.Millisecond)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan string)
	go func() {
		resp, err := tc.Get(context.Background(), "k", 1, func(context.Context) (*Response, error) {
			close(started)
			<-release
			return JSONResponse(http.StatusOK, "k refreshed")
		})
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(resp.Body)
	}()
	<-started
	if got := tc.get(t, "k", 1); got != "\"k 1\"\n" {
		t.Errorf("during the refresh: %q, want the older answer", got)
	}
	if tc.builds.Load() != 1 {
		t.Errorf("a second computation ran during the refresh")
	}
	// Another version never gets the older answer.
	if got := tc.get(t, "k", 2); got != "\"k 2\"\n" || tc.builds.Load() != 2 {
		t.Errorf("at a new version: %q after %d computations, want a computation of its own", got, tc.builds.Load())
	}
	close(release)
	if got := <-done; got != "\"k refreshed\"\n" {
		t.Errorf("the refreshing request got %q", got)
	}
	// The refresh began at version 1: it does not replace the version 2 answer.
	if got := tc.get(t, "k", 2); got != "\"k 2\"\n" {
		t.Errorf("after the refresh: %q, want the version 2 answer", got)
	}

	// A refresh that takes longer than another time limit is not waited for with
	// the older answer.
	tc.advance(1500 * time.Millisecond)
	started, release = make(chan struct{}), make(chan struct{})
	go func() {
		tc.Get(context.Background(), "k", 2, func(context.Context) (*Response, error) {
			close(started)
			<-release
			return JSONResponse(http.StatusOK, "slow")
		})
		close(done)
	}()
	<-started
	if got := tc.get(t, "k", 2); got != "\"k 2\"\n" {
		t.Errorf("1.5 s old during a refresh: %q, want the older answer", got)
	}
	tc.advance(time.Second)
	if got := tc.get(t, "k", 2); got != "\"k 3\"\n" {
		t.Errorf("2.5 s old during a refresh: %q, want a new computation", got)
	}
	close(release)
	<-done
}

func TestCacheErrors(t *testing.T) {
	tc := newTestCache(time.Minute, 1<<20)
	boom := errors.New("boom")
	calls := 0
	fails := func(context.Context) (*Response, error) { calls++; return nil, boom }
	for range 2 {
		if _, err := tc.Get(context.Background(), "k", 1, fails); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	}
	if calls != 2 {
		t.Errorf("%d computations for two requests after errors, want 2: errors are not kept", calls)
	}
	if _, err := tc.Get(context.Background(), "k", 1, func(context.Context) (*Response, error) { return nil, nil }); err == nil {
		t.Error("a computation answering nothing: no error")
	}
	// A failed refresh keeps the older answer for the others and is tried again.
	if got := tc.get(t, "k", 1); got != "\"k 1\"\n" {
		t.Fatalf("got %q", got)
	}
	tc.advance(90 * time.Second)
	if _, err := tc.Get(context.Background(), "k", 1, fails); !errors.Is(err, boom) {
		t.Fatalf("refresh err = %v, want boom", err)
	}
	if got := tc.get(t, "k", 1); got != "\"k 2\"\n" {
		t.Errorf("after a failed refresh: %q, want a new computation", got)
	}
}

// TestCacheWaiterOutlivesCanceledComputation checks that a request waiting for a
// computation whose own request went away computes the answer itself.
func TestCacheWaiterOutlivesCanceledComputation(t *testing.T) {
	tc := newTestCache(time.Minute, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	first := make(chan error)
	go func() {
		_, err := tc.Get(ctx, "k", 1, func(ctx context.Context) (*Response, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		first <- err
	}()
	<-started
	second := make(chan string)
	go func() { second <- tc.get(t, "k", 1) }()
	time.Sleep(20 * time.Millisecond) // the second request waits
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first: %v, want canceled", err)
	}
	if got := <-second; got != "\"k 1\"\n" {
		t.Errorf("second: %q, want its own computation", got)
	}
}

func TestCacheBudget(t *testing.T) {
	tc := newTestCache(time.Minute, 100) // room for a few answers of about 10 bytes
	for i := range 50 {
		tc.get(t, fmt.Sprint("key", i), 1)
	}
	tc.Cache.mu.Lock()
	size, n := tc.Cache.size, len(tc.Cache.entries)
	sum := 0
	for _, e := range tc.Cache.entries {
		sum += e.size
	}
	tc.Cache.mu.Unlock()
	if size > 100 || size != sum || n == 0 || n > 10 {
		t.Errorf("size %d (entries add up to %d) in %d entries, want at most 100 bytes, consistent", size, sum, n)
	}
	if got := tc.get(t, "key49", 1); got != "\"key49 50\"\n" {
		t.Errorf("the newest answer was dropped: %q", got)
	}
	// An answer larger than the budget is served, not kept.
	big := func(context.Context) (*Response, error) { return JSONResponse(http.StatusOK, make([]int, 100)) }
	for range 2 {
		if _, err := tc.Get(context.Background(), "big", 1, big); err != nil {
			t.Fatal(err)
		}
	}
	tc.Cache.mu.Lock()
	_, kept := tc.Cache.entries["big"]
	tc.Cache.mu.Unlock()
	if kept {
		t.Error("an answer over the budget was kept")
	}
}

func TestResponseWriteMatchesWriteJSON(t *testing.T) {
	v := map[string]any{"items": []string{"<a>", "b"}, "n": 1}
	want := httptest.NewRecorder()
	WriteJSON(want, http.StatusCreated, v)
	resp, err := JSONResponse(http.StatusCreated, v)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // written twice: a kept answer is not used up
		got := httptest.NewRecorder()
		resp.Write(got)
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("got %d %q, want %d %q", got.Code, got.Body, want.Code, want.Body)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "X-Content-Type-Options"} {
			if got.Header().Get(h) != want.Header().Get(h) {
				t.Errorf("%s = %q, want %q", h, got.Header().Get(h), want.Header().Get(h))
			}
		}
	}
}

func TestRecord(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Header().Set("Content-Length", "999") // replaced by the real length
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "hello ", r.Header.Get("Accept"))
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "text/plain")
	resp := Record(h, req)
	rec := httptest.NewRecorder()
	resp.Write(rec)
	if rec.Code != http.StatusTeapot || rec.Body.String() != "hello text/plain" ||
		rec.Header().Get("Content-Type") != "text/plain; version=0.0.4" || rec.Header().Get("Content-Length") != "16" {
		t.Errorf("got %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	plain := Record(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }), req)
	if plain.Status != http.StatusOK || string(plain.Body) != "x" {
		t.Errorf("implicit status: %d %q", plain.Status, plain.Body)
	}
}
