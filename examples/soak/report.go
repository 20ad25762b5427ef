package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// result is what a run reports, printed and written as JSON.
type result struct {
	DurationSeconds float64           `json:"duration_seconds"`
	Writes          writeResult       `json:"writes"`
	Snapshots       snapshotResult    `json:"snapshots"`
	API             apiResult         `json:"api"`
	Replication     replicationResult `json:"replication"`
	Follower        followerResult    `json:"follower"`
	LoggedErrors    int64             `json:"logged_errors"`
	LogSamples      []string          `json:"log_samples,omitempty"`
	Errors          int64             `json:"errors"` // all of the above's errors together
	Memory          []sample          `json:"memory"`
	Checks          []check           `json:"checks"`
	Pass            bool              `json:"pass"`
}

type writeResult struct {
	Batches          int64   `json:"batches"`
	Ops              int64   `json:"ops"`
	BatchesPerSecond float64 `json:"batches_per_second"`
	OpsPerSecond     float64 `json:"ops_per_second"`
	Errors           int64   `json:"errors"`
}

type snapshotResult struct {
	Scheduled         int     `json:"scheduled"`
	SchedulerFailures int     `json:"scheduler_failures"`
	Triggered         int     `json:"triggered"`   // asked through the API
	Checkpoints       int     `json:"checkpoints"` // each a full snapshot
	Completed         int     `json:"completed"`
	Verified          int     `json:"verified"` // full verification at the end
	Failed            int     `json:"failed"`
	VerifySeconds     float64 `json:"verify_seconds"`
}

type apiResult struct {
	Requests     int64                     `json:"requests"`
	Errors       int64                     `json:"errors"`
	PerSecond    float64                   `json:"per_second"`
	ByEndpoint   map[string]endpointResult `json:"by_endpoint"`
	ErrorSamples []string                  `json:"error_samples,omitempty"`
}

type endpointResult struct {
	Requests     int64          `json:"requests"`
	Errors       int64          `json:"errors"`
	MeanMillis   float64        `json:"mean_ms"`
	Statuses     map[string]int `json:"statuses"`
	totalSeconds float64
}

type replicationResult struct {
	SnapshotOK     int `json:"snapshot_ok"`
	SnapshotFailed int `json:"snapshot_failed"`
	JournalOK      int `json:"journal_ok"`
	JournalFailed  int `json:"journal_failed"`
}

type followerResult struct {
	Position        uint64  `json:"position"`
	PrimaryPosition uint64  `json:"primary_position"`
	CatchUpSeconds  float64 `json:"catch_up_seconds"`
	Resyncs         int     `json:"resyncs"`
	SyncErrors      int64   `json:"sync_errors"`
	LastError       string  `json:"last_error,omitempty"`
}

// sample is the process's memory and the counters at one time of the run.
type sample struct {
	Seconds          float64 `json:"seconds"`
	HeapInuse        uint64  `json:"heap_inuse_bytes"`
	HeapAlloc        uint64  `json:"heap_alloc_bytes"`
	Sys              uint64  `json:"sys_bytes"`
	NumGC            uint32  `json:"num_gc"`
	Goroutines       int     `json:"goroutines"`
	WriteBatches     int64   `json:"write_batches"`
	Snapshots        int     `json:"snapshots"`
	APIRequests      int64   `json:"api_requests"`
	PrimaryPosition  uint64  `json:"primary_position"`
	FollowerPosition uint64  `json:"follower_position"`
}

type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func (r *result) check(name string, ok bool, detail string) {
	r.Checks = append(r.Checks, check{Name: name, OK: ok, Detail: detail})
}

func (r *result) fail(name, detail string) { r.check(name, false, detail) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func (r *result) print(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "memory over time")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "s\theap in use MiB\theap alloc MiB\tsys MiB\tGCs\tgoroutines\twrite batches\tsnapshots\tAPI requests\tfollower behind\t")
	for _, s := range r.Memory {
		fmt.Fprintf(tw, "%.0f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%d\t%d\t\n", s.Seconds, mib(s.HeapInuse), mib(s.HeapAlloc),
			mib(s.Sys), s.NumGC, s.Goroutines, s.WriteBatches, s.Snapshots, s.APIRequests, s.PrimaryPosition-s.FollowerPosition)
	}
	tw.Flush()
	if len(r.Memory) > 0 {
		heap := make([]float64, len(r.Memory))
		for i, s := range r.Memory {
			heap[i] = mib(s.HeapInuse)
		}
		fmt.Fprintf(w, "heap in use: first %.1f MiB, min %.1f, max %.1f, last %.1f\n",
			heap[0], slices.Min(heap), slices.Max(heap), heap[len(heap)-1])
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "ran %.0fs\n", r.DurationSeconds)
	fmt.Fprintf(w, "writes:      %d batches (%.1f/s), %d operations (%.1f/s), %d errors\n",
		r.Writes.Batches, r.Writes.BatchesPerSecond, r.Writes.Ops, r.Writes.OpsPerSecond, r.Writes.Errors)
	fmt.Fprintf(w, "snapshots:   %d scheduled, %d asked through the API, %d checkpoints; %d completed, %d verified in full (%.1fs), %d failed\n",
		r.Snapshots.Scheduled, r.Snapshots.Triggered, r.Snapshots.Checkpoints, r.Snapshots.Completed, r.Snapshots.Verified,
		r.Snapshots.VerifySeconds, r.Snapshots.Failed)
	fmt.Fprintf(w, "replication: snapshot runs %d ok, %d failed; journal events %d ok, %d failed\n",
		r.Replication.SnapshotOK, r.Replication.SnapshotFailed, r.Replication.JournalOK, r.Replication.JournalFailed)
	fmt.Fprintf(w, "follower:    position %d of %d, caught up in %.1fs, %d resyncs, %d failed syncs\n",
		r.Follower.Position, r.Follower.PrimaryPosition, r.Follower.CatchUpSeconds, r.Follower.Resyncs, r.Follower.SyncErrors)
	fmt.Fprintf(w, "API:         %d requests (%.1f/s), %d errors\n", r.API.Requests, r.API.PerSecond, r.API.Errors)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	names := make([]string, 0, len(r.API.ByEndpoint))
	for n := range r.API.ByEndpoint {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		e := r.API.ByEndpoint[n]
		var st []string
		for code, k := range e.Statuses {
			st = append(st, fmt.Sprintf("%s×%d", code, k))
		}
		slices.Sort(st)
		fmt.Fprintf(tw, "  %s\t%d requests\t%d errors\tmean %.1f ms\t%s\n", n, e.Requests, e.Errors, e.MeanMillis, strings.Join(st, " "))
	}
	tw.Flush()
	fmt.Fprintf(w, "errors:      %d in all (%d logged at error level)\n", r.Errors, r.LoggedErrors)
	fmt.Fprintln(w)
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail)
	}
	if r.Pass {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}
