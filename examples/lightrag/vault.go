package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/meta"
)

// vault is the open data directory: the metadata store, the bucket and the engine.
type vault struct {
	store  *meta.Store
	bucket *blob.Bucket
	engine *backup.Engine
	dir    string
}

// openVault opens the data directory. With create, a missing directory is made;
// without, it is an error (there is nothing to list or restore).
func (c *cli) openVault(ctx context.Context, create bool) (_ *vault, err error) {
	dir := c.g.data
	if dir == "" {
		return nil, usagef("-data must not be empty")
	}
	if create {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	} else if _, err := os.Stat(filepath.Join(dir, "graphvault.db")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no snapshots in %s: it has no graphvault.db (take a snapshot first, or pass -data)", dir)
		}
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	level := slog.LevelWarn
	if c.g.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))

	dbPath := filepath.Join(dir, "graphvault.db")
	if strings.ContainsAny(dbPath, "?#") {
		// A path is passed to SQLite as a DSN, where these start the query or fragment.
		return nil, fmt.Errorf("data directory %q: '?' and '#' are not supported in its path", dir)
	}
	st, err := meta.Open(ctx, dbPath, meta.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, st.Close())
		}
	}()
	drv, err := fileblob.Open(filepath.Join(dir, "bucket"))
	if err != nil {
		return nil, fmt.Errorf("open bucket: %w", err)
	}
	bucket := blob.NewBucket(drv)
	defer func() {
		if err != nil {
			err = errors.Join(err, bucket.Close())
		}
	}()
	// A GraphML file keeps no journal, so every incremental snapshot compares the
	// whole graph with its parent; with the live cache, watch compares it with the
	// records the last snapshot kept in memory instead of reading its chain back.
	engine, err := backup.New(st, bucket, backup.WithLogger(logger), backup.WithLiveCache())
	if err != nil {
		return nil, err
	}
	return &vault{store: st, bucket: bucket, engine: engine, dir: dir}, nil
}

// close closes the bucket and the meta. It is deferred by every command, so its
// error is joined into the command's.
func (v *vault) close(err *error) {
	*err = errors.Join(*err, v.bucket.Close(), v.store.Close())
}
