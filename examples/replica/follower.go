package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// ErrGap is returned by Sync when the target's journal skips batches the follower
// needs and no snapshot newer than the follower's position is there to resync from.
// The follower does not skip: it keeps its position and tries again.
var ErrGap = errors.New("replica: journal gap")

// followerJournal is how many batches the follower's graph keeps in its journal.
const followerJournal = 1024

// ErrPromoted is returned by Sync and Run after Promote.
var ErrPromoted = errors.New("replica: promoted")

// Config describes a follower.
type Config struct {
	// Bucket is the target: a file target's directory or an http target's
	// receive endpoint, opened as a bucket. The follower only reads it.
	Bucket *blob.Bucket
	// GraphID is the graph to follow.
	GraphID string
	// GraphML, if set, is a file the follower's graph is written to every
	// WriteEvery and when it is promoted.
	GraphML    string
	WriteEvery time.Duration // default 5s
	Poll       time.Duration // how often Run syncs; default 200ms
	Logger     *slog.Logger  // nil: slog.Default()
	// OnApply, if set, is called after each batch is applied, with the time it was
	// applied; it runs in the syncing goroutine.
	OnApply func(b graph.Batch, applied time.Time)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Status is where a follower stands.
type Status struct {
	GraphID  string `json:"graph_id"`
	Position uint64 `json:"position"` // newest batch applied
	// Journal names the primary's journal Position counts in (the journal of the
	// snapshot the follower restarted from); "" for a journal without a name.
	Journal string `json:"journal,omitempty"`
	// Snapshot is the snapshot the follower last (re)started from.
	Snapshot string `json:"snapshot,omitempty"`
	// Head is the position the target's journal HEAD names.
	Head uint64 `json:"head"`
	// LagSeconds is 0 when the follower holds every batch at the target; otherwise
	// now − the time of the newest batch it applied (or of HEAD's batch).
	LagSeconds float64   `json:"lag_seconds"`
	Resyncs    int       `json:"resyncs"`
	Gap        string    `json:"gap,omitempty"` // the gap it waits on, if any
	LastSync   time.Time `json:"last_sync,omitzero"`
	Promoted   bool      `json:"promoted"`
}

// Follower keeps a graph equal to a replication target's copy of a primary's
// graph: the newest snapshot there, then the journal segments after it, of the
// snapshot's own journal only. When the primary restarts, it counts in a new
// journal and its shipper replicates a baseline snapshot of it before HEAD names
// it: the follower then restarts from that snapshot. Sync does
// one step; Run syncs until its context ends or Promote is called. Status, Graph and
// Position may be called from any goroutine.
type Follower struct {
	cfg Config
	log *slog.Logger
	g   *memgraph.Graph

	syncMu    sync.Mutex // one Sync at a time
	lastWrite time.Time

	mu       sync.Mutex
	st       Status
	based    bool // a snapshot (or an empty start at 0) is applied
	batchAt  time.Time
	promoted bool
}

// NewFollower returns a follower with an empty graph; the first Sync restores.
func NewFollower(cfg Config) (*Follower, error) {
	if cfg.Bucket == nil || !backup.ValidGraphID(cfg.GraphID) {
		return nil, fmt.Errorf("replica: a bucket and a valid graph id are required")
	}
	if cfg.WriteEvery <= 0 {
		cfg.WriteEvery = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// The follower's own journal is kept short: its position is the primary's, held
	// in Status; a promoted follower's new writes are journaled from there on.
	g := memgraph.New(memgraph.WithJournalLimit(followerJournal))
	return &Follower{cfg: cfg, log: cfg.Logger, g: g, st: Status{GraphID: cfg.GraphID}}, nil
}

// Graph returns the follower's graph. Read it only; the follower writes it.
func (f *Follower) Graph() *memgraph.Graph { return f.g }

// Position returns the newest batch applied.
func (f *Follower) Position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Position
}

// Status returns where the follower stands.
func (f *Follower) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// Run syncs every Poll until ctx ends (returning nil) or the follower is promoted
// (ErrPromoted). Sync errors are logged and reported in Status; Run goes on.
func (f *Follower) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Poll)
	defer t.Stop()
	var last string
	for {
		err := f.Sync(ctx)
		switch {
		case errors.Is(err, ErrPromoted):
			return err
		case err != nil && ctx.Err() == nil && err.Error() != last:
			f.log.Warn("replica: sync failed", "graph", f.cfg.GraphID, "position", f.Position(), "err", err)
		}
		if err != nil {
			last = err.Error()
		} else {
			last = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync does one step: restore the newest snapshot if nothing is applied yet, then
// apply the journal segments after the position up to the target's HEAD. A gap in
// the segments is resynced from a newer snapshot if the target holds one; otherwise
// Sync returns an error wrapping ErrGap and keeps its position.
func (f *Follower) Sync(ctx context.Context) error {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	promoted, based, pos := f.promoted, f.based, f.st.Position
	f.mu.Unlock()
	if promoted {
		return ErrPromoted
	}
	if !based {
		ok, err := f.resync(ctx, 0, true, "")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("replica: graph %s: no snapshot at the target yet", f.cfg.GraphID)
		}
		pos = f.Position()
	}
	err := f.tail(ctx, pos)
	if err == nil {
		f.maybeWrite(ctx, false)
	}
	return err
}

// tail applies the segments after pos, of the follower's journal.
func (f *Follower) tail(ctx context.Context, pos uint64) error {
	b := f.cfg.Bucket
	head, err := replication.ReadJournalHead(ctx, b, f.cfg.GraphID)
	if errors.Is(err, replication.ErrNotFound) {
		f.setStatus(func(s *Status) { s.LastSync = f.cfg.Now() })
		return nil // nothing shipped yet
	}
	if err != nil {
		return err
	}
	f.setStatus(func(s *Status) { s.Head = head.Position })
	if head.Journal != f.Status().Journal {
		// The primary counts in another journal (it restarted): positions of the
		// two are unrelated, and the segments of the new one continue only a
		// snapshot of it.
		ok, err := f.resync(ctx, pos, false, head.Journal)
		if err != nil {
			return err
		}
		if !ok {
			msg := fmt.Sprintf("the target's journal is not the one of the follower's position and no snapshot of it is at the target (HEAD %d)", head.Position)
			f.setStatus(func(s *Status) { s.Gap = msg; s.LagSeconds = f.lag(head) })
			return fmt.Errorf("%w: graph %s: %s", ErrGap, f.cfg.GraphID, msg)
		}
		pos = f.Position()
	}
	journal := head.Journal // the follower's too, from here on
	for head.Position > pos {
		var chain []replication.SegmentInfo
		if info, ok := replication.ParseSegmentKey(head.Segment); ok && info.InJournal(journal) && info.First <= pos+1 && info.Last > pos {
			chain = []replication.SegmentInfo{info} // the usual case: one segment behind
		} else {
			segs, err := replication.ListSegments(ctx, b, f.cfg.GraphID, pos)
			if err != nil {
				return err
			}
			_, chain = replication.Chain(segs, journal, pos)
		}
		if len(chain) == 0 {
			// HEAD is past us and no segment continues our position: a gap.
			ok, err := f.resync(ctx, pos, false, head.Journal)
			if err != nil {
				return err
			}
			if !ok {
				msg := fmt.Sprintf("segments after position %d are missing and no newer snapshot is at the target (HEAD %d)", pos, head.Position)
				f.setStatus(func(s *Status) { s.Gap = msg; s.LagSeconds = f.lag(head) })
				return fmt.Errorf("%w: graph %s: %s", ErrGap, f.cfg.GraphID, msg)
			}
			pos = f.Position()
			continue
		}
		for _, sg := range chain {
			batches, err := replication.ReadSegment(ctx, b, sg)
			if err != nil {
				return fmt.Errorf("replica: %w", err)
			}
			for _, bt := range batches {
				if bt.Seq <= pos {
					continue
				}
				if bt.Seq != pos+1 {
					return fmt.Errorf("%w: segment %s holds batch %d after %d", ErrGap, sg.Key, bt.Seq, pos)
				}
				if err := f.g.Apply(ctx, bt.Ops); err != nil {
					return fmt.Errorf("replica: apply batch %d: %w", bt.Seq, err)
				}
				pos = bt.Seq
				now := f.cfg.Now()
				f.mu.Lock()
				f.st.Position, f.batchAt, f.st.Gap = pos, bt.Time, ""
				f.mu.Unlock()
				if f.cfg.OnApply != nil {
					f.cfg.OnApply(bt, now)
				}
			}
		}
	}
	f.setStatus(func(s *Status) { s.LastSync = f.cfg.Now(); s.LagSeconds = f.lag(head) })
	return nil
}

// lag is 0 when the follower holds HEAD, else how old its newest batch is.
func (f *Follower) lag(head *replication.JournalHead) float64 {
	if f.st.Position >= head.Position {
		return 0
	}
	at := f.batchAt
	if at.IsZero() {
		at = head.BatchTime
	}
	if at.IsZero() {
		return 0
	}
	return max(0, f.cfg.Now().Sub(at).Seconds())
}

func (f *Follower) setStatus(fn func(s *Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st)
}

// resync restores the target's newest snapshot of the graph (or, first, whatever
// it is) if it is of the journal named journal, HEAD's, and either of another
// journal than the follower's position or past pos. It reports false when there
// is none. With no snapshot at all but a journal starting at batch 1, first
// starts from empty, in HEAD's journal.
func (f *Follower) resync(ctx context.Context, pos uint64, first bool, journal string) (bool, error) {
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		return false, err
	}
	defer st.Close()
	e, err := backup.New(st, f.cfg.Bucket, backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return false, err
	}
	if _, _, err := e.Reindex(ctx); err != nil {
		return false, fmt.Errorf("replica: read the target's snapshots: %w", err)
	}
	row, err := st.LatestSnapshot(ctx, f.cfg.GraphID, meta.SnapshotCompleted)
	if errors.Is(err, meta.ErrNotFound) {
		if first {
			head, err := replication.ReadJournalHead(ctx, f.cfg.Bucket, f.cfg.GraphID)
			if errors.Is(err, replication.ErrNotFound) {
				return false, nil // HEAD comes after the first segment
			}
			if err != nil {
				return false, err
			}
			segs, err := replication.ListSegments(ctx, f.cfg.Bucket, f.cfg.GraphID, 0)
			if err != nil {
				return false, err
			}
			if _, chain := replication.Chain(segs, head.Journal, 0); len(chain) > 0 {
				f.mu.Lock()
				f.based, f.st.Journal = true, head.Journal
				f.mu.Unlock()
				return true, nil
			}
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m, err := e.Manifest(ctx, row.ID)
	if err != nil {
		return false, fmt.Errorf("replica: read the manifest of snapshot %s: %w", row.ID, err)
	}
	sp := uint64(row.JournalPos)
	if !first && (m.Journal != journal || m.Journal == f.Status().Journal && sp <= pos) {
		return false, nil
	}
	// Restore verifies every object as it reads it and leaves the graph as it was
	// on failure.
	if _, err := e.Restore(ctx, row.ID, f.g, backup.RestoreOptions{}); err != nil {
		return false, fmt.Errorf("replica: restore snapshot %s: %w", row.ID, err)
	}
	f.mu.Lock()
	f.based = true
	if !first {
		f.st.Resyncs++
	}
	f.st.Position, f.st.Journal, f.st.Snapshot, f.st.Gap, f.batchAt = sp, m.Journal, row.ID, "", row.FinishedAt
	f.mu.Unlock()
	f.log.Info("replica: restored snapshot", "graph", f.cfg.GraphID, "snapshot", row.ID, "journal", m.Journal, "position", sp, "resync", !first)
	return true, nil
}

// maybeWrite writes the GraphML file when one is configured and it is due (or now).
func (f *Follower) maybeWrite(ctx context.Context, now bool) error {
	if f.cfg.GraphML == "" || (!now && f.cfg.Now().Sub(f.lastWrite) < f.cfg.WriteEvery) {
		return nil
	}
	v, err := f.g.View(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := graphml.NewFile(f.cfg.GraphML).Replace(ctx, v.Meta(), v.Nodes(ctx), v.Edges(ctx)); err != nil {
		return fmt.Errorf("replica: write %s: %w", f.cfg.GraphML, err)
	}
	f.lastWrite = f.cfg.Now()
	return nil
}

// Promote stops following: it waits for a Sync in progress, makes every later
// Sync return ErrPromoted, writes the GraphML file (when configured) and returns
// the position reached. The graph is then the follower's own to serve and write.
func (f *Follower) Promote(ctx context.Context) (uint64, error) {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	f.mu.Lock()
	f.promoted, f.st.Promoted = true, true
	pos := f.st.Position
	f.mu.Unlock()
	if err := f.maybeWrite(ctx, true); err != nil {
		return pos, err
	}
	f.log.Info("replica: promoted", "graph", f.cfg.GraphID, "position", pos)
	return pos, nil
}
