package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Response is an encoded answer, kept by a [Cache] and written as it is to every
// request it answers. It must not be changed once built.
type Response struct {
	Status int
	Header http.Header // Content-Type and any other header of the answer
	Body   []byte
}

// JSONResponse encodes v as [WriteJSON] would answer it.
func JSONResponse(status int, v any) (*Response, error) {
	return encodeResponse(ContentTypeJSON, status, v)
}

func encodeResponse(contentType string, status int, v any) (*Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	return &Response{Status: status, Header: h, Body: append(b, '\n')}, nil
}

// Write answers with r: its headers, a Content-Length, its status and its body.
func (r *Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.Header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	w.WriteHeader(r.Status)
	w.Write(r.Body) //nolint:errcheck // the client is gone; nothing to do
}

// Record runs h for r and returns what it answered, for a [Cache] to keep. Only
// the status, the headers and the body are kept.
func Record(h http.Handler, r *http.Request) *Response {
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	hdr := maps.Clone(rec.header)
	hdr.Del("Content-Length")
	return &Response{Status: rec.status, Header: hdr, Body: rec.body.Bytes()}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// Cache keeps encoded answers by key, so that the requests of a burst are answered
// from one computation instead of one each. An answer is kept for the version the
// caller states (such as a store generation that every write moves on): once the
// version moves on, the next request computes the answer again and every request
// waits for it, so a write is seen by the next request. An answer of the current
// version is served while it is younger than the cache's time limit; then one
// request computes it again while the others are still served the older one, for
// at most another time limit: a write elsewhere (another process) shows within
// two. Concurrent requests for a key that is not cached wait for one computation.
// Errors are not cached. The answers kept add up to at most the cache's byte
// budget; beyond it, answers are dropped at random.
//
// A Cache is safe for concurrent use.
type Cache struct {
	ttl      time.Duration
	maxBytes int
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
	size    int // bytes of the bodies kept
}

type cacheEntry struct {
	version    any
	at         time.Time     // when the computation started
	ready      chan struct{} // closed once resp or err is set
	resp       *Response
	err        error
	size       int  // counted in Cache.size
	refreshing bool // a computation of its successor runs
}

// maxCacheEntries bounds the number of keys whatever their size.
const maxCacheEntries = 4096

// NewCache returns a cache whose answers are fresh for ttl and whose bodies add up
// to at most maxBytes.
func NewCache(ttl time.Duration, maxBytes int) *Cache {
	return &Cache{ttl: ttl, maxBytes: maxBytes, now: time.Now, entries: map[string]*cacheEntry{}}
}

// errBuildPanicked is what waiters get when the computation they waited for panicked.
var errBuildPanicked = errors.New("httpx: cached answer: computation panicked")

// Get returns the answer kept under key if it was computed at version (a
// comparable value: compared with ==) and is fresh, and otherwise computes it with
// build, keeps it and returns it; see [Cache] for when an older answer is served
// meanwhile. Callers that find build running for the same key and version wait
// for it; one whose context ends first returns its error.
func (c *Cache) Get(ctx context.Context, key string, version any, build func(context.Context) (*Response, error)) (*Response, error) {
	for {
		c.mu.Lock()
		e := c.entries[key]
		if e == nil || e.version != version {
			return c.run(ctx, key, nil, c.start(key, version), build) // unlocks
		}
		if !e.finished() {
			c.mu.Unlock()
			select {
			case <-e.ready:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if e.err == nil {
				return e.resp, nil
			}
			// The computation failed for its own caller's reason (that request
			// went away): compute again rather than fail another request for it.
			if !errors.Is(e.err, context.Canceled) && !errors.Is(e.err, context.DeadlineExceeded) || ctx.Err() != nil {
				return nil, e.err
			}
			continue
		}
		age := c.now().Sub(e.at)
		switch {
		case age < c.ttl:
			c.mu.Unlock()
			return e.resp, nil
		case !e.refreshing:
			e.refreshing = true
			next := &cacheEntry{version: version, at: c.now(), ready: make(chan struct{})}
			return c.run(ctx, key, e, next, build) // unlocks
		case age < 2*c.ttl:
			c.mu.Unlock()
			return e.resp, nil // another request computes its successor
		default:
			// That computation takes too long to wait for it with an old answer.
			return c.run(ctx, key, nil, c.start(key, version), build) // unlocks
		}
	}
}

// start makes a computing entry key's entry. c.mu is held.
func (c *Cache) start(key string, version any) *cacheEntry {
	e := &cacheEntry{version: version, at: c.now(), ready: make(chan struct{})}
	c.put(key, e)
	return e
}

func (e *cacheEntry) finished() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// put makes e the entry of key, dropping the one it replaces. c.mu is held.
func (c *Cache) put(key string, e *cacheEntry) {
	if old := c.entries[key]; old != nil {
		c.size -= old.size
		old.size = 0
	}
	c.entries[key] = e
}

// run unlocks c.mu, computes the answer of e and keeps it while key's entry is
// still the one the computation began from: e itself, or old, the entry e is to
// succeed, which is served meanwhile.
func (c *Cache) run(ctx context.Context, key string, old, e *cacheEntry, build func(context.Context) (*Response, error)) (resp *Response, err error) {
	c.mu.Unlock()
	finished := false
	defer func() {
		if !finished {
			c.finish(key, old, e, nil, errBuildPanicked) // and the panic goes on
		}
	}()
	resp, err = build(ctx)
	if err == nil && resp == nil {
		err = errors.New("httpx: cached answer: built nothing")
	}
	finished = true
	c.finish(key, old, e, resp, err)
	return resp, err
}

func (c *Cache) finish(key string, old, e *cacheEntry, resp *Response, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.resp, e.err = resp, err
	close(e.ready)
	began := e
	if old != nil {
		old.refreshing = false
		began = old
	}
	if c.entries[key] != began {
		return // replaced by a newer computation meanwhile
	}
	if err != nil || len(resp.Body) > c.maxBytes {
		if old == nil {
			delete(c.entries, key)
		}
		return // an old answer stays until it is too old
	}
	c.put(key, e)
	e.size = len(resp.Body)
	c.size += e.size
	c.evict(key)
}

// evict drops answers other than keep's while the cache is over its budget:
// first those past their time limit, then any. c.mu is held.
func (c *Cache) evict(keep string) {
	over := func() bool { return c.size > c.maxBytes || len(c.entries) > maxCacheEntries }
	if !over() {
		return
	}
	for k, e := range c.entries {
		if k != keep && e.finished() && !e.refreshing && c.now().Sub(e.at) >= c.ttl {
			c.drop(k, e)
		}
	}
	for k, e := range c.entries { // map order: at random
		if !over() {
			return
		}
		if k != keep && e.finished() && !e.refreshing {
			c.drop(k, e)
		}
	}
}
func (c *Cache) drop(key string, e *cacheEntry) {
	c.size -= e.size
	e.size = 0
	delete(c.entries, key)
}
