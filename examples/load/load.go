package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint names as they appear in the results.
const (
	epSnapshots     = "backup/graphs/{id}/snapshots"
	epSnapshotsNext = "backup/graphs/{id}/snapshots?cursor"
	epBackupStats   = "backup/stats"
	epMetrics       = "monitoring/metrics"
	epPrometheus    = "monitoring/metrics/prometheus"
	epSummary       = "monitoring/metrics/summary"
	epStatsBackups  = "monitoring/stats/backups"
	epHealth        = "monitoring/health"
)

// action is one kind of call a client makes, with its share of the calls.
type action struct {
	name   string
	path   string // under the server's base URL; "" for the snapshot list
	weight int
}

// mix is what the clients do, by weight. The snapshot list also follows
// next_cursor for up to maxExtraPages pages, recorded under epSnapshotsNext.
var mix = []action{
	{epSnapshots, "", 30},
	{epBackupStats, "/api/backup/backup/stats", 12},
	{epMetrics, "/api/monitoring/metrics", 10},
	{epPrometheus, "/api/monitoring/metrics/prometheus", 10},
	{epSummary, "/api/monitoring/metrics/summary", 10},
	{epStatsBackups, "/api/monitoring/stats/backups", 12},
	{epHealth, "/api/monitoring/health", 8},
}

// endpoints lists every endpoint name in the order of the results.
var endpoints = []string{epSnapshots, epSnapshotsNext, epBackupStats, epMetrics, epPrometheus, epSummary, epStatsBackups, epHealth}

const (
	maxExtraPages = 3
	// errorSamples is how many distinct error messages are kept per endpoint.
	errorSamples = 5
)

var pageLimits = []int{20, 50, 100}

// load is one run of the clients against one server.
type load struct {
	base    string
	graphs  []string
	clients int
	dur     time.Duration
	think   time.Duration
	timeout time.Duration
	http    *http.Client
}

// newLoad makes the HTTP client and finds the graphs to list from the server's
// backup stats.
func newLoad(ctx context.Context, base string, c config) (*load, error) {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        c.clients,
		MaxIdleConnsPerHost: c.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	l := &load{
		base: strings.TrimRight(base, "/"), clients: c.clients, dur: c.duration, think: c.think, timeout: c.timeout,
		http: &http.Client{Transport: tr, Timeout: c.timeout},
	}
	graphs, err := l.graphIDs(ctx)
	if err != nil {
		return nil, err
	}
	if len(graphs) == 0 {
		return nil, fmt.Errorf("%s has no graph with snapshots to list", base)
	}
	l.graphs = graphs
	return l, nil
}

