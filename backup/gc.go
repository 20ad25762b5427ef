package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

// GCOptions tune a garbage collection. The zero value deletes unreferenced objects
// and temporary objects older than one hour.
type GCOptions struct {
	// Grace protects objects younger than this: a snapshot running in another process
	// may have just written them. Default 1h; negative means 0.
	Grace time.Duration
	// TempMaxAge protects temporary objects younger than this: partial writes,
	// see [github.com/graphvault/graphvault/store/blob.TempRemover]. Default: the
	// engine's ([WithTempMaxAge]); negative is ErrInvalid.
	TempMaxAge time.Duration
	// DryRun counts what would be deleted and deletes nothing; temporary objects
	// are then neither removed nor counted.
	DryRun bool
}

// GCResult says what a collection found.
type GCResult struct {
	Manifests    int   `json:"manifests"`
	Referenced   int   `json:"referenced"`
	Deleted      int   `json:"deleted"`
	DeletedBytes int64 `json:"deleted_bytes"`
	Kept         int   `json:"kept_young"` // unreferenced but inside the grace period
	DryRun       bool  `json:"dry_run"`
	// TempRemoved counts the temporary objects, left by interrupted writes, that
	// were removed.
	TempRemoved int `json:"temp_removed"`
}

// GC deletes data, index (format 2 and before) and key objects that no manifest
// references (mark and sweep). It runs exclusively with snapshots in this process, and leaves alone
// unreferenced objects younger than the grace period or than the start of any
// snapshot another process is running, so it is safe beside them; a snapshot also
// checks that every object it references still exists before it commits. Unless
// DryRun is set, it then removes the temporary objects older than TempMaxAge
// ([Engine.RemoveTemp]).
func (e *Engine) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	if opts.TempMaxAge < 0 {
		return nil, fmt.Errorf("%w: gc: temporary object age must not be negative", ErrInvalid)
	}
	e.gcMu.Lock()
	defer e.gcMu.Unlock()
	grace := opts.Grace
	if grace == 0 {
		grace = time.Hour
	}
	cutoff := time.Now().Add(-max(grace, 0))
	running, err := e.allSnapshots(ctx, meta.SnapshotFilter{Status: meta.SnapshotRunning})
	if err != nil {
		return nil, err
	}
	pending, err := e.allSnapshots(ctx, meta.SnapshotFilter{Status: meta.SnapshotPending})
	if err != nil {
		return nil, err
	}
	for _, s := range append(running, pending...) {
		if !s.StartedAt.IsZero() && s.StartedAt.Before(cutoff) {
			cutoff = s.StartedAt
		}
	}

	res := &GCResult{DryRun: opts.DryRun}
	marked := map[string]bool{}
	for a, err := range e.bucket.List(ctx, manifestPrefix) {
		if err != nil {
			return nil, err
		}
		m, err := e.readManifest(ctx, a.Key)
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				// An unreadable manifest protects nothing, but we refuse to guess what it
				// protected: stop rather than delete data it may name.
				return nil, fmt.Errorf("backup: gc stopped, cannot read %s: %w", a.Key, err)
			}
			return nil, err
		}
		res.Manifests++
		for _, o := range m.objects() {
			marked[o.Key] = true
		}
	}
	res.Referenced = len(marked)
	for _, prefix := range []string{dataPrefix, indexPrefix, keysPrefix} {
		for a, err := range e.bucket.List(ctx, prefix) {
			if err != nil {
				return nil, err
			}
			if marked[a.Key] || strings.Contains(a.Key, "/.") {
				continue
			}
			if a.ModTime.After(cutoff) {
				res.Kept++
				continue
			}
			res.Deleted++
			res.DeletedBytes += a.Size
			if opts.DryRun {
				continue
			}
			if err := e.bucket.Delete(ctx, a.Key); err != nil {
				return res, err
			}
		}
	}
	if !opts.DryRun {
		e.m.gcDeleted.Add(ctx, int64(res.Deleted))
		e.m.gcBytes.Add(ctx, res.DeletedBytes)
		maxAge := opts.TempMaxAge
		if maxAge == 0 {
			maxAge = e.cfg.tempMaxAge
		}
		res.TempRemoved, err = e.removeTemp(ctx, maxAge)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// RemoveTemp removes the temporary objects that writes interrupted by a crash
// left in the bucket, when they are older than the engine's threshold
// ([WithTempMaxAge], default an hour), and reports how many it removed. A bucket
// whose driver keeps no temporaries (see
// [github.com/graphvault/graphvault/store/blob.TempRemover]) has none. Younger
// temporaries are left alone: another instance sharing the bucket may be writing
// them. A process calls it at start-up; GC calls it too.
func (e *Engine) RemoveTemp(ctx context.Context) (int, error) {
	return e.removeTemp(ctx, e.cfg.tempMaxAge)
}

func (e *Engine) removeTemp(ctx context.Context, maxAge time.Duration) (int, error) {
	n, err := e.bucket.RemoveTemp(ctx, time.Now().Add(-maxAge))
	if err != nil {
		return n, fmt.Errorf("backup: remove temporary objects: %w", err)
	}
	return n, nil
}

// ResolveInterrupted settles rows left pending or running by a process that stopped
// mid-snapshot: rows started more than olderThan ago become completed when their
// manifest was committed and failed otherwise. A single process calls it at
// start-up with 0; processes sharing a store pass more than their longest snapshot,
// or use [Engine.ResolveAbandoned] with the liveness of each row's instance.
func (e *Engine) ResolveInterrupted(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	return e.ResolveAbandoned(ctx, func(_ context.Context, row *meta.Snapshot) (bool, error) {
		return !row.StartedAt.After(cutoff), nil
	})
}

// ResolveAbandoned settles the pending and running rows that abandoned says no
// live writer holds any more (a row's writer is named by its [InstanceLabel]
// label, see [WithInstance]): each becomes completed when its manifest was
// committed and failed otherwise. It returns how many rows it settled. Rows
// abandoned does not pick are left as they are: another instance sharing the
// store may be writing them.
func (e *Engine) ResolveAbandoned(ctx context.Context, abandoned func(ctx context.Context, row *meta.Snapshot) (bool, error)) (int, error) {
	n := 0
	for _, status := range []string{meta.SnapshotPending, meta.SnapshotRunning} {
		rows, err := e.allSnapshots(ctx, meta.SnapshotFilter{Status: status})
		if err != nil {
			return n, err
		}
		for i := range rows {
			row := &rows[i]
			if ok, err := abandoned(ctx, row); err != nil {
				return n, err
			} else if !ok {
				continue
			}
			m, err := e.readManifest(ctx, manifestKey(row.GraphID, row.ID))
			if err == nil {
				fillRow(row, m)
				row.Status, row.FinishedAt = meta.SnapshotCompleted, m.CreatedAt
			} else {
				row.Status, row.Error, row.FinishedAt = meta.SnapshotFailed, "interrupted before commit", time.Now().UTC()
			}
			if err := e.store.UpdateSnapshot(ctx, row); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
