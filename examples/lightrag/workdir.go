package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/lightrag"
	"github.com/graphvault/graphvault/store/meta"
)

// labelFolder is the snapshot label naming the working directory (or workspace
// folder) a snapshot was taken of; labelStamp then holds the folder's stamp.
const labelFolder = "folder"

// isDir reports whether path is a folder (following links).
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// workspace is one workspace of a working directory and the graph it is kept as.
type workspace struct {
	path    string
	graphID string
}

// workspaces lists the workspaces of a working directory with their graph ids:
// the folder itself, named by -graph or after the folder, or each workspace
// folder in it (rag_storage/<workspace>/), named after the workspace.
func (c *cli) workspaces(graphFlag, dir string) ([]workspace, error) {
	found, err := lightrag.Workspaces(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not a LightRAG working directory: %w", dir, err)
	}
	if graphFlag != "" && !backup.ValidGraphID(graphFlag) {
		return nil, usagef("-graph %q is not a valid graph id: use up to 128 letters, digits, '.', '_' and '-', starting with a letter or digit", graphFlag)
	}
	if graphFlag != "" && len(found) > 1 {
		return nil, usagef("-graph names one graph, but %s holds %d workspaces; each is kept as a graph named after it", dir, len(found))
	}
	var out []workspace
	for _, ws := range found {
		name := ws.Name
		if name == "" {
			abs, err := filepath.Abs(ws.Path)
			if err != nil {
				return nil, err
			}
			name = filepath.Base(abs)
		}
		id := graphFlag
		if id == "" {
			id = sanitizeGraphID(name)
			if id != name {
				c.infof("graph id %q (from the folder name %q, changed to be a valid graph id; -graph sets it)", id, name)
			}
		}
		out = append(out, workspace{path: ws.Path, graphID: id})
	}
	return out, nil
}

// folderStamp fingerprints a folder's listing: every entry's path, mode, size,
// modification and change times and inode. It also returns the newest of those
// times, which says whether the stamp can be trusted (see racyWindow).
func folderStamp(dir string) (string, time.Time, error) {
	h := sha256.New()
	var newest time.Time
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := stampOf(fi)
		fmt.Fprintf(h, "%q %v %s\n", rel, fi.Mode(), st)
		for _, t := range []int64{st.modTime, st.ctime} {
			if tt := time.Unix(0, t); tt.After(newest) {
				newest = tt
			}
		}
		return nil
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return hex.EncodeToString(h.Sum(nil)), newest, nil
}

// folderUnchanged reports whether the folder's stamp is the one the latest
// snapshot recorded, read long enough after the folder's last change that a
// rewrite in the same tick of the clock cannot hide behind it.
func folderUnchanged(latest *meta.Snapshot, abs, stamp string) bool {
	if latest == nil || latest.Labels[labelFolder] != abs {
		return false
	}
	recorded, readAt, ok := parseStampLabel(latest.Labels[labelStamp])
	if !ok || recorded != stamp {
		return false
	}
	_, newest, ok := strings.Cut(recorded, "@")
	if !ok {
		return false
	}
	var ns int64
	if _, err := fmt.Sscan(newest, &ns); err != nil {
		return false
	}
	return readAt.Sub(time.Unix(0, ns)) >= racyWindow
}

