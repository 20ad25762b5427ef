package main

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/graphvault/graphvault/backup"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// recorder collects the lines a progress display draws.
type recorder struct{ lines []string }

func (r *recorder) show(line string) { r.lines = append(r.lines, line) }

func newTestProgress(what string, total int64) (*progress, *fakeClock, *recorder) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	rec := &recorder{}
	return newProgress(rec.show, clk.now, what, total), clk, rec
}

func TestProgressRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		what    string
		total   int64
		report  backup.Progress
		elapsed time.Duration
		want    string
	}{
		{"bar", "restore", 1000, backup.Progress{Phase: "nodes", Records: 250}, 3 * time.Second,
			"restore nodes [######------------------]  25% 250/1000 records 0:03"},
		{"bar full", "restore", 1000, backup.Progress{Phase: "done", Records: 1000}, 61 * time.Second,
			"restore done [########################] 100% 1000/1000 records 1:01"},
		{"bar past its total", "restore", 10, backup.Progress{Phase: "edges", Records: 12}, 2 * time.Second,
			"restore edges [########################] 100% 12/10 records 0:02"},
		{"no bar", "snapshot g", 0, backup.Progress{Phase: "store", Records: 4200, Bytes: 3 << 20}, 90 * time.Second,
			"snapshot g store 4200 records 3.0 MiB 1:30"},
		{"nothing reported", "verify", 0, backup.Progress{}, 5 * time.Second,
			"verify 0:05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, clk, rec := newTestProgress(tt.what, tt.total)
			clk.advance(tt.elapsed)
			p.update(tt.report)
			if len(rec.lines) != 1 || rec.lines[0] != tt.want {
				t.Errorf("drawn %q, want [%q]", rec.lines, tt.want)
			}
		})
	}
}

func TestProgressTiming(t *testing.T) {
	t.Parallel()
	p, clk, rec := newTestProgress("restore", 100)

	// Nothing during the first second, however often the engine reports.
	for i := range 10 {
		clk.advance(100 * time.Millisecond)
		p.update(backup.Progress{Phase: "nodes", Records: int64(i)})
	}
	if len(rec.lines) != 0 {
		t.Fatalf("drawn within the first second: %q", rec.lines)
	}

	// Past it the line is drawn, then at most once per progressEvery.
	clk.advance(time.Millisecond)
	p.update(backup.Progress{Phase: "nodes", Records: 20})
	for i := range 9 {
		clk.advance(10 * time.Millisecond)
		p.update(backup.Progress{Phase: "nodes", Records: int64(21 + i)})
	}
	if len(rec.lines) != 1 || !strings.Contains(rec.lines[0], " 20/100 ") {
		t.Fatalf("after 1.09 s drawn %q, want one line with 20/100", rec.lines)
	}
	clk.advance(10 * time.Millisecond)
	p.tick()
	if len(rec.lines) != 2 || !strings.Contains(rec.lines[1], " 29/100 ") {
		t.Fatalf("a tick progressEvery after the first line drew %q, want a second with the latest report (29/100)", rec.lines)
	}

	// A report that arrives late from another goroutine does not move it back.
	p.update(backup.Progress{Phase: "nodes", Records: 5})
	clk.advance(progressEvery)
	p.tick()
	if got := rec.lines[len(rec.lines)-1]; !strings.Contains(got, " 29/100 ") {
		t.Errorf("after a stale report the line is %q, want it at 29/100", got)
	}
}

func TestNilProgressDrawsNothing(t *testing.T) {
	t.Parallel()
	var p *progress
	p.update(backup.Progress{Phase: "store", Records: 1})
	p.tick()
	c := &cli{}
	p, end := c.startProgress("verify", 0)
	if p != nil {
		t.Errorf("startProgress without a terminal = %v, want nil", p)
	}
	end()
}

func TestStatusLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := &statusLine{w: &buf}
	s.show("restore 12345")
	s.show("restore 9")
	if _, err := s.Write([]byte("a note\n")); err != nil {
		t.Fatal(err)
	}
	s.show("x")
	s.clear()
	s.clear()
	want := "\rrestore 12345" + "\rrestore 9    " + "\r" + strings.Repeat(" ", 9) + "\r" + "a note\n" + "\rx" + "\r \r"
	if buf.String() != want {
		t.Errorf("written %q, want %q", buf.String(), want)
	}
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestStartProgress runs the display as a command does, its redrawing goroutine
// included, on a fake clock: nothing in the first second, then a line whose time
// moves though the engine reports nothing, cleared at the end.
func TestStartProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer // the race detector does not see the order the fake clock gives
		c := &cli{status: &statusLine{w: &buf}}
		_, end := c.startProgress("verify", 0)
		time.Sleep(time.Second)
		synctest.Wait()
		if buf.String() != "" {
			t.Errorf("drawn within the first second: %q", buf.String())
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		lines := strings.Split(buf.String(), "\r")
		if n := len(lines) - 1; n < 15 || n > 20 {
			t.Errorf("%d redraws from 1 s to 3 s, want about 20, at most one per %v", n, progressEvery)
		}
		if last := lines[len(lines)-1]; last != "verify 0:03" {
			t.Errorf("last line %q, want %q", last, "verify 0:03")
		}
		end()
		if !strings.HasSuffix(buf.String(), "\r"+strings.Repeat(" ", len("verify 0:03"))+"\r") {
			t.Errorf("output after the end %q, want the line cleared", buf.String())
		}
	})
}
