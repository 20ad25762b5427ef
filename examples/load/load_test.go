package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunTiny prepares a small store, starts the example server on it and loads it
// for a second, then checks the report, the table and the JSON file.
func TestRunTiny(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.json")
	c := config{clients: 5, duration: time.Second, rows: 200, p99: 10 * time.Second, timeout: 10 * time.Second, jsonPath: path}
	var out bytes.Buffer
	rep, err := run(t.Context(), c, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	if rep.Total.Errors != 0 {
		t.Errorf("errors = %d, want 0: %v", rep.Total.Errors, rep.Total.ErrorSamples)
	}
	if !rep.Pass || !strings.Contains(out.String(), "PASS:") {
		t.Errorf("pass = %t, want true", rep.Pass)
	}
	if rep.Rows != 200 {
		t.Errorf("rows = %d, want 200", rep.Rows)
	}
	var wantGraphs []string
	for _, g := range seedGraphs {
		wantGraphs = append(wantGraphs, g.id)
	}
	slices.Sort(wantGraphs)
	if !slices.Equal(rep.Graphs, wantGraphs) {
		t.Errorf("graphs = %v, want %v", rep.Graphs, wantGraphs)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"clients", "duration_seconds", "endpoints", "graphs", "p99_limit_ms", "pass", "rows", "think_seconds", "total"}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, wantKeys) {
		t.Errorf("top-level keys = %v, want %v", got, wantKeys)
	}
	var got Report
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, e := range got.Endpoints {
		if !slices.Contains(endpoints, e.Endpoint) {
			t.Errorf("unknown endpoint %q", e.Endpoint)
		}
		if e.Requests == 0 || e.P50MS > e.P99MS || e.P99MS > e.MaxMS || e.PerSecond <= 0 {
			t.Errorf("endpoint %+v: want requests, p50 <= p99 <= max and a rate", e)
		}
		if !strings.Contains(out.String(), e.Endpoint) {
			t.Errorf("the table has no row %q", e.Endpoint)
		}
		sum += e.Requests
	}
	if got.Total.Endpoint != "all" || got.Total.Requests != sum || sum == 0 {
		t.Errorf("total = %+v, want %d requests over all endpoints", got.Total, sum)
	}
	if got.Clients != 5 || got.DurationSeconds < 1 || got.P99LimitMS != 10000 {
		t.Errorf("clients, duration, limit = %d, %v, %v; want 5, >= 1, 10000", got.Clients, got.DurationSeconds, got.P99LimitMS)
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 50 * time.Millisecond},
		{0.9, 90 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{0, time.Millisecond},
	}
	for _, tt := range tests {
		if got := quantile(ds, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("quantile of one = %v, want 7", got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"loopback url", []string{"-url", "http://127.0.0.1:9621"}, true},
		{"localhost url", []string{"-url", "http://localhost:9621"}, true},
		{"ipv6 loopback", []string{"-url", "http://[::1]:9621"}, true},
		{"remote url", []string{"-url", "http://192.0.2.1:9621"}, false},
		{"named host", []string{"-url", "http://example.com"}, false},
		{"url with data", []string{"-url", "http://127.0.0.1:1", "-data", "x"}, false},
		{"no clients", []string{"-clients", "0"}, false},
		{"too few rows", []string{"-rows", "3"}, false},
		{"zero duration", []string{"-duration", "0s"}, false},
		{"think time", []string{"-think", "1s"}, true},
		{"negative think time", []string{"-think", "-1s"}, false},
		{"argument", []string{"extra"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, &bytes.Buffer{})
			if (err == nil) != tt.ok {
				t.Errorf("parseFlags(%q) error = %v, want ok %t", tt.args, err, tt.ok)
			}
		})
	}
}