// takeFolder snapshots one workspace unless its stamp is the latest snapshot's;
// it returns the snapshot holding the folder's content and whether it is new.
func (c *cli) takeFolder(ctx context.Context, v *vault, ws workspace) (*meta.Snapshot, bool, error) {
	abs, err := filepath.Abs(ws.path)
	if err != nil {
		return nil, false, err
	}
	latest, err := v.latest(ctx, ws.graphID)
	if err != nil {
		return nil, false, err
	}
	// The stamp is taken before the snapshot reads the folder: a change made
	// meanwhile moves the next stamp, so it is never missed.
	readAt := time.Now()
	sum, newest, err := folderStamp(abs)
	if err != nil {
		return nil, false, err
	}
	stamp := sum + "@" + fmt.Sprint(newest.UnixNano())
	if folderUnchanged(latest, abs, stamp) {
		c.infof("%s: unchanged since snapshot %s (same files, sizes, times and inodes); no snapshot taken", ws.path, latest.ID)
		return latest, false, nil
	}
	d, err := lightrag.New(abs, lightrag.WithScratch(v.dir))
	if err != nil {
		return nil, false, err
	}
	prog, endProgress := c.startProgress("snapshot "+ws.graphID, 0) // no total: see take
	row, err := v.engine.Snapshot(ctx, ws.graphID, d, backup.SnapshotOptions{
		Labels:   map[string]string{labelFolder: abs, labelStamp: stamp + ";read=" + fmt.Sprint(readAt.UnixNano())},
		Progress: prog.update,
	})
	endProgress()
	if err != nil {
		return nil, false, fmt.Errorf("snapshot of graph %s: %w", ws.graphID, err)
	}
	parent := ""
	if row.ParentID != "" {
		parent = ", parent " + row.ParentID
	}
	c.infof("snapshot %s of graph %s (%s): %s%s, %d records, %d bytes new", row.ID, ws.graphID, ws.path, row.Kind, parent, row.Nodes+row.Edges, row.BytesNew)
	return row, true, nil
}

// snapshotDir snapshots every workspace of a working directory and prints each
// snapshot's id, one a line.
func (c *cli) snapshotDir(ctx context.Context, graphFlag, dir string) (err error) {
	spaces, err := c.workspaces(graphFlag, dir)
	if err != nil {
		return err
	}
	v, err := c.openVault(ctx, true)
	if err != nil {
		return err
	}
	defer v.close(&err)
	for _, ws := range spaces {
		row, taken, err := c.takeFolder(ctx, v, ws)
		if err != nil {
			return err
		}
		if err := c.printSnapshot(ctx, v, row, ws.path, !taken); err != nil {
			return err
		}
	}
	return nil
}

// watchDir snapshots every workspace of a working directory whenever its stamp
// moves, checking every interval, and prints the id of each new snapshot.
func (c *cli) watchDir(ctx context.Context, graphFlag, dir string, every time.Duration) (err error) {
	spaces, err := c.workspaces(graphFlag, dir)
	if err != nil {
		return err
	}
	v, err := c.openVault(ctx, true)
	if err != nil {
		return err
	}
	defer v.close(&err)
	c.infof("watching %s every %v (%d workspace(s)); stop with Ctrl-C", dir, every, len(spaces))
	check := func() {
		for _, ws := range spaces {
			// A snapshot that has started is finished even if a signal comes meanwhile.
			row, taken, err := c.takeFolder(context.WithoutCancel(ctx), v, ws)
			if err != nil {
				c.infof("watch: %v; trying again in %v", err, every)
				continue
			}
			if !taken {
				continue
			}
			if err := c.printSnapshot(context.WithoutCancel(ctx), v, row, ws.path, false); err != nil {
				c.infof("watch: %v", err)
			}
		}
	}
	check()
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			c.infof("watch: stopped")
			return nil
		case <-ticker.C:
			check()
		}
	}
}

// workdirManifest returns the snapshot's manifest and whether it is of a working
// directory (or a single file) as store/lightrag keeps them.
func workdirManifest(ctx context.Context, v *vault, id string) (*backup.Manifest, bool, error) {
	m, err := v.engine.Manifest(ctx, id)
	if err != nil {
		return nil, false, snapshotError(id, err)
	}
	// An incremental snapshot that followed the graph's journal counts no
	// labels: the snapshot it extends says, and the root record stays.
	for p := m; p.LabelCounts == nil && p.ParentID != ""; {
		if p, err = v.engine.Manifest(ctx, p.ParentID); err != nil {
			return nil, false, snapshotError(id, err)
		}
		if p.LabelCounts != nil {
			return m, p.LabelCounts[lightrag.LabelRoot] > 0, nil
		}
	}
	return m, m.LabelCounts[lightrag.LabelRoot] > 0, nil
}

