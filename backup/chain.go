package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/graphvault/graphvault/internal/arena"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/meta"
)

// liveEntry is one live record of a chain: key hash and value hash.
type liveEntry struct {
	kh keyHash
	rh uint64
}

func marshalManifest(m *Manifest) ([]byte, error) {
	return json.MarshalIndent(m, "", " ")
}

// readManifest loads and checks the manifest of a snapshot row.
func (e *Engine) readManifest(ctx context.Context, key string) (*Manifest, error) {
	b, err := e.bucket.Get(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, &CorruptError{Key: key, Err: errors.New("manifest missing")}
		}
		return nil, fmt.Errorf("backup: read manifest: %w", err)
	}
	m, err := decodeManifest(b)
	if err != nil {
		return nil, &CorruptError{Key: key, Err: err}
	}
	return m, nil
}

// Manifest returns the manifest of a completed snapshot.
func (e *Engine) Manifest(ctx context.Context, snapshotID string) (*Manifest, error) {
	row, err := e.completed(ctx, snapshotID)
	if err != nil {
		return nil, err
	}
	m, err := e.readManifest(ctx, row.ManifestKey)
	if err != nil {
		return nil, err
	}
	if m.ID != row.ID || m.Root != row.RootHash {
		return nil, &CorruptError{Key: row.ManifestKey, Err: errors.New("manifest does not match the snapshot record")}
	}
	return m, nil
}

// completed returns the row of a completed snapshot, or ErrNotFound.
func (e *Engine) completed(ctx context.Context, snapshotID string) (*meta.Snapshot, error) {
	if !meta.ValidID(snapshotID) {
		return nil, fmt.Errorf("%w: snapshot id %q", ErrInvalid, snapshotID)
	}
	row, err := e.store.GetSnapshot(ctx, snapshotID)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, fmt.Errorf("%w: snapshot %s", ErrNotFound, snapshotID)
		}
		return nil, err
	}
	if row.Status != meta.SnapshotCompleted {
		return nil, fmt.Errorf("%w: snapshot %s is %s", ErrNotFound, snapshotID, row.Status)
	}
	return row, nil
}

// latestManifest returns the newest completed snapshot's manifest of a graph, or
// ErrNotFound.
func (e *Engine) latestManifest(ctx context.Context, graphID string) (*Manifest, error) {
	row, err := e.store.LatestSnapshot(ctx, graphID, meta.SnapshotCompleted)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return e.Manifest(ctx, row.ID)
}

// liveIndex returns the live records of a chain, sorted by key hash: for each, its
// key hash and value hash (hashValue). The chain is read from its segments, newest
// layer first, as a restore reads it, and the value of every record is hashed.
func (e *Engine) liveIndex(ctx context.Context, m *Manifest) ([]liveEntry, error) {
	keys, err := e.layerKeys(ctx, m)
	if err != nil {
		return nil, err
	}
	live := make([]liveEntry, 0, sizeHint(m.Nodes+m.Edges, 1<<22))
	hash := func(r segmentRecord, _ *arena.Arena) (uint64, error) { return hashValue(r.value), nil }
	var nodes int
	for _, kind := range []byte{kindNode, kindEdge} {
		err := mergedDecoded(ctx, e, m, keys, kind, false, hash, func(kh keyHash, rh uint64) error {
			live = append(live, liveEntry{kh, rh})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if kind == kindNode {
			nodes = len(live)
		}
	}
	// The kind is the top bit of a key hash, so nodes sort before edges: the two
	// are sorted apart, side by side.
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(live[:nodes], byKeyHash) })
	slices.SortFunc(live[nodes:], byKeyHash)
	wg.Wait()
	return live, nil
}

func byKeyHash(a, b liveEntry) int { return a.kh.compare(b.kh) }
