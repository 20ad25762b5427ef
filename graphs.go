package graphvault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/lightrag"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// settle brings the system to a known state before it serves: snapshots a crash
// left running are settled when no live instance writes them (see abandonedBy),
// temporary objects older than Config.TempMaxAge are
// removed from the bucket, and every graph is registered and, when it lives in
// memory, restored from its newest intact snapshot.
func (v *Vault) settle(ctx context.Context) error {
	if n, err := v.engine.ResolveAbandoned(ctx, v.abandonedBy(true)); err != nil {
		return fmt.Errorf("settle interrupted snapshots: %w", err)
	} else if n > 0 {
		v.log.Info("settled snapshots interrupted by the last stop", "count", n)
	}
	if err := v.reindexIfLost(ctx); err != nil {
		return err
	}
	if n, err := v.engine.RemoveTemp(ctx); err != nil {
		return fmt.Errorf("settle temporary objects: %w", err)
	} else if n > 0 {
		v.log.Info("removed temporary objects left by interrupted writes", "count", n, "older_than", v.cfg.TempMaxAge)
	}
	for id, g := range v.cfg.Graphs {
		v.catalog.Register(id, g)
	}
	for _, p := range v.cfg.GraphML {
		if err := v.registerGraphML(p); err != nil {
			return err
		}
	}
	for _, p := range v.cfg.LightRAG {
		if err := v.registerLightRAG(p); err != nil {
			return err
		}
	}
	for _, id := range v.cfg.MemoryGraphs {
		if v.served(ctx, id) {
			return fmt.Errorf("%w: graph id %q is both a memory graph and the host's", ErrInvalid, id)
		}
		if err := v.holdInMemory(ctx, id); err != nil {
			return err
		}
	}
	known, err := v.store.GraphIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range known {
		if v.served(ctx, id) {
			continue
		}
		if err := v.holdInMemory(ctx, id); err != nil {
			return err
		}
	}
	if v.cfg.Demo && !v.served(ctx, DemoGraph) {
		g := memgraph.New()
		gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 2000, Edges: 6000, Seed: 1})
		if err := gen.Replace(ctx, g); err != nil {
			return err
		}
		v.mem.add(DemoGraph, g)
		v.catalog.Register(DemoGraph, g)
	}
	return nil
}

// holdInMemory serves the graph id from memory, restored from its newest intact
// snapshot.
func (v *Vault) holdInMemory(ctx context.Context, id string) error {
	g := memgraph.New()
	if err := v.restoreNewest(ctx, id, g); err != nil {
		return err
	}
	v.mem.add(id, g)
	v.catalog.Register(id, g)
	return nil
}

// memory is the set of graphs the Vault holds in memory, which take changes over
// HTTP; the host's graphs are changed where they live.
type memory struct {
	mu     sync.RWMutex
	graphs map[string]*memgraph.Graph
}

func (m *memory) add(id string, g *memgraph.Graph) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.graphs == nil {
		m.graphs = map[string]*memgraph.Graph{}
	}
	m.graphs[id] = g
}

func (m *memory) get(id string) (*memgraph.Graph, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g, ok := m.graphs[id]
	return g, ok
}

func (v *Vault) served(ctx context.Context, id string) bool {
	_, err := v.catalog.Graph(ctx, id)
	return err == nil
}

// restoreNewest fills g from the graph's newest snapshot that restores. A newer
// snapshot that cannot be restored is named in the log and skipped; a graph with
// no completed snapshot stays empty (or, for the demo graph with Demo set, is
// generated), and says so.
func (v *Vault) restoreNewest(ctx context.Context, id string, g *memgraph.Graph) error {
	f := meta.SnapshotFilter{GraphID: id, Status: meta.SnapshotCompleted, Limit: 1000}
	for {
		rows, next, err := v.store.ListSnapshots(ctx, f)
		if err != nil {
			return err
		}
		for _, row := range rows {
			_, err := v.engine.Restore(ctx, row.ID, g, backup.RestoreOptions{})
			if err == nil {
				v.log.Info("restored graph from its newest intact snapshot", "graph", id, "snapshot", row.ID)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, backup.ErrWrongKey) && !errors.Is(err, backup.ErrCorrupt) {
				// A key that does not open the snapshot is a setting to fix, not
				// damage: the start stops and marks nothing.
				return v.wrongKey(err)
			}
			if !errors.Is(err, backup.ErrCorrupt) && !errors.Is(err, backup.ErrNotFound) {
				return fmt.Errorf("restore graph %s from snapshot %s: %w", id, row.ID, err)
			}
			v.log.Warn("snapshot is damaged; marked failed, trying an older one", "graph", id, "snapshot", row.ID, "err", err)
			if err := v.quarantine(ctx, &row, err); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if id == DemoGraph && v.cfg.Demo {
		gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: 2000, Edges: 6000, Seed: 1})
		v.log.Warn("no intact snapshot of the demo graph; serving it generated anew", "graph", id)
		return gen.Replace(ctx, g)
	}
	v.log.Warn("no intact snapshot of a known graph; serving it empty", "graph", id)
	return nil
}

