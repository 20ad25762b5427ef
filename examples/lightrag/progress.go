package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/graphvault/graphvault/backup"
)

// Progress display timing: nothing is drawn for work that ends within
// progressDelay, so quick commands print exactly what they print without a
// terminal, and the line is redrawn at most once per progressEvery, since the
// engine reports from several goroutines far more often than a reader can see.
const (
	progressDelay = time.Second
	progressEvery = 100 * time.Millisecond
	barWidth      = 24
)

// statusLine is standard error on a terminal with a line of progress kept at its
// bottom. Everything else written to it (notes, -v's log) first clears that line,
// so the two never run into each other; the next redraw brings it back.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	shown int // width of the line on the screen; 0 when none is
}

func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	return s.w.Write(p)
}

// show draws line in place of the one shown, padding with spaces over what a
// longer line left.
func (s *statusLine) show(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pad := max(s.shown-len(line), 0)
	// A failed write to the terminal leaves nothing to report it to.
	fmt.Fprintf(s.w, "\r%s%s", line, strings.Repeat(" ", pad))
	s.shown = len(line)
}

func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *statusLine) clearLocked() {
	if s.shown > 0 {
		fmt.Fprintf(s.w, "\r%s\r", strings.Repeat(" ", s.shown))
		s.shown = 0
	}
}

// progress is the display of one long operation (a snapshot, restore or
// verify). It is fed the engine's progress reports and the time, and draws to
// show; it starts no goroutine itself, so a test drives it with a fake clock. A
// nil *progress draws nothing: it is what a command gets when standard error is
// not a terminal.
type progress struct {
	mu    sync.Mutex
	show  func(line string)
	now   func() time.Time
	what  string // "snapshot graph-id", "restore", "verify"
	total int64  // records the operation will have handled at its end; 0 if not known
	start time.Time
	drawn time.Time // when the line was last drawn; zero before the first time
	cur   backup.Progress
}

func newProgress(show func(string), now func() time.Time, what string, total int64) *progress {
	return &progress{show: show, now: now, what: what, total: total, start: now()}
}

// update records a report from the engine and redraws if it is time to. The
// engine calls it from several goroutines, so a report older than the one held
// (fewer records in the same phase) is ignored.
func (p *progress) update(r backup.Progress) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Phase == p.cur.Phase && r.Records < p.cur.Records {
		return
	}
	p.cur = r
	p.drawLocked()
}

// tick redraws if it is time to: the elapsed time moves even while the engine
// reports nothing (verify reports nothing at all).
func (p *progress) tick() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked()
}

func (p *progress) drawLocked() {
	now := p.now()
	if now.Sub(p.start) <= progressDelay || (!p.drawn.IsZero() && now.Sub(p.drawn) < progressEvery) {
		return
	}
	p.drawn = now
	p.show(p.render(now))
}

// render is the progress line at now: with a known total a bar, the percentage
// and the records done of the total; without, the phase and the records. Bytes
// are shown when the engine counts them, and the elapsed time always.
func (p *progress) render(now time.Time) string {
	var b strings.Builder
	b.WriteString(p.what)
	if p.cur.Phase != "" {
		b.WriteString(" " + p.cur.Phase)
	}
	if p.total > 0 {
		frac := min(float64(p.cur.Records)/float64(p.total), 1)
		filled := int(frac * barWidth)
		fmt.Fprintf(&b, " [%s%s] %3d%% %d/%d records", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
			int(frac*100), p.cur.Records, p.total)
	} else if p.cur.Records > 0 {
		fmt.Fprintf(&b, " %d records", p.cur.Records)
	}
	if p.cur.Bytes > 0 {
		b.WriteString(" " + humanBytes(p.cur.Bytes))
	}
	el := now.Sub(p.start).Truncate(time.Second)
	fmt.Fprintf(&b, " %d:%02d", int(el.Minutes()), int(el.Seconds())%60)
	return b.String()
}

// humanBytes is n in B, KiB, MiB or GiB with one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if f < unit {
			break
		}
		f, suffix = f/unit, s
	}
	return fmt.Sprintf("%.1f %s", f, suffix)
}

// startProgress starts the display of an operation on a terminal's standard
// error and returns it with the function that ends it, which clears the line.
// A goroutine redraws it every progressEvery so that the elapsed time moves
// between the engine's reports. Without a terminal it returns a nil display
// and a function that does nothing.
func (c *cli) startProgress(what string, total int64) (*progress, func()) {
	if c.status == nil {
		return nil, func() {}
	}
	p := newProgress(c.status.show, time.Now, what, total)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.tick()
			}
		}
	})
	return p, func() {
		close(stop)
		wg.Wait()
		c.status.clear()
	}
}
