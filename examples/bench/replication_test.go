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

// TestReplicationStep runs a short replication step: the follower ends equal to
// the leader, and the step is in the JSON as system, step, seconds (the p99 lag)
// and rate (the changes a second achieved).
func TestReplicationStep(t *testing.T) {
	c := config{nodes: 100, edges: 300, seed: 7, change: 0.01, dir: t.TempDir(), skip: append(slices.Clone(peers), sysCopy),
		replicationRate: 500, replicationDuration: time.Second}
	rep, det, err := run(t.Context(), c)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	r, ok := rep.find(sysGraphvault, stepReplication)
	if !ok {
		t.Fatal("no replication result")
	}
	if r.Rate < 250 || r.Rate > 600 || r.Seconds <= 0 || r.Seconds > 30 {
		t.Errorf("replication result %+v", r)
	}
	if det.replication == nil || det.replication.batches < 10 {
		t.Errorf("replication run %+v", det.replication)
	}
	path := filepath.Join(t.TempDir(), "out.json")
	if err := writeJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Results []map[string]any }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, res := range doc.Results {
		keys := slices.Sorted(maps.Keys(res))
		want := []string{"bytes_written", "peak_heap_bytes", "seconds", "step", "system"}
		if res["step"] == stepReplication {
			want = []string{"rate", "seconds", "step", "system"}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%v/%v: keys %v, want %v", res["system"], res["step"], keys, want)
		}
	}
	var out bytes.Buffer
	printReport(&out, rep, det)
	if !strings.Contains(out.String(), "replication p99 lag (s)") {
		t.Errorf("report lacks the replication targets:\n%s", out.String())
	}
}

func TestReplicationFlagsChecked(t *testing.T) {
	for _, c := range []config{
		{nodes: 10, edges: 10, change: 0.1, replicationRate: -1},
		{nodes: 10, edges: 10, change: 0.1, replicationRate: 10, replicationDuration: 0},
	} {
		if _, _, err := run(t.Context(), c); err == nil {
			t.Errorf("rate %d, duration %v: no error", c.replicationRate, c.replicationDuration)
		}
	}
}
