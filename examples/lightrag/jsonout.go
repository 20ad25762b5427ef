package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/lightrag"
	"github.com/graphvault/graphvault/store/meta"
)

// What -json writes on standard output. Field names are snake_case and every
// field is always present (an empty list is [], not null), so a script can read
// them without checking which exist.

// snapshotJSON is one line of snapshot and watch: a snapshot taken, or the
// latest one when the file or folder is unchanged.
type snapshotJSON struct {
	ID        string `json:"id"`
	Graph     string `json:"graph"`
	Kind      string `json:"kind"`
	Parent    string `json:"parent"`
	Source    string `json:"source"`  // the file or folder snapshotted
	Nodes     int64  `json:"nodes"`   // the graph's nodes (entities), as list counts them
	Edges     int64  `json:"edges"`   // the graph's edges (relations)
	Records   int64  `json:"records"` // every record kept, a working directory's other files' too
	BytesNew  int64  `json:"bytes_new"`
	Unchanged bool   `json:"unchanged"` // no snapshot was taken; this is the latest one
}

// listJSON is one row of list.
type listJSON struct {
	ID       string    `json:"id"`
	Graph    string    `json:"graph"`
	Kind     string    `json:"kind"`
	Status   string    `json:"status"`
	Time     time.Time `json:"time"` // UTC, when the snapshot was started
	Parent   string    `json:"parent"`
	Nodes    int64     `json:"nodes"`
	Edges    int64     `json:"edges"`
	BytesNew int64     `json:"bytes_new"`
}

// restoreJSON is what restore wrote.
type restoreJSON struct {
	Snapshot string `json:"snapshot"`
	Graph    string `json:"graph"`
	Out      string `json:"out"`
	Files    int    `json:"files"` // files, folders and links written
	Nodes    int64  `json:"nodes"` // the graph's nodes (entities)
	Edges    int64  `json:"edges"`
	// Reencoded lists the GraphML files written anew as NetworkX would write
	// them, since no NetworkX writer made the ones snapshotted.
	Reencoded []string `json:"reencoded"`
}

// verifyJSON is the result of verify.
type verifyJSON struct {
	Snapshot string        `json:"snapshot"`
	Graph    string        `json:"graph"`
	OK       bool          `json:"ok"`
	Objects  int           `json:"objects"`
	Bytes    int64         `json:"bytes"`
	Nodes    int64         `json:"nodes"`
	Edges    int64         `json:"edges"`
	Problems []problemJSON `json:"problems"`
}

type problemJSON struct {
	Object string `json:"object"` // empty when the problem is not one object's
	Detail string `json:"detail"`
}

// diffJSON is the result of diff: the stores that changed, each with every key
// added, removed and changed (not cut to -keys) and their counts.
type diffJSON struct {
	From      string          `json:"from"`
	To        string          `json:"to"`
	Truncated bool            `json:"truncated"` // more records differ than were compared; the key lists are cut short
	Stores    []storeDiffJSON `json:"stores"`
}

type storeDiffJSON struct {
	Store        string   `json:"store"`
	File         string   `json:"file"`
	Added        []string `json:"added"`
	Removed      []string `json:"removed"`
	Changed      []string `json:"changed"`
	AddedCount   int64    `json:"added_count"`
	RemovedCount int64    `json:"removed_count"`
	ChangedCount int64    `json:"changed_count"`
}

// writeJSON writes v on standard output as one line.
func (c *cli) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the output as JSON: %w", err)
	}
	_, err = c.stdout.Write(append(b, '\n'))
	return err
}

// printSnapshot prints a snapshot that snapshot or watch took or found holding
// source unchanged: its id, or with -json a snapshotJSON line.
func (c *cli) printSnapshot(ctx context.Context, v *vault, row *meta.Snapshot, source string, unchanged bool) error {
	if !c.g.json {
		_, err := fmt.Fprintln(c.stdout, row.ID)
		return err
	}
	return c.writeJSON(snapshotJSON{
		ID: row.ID, Graph: row.GraphID, Kind: row.Kind, Parent: row.ParentID, Source: source,
		Nodes: v.listedNodes(ctx, *row), Edges: row.Edges, Records: row.Nodes + row.Edges,
		BytesNew: row.BytesNew, Unchanged: unchanged,
	})
}

func verifyOutput(rep *backup.VerifyReport) verifyJSON {
	out := verifyJSON{
		Snapshot: rep.SnapshotID, Graph: rep.GraphID, OK: rep.OK, Objects: rep.Objects,
		Bytes: rep.Bytes, Nodes: rep.Nodes, Edges: rep.Edges, Problems: []problemJSON{},
	}
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, problemJSON{Object: p.Object, Detail: p.Detail})
	}
	return out
}

// graphDiffOutput is the diff of two snapshots of which one at least is not of a
// working directory: the graph's nodes and edges, an edge's key being its ends
// joined by a tab as the relations of a working directory are.
func graphDiffOutput(d *backup.Diff) diffJSON {
	nodes := storeDiffJSON{Store: "nodes", AddedCount: d.Nodes.Added, RemovedCount: d.Nodes.Removed, ChangedCount: d.Nodes.Changed}
	edges := storeDiffJSON{Store: "edges", AddedCount: d.Edges.Added, RemovedCount: d.Edges.Removed, ChangedCount: d.Edges.Changed}
	for _, n := range d.NodeDiffs {
		nodes.add(n.Change, n.ID)
	}
	for _, e := range d.EdgeDiffs {
		edges.add(e.Change, e.Source+"\t"+e.Target)
	}
	out := diffJSON{From: d.From, To: d.To, Truncated: d.Truncated, Stores: []storeDiffJSON{}}
	for _, s := range []storeDiffJSON{nodes, edges} {
		if s.AddedCount+s.RemovedCount+s.ChangedCount > 0 {
			out.Stores = append(out.Stores, s.filled())
		}
	}
	return out
}

// storesDiffOutput is the diff of two snapshots of working directories.
func storesDiffOutput(d *backup.Diff, sd *lightrag.Diff) diffJSON {
	out := diffJSON{From: d.From, To: d.To, Truncated: d.Truncated, Stores: []storeDiffJSON{}}
	for _, s := range sd.Stores {
		js := storeDiffJSON{
			Store: s.Store, File: s.File, Added: s.Added, Removed: s.Removed, Changed: s.Changed,
			AddedCount: int64(len(s.Added)), RemovedCount: int64(len(s.Removed)), ChangedCount: int64(len(s.Changed)),
		}
		out.Stores = append(out.Stores, js.filled())
	}
	return out
}

func (s *storeDiffJSON) add(change, key string) {
	switch change {
	case backup.Added:
		s.Added = append(s.Added, key)
	case backup.Removed:
		s.Removed = append(s.Removed, key)
	case backup.Changed:
		s.Changed = append(s.Changed, key)
	}
}

// filled returns s with its nil lists made empty, so they encode as [].
func (s storeDiffJSON) filled() storeDiffJSON {
	for _, l := range []*[]string{&s.Added, &s.Removed, &s.Changed} {
		if *l == nil {
			*l = []string{}
		}
	}
	return s
}
