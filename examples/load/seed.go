package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// seedGraph is one graph of the prepared store and its share of the rows.
type seedGraph struct {
	id     string
	weight int
	nodes  int // size of the real snapshot; the seeded rows grow towards it
}

// seedGraphs are the graphs of a prepared meta. Their shares are uneven, as in a
// real deployment, so that lists and stats see both large and small graphs.
var seedGraphs = []seedGraph{
	{"graph1", 40, 600},
	{"kb-docs", 25, 400},
	{"kb-support", 15, 300},
	{"kb-legal", 12, 200},
	{"kb-research", 8, 100},
}

const (
	// seedInterval is the time between two seeded rows, oldest to newest: 10,000
	// rows cover about 70 days.
	seedInterval = 10 * time.Minute
	// seedBatch is how many rows one INSERT writes.
	seedBatch = 500
	// fullEvery makes every so many snapshots of a graph a full one; the others
	// are incremental on the one before.
	fullEvery = 24
	// failedPerMille is how many seeded snapshots in a thousand failed.
	failedPerMille = 40
)

var seedErrors = []string{
	"read graph: context deadline exceeded",
	"put object: write bucket/objects: no space left on device",
	"read graph: connection reset by peer",
	"interrupted: the server stopped before the snapshot finished",
}

// seeded says what prepare found or wrote.
type seeded struct {
	rows   int  // snapshot rows in the store
	reused bool // the store had rows already and was left as it was
}

// prepare makes dir a data folder of the example server holding rows snapshot
// rows: first one real snapshot of each seed graph, with its objects in the
// bucket, so that the server restores the graphs at start and its health checks
// verify real data; then rows minus those as metadata only, older than the real
// ones, so that every graph's newest snapshot is a real one. A store that already
// has snapshots is left as it is.
func prepare(ctx context.Context, dir string, rows int) (_ seeded, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return seeded{}, err
	}
	quiet := slog.New(slog.DiscardHandler)
	st, err := meta.Open(ctx, filepath.Join(dir, "graphvault.db"), meta.WithLogger(quiet))
	if err != nil {
		return seeded{}, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	if n, err := st.CountSnapshots(ctx, meta.SnapshotFilter{}); err != nil || n > 0 {
		return seeded{rows: n, reused: true}, err
	}

	drv, err := fileblob.Open(filepath.Join(dir, "bucket"))
	if err != nil {
		return seeded{}, err
	}
	bucket := blob.NewBucket(drv)
	defer func() { err = errors.Join(err, bucket.Close()) }()
	engine, err := backup.New(st, bucket, backup.WithLogger(quiet))
	if err != nil {
		return seeded{}, err
	}
	latest := make(map[string]*meta.Snapshot, len(seedGraphs))
	for i, sg := range seedGraphs {
		g := memgraph.New()
		gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: sg.nodes, Edges: 3 * sg.nodes, Seed: uint64(i + 1)})
		if err := gen.Replace(ctx, g); err != nil {
			return seeded{}, err
		}
		if latest[sg.id], err = engine.Snapshot(ctx, sg.id, g, backup.SnapshotOptions{}); err != nil {
			return seeded{}, fmt.Errorf("snapshot %s: %w", sg.id, err)
		}
	}

	n := rows - len(seedGraphs)
	oldest := time.Now().Add(-time.Duration(n+6) * seedInterval)
	if err := insertRows(ctx, st, synthRows(n, oldest, latest)); err != nil {
		return seeded{}, err
	}
	total, err := st.CountSnapshots(ctx, meta.SnapshotFilter{})
	if err == nil && total != rows {
		err = fmt.Errorf("the store holds %d snapshot rows, want %d", total, rows)
	}
	return seeded{rows: total}, err
}

