package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// Report is what a run measured; it is written as the -json file.
type Report struct {
	Clients         int             `json:"clients"`
	ThinkSeconds    float64         `json:"think_seconds"`    // mean pause before each call
	DurationSeconds float64         `json:"duration_seconds"` // how long the clients ran
	Rows            int             `json:"rows"`             // snapshot rows in the store; 0 with -url
	Graphs          []string        `json:"graphs"`
	P99LimitMS      float64         `json:"p99_limit_ms"`
	Pass            bool            `json:"pass"` // no errors and the overall p99 within the limit
	Endpoints       []EndpointStats `json:"endpoints"`
	Total           EndpointStats   `json:"total"`
}

// EndpointStats is what the clients saw of one endpoint, or of all of them.
type EndpointStats struct {
	Endpoint     string   `json:"endpoint"`
	Requests     int      `json:"requests"`
	Errors       int      `json:"errors"`
	P50MS        float64  `json:"p50_ms"`
	P90MS        float64  `json:"p90_ms"`
	P99MS        float64  `json:"p99_ms"`
	MaxMS        float64  `json:"max_ms"`
	MeanMS       float64  `json:"mean_ms"`
	PerSecond    float64  `json:"requests_per_second"`
	ErrorSamples []string `json:"error_samples,omitempty"`
}

func newReport(res results, c config, rows int, graphs []string) *Report {
	secs := res.elapsed.Seconds()
	rep := &Report{
		Clients: c.clients, ThinkSeconds: c.think.Seconds(), DurationSeconds: round(secs, 3), Rows: rows, Graphs: graphs,
		P99LimitMS: ms(c.p99), Endpoints: []EndpointStats{},
	}
	all := &series{}
	for _, name := range endpoints {
		s := res.by[name]
		if s == nil {
			continue
		}
		rep.Endpoints = append(rep.Endpoints, stats(name, s, secs))
		all.latencies = append(all.latencies, s.latencies...)
		all.errors += s.errors
		for _, msg := range s.samples {
			if len(all.samples) < errorSamples {
				all.samples = append(all.samples, name+": "+msg)
			}
		}
	}
	rep.Total = stats("all", all, secs)
	rep.Pass = rep.Total.Requests > 0 && rep.Total.Errors == 0 && rep.Total.P99MS <= rep.P99LimitMS
	return rep
}

// stats sorts s's latencies and sums them up.
func stats(name string, s *series, secs float64) EndpointStats {
	slices.Sort(s.latencies)
	n := len(s.latencies)
	e := EndpointStats{Endpoint: name, Requests: n, Errors: s.errors, ErrorSamples: s.samples}
	if n == 0 {
		return e
	}
	var sum time.Duration
	for _, d := range s.latencies {
		sum += d
	}
	e.P50MS = ms(quantile(s.latencies, 0.50))
	e.P90MS = ms(quantile(s.latencies, 0.90))
	e.P99MS = ms(quantile(s.latencies, 0.99))
	e.MaxMS = ms(s.latencies[n-1])
	e.MeanMS = ms(sum / time.Duration(n))
	if secs > 0 {
		e.PerSecond = round(float64(n)/secs, 1)
	}
	return e
}

// quantile returns the smallest latency that at least q of the sorted ones do not
// exceed (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// printReport writes the table and the verdict.
func printReport(w io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\treq/s\t")
	for _, e := range append(rep.Endpoints, rep.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t\n",
			e.Endpoint, e.Requests, e.Errors, e.P50MS, e.P90MS, e.P99MS, e.MaxMS, e.PerSecond)
	}
	tw.Flush()
	for _, msg := range rep.Total.ErrorSamples {
		fmt.Fprintln(w, "error:", msg)
	}
	verdict := "PASS"
	if !rep.Pass {
		verdict = "MISS"
	}
	fmt.Fprintf(w, "%s: %d requests in %.1f s from %d clients, %d errors, p99 %.2f ms (limit %.0f ms)\n",
		verdict, rep.Total.Requests, rep.DurationSeconds, rep.Clients, rep.Total.Errors, rep.Total.P99MS, rep.P99LimitMS)
}

// writeJSON writes rep to path, indented.
func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
