package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// client calls the stack's API.
type client struct {
	base string
	http *http.Client
}

// call sends one request (with the token when mutating) and returns the status
// and body.
func (c *client) call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// apiStats counts API calls per endpoint.
type apiStats struct {
	requests, errors atomic.Int64
	mu               sync.Mutex
	by               map[string]*endpointResult
	samples          []string
	newest           atomic.Value // string: id of the newest completed snapshot seen
}

func newAPIStats() *apiStats { return &apiStats{by: map[string]*endpointResult{}} }

// record counts one call to endpoint; it is an error unless the status is one of
// want and check (when given) accepts the body.
func (a *apiStats) record(endpoint string, status int, body []byte, err error, d time.Duration, check func([]byte) error, want ...int) {
	a.requests.Add(1)
	if err == nil && !slices.Contains(want, status) {
		err = fmt.Errorf("status %d: %s", status, clip(string(body)))
	}
	if err == nil && check != nil {
		err = check(body)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.by[endpoint]
	if e == nil {
		e = &endpointResult{Statuses: map[string]int{}}
		a.by[endpoint] = e
	}
	e.Requests++
	e.totalSeconds += d.Seconds()
	e.Statuses[fmt.Sprint(status)]++
	if err != nil {
		a.errors.Add(1)
		e.Errors++
		if len(a.samples) < 5 {
			a.samples = append(a.samples, endpoint+": "+err.Error())
		}
	}
}

func (a *apiStats) sampleError(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.samples) < 5 {
		a.samples = append(a.samples, msg)
	}
}

func (a *apiStats) result(d time.Duration) apiResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := apiResult{Requests: a.requests.Load(), Errors: a.errors.Load(), ByEndpoint: map[string]endpointResult{},
		ErrorSamples: slices.Clone(a.samples)}
	r.PerSecond = float64(r.Requests) / d.Seconds()
	for k, e := range a.by {
		c := *e
		c.MeanMillis = 1000 * e.totalSeconds / float64(max(1, e.Requests))
		r.ByEndpoint[k] = c
	}
	return r
}

// reads are what the API clients call, by weight; "verify" asks for a quick
// verification of the newest snapshot a list call showed.
var reads = []struct {
	name   string
	path   string
	weight int
	want   []int
}{
	{"GET snapshots", "/api/backup/backup/graphs/" + graphID + "/snapshots?limit=20&status=completed", 25, []int{200}},
	{"GET backup stats", "/api/backup/backup/stats", 10, []int{200}},
	{"GET prometheus", "/api/monitoring/metrics/prometheus", 10, []int{200}},
	{"GET metrics summary", "/api/monitoring/metrics/summary", 10, []int{200}},
	{"GET stats backups", "/api/monitoring/stats/backups", 10, []int{200}},
	// 503 is the documented answer of an unhealthy system; the checks that made
	// it so are in the body and are counted by status.
	{"GET health", "/api/monitoring/health", 8, []int{200, 503}},
	{"GET replication status", "/api/backup/replication/status", 10, []int{200}},
	{"GET recovery status", "/api/backup/recovery/status", 5, []int{200}},
	{"POST verify", "", 12, []int{200}},
}

// readAPI calls the API until ctx ends, pausing a random time of mean c.think
// between calls.
func readAPI(ctx context.Context, cl *client, c config, seed uint64, cnt *counters) {
	r := rand.New(rand.NewPCG(seed, 0xa91))
	total := 0
	for _, rd := range reads {
		total += rd.weight
	}
	for ctx.Err() == nil {
		if c.think > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(r.Int64N(int64(2*c.think) + 1))):
			}
		}
		pick := r.IntN(total)
		i := 0
		for pick >= reads[i].weight {
			pick -= reads[i].weight
			i++
		}
		rd := reads[i]
		method, path, check := http.MethodGet, rd.path, func([]byte) error { return nil }
		switch rd.name {
		case "GET snapshots":
			check = func(b []byte) error {
				var page struct{ Items []struct{ ID string } }
				if err := json.Unmarshal(b, &page); err != nil {
					return fmt.Errorf("not a page: %w", err)
				}
				if len(page.Items) > 0 {
					cnt.api.newest.Store(page.Items[0].ID)
				}
				return nil
			}
		case "POST verify":
			id, _ := cnt.api.newest.Load().(string)
			if id == "" {
				continue
			}
			method, path = http.MethodPost, "/api/backup/backup/snapshots/"+id+"/verify"
			check = func(b []byte) error {
				var rep struct{ OK bool }
				if err := json.Unmarshal(b, &rep); err != nil || !rep.OK {
					return fmt.Errorf("snapshot %s does not verify: %s", id, clip(string(b)))
				}
				return nil
			}
		}
		start := time.Now()
		status, body, err := cl.call(ctx, method, path, nil)
		if ctx.Err() != nil {
			return // cut short by the end of the run
		}
		cnt.api.record(rd.name, status, body, err, time.Since(start), check, rd.want...)
	}
}

// trigger asks the API for a snapshot and waits for it. The call is not cut short
// by the end of the run: a snapshot cancelled half way would be a failed one.
func trigger(ctx context.Context, cl *client, cnt *counters) {
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	status, body, err := cl.call(ctx, http.MethodPost, "/api/backup/backup/graphs/"+graphID+"/snapshots?wait=true",
		map[string]any{"labels": map[string]string{"by": "soak"}})
	cnt.api.record("POST snapshot", status, body, err, time.Since(start), nil, http.StatusCreated)
	if err == nil && status == http.StatusCreated {
		cnt.triggered.Add(1)
	}
}

// checkpoint asks the API for a checkpoint of the primary, and waits for it as
// trigger does.
func checkpoint(ctx context.Context, cl *client, cnt *counters) {
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	status, body, err := cl.call(ctx, http.MethodPost, "/api/backup/recovery/checkpoints",
		map[string]any{"graph_ids": []string{graphID}, "description": "soak"})
	cnt.api.record("POST checkpoint", status, body, err, time.Since(start), nil, http.StatusCreated)
	if err == nil && status == http.StatusCreated {
		cnt.checkpoints.Add(1)
	}
}