// quarantinePrefix starts the error of a snapshot found damaged at start; health
// names such snapshots (backup.DamagedPrefix) until they are deleted.
const quarantinePrefix = backup.DamagedPrefix + "found at start: "

// quarantine marks a completed snapshot that cannot be restored as failed, so
// that no snapshot builds on it, no restore picks it and health names it.
func (v *Vault) quarantine(ctx context.Context, row *meta.Snapshot, cause error) error {
	row.Status, row.Error = meta.SnapshotFailed, quarantinePrefix+cause.Error()
	if err := v.store.UpdateSnapshot(ctx, row); err != nil {
		return fmt.Errorf("mark damaged snapshot %s: %w", row.ID, err)
	}
	return nil
}

// reindexIfLost rebuilds the snapshot rows from the bucket's manifests when the
// metadata store holds none: a lost or replaced database beside a bucket of
// snapshots.
func (v *Vault) reindexIfLost(ctx context.Context) error {
	n, err := v.store.CountSnapshots(ctx, meta.SnapshotFilter{})
	if err != nil || n > 0 {
		return err
	}
	created, failed, err := v.engine.Reindex(ctx)
	if err != nil {
		return fmt.Errorf("reindex the bucket into an empty metadata store: %w", err)
	}
	if created > 0 || failed > 0 {
		v.log.Warn("metadata store was empty beside a bucket of snapshots; reindexed it", "snapshots", created, "failed", failed)
	}
	return nil
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// GraphIDForFile names a file's graph after the file: its base name without the
// extension, with anything but letters, digits, '.', '_' and '-' made '_'.
func GraphIDForFile(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	id := strings.Trim(unsafeID.ReplaceAllString(base, "_"), "._-")
	if len(id) > 128 {
		id = id[:128]
	}
	return id
}

func (v *Vault) registerGraphML(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%w: GraphML file: %v", ErrInvalid, err)
	}
	id := GraphIDForFile(abs)
	if !backup.ValidGraphID(id) {
		return fmt.Errorf("%w: GraphML file %s: cannot make a graph id from the file name", ErrInvalid, p)
	}
	// The index lets the snapshot of a rewritten file decode only what changed;
	// the snapshot keeps the file's layout, so a restore gives its bytes back.
	index := filepath.Join(v.cfg.Data, "index", id+".graphml-index")
	if err := os.MkdirAll(filepath.Dir(index), 0o750); err != nil {
		return err
	}
	var opts []lightrag.FileOption
	if v.cfg.ChunkedGraphML {
		opts = append(opts, lightrag.Chunked())
	}
	if err := v.catalog.Add(id, lightrag.NewFile(abs, index, opts...)); err != nil {
		return fmt.Errorf("%w: GraphML file %s would serve graph id %q, which is already served", ErrInvalid, p, id)
	}
	return nil
}

// registerLightRAG serves each workspace of a LightRAG working directory as a
// graph: the folder itself named after it, or each workspace folder in it named
// after the workspace.
func (v *Vault) registerLightRAG(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%w: LightRAG working directory: %v", ErrInvalid, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("%w: LightRAG working directory %s is not a folder", ErrInvalid, p)
	}
	spaces, err := lightrag.Workspaces(abs)
	if err != nil {
		return fmt.Errorf("%w: LightRAG working directory %s: %v", ErrInvalid, p, err)
	}
	for _, ws := range spaces {
		name := ws.Name
		if name == "" {
			name = filepath.Base(abs)
		}
		id := strings.Trim(unsafeID.ReplaceAllString(name, "_"), "._-")
		id = id[:min(len(id), 128)]
		if !backup.ValidGraphID(id) {
			return fmt.Errorf("%w: LightRAG workspace %s: cannot make a graph id from its name", ErrInvalid, ws.Path)
		}
		d, err := lightrag.New(ws.Path)
		if err != nil {
			return fmt.Errorf("%w: LightRAG workspace %s: %v", ErrInvalid, ws.Path, err)
		}
		if err := v.catalog.Add(id, d); err != nil {
			return fmt.Errorf("%w: LightRAG workspace %s would serve graph id %q, which is already served", ErrInvalid, ws.Path, id)
		}
	}
	return nil
}

// memoryGraph returns the served graph id if the Vault holds it in memory.
func (v *Vault) memoryGraph(ctx context.Context, id string) (*memgraph.Graph, error) {
	if g, ok := v.mem.get(id); ok {
		return g, nil
	}
	if _, err := v.catalog.Graph(ctx, id); err != nil {
		return nil, err
	}
	return nil, errHostGraph
}

// errHostGraph: the graph is the host's, not held in memory by the Vault.
var errHostGraph = errors.New("graph is the host's")
