package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graphml"
	"github.com/graphvault/graphvault/store/lightrag"
	"github.com/graphvault/graphvault/store/meta"
)

// labelSum is the snapshot label holding the SHA-256 of the file a snapshot was
// taken from; labelFile holds the file's name, labelStamp its stamp (size,
// modification and change times, inode) when it was read.
const (
	labelSum   = "sha256"
	labelFile  = "file"
	labelStamp = "stamp"
)

func (c *cli) snapshot(ctx context.Context, args []string) (err error) {
	flags := newFlagSet("snapshot", c.stderr)
	graphFlag := flags.String("graph", "", "graph id (default: the name of FILE's folder)")
	check := flags.Bool("check", false, "hash the file even when its stamp says it is unchanged")
	chunked := flags.Bool("chunked", false, "keep the file's own bytes in pieces instead of its entities: faster, and a rewritten file stores patches, but diff and partial restores need a whole restore first")
	pos, err := c.parseArgs(flags, args, "FILE.graphml")
	if err != nil {
		return err
	}
	file := pos[0]
	if isDir(file) {
		return c.snapshotDir(ctx, *graphFlag, file)
	}
	graphID, err := c.graphID(*graphFlag, file)
	if err != nil {
		return err
	}
	if err := checkFile(file); err != nil {
		return err
	}
	v, err := c.openVault(ctx, true)
	if err != nil {
		return err
	}
	defer v.close(&err)
	latest, err := v.latest(ctx, graphID)
	if err != nil {
		return err
	}
	if same, err := c.unchanged(file, latest, *check); err != nil || same {
		if same {
			return c.printSnapshot(ctx, v, latest, file, true)
		}
		return err
	}
	capt, err := captureFile(ctx, file, v.dir)
	if err != nil {
		return err
	}
	if latest != nil && capt.sum == latest.Labels[labelSum] {
		c.infof("%s: content unchanged since snapshot %s (only its times or inode moved); no snapshot taken", file, latest.ID)
		return errors.Join(c.printSnapshot(ctx, v, latest, file, true), capt.discard())
	}
	row, err := c.take(ctx, v, graphID, capt, *chunked)
	if err != nil {
		return err
	}
	return c.printSnapshot(ctx, v, row, file, false)
}

// unchanged reports whether file holds what the latest snapshot (nil if none)
// holds, by its stamp alone: the same name, size, modification and change times
// and inode, read long enough after the file's last change (see racyWindow). With
// check, the content is hashed too, and decides.
func (c *cli) unchanged(file string, latest *meta.Snapshot, check bool) (bool, error) {
	if latest == nil || latest.Labels[labelFile] != filepath.Base(file) {
		return false, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return false, err
	}
	st := stampOf(fi)
	recorded, readAt, ok := parseStampLabel(latest.Labels[labelStamp])
	if !ok || recorded != st.String() || !st.trusted(readAt) {
		return false, nil
	}
	if check {
		sum, err := hashFile(file)
		if err != nil {
			return false, err
		}
		if sum != latest.Labels[labelSum] {
			c.infof("%s: same size, times and inode as at snapshot %s, but its content differs", file, latest.ID)
			return false, nil
		}
	}
	c.infof("%s: unchanged since snapshot %s (same size, times and inode); no snapshot taken", file, latest.ID)
	return true, nil
}

// latest returns the newest completed snapshot of the graph, or nil if it has none.
func (v *vault) latest(ctx context.Context, graphID string) (*meta.Snapshot, error) {
	row, err := v.store.LatestSnapshot(ctx, graphID, meta.SnapshotCompleted)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("find the latest snapshot of %s: %w", graphID, err)
	}
	return row, nil
}