func (l *load) graphIDs(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/api/backup/backup/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read graphs: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read graphs: %s", resp.Status)
	}
	var page struct {
		Items []struct {
			GraphID string `json:"graph_id"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("read graphs: %w", err)
	}
	ids := make([]string, 0, len(page.Items))
	for _, it := range page.Items {
		ids = append(ids, it.GraphID)
	}
	return ids, nil
}

// series is what one client saw of one endpoint.
type series struct {
	latencies []time.Duration
	errors    int
	samples   []string
}

func (s *series) add(d time.Duration, err error) {
	s.latencies = append(s.latencies, d)
	if err == nil {
		return
	}
	s.errors++
	msg := err.Error()
	if len(s.samples) < errorSamples && !contains(s.samples, msg) {
		s.samples = append(s.samples, msg)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// results is what all clients saw, by endpoint, and how long they ran.
type results struct {
	elapsed time.Duration
	by      map[string]*series
}

// run starts the clients, waits for all of them to stop at the end of the
// duration, and merges what they saw.
func (l *load) run(ctx context.Context) results {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	end := start.Add(l.dur)
	seen := make([]map[string]*series, l.clients)
	var wg sync.WaitGroup
	for i := range l.clients {
		wg.Go(func() {
			seen[i] = l.client(ctx, uint64(i), end)
		})
	}
	wg.Wait()
	res := results{elapsed: time.Since(start), by: map[string]*series{}}
	for _, m := range seen {
		for name, s := range m {
			all := res.by[name]
			if all == nil {
				all = &series{}
				res.by[name] = all
			}
			all.latencies = append(all.latencies, s.latencies...)
			all.errors += s.errors
			for _, msg := range s.samples {
				if len(all.samples) < errorSamples && !contains(all.samples, msg) {
					all.samples = append(all.samples, msg)
				}
			}
		}
	}
	l.http.CloseIdleConnections()
	return res
}

// client makes calls until end, picking each by the weights of mix.
func (l *load) client(ctx context.Context, seed uint64, end time.Time) map[string]*series {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	seen := make(map[string]*series, len(endpoints))
	record := func(name string, d time.Duration, err error) {
		s := seen[name]
		if s == nil {
			s = &series{}
			seen[name] = s
		}
		s.add(d, err)
	}
	buf := new(bytes.Buffer) // answers are read into it, one after the other
	total := 0
	for _, a := range mix {
		total += a.weight
	}
	if l.think > 0 {
		// Start spread over one think time, not all at once.
		pause(ctx, time.Duration(rng.Int64N(int64(l.think))), end)
	}
	for ctx.Err() == nil && time.Now().Before(end) {
		if l.think > 0 {
			// Mean think time between calls, from 0 to twice of it.
			pause(ctx, time.Duration(rng.Int64N(2*int64(l.think))), end)
			if !time.Now().Before(end) {
				break
			}
		}
		w := rng.IntN(total)
		a := mix[0]
		for _, m := range mix {
			if w < m.weight {
				a = m
				break
			}
			w -= m.weight
		}
		if a.name == epSnapshots {
			l.listSnapshots(ctx, rng, end, buf, record)
			continue
		}
		d, err := l.get(ctx, l.base+a.path, buf, nil)
		record(a.name, d, err)
	}
	return seen
}

// pause waits d, or less when ctx ends or end comes first.
func pause(ctx context.Context, d time.Duration, end time.Time) {
	d = min(d, time.Until(end))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// listSnapshots reads a first page of one graph's snapshots, sometimes filtered by
// status, then up to maxExtraPages more while there are more and time is left.
func (l *load) listSnapshots(ctx context.Context, rng *rand.Rand, end time.Time, buf *bytes.Buffer, record func(string, time.Duration, error)) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(pageLimits[rng.IntN(len(pageLimits))]))
	switch rng.IntN(10) {
	case 0, 1:
		q.Set("status", "completed")
	case 2:
		q.Set("status", "failed")
	}
	path := l.base + "/api/backup/backup/graphs/" + url.PathEscape(l.graphs[rng.IntN(len(l.graphs))]) + "/snapshots?"
	var page snapshotPage
	d, err := l.get(ctx, path+q.Encode(), buf, &page)
	record(epSnapshots, d, err)
	for extra := rng.IntN(maxExtraPages + 1); err == nil && extra > 0 && page.NextCursor != ""; extra-- {
		if ctx.Err() != nil || !time.Now().Before(end) {
			return
		}
		q.Set("cursor", page.NextCursor)
		page = snapshotPage{}
		d, err = l.get(ctx, path+q.Encode(), buf, &page)
		record(epSnapshotsNext, d, err)
	}
}

// snapshotPage is the part of a list answer a client reads.
type snapshotPage struct {
	NextCursor string
}

// errNotPage is a list answer without an items array.
var errNotPage = errors.New("answer is not a page: no items array")

// get makes one GET and reads the whole answer, into buf (a buffer of the client,
// used again by its next call), and checks it as a page when page is not nil. It
// returns the time from sending to the last byte read, and an error for no
// answer, an answer other than 2xx, or a page that does not parse (see
// parsePage).
func (l *load) get(ctx context.Context, u string, buf *bytes.Buffer, page *snapshotPage) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := l.http.Do(req)
	if err != nil {
		return time.Since(start), errors.Unwrap(err) // the *url.Error repeats the URL
	}
	defer resp.Body.Close()
	buf.Reset()
	if resp.StatusCode/100 != 2 || page != nil {
		_, err = buf.ReadFrom(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	d := time.Since(start)
	switch {
	case err != nil:
		return d, fmt.Errorf("read answer: %w", err)
	case resp.StatusCode/100 != 2:
		return d, fmt.Errorf("%s: %s", resp.Status, firstLine(buf.Bytes(), 200))
	case page != nil:
		if page.NextCursor, err = parsePage(buf.Bytes()); err != nil {
			return d, err
		}
	}
	return d, nil
}

// firstLine returns the first line of b, at most n bytes of it.
func firstLine(b []byte, n int) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}