// restoreWorkdir restores a snapshot of a working directory to out, and reports
// false when the snapshot is of a GraphML file, which the caller restores.
func (c *cli) restoreWorkdir(ctx context.Context, id, out string, force bool) (done bool, err error) {
	v, err := c.openVault(ctx, false)
	if err != nil {
		return true, err
	}
	defer v.close(&err)
	m, ok, err := workdirManifest(ctx, v, id)
	if err != nil || !ok {
		return err != nil, err
	}
	_, statErr := os.Stat(out)
	switch {
	case statErr == nil && !force:
		return true, fmt.Errorf("%s exists; pass -force to replace it (stop LightRAG first)", out)
	case statErr != nil && !errors.Is(statErr, fs.ErrNotExist):
		return true, statErr
	}
	if parent := filepath.Dir(out); !isDir(parent) {
		return true, fmt.Errorf("folder %s of %s does not exist", parent, out)
	}
	d, err := lightrag.New(out, lightrag.WithScratch(v.dir))
	if err != nil {
		return true, err
	}
	prog, endProgress := c.startProgress("restore", m.Nodes+m.Edges)
	res, err := v.engine.Restore(ctx, id, d, backup.RestoreOptions{Progress: prog.update})
	endProgress()
	switch {
	case errors.Is(err, lightrag.ErrExists):
		return true, fmt.Errorf("%s: %w", out, err)
	case errors.Is(err, lightrag.ErrCorrupt):
		return true, fmt.Errorf("snapshot %s is damaged: %w", id, err)
	case err != nil:
		return true, snapshotError(id, err)
	}
	rep := d.LastRestore()
	c.infof("restored snapshot %s of graph %s to %s: %d files and folders, %d entities, %d relations", res.SnapshotID, res.GraphID, out, rep.Files, graphNodes(m), m.Edges)
	for _, f := range rep.Reencoded {
		c.infof("%s: no NetworkX writer made this GraphML file; it was written anew with the same graph", f)
	}
	if c.g.json {
		return true, c.writeJSON(restoreJSON{
			Snapshot: res.SnapshotID, Graph: res.GraphID, Out: out, Files: rep.Files,
			Nodes: graphNodes(m), Edges: m.Edges, Reencoded: append([]string{}, rep.Reencoded...),
		})
	}
	return true, nil
}

// reservedLabels are the labels of the records store/lightrag keeps beside the
// graph's nodes.
var reservedLabels = []string{lightrag.LabelRoot, lightrag.LabelFile, lightrag.LabelKV, lightrag.LabelVDB, lightrag.LabelChunk}

// graphNodes is the number of the graph's own nodes (entities) a snapshot holds.
func graphNodes(m *backup.Manifest) int64 {
	n := m.Nodes
	for _, l := range reservedLabels {
		n -= m.LabelCounts[l]
	}
	return n
}

// listedNodes is the NODES column of list: the graph's nodes, without the records
// of a working directory's other files.
func (v *vault) listedNodes(ctx context.Context, r meta.Snapshot) int64 {
	if r.Status != meta.SnapshotCompleted {
		return r.Nodes
	}
	m, err := v.engine.Manifest(ctx, r.ID)
	if err != nil {
		return r.Nodes
	}
	return graphNodes(m)
}