// take snapshots a captured file and removes the copy.
func (c *cli) take(ctx context.Context, v *vault, graphID string, capt *capture, chunked bool) (_ *meta.Snapshot, err error) {
	defer func() { err = errors.Join(err, capt.discard()) }()
	c.infof("read %s: %d bytes, sha256 %.12s", capt.source, capt.stamp.size, capt.sum)
	// The index beside the snapshots lets a rewritten file decode only the records
	// that changed since the last snapshot read it, and the snapshot keeps the
	// file's layout so that a restore gives its bytes back (see lightrag.File).
	index := filepath.Join(v.dir, "index", graphID+".graphml-index")
	if err := os.MkdirAll(filepath.Dir(index), 0o750); err != nil {
		return nil, err
	}
	// The engine counts the records it stores, which in an incremental snapshot
	// are only the changed ones, so no total is known to draw a bar against.
	prog, endProgress := c.startProgress("snapshot "+graphID, 0)
	opts := []lightrag.FileOption{lightrag.Named(filepath.Base(capt.source))}
	if chunked {
		opts = append(opts, lightrag.Chunked())
	}
	row, err := v.engine.Snapshot(ctx, graphID, lightrag.NewFile(capt.path, index, opts...), backup.SnapshotOptions{
		Labels:   map[string]string{labelSum: capt.sum, labelFile: filepath.Base(capt.source), labelStamp: stampLabel(capt.stamp, capt.readAt)},
		Progress: prog.update,
	})
	endProgress()
	if err != nil {
		return nil, fmt.Errorf("snapshot of graph %s: %w", graphID, err)
	}
	parent := ""
	if row.ParentID != "" {
		parent = ", parent " + row.ParentID
	}
	c.infof("snapshot %s of graph %s: %s%s, %d nodes, %d edges, %d bytes new", row.ID, graphID, row.Kind, parent, row.Nodes, row.Edges, row.BytesNew)
	return row, nil
}

// checkFile gives a clear error for a missing or unusable input file.
func checkFile(file string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", file)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory; give the GraphML file in it (graph_chunk_entity_relation.graphml)", file)
	}
	return nil
}

// graphID returns the graph id to use: the flag's value, checked, or the name of the
// file's folder made into a valid id.
func (c *cli) graphID(flagValue, file string) (string, error) {
	if flagValue != "" {
		if !backup.ValidGraphID(flagValue) {
			return "", usagef("-graph %q is not a valid graph id: use up to 128 letters, digits, '.', '_' and '-', starting with a letter or digit", flagValue)
		}
		return flagValue, nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	folder := filepath.Base(filepath.Dir(abs))
	id := sanitizeGraphID(folder)
	if id != folder {
		c.infof("graph id %q (from the folder name %q, changed to be a valid graph id; -graph sets it)", id, folder)
	}
	return id, nil
}

// sanitizeGraphID makes s a valid graph id: each character outside [A-Za-z0-9._-]
// becomes '_', leading punctuation is dropped, the result is cut to 128 bytes, and
// an empty result becomes "lightrag".
func sanitizeGraphID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := strings.TrimLeft(b.String(), "._-")
	id = id[:min(len(id), 128)]
	if id == "" {
		id = "lightrag"
	}
	return id
}

func (c *cli) list(ctx context.Context, args []string) (err error) {
	flags := newFlagSet("list", c.stderr)
	graphFlag := flags.String("graph", "", "list only this graph's snapshots")
	if _, err := c.parseArgs(flags, args); err != nil {
		return err
	}
	v, err := c.openVault(ctx, false)
	if err != nil {
		return err
	}
	defer v.close(&err)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	rowsJSON := []listJSON{}
	if !c.g.json {
		fmt.Fprintln(tw, "ID\tGRAPH\tKIND\tSTATUS\tTIME\tNODES\tEDGES\tBYTES")
	}
	filter := meta.SnapshotFilter{GraphID: *graphFlag, Limit: 1000}
	for {
		rows, next, err := v.store.ListSnapshots(ctx, filter)
		if err != nil {
			return fmt.Errorf("list snapshots: %w", err)
		}
		for _, r := range rows {
			t := r.StartedAt
			if t.IsZero() {
				t = r.CreatedAt
			}
			nodes := v.listedNodes(ctx, r)
			if c.g.json {
				rowsJSON = append(rowsJSON, listJSON{
					ID: r.ID, Graph: r.GraphID, Kind: r.Kind, Status: string(r.Status), Time: t.UTC(),
					Parent: r.ParentID, Nodes: nodes, Edges: r.Edges, BytesNew: r.BytesNew,
				})
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.ID, r.GraphID, r.Kind, r.Status,
				t.UTC().Format(time.DateTime), nodes, r.Edges, r.BytesNew)
		}
		if next == "" {
			break
		}
		filter.Cursor = next
	}
	if c.g.json {
		return c.writeJSON(rowsJSON)
	}
	return tw.Flush()
}

