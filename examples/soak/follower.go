package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// follower keeps a graph equal to a replication target's copy of the primary, as
// examples/replica does: the target's newest snapshot, then the journal segments
// after its position, of the snapshot's own journal only. A gap in the segments,
// or a HEAD naming another journal (the primary restarted), is resynced from a
// newer snapshot; it is never skipped.
type follower struct {
	b       *blob.Bucket
	graphID string
	g       *memgraph.Graph

	mu      sync.Mutex
	pos     uint64
	journal string // the journal pos counts in
	based   bool
	resyncs int

	errs    atomic.Int64
	lastErr atomic.Value // string
}

func newFollower(b *blob.Bucket, graphID string) *follower {
	// The follower's own journal is not read; keep it short.
	return &follower{b: b, graphID: graphID, g: memgraph.New(memgraph.WithJournalLimit(16))}
}

func (f *follower) position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

// run syncs every poll until ctx ends, counting the syncs that fail.
func (f *follower) run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := f.sync(ctx); err != nil && ctx.Err() == nil {
			f.errs.Add(1)
			f.lastErr.Store(err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sync restores the newest snapshot when nothing is applied yet, then applies the
// segments after the position up to the target's HEAD.
func (f *follower) sync(ctx context.Context) error {
	if !f.based {
		ok, err := f.resync(ctx, 0, true, "")
		if err != nil || !ok {
			return err // nothing at the target yet is not an error
		}
	}
	head, err := replication.ReadJournalHead(ctx, f.b, f.graphID)
	if errors.Is(err, replication.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	pos := f.position()
	if head.Journal != f.journal {
		ok, err := f.resync(ctx, pos, false, head.Journal)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("follower: the target's journal is not the one of position %d and no snapshot of it is at the target", pos)
		}
		pos = f.position()
	}
	for head.Position > pos {
		segs, err := replication.ListSegments(ctx, f.b, f.graphID, pos)
		if err != nil {
			return err
		}
		_, chain := replication.Chain(segs, f.journal, pos)
		if len(chain) == 0 {
			ok, err := f.resync(ctx, pos, false, head.Journal)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("follower: segments after %d are missing and no newer snapshot is at the target (HEAD %d)", pos, head.Position)
			}
			pos = f.position()
			continue
		}
		for _, sg := range chain {
			batches, err := replication.ReadSegment(ctx, f.b, sg)
			if err != nil {
				return err
			}
			for _, bt := range batches {
				if bt.Seq <= pos {
					continue
				}
				if bt.Seq != pos+1 {
					return fmt.Errorf("follower: segment %s holds batch %d after %d", sg.Key, bt.Seq, pos)
				}
				if err := f.g.Apply(ctx, bt.Ops); err != nil {
					return fmt.Errorf("follower: apply batch %d: %w", bt.Seq, err)
				}
				pos = bt.Seq
				f.mu.Lock()
				f.pos = pos
				f.mu.Unlock()
			}
		}
	}
	return nil
}

// resync restores the target's newest snapshot if it is of journal (HEAD's) and
// either of another journal than the follower's or past pos (or, the first time,
// whatever it is, or an empty graph when HEAD's journal there starts at 1).
func (f *follower) resync(ctx context.Context, pos uint64, first bool, journal string) (bool, error) {
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		return false, err
	}
	defer st.Close()
	e, err := backup.New(st, f.b, backup.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return false, err
	}
	if _, _, err := e.Reindex(ctx); err != nil {
		return false, fmt.Errorf("follower: read the target's snapshots: %w", err)
	}
	row, err := st.LatestSnapshot(ctx, f.graphID, meta.SnapshotCompleted)
	if errors.Is(err, meta.ErrNotFound) {
		if first {
			head, err := replication.ReadJournalHead(ctx, f.b, f.graphID)
			if errors.Is(err, replication.ErrNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			segs, err := replication.ListSegments(ctx, f.b, f.graphID, 0)
			if err != nil {
				return false, err
			}
			if _, chain := replication.Chain(segs, head.Journal, 0); len(chain) > 0 {
				f.based, f.journal = true, head.Journal
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
		return false, fmt.Errorf("follower: read the manifest of snapshot %s: %w", row.ID, err)
	}
	if !first && (m.Journal != journal || m.Journal == f.journal && uint64(row.JournalPos) <= pos) {
		return false, nil
	}
	if _, err := e.Restore(ctx, row.ID, f.g, backup.RestoreOptions{}); err != nil {
		return false, fmt.Errorf("follower: restore snapshot %s: %w", row.ID, err)
	}
	f.mu.Lock()
	f.pos, f.journal, f.based = uint64(row.JournalPos), m.Journal, true
	if !first {
		f.resyncs++
	}
	f.mu.Unlock()
	return true, nil
}
