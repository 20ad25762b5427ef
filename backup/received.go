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