// snapshotError turns the engine's errors about a snapshot id into clear ones.
func snapshotError(id string, err error) error {
	switch {
	case errors.Is(err, backup.ErrNotFound):
		return fmt.Errorf("unknown snapshot %q (the list command shows the completed ones): %w", id, err)
	case errors.Is(err, backup.ErrCorrupt):
		return fmt.Errorf("snapshot %s is damaged: %w", id, err)
	}
	return err
}

func checkSnapshotID(id string) error {
	if !meta.ValidID(id) {
		return usagef("%q is not a snapshot id (ids look like 01JD5X0M8V6Q2N4Y7T1R3K9B2C; see the list command)", id)
	}
	return nil
}

func (c *cli) restore(ctx context.Context, args []string) (err error) {
	flags := newFlagSet("restore", c.stderr)
	force := flags.Bool("force", false, "replace OUT if it exists")
	pos, err := c.parseArgs(flags, args, "SNAPSHOT_ID", "OUT.graphml")
	if err != nil {
		return err
	}
	id, out := pos[0], pos[1]
	if err := checkSnapshotID(id); err != nil {
		return err
	}
	if done, err := c.restoreWorkdir(ctx, id, out, *force); done || err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	switch fi, err := os.Stat(out); {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory; give the file to write", out)
	case err == nil && !*force:
		return fmt.Errorf("%s exists; pass -force to replace it (stop LightRAG first)", out)
	case err == nil:
		mode = fi.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("folder %s of %s does not exist", dir, out)
	}
	v, err := c.openVault(ctx, false)
	if err != nil {
		return err
	}
	defer v.close(&err)

	// Write order: the whole graph goes to a temporary file in OUT's folder (synced by
	// graphml.File), and only a complete, checked restore is renamed over OUT, then the
	// folder is synced so the rename is durable. A failure removes the temporary file.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".restore-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmpName := tmp.Name()
	if err := tmp.Close(); err != nil {
		return errors.Join(err, os.Remove(tmpName))
	}
	renamed := false
	defer func() {
		if !renamed {
			if rerr := os.Remove(tmpName); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if err := os.Chmod(tmpName, mode); err != nil {
		return err
	}
	m, err := v.engine.Manifest(ctx, id)
	if err != nil {
		return snapshotError(id, err)
	}
	prog, endProgress := c.startProgress("restore", m.Nodes+m.Edges)
	res, err := v.engine.Restore(ctx, id, graphml.NewFile(tmpName), backup.RestoreOptions{Progress: prog.update})
	endProgress()
	if err != nil {
		return snapshotError(id, err)
	}
	if err := os.Rename(tmpName, out); err != nil {
		return err
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return err
	}
	c.infof("restored snapshot %s of graph %s to %s: %d nodes, %d edges", res.SnapshotID, res.GraphID, out, res.Nodes, res.Edges)
	c.infof("%s: the snapshot holds the graph without NetworkX's layout of the file; it was written anew with the same graph", out)
	if c.g.json {
		return c.writeJSON(restoreJSON{
			Snapshot: res.SnapshotID, Graph: res.GraphID, Out: out, Files: 1,
			Nodes: res.Nodes, Edges: res.Edges, Reencoded: []string{out},
		})
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync %s: %w", dir, err), d.Close())
	}
	return d.Close()
}

func (c *cli) verify(ctx context.Context, args []string) (err error) {
	flags := newFlagSet("verify", c.stderr)
	pos, err := c.parseArgs(flags, args, "SNAPSHOT_ID")
	if err != nil {
		return err
	}
	id := pos[0]
	if err := checkSnapshotID(id); err != nil {
		return err
	}
	v, err := c.openVault(ctx, false)
	if err != nil {
		return err
	}
	defer v.close(&err)
	// Verify reports no progress of its own: the display shows that it runs and
	// for how long.
	_, endProgress := c.startProgress("verify", 0)
	rep, err := v.engine.Verify(ctx, id, true)
	endProgress()
	if err != nil {
		return snapshotError(id, err)
	}
	if c.g.json {
		if err := c.writeJSON(verifyOutput(rep)); err != nil {
			return err
		}
		if rep.OK {
			return nil
		}
		return snapshotError(id, rep.Err())
	}
	if rep.OK {
		fmt.Fprintf(c.stdout, "snapshot %s of graph %s: ok (%d objects, %d bytes, %d nodes, %d edges)\n",
			rep.SnapshotID, rep.GraphID, rep.Objects, rep.Bytes, rep.Nodes, rep.Edges)
		return nil
	}
	fmt.Fprintf(c.stdout, "snapshot %s of graph %s: %d problem(s)\n", rep.SnapshotID, rep.GraphID, len(rep.Problems))
	for _, p := range rep.Problems {
		if p.Object != "" {
			fmt.Fprintf(c.stdout, "  %s: %s\n", p.Object, p.Detail)
		} else {
			fmt.Fprintf(c.stdout, "  %s\n", p.Detail)
		}
	}
	return snapshotError(id, rep.Err())
}

func (c *cli) watch(ctx context.Context, args []string) (err error) {
	flags := newFlagSet("watch", c.stderr)
	graphFlag := flags.String("graph", "", "graph id (default: the name of FILE's folder)")
	every := flags.Duration("every", time.Minute, "how often to check the file")
	chunked := flags.Bool("chunked", false, "keep the file's own bytes in pieces instead of its entities: faster, and a rewritten file stores patches, but diff and partial restores need a whole restore first")
	pos, err := c.parseArgs(flags, args, "FILE.graphml")
	if err != nil {
		return err
	}
	if *every <= 0 {
		return usagef("-every must be positive, got %v", *every)
	}
	file := pos[0]
	if isDir(file) {
		return c.watchDir(ctx, *graphFlag, file, *every)
	}
	graphID, err := c.graphID(*graphFlag, file)
	if err != nil {
		return err
	}
	if err := checkFile(file); err != nil {
		return err
	}
	v, err := c.openVault(ctx, true)
	if err != nil {
		return err
	}
	defer v.close(&err)

	// lastSum is the content of the newest snapshot: a restarted watch does not
	// snapshot a file it already has, and does not read it when its stamp is the
	// one that snapshot recorded.
	latest, err := v.latest(ctx, graphID)
	if err != nil {
		return err
	}
	var lastSum string
	var seen stamp // of the last file read successfully
	if latest != nil {
		lastSum = latest.Labels[labelSum]
		if same, err := c.unchanged(file, latest, false); err == nil && same {
			if fi, err := os.Stat(file); err == nil {
				seen = stampOf(fi)
			}
		}
	}
	c.infof("watching %s every %v as graph %s; stop with Ctrl-C", file, *every, graphID)

	check := func() {
		fi, err := os.Stat(file)
		if err != nil {
			c.infof("watch: %v; trying again in %v", err, *every)
			return
		}
		if stampOf(fi) == seen {
			return
		}
		capt, err := captureFile(ctx, file, v.dir)
		if err != nil {
			if ctx.Err() == nil {
				c.infof("watch: %v; trying again in %v", err, *every)
			}
			return
		}
		seen = capt.stamp
		if capt.sum == lastSum {
			c.infof("%s changed on disk but its content did not; no snapshot", file)
			if err := capt.discard(); err != nil {
				c.infof("watch: %v", err)
			}
			return
		}
		// A snapshot that has started is finished even if a signal comes meanwhile.
		row, err := c.take(context.WithoutCancel(ctx), v, graphID, capt, *chunked)
		if err != nil {
			c.infof("watch: %v; trying again in %v", err, *every)
			seen = stamp{}
			return
		}
		lastSum = capt.sum
		if err := c.printSnapshot(context.WithoutCancel(ctx), v, row, file, false); err != nil {
			c.infof("watch: %v", err)
		}
	}

	check()
	ticker := time.NewTicker(*every)
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