// synthRows makes n snapshot rows of the seed graphs, oldest first from oldest on,
// seedInterval apart. Each graph's history is a chain of full and incremental
// snapshots whose sizes grow towards the size of its real snapshot.
func synthRows(n int, oldest time.Time, latest map[string]*meta.Snapshot) []meta.Snapshot {
	rng := rand.New(rand.NewPCG(1, 2))
	entropy := rand.NewChaCha8([32]byte{1}) // rows are seedInterval apart: no two share a millisecond
	total := 0
	for _, sg := range seedGraphs {
		total += sg.weight
	}
	type chain struct {
		parent string
		length int
		count  int
	}
	chains := make(map[string]*chain, len(seedGraphs))
	out := make([]meta.Snapshot, 0, n)
	for i := range n {
		w := rng.IntN(total)
		sg := seedGraphs[0]
		for _, g := range seedGraphs {
			if w < g.weight {
				sg = g
				break
			}
			w -= g.weight
		}
		c := chains[sg.id]
		if c == nil {
			c = &chain{}
			chains[sg.id] = c
		}
		created := oldest.Add(time.Duration(i) * seedInterval).UTC().Truncate(time.Microsecond)
		id := ulid.MustNew(ulid.Timestamp(created), entropy).String()
		final := latest[sg.id]
		grown := float64(i+1) / float64(n)
		nodes := int64(float64(final.Nodes) * (0.5 + 0.5*grown))
		edges := int64(float64(final.Edges) * (0.5 + 0.5*grown))
		bytesRaw := int64(float64(final.BytesRaw) * (0.5 + 0.5*grown))
		took := time.Duration(200+rng.IntN(1800)) * time.Millisecond
		sn := meta.Snapshot{
			ID: id, GraphID: sg.id, Kind: meta.SnapshotIncremental, Status: meta.SnapshotCompleted,
			StartedAt: created, FinishedAt: created.Add(took),
			Nodes: nodes, Edges: edges, Records: nodes + edges,
			BytesRaw: bytesRaw, BytesStored: bytesRaw / 3,
			Labels:    map[string]string{"trigger": "schedule"},
			CreatedAt: created, UpdatedAt: created.Add(took),
		}
		if rng.IntN(10) == 0 {
			sn.Labels["trigger"] = "api"
		}
		if rng.IntN(1000) < failedPerMille {
			sn.Status = meta.SnapshotFailed
			sn.Error = seedErrors[rng.IntN(len(seedErrors))]
			sn.Nodes, sn.Edges, sn.Records, sn.BytesRaw, sn.BytesStored = 0, 0, 0, 0, 0
			sn.Kind = meta.SnapshotFull
			if c.parent != "" {
				sn.Kind, sn.ParentID = meta.SnapshotIncremental, c.parent
			}
			out = append(out, sn)
			continue
		}
		if c.parent == "" || c.count%fullEvery == 0 {
			sn.Kind, c.length = meta.SnapshotFull, 1
			sn.BytesNew = sn.BytesStored
		} else {
			sn.ParentID = c.parent
			c.length++
			sn.BytesNew = sn.BytesStored/50 + int64(rng.IntN(4096))
		}
		c.count++
		c.parent = id
		sn.ChainLen = c.length
		var root [32]byte
		for j := range root {
			root[j] = byte(rng.Uint32())
		}
		sn.RootHash = hex.EncodeToString(root[:])
		sn.ManifestKey = "manifests/" + sg.id + "/" + id + ".json"
		sn.JournalPos = int64(i + 1)
		out = append(out, sn)
	}
	return out
}

// insertRows writes rows in batches, each batch one INSERT in its own transaction.
// Rows are final: IDs, times in UTC at microsecond precision, as the store keeps them.
func insertRows(ctx context.Context, st *meta.Store, rows []meta.Snapshot) error {
	db := st.DB()
	for len(rows) > 0 {
		batch := rows[:min(seedBatch, len(rows))]
		rows = rows[len(batch):]
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
			return errors.Join(fmt.Errorf("insert snapshot rows: %w", err), tx.Rollback())
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
