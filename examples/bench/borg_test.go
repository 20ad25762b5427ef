package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPeersRun runs restic and borg beside graphvault on a small graph, where
// they are installed: each backs up the export twice, restores and verifies.
func TestPeersRun(t *testing.T) {
	for _, p := range []string{sysRestic, sysBorg} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	c := config{nodes: 300, edges: 900, seed: 7, change: 0.01, dir: t.TempDir(), skip: []string{sysZstd, sysCopy}}
	rep, det, err := run(t.Context(), c)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, sys := range []string{sysRestic, sysBorg} {
		for _, step := range []string{stepFull, stepIncremental, stepRestore, stepVerify} {
			r, ok := rep.find(sys, step)
			if !ok {
				t.Errorf("%s/%s not measured", sys, step)
				continue
			}
			if r.Seconds <= 0 || r.PeakHeapBytes <= 0 {
				t.Errorf("%s/%s: %+v", sys, step, r)
			}
			if step != stepVerify && r.BytesWritten <= 0 {
				t.Errorf("%s/%s wrote nothing", sys, step)
			}
		}
	}
	if slices.Contains(rep.Skipped, sysBorg) || slices.Contains(rep.Skipped, sysRestic) {
		t.Errorf("skipped = %v", rep.Skipped)
	}
	var out bytes.Buffer
	printReport(&out, rep, det)
	for _, s := range []string{"full time / borg full time", "verify time / restic check --read-data time", "verify time / restore time", "peak extra heap, verify", "borg 1"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, out.String())
		}
	}
}

// TestPeersNotInstalled: with no program on PATH, every peer is listed as
// skipped and graphvault's steps run alone.
func TestPeersNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	c := config{nodes: 100, edges: 300, seed: 7, change: 0.01, dir: t.TempDir(), skip: []string{sysCopy}, probe: false}
	rep, _, err := run(t.Context(), c)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := []string{sysCopy, sysRestic, sysBorg, sysZstd}; !slices.Equal(rep.Skipped, want) {
		t.Errorf("skipped = %v, want %v", rep.Skipped, want)
	}
	for _, r := range rep.Results {
		if r.System != sysGraphvault {
			t.Errorf("%s/%s ran although not installed", r.System, r.Step)
		}
	}
}