// diff prints what changed from snapshot A to snapshot B: for working directories
// store by store, for GraphML files node and edge counts.
func (c *cli) diff(ctx context.Context, args []string) (err error) {
	flags := newFlagSet("diff", c.stderr)
	keys := flags.Int("keys", 20, "keys listed per store and change; 0 lists counts only")
	pos, err := c.parseArgs(flags, args, "SNAPSHOT_A", "SNAPSHOT_B")
	if err != nil {
		return err
	}
	if *keys < 0 {
		return usagef("-keys must not be negative, got %d", *keys)
	}
	for _, id := range pos {
		if err := checkSnapshotID(id); err != nil {
			return err
		}
	}
	v, err := c.openVault(ctx, false)
	if err != nil {
		return err
	}
	defer v.close(&err)
	_, okA, err := workdirManifest(ctx, v, pos[0])
	if err != nil {
		return err
	}
	_, okB, err := workdirManifest(ctx, v, pos[1])
	if err != nil {
		return err
	}
	d, err := v.engine.Diff(ctx, pos[0], pos[1], backup.DiffOptions{Limit: 100000})
	if err != nil {
		return snapshotError(pos[0]+" or "+pos[1], err)
	}
	if !okA || !okB {
		if c.g.json {
			return c.writeJSON(graphDiffOutput(d))
		}
		fmt.Fprintf(c.stdout, "nodes: %d added, %d removed, %d changed\n", d.Nodes.Added, d.Nodes.Removed, d.Nodes.Changed)
		fmt.Fprintf(c.stdout, "edges: %d added, %d removed, %d changed\n", d.Edges.Added, d.Edges.Removed, d.Edges.Changed)
		return nil
	}
	if d.Truncated {
		c.infof("more than 100000 records differ: the lists below are cut short")
	}
	changes := make([]lightrag.RecordChange, 0, len(d.NodeDiffs)+len(d.EdgeDiffs))
	for _, n := range d.NodeDiffs {
		changes = append(changes, lightrag.RecordChange{Change: n.Change, NodeID: n.ID})
	}
	for _, e := range d.EdgeDiffs {
		changes = append(changes, lightrag.RecordChange{Change: e.Change, Source: e.Source, Target: e.Target, Type: e.Type})
	}
	sd, err := lightrag.DiffRecords(changes)
	if errors.Is(err, lightrag.ErrChunked) {
		// Chunked snapshots hold the file's bytes: their graphs are compared
		// once restored.
		files := lightrag.FileChanges(changes)
		if changes, err = c.diffRestored(ctx, v, pos[0], pos[1]); err != nil {
			return err
		}
		changes = append(changes, files...)
		d.Truncated = false
		sd, err = lightrag.DiffRecords(changes)
	}
	if err != nil {
		return err
	}
	if c.g.json {
		return c.writeJSON(storesDiffOutput(d, sd))
	}
	if len(sd.Stores) == 0 {
		fmt.Fprintln(c.stdout, "no changes")
	}
	for _, s := range sd.Stores {
		name := s.Store
		if s.File != "" {
			name += " (" + s.File + ")"
		}
		fmt.Fprintf(c.stdout, "%s: %d added, %d removed, %d changed\n", name, len(s.Added), len(s.Removed), len(s.Changed))
		for _, l := range []struct {
			mark string
			keys []string
		}{{"+", s.Added}, {"-", s.Removed}, {"~", s.Changed}} {
			for i, k := range l.keys {
				if i == *keys {
					fmt.Fprintf(c.stdout, "  %s … %d more\n", l.mark, len(l.keys)-i)
					break
				}
				fmt.Fprintf(c.stdout, "  %s %s\n", l.mark, showKey(s.Store, k))
			}
		}
	}
	return nil
}

// showKey prints a key on one line: a relation as "source <-> target", anything
// with control characters quoted.
func showKey(store, k string) string {
	if store == "relations" {
		parts := strings.Split(k, "\t")
		for i, p := range parts {
			parts[i] = showKey("", p)
		}
		return strings.Join(parts, " <-> ")
	}
	if strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Sprintf("%q", k)
	}
	return k
}

// diffRestored restores two snapshots of GraphML files beside the vault and
// compares their graphs.
func (c *cli) diffRestored(ctx context.Context, v *vault, a, b string) ([]lightrag.RecordChange, error) {
	c.infof("the snapshots hold the file's bytes (-chunked): restoring both to compare their graphs")
	tmp, err := os.MkdirTemp(v.dir, ".diff-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var files [2]string
	for i, id := range []string{a, b} {
		files[i] = filepath.Join(tmp, fmt.Sprintf("%d.graphml", i))
		d, err := lightrag.New(files[i], lightrag.WithScratch(tmp))
		if err != nil {
			return nil, err
		}
		if _, err := v.engine.Restore(ctx, id, d, backup.RestoreOptions{}); err != nil {
			return nil, snapshotError(id, err)
		}
	}
	return lightrag.DiffGraphs(ctx, files[0], files[1])
}
