package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSoakBriefly runs the soak for a few seconds, so that it keeps working; the
// real runs are minutes long (see RELIABILITY.md).
func TestSoakBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack for seconds")
	}
	out := filepath.Join(t.TempDir(), "soak.json")
	c, err := parseFlags([]string{"-duration", "3s", "-nodes", "300", "-every", "500ms", "-trigger", "700ms",
		"-checkpoint", "1s", "-sample", "1s", "-clients", "2", "-write-rate", "100", "-json", out}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	res, err := run(t.Context(), c, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if !res.Pass {
		t.Fatalf("the soak failed:\n%s\n%s", stdout.String(), stderr.String())
	}
	if !strings.HasSuffix(strings.TrimSpace(stdout.String()), "PASS") {
		t.Errorf("output does not end in PASS:\n%s", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got result
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("-json: %v", err)
	}
	switch {
	case !got.Pass || got.Errors != 0:
		t.Errorf("JSON says pass %v with %d errors", got.Pass, got.Errors)
	case got.Writes.Batches == 0 || got.API.Requests == 0 || got.Snapshots.Verified == 0:
		t.Errorf("nothing was done: %+v %+v %+v", got.Writes, got.API, got.Snapshots)
	case got.Snapshots.Verified != got.Snapshots.Completed:
		t.Errorf("%d completed snapshots, %d verified", got.Snapshots.Completed, got.Snapshots.Verified)
	case got.Follower.Position != got.Follower.PrimaryPosition || got.Follower.Position == 0:
		t.Errorf("follower at %d, primary at %d", got.Follower.Position, got.Follower.PrimaryPosition)
	case len(got.Memory) < 3:
		t.Errorf("%d memory samples in 3s at one a second", len(got.Memory))
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "0s"}, {"-nodes", "3"}, {"-writers", "0"}, {"-write-rate", "0"},
		{"-every", "1ms"}, {"-think", "-1s"}, {"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
