package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/graphvault/graphvault/store/meta"
)

// IndexManifest gives the snapshot whose manifest is stored under key a completed
// row, unless it has a row already: a server that receives snapshots from another
// one lists them as they arrive. It reports whether it made a row. A key outside
// the manifests, or a manifest that cannot be read, is an error and changes
// nothing.
func (e *Engine) IndexManifest(ctx context.Context, key string) (created bool, err error) {
	if !strings.HasPrefix(key, manifestPrefix) || !strings.HasSuffix(key, ".json") {
		return false, fmt.Errorf("%w: %q is not a manifest key", ErrInvalid, key)
	}
	m, err := e.readManifest(ctx, key)
	if err != nil {
		return false, err
	}
	return e.index(ctx, m)
}

// index gives the snapshot of m a completed row unless it has one.
func (e *Engine) index(ctx context.Context, m *Manifest) (created bool, err error) {
	if _, err := e.store.GetSnapshot(ctx, m.ID); err == nil {
		return false, nil
	} else if !errors.Is(err, meta.ErrNotFound) {
		return false, err
	}
	row := &meta.Snapshot{ID: m.ID, GraphID: m.GraphID, Status: meta.SnapshotCompleted, FinishedAt: m.CreatedAt}
	fillRow(row, m)
	row.CreatedAt = m.StartedAt
	if err := e.store.CreateSnapshot(ctx, row); err != nil {
		return false, err
	}
	return true, nil
}

// Reindex rebuilds snapshot rows from the manifests in the bucket: a manifest
// without a row gets a completed row, a completed row without a manifest is marked
// failed. It returns how many rows it created and how many it marked failed.
func (e *Engine) Reindex(ctx context.Context) (created, failed int, err error) {
	for a, err := range e.bucket.List(ctx, manifestPrefix) {
		if err != nil {
			return created, failed, err
		}
		m, err := e.readManifest(ctx, a.Key)
		if err != nil {
			e.log.WarnContext(ctx, "reindex: skipping unreadable manifest", "key", a.Key, "err", err)
			continue
		}
		made, err := e.index(ctx, m)
		if err != nil {
			return created, failed, err
		}
		if made {
			created++
		}
	}
	rows, err := e.allSnapshots(ctx, meta.SnapshotFilter{Status: meta.SnapshotCompleted})
	if err != nil {
		return created, failed, err
	}
	for i := range rows {
		row := &rows[i]
		ok, err := e.bucket.Exists(ctx, row.ManifestKey)
		if err != nil {
			return created, failed, err
		}
		if !ok {
			row.Status, row.Error = meta.SnapshotFailed, "manifest missing from the bucket"
			if err := e.store.UpdateSnapshot(ctx, row); err != nil {
				return created, failed, err
			}
			failed++
		}
	}
	return created, failed, nil
}
