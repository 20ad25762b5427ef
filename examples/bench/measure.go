package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Heap metrics read by the sampler. heapObjects is what runtime.MemStats calls
// HeapAlloc: live objects plus garbage not yet swept. heapLive is the heap the last
// garbage collection found reachable.
const (
	heapObjects = "/memory/classes/heap/objects:bytes"
	heapLive    = "/gc/heap/live:bytes"
	gcCycles    = "/gc/cycles/total:gc-cycles"
)

// heapStats is one reading of the heap metrics.
type heapStats struct {
	alloc, live, cycles uint64
}

func readHeap(s []metrics.Sample) heapStats {
	metrics.Read(s)
	var h heapStats
	for _, x := range s {
		if x.Value.Kind() != metrics.KindUint64 {
			continue
		}
		switch x.Name {
		case heapObjects:
			h.alloc = x.Value.Uint64()
		case heapLive:
			h.live = x.Value.Uint64()
		case gcCycles:
			h.cycles = x.Value.Uint64()
		}
	}
	return h
}

func heapSamples() []metrics.Sample {
	return []metrics.Sample{{Name: heapObjects}, {Name: heapLive}, {Name: gcCycles}}
}

// heapPeak is what a heapSampler saw during one step, relative to the heap before it.
type heapPeak struct {
	// Alloc is the highest heap allocation (live plus unswept garbage) above the
	// heap before the step.
	Alloc int64
	// Live is the highest live heap found by a collection during the step, above
	// the live heap before it; 0 when no collection ran.
	Live int64
	// GCs is the number of collections that ran during the step.
	GCs uint64
}

// heapSampler reads the heap every interval in a goroutine and keeps the peak.
type heapSampler struct {
	base heapStats
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	peak heapStats
}

// startHeapSampler collects garbage, takes the heap as the base line and starts
// sampling. Stop must be called.
func startHeapSampler(interval time.Duration) *heapSampler {
	runtime.GC()
	samples := heapSamples()
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.base = readHeap(samples)
	s.peak = s.base
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.observe(readHeap(samples))
			}
		}
	}()
	return s
}

func (s *heapSampler) observe(h heapStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.alloc = max(s.peak.alloc, h.alloc)
	s.peak.cycles = max(s.peak.cycles, h.cycles)
	if h.cycles > s.base.cycles {
		s.peak.live = max(s.peak.live, h.live)
	}
}

// Stop ends the sampling, takes a last reading and returns the peak.
func (s *heapSampler) Stop() heapPeak {
	close(s.stop)
	<-s.done
	s.observe(readHeap(heapSamples()))
	s.mu.Lock()
	defer s.mu.Unlock()
	p := heapPeak{
		Alloc: int64(s.peak.alloc) - int64(s.base.alloc),
		GCs:   s.peak.cycles - s.base.cycles,
	}
	if p.GCs > 0 {
		p.Live = int64(s.peak.live) - int64(s.base.live)
	}
	p.Alloc, p.Live = max(p.Alloc, 0), max(p.Live, 0)
	return p
}

// retainedHeap collects garbage and returns how far the live heap is above base:
// what a step left behind (for a restore, the restored graph).
func retainedHeap(base heapStats) int64 {
	runtime.GC()
	h := readHeap(heapSamples())
	return max(int64(h.alloc)-int64(base.alloc), 0)
}

// childResult is what running an external program cost.
type childResult struct {
	Seconds float64
	CPU     float64 // user and system CPU seconds of the child
	MaxRSS  int64   // peak resident set of the child, in bytes
}

// runChild runs name with args and env added to the environment, and returns the
// wall time and the child's peak resident set. A failing program is an error that
// carries the end of its output.
func runChild(ctx context.Context, env []string, name string, args ...string) (childResult, error) {
	return runChildIn(ctx, "", env, name, args...)
}

// runChildIn is runChild with dir as the child's working directory ("" for this
// process's).
func runChildIn(ctx context.Context, dir string, env []string, name string, args ...string) (childResult, error) {
	settle()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &tailBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return childResult{}, fmt.Errorf("%s: %w", name, err)
	}
	// The child's own rusage is no good for its peak memory: the child starts as a
	// copy of this process, whose resident set is counted before exec replaces it.
	// VmHWM, the peak of the image after exec, is sampled instead.
	done := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(sampleInterval)
		defer t.Stop()
		for {
			peak = max(peak, readHWM(cmd.Process.Pid))
			select {
			case <-done:
				hwm <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	res := childResult{Seconds: time.Since(start).Seconds(), MaxRSS: <-hwm}
	if cmd.ProcessState != nil {
		res.CPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && res.MaxRSS == 0 {
			res.MaxRSS = int64(ru.Maxrss) * 1024 // no /proc: the best there is, in KiB
		}
	}
	if err != nil {
		return res, fmt.Errorf("%s %v: %w: %s", name, args, err, out.buf)
	}
	return res, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

// dirSize returns the total size of the regular files below dir, 0 if it does not
// exist. The same measure is used for every system so their bytes compare.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// settle writes back every file system's dirty pages before a timed step, so that
// no step pays for another's: zstd leaves its output unsynced, and a graphvault
// snapshot ends with a sync of its bucket's whole file system (syncfs), which
// would otherwise write back the zstd file made seconds before it.
func settle() { syscall.Sync() }

// processCPU returns the user and system CPU seconds this process has used.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// readHWM returns the peak resident set of process pid in bytes, from
// /proc/PID/status, or 0 when it cannot be read.
func readHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
