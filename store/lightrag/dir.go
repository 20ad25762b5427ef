package lightrag

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrUnsettled: the working directory kept changing while it was read.
	ErrUnsettled = errors.New("lightrag: the working directory did not settle")
	// ErrUnsupported: something the working directory holds cannot be kept (a
	// socket or device, a file name with control characters), or a change a
	// working directory cannot take.
	ErrUnsupported = errors.New("lightrag: unsupported")
	// ErrCorrupt: the records of a snapshot do not make the files they describe;
	// nothing is written.
	ErrCorrupt = errors.New("lightrag: corrupt working directory records")
	// ErrExists: the restore target exists and is of the other kind (a file where
	// a folder is restored, or the reverse).
	ErrExists = errors.New("lightrag: target exists")
)

// Option configures a Dir.
type Option func(*Dir)

// WithScratch sets the folder where a snapshot copies the working directory
// aside while it reads it. Default: os.TempDir().
func WithScratch(dir string) Option { return func(d *Dir) { d.scratch = dir } }

// WithRetries sets how many times a snapshot reads the whole working directory
// before it gives up with ErrUnsettled, and the first wait between two reads
// (doubled each time). Default: 5 reads, 200ms.
func WithRetries(reads int, wait time.Duration) Option {
	return func(d *Dir) { d.tries, d.wait = reads, wait }
}

// Dir is a LightRAG working directory (or a single GraphML file) as a
// [graph.Graph]: its View is what a snapshot reads, its Replace is what a
// restore writes, and its Apply merges a partial restore into the files.
type Dir struct {
	path    string
	scratch string
	tries   int
	wait    time.Duration

	mu   sync.Mutex // serializes writes
	last RestoreReport
}

// New returns the working directory at path, which need not exist yet when it is
// the target of a restore.
func New(path string, opts ...Option) (*Dir, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrUnsupported)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{path: abs, scratch: os.TempDir(), tries: 5, wait: 200 * time.Millisecond}
	for _, o := range opts {
		o(d)
	}
	if d.tries < 1 || d.wait < 0 {
		return nil, fmt.Errorf("%w: retries must be at least 1 read", ErrUnsupported)
	}
	return d, nil
}

// Path returns the absolute path of the working directory.
func (d *Dir) Path() string { return d.path }

// View reads the whole working directory consistently (see the package
// documentation) and returns it as a graph view. The caller must Close it.
func (d *Dir) View(ctx context.Context) (graph.View, error) {
	return d.view(ctx)
}

func (d *Dir) view(ctx context.Context) (*dirView, error) {
	c, err := captureDir(ctx, d.path, d.scratch, d.tries, d.wait)
	if err != nil {
		return nil, err
	}
	v, err := classify(ctx, c)
	if err != nil {
		return nil, errors.Join(err, c.close())
	}
	return v, nil
}

// RestoreReport says what the last restore into a Dir wrote.
type RestoreReport struct {
	Files int // files, links and folders written
	// Reencoded lists the GraphML files that no NetworkX writer made: they hold
	// the same graph, written anew.
	Reencoded []string
}

// LastRestore returns the report of the last Replace.
func (d *Dir) LastRestore() RestoreReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// collect gathers the records of a restore into target; the caller closes the
// result.
func collect(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error], target string) (*collected, error) {
	c, err := collectAny(ctx, meta, nodes, edges, target)
	if err != nil {
		return nil, err
	}
	if c.root == "" {
		return nil, errors.Join(fmt.Errorf("%w: the snapshot is not of a LightRAG working directory (no %s record)", ErrCorrupt, LabelRoot), c.close())
	}
	return c, nil
}

// Replace writes the working directory the records describe in place of the one
// at the Dir's path. Every file is written into a new folder beside it and
// checked against the SHA-256 its record holds; only then is the new folder
// exchanged with the old one (atomically where the system allows it) and the old
// one removed. A single-file snapshot replaces the file the same way. Any error
// leaves the target as it was.
func (d *Dir) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := collect(ctx, meta, nodes, edges, d.path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	return d.replace(ctx, c)
}

// replace writes what c holds in place of the working directory; d.mu is held.
func (d *Dir) replace(ctx context.Context, c *collected) error {
	parent := filepath.Dir(d.path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	fi, statErr := os.Lstat(d.path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return statErr
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(d.path)+".restore-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rep := RestoreReport{}
	if c.root == "file" {
		if exists && fi.IsDir() {
			return fmt.Errorf("%w: %s is a folder; the snapshot is of one file", ErrExists, d.path)
		}
		if len(c.files) != 1 {
			return fmt.Errorf("%w: a single-file snapshot with %d files", ErrCorrupt, len(c.files))
		}
		for _, f := range c.files {
			out := filepath.Join(tmp, "file")
			if err := c.writeFile(ctx, f, out, &rep); err != nil {
				return err
			}
			// Write order: the file is complete and synced; the rename makes it
			// visible whole, and syncing the folder makes the rename durable.
			if err := os.Rename(out, d.path); err != nil {
				return err
			}
			d.last = rep
			return syncDir(parent)
		}
	}
	if exists && !fi.IsDir() {
		return fmt.Errorf("%w: %s is a file; the snapshot is of a folder", ErrExists, d.path)
	}
	root := filepath.Join(tmp, "dir")
	if err := c.writeAll(ctx, root, &rep); err != nil {
		return err
	}
	// Write order: every file of the new folder is written, checked and synced
	// before the folder takes the old one's place.
	if !exists {
		if err := os.Rename(root, d.path); err != nil {
			return err
		}
	} else if err := exchange(root, d.path); err != nil {
		return err
	}
	d.last = rep
	return syncDir(parent)
}

// exchange swaps the folders a and b: atomically with renameat2 where the system
// has it, otherwise with two renames.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if err == nil {
		return nil
	}
	old := a + ".old"
	if err := os.Rename(b, old); err != nil {
		return err
	}
	if err := os.Rename(a, b); err != nil {
		return errors.Join(err, os.Rename(old, b))
	}
	return os.Rename(old, a)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// writeAll writes every entry under root, folders' modes last (a read-only
// folder is still written into).
func (c *collected) writeAll(ctx context.Context, root string, rep *RestoreReport) error {
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	paths := make([]string, 0, len(c.files))
	for p := range c.files {
		if !filepath.IsLocal(filepath.FromSlash(p)) {
			return fmt.Errorf("%w: path %q leaves the folder", ErrCorrupt, p)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var dirs []string
	for _, p := range paths {
		f := c.files[p]
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		switch f.Kind {
		case kindDir:
			if err := os.MkdirAll(full, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, p)
			rep.Files++
		case kindSymlink:
			if err := os.Symlink(f.Target, full); err != nil {
				return err
			}
			rep.Files++
		default:
			if err := c.writeFile(ctx, f, full, rep); err != nil {
				return err
			}
		}
	}
	if err := c.checkUsed(); err != nil {
		return err
	}
	for _, p := range slices.Backward(dirs) {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.Chmod(full, fs.FileMode(c.files[p].Mode)); err != nil {
			return err
		}
		if err := syncDir(full); err != nil {
			return err
		}
	}
	return syncDir(root)
}

// checkUsed refuses records no file names: a snapshot whose files and records
// disagree is damaged.
func (c *collected) checkUsed() error {
	for p := range c.kv {
		if f := c.files[p]; f == nil || f.Kind != kindKV {
			return fmt.Errorf("%w: key-value records of %s, which is not a key-value store", ErrCorrupt, p)
		}
	}
	for p := range c.vdb {
		if f := c.files[p]; f == nil || f.Kind != kindVDB {
			return fmt.Errorf("%w: vector records of %s, which is not a vector store", ErrCorrupt, p)
		}
	}
	return nil
}

// writeFile writes one file at full, synced, and checks it.
func (c *collected) writeFile(ctx context.Context, f *fileEntry, full string, rep *RestoreReport) (err error) {
	if f.Kind == kindGraphML && f.Chunked && len(f.Pieces) > 0 {
		return c.writeChunked(f, full, rep)
	}
	out, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fs.FileMode(f.Mode)|0o200)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 1<<20)
	check := true
	switch f.Kind {
	case kindRaw:
		data, err := c.stream(f)
		if err != nil {
			return err
		}
		bw.Write(data)
	case kindKV:
		err = c.writeKVFile(f, bw)
	case kindVDB:
		err = c.writeVDBFile(f, bw)
	case kindGraphML:
		if f.Chunked {
			break // an empty file: a file with pieces is written by writeChunked
		}
		if len(f.Content) > 0 {
			// The file's own bytes were kept: the layout does not give them.
			data, serr := c.streamOf(f, f.Content)
			if serr != nil {
				return serr
			}
			bw.Write(data)
			break
		}
		check, err = c.writeGraphFile(ctx, f, bw)
		if err == nil && !check && !f.Graph.Unchecked {
			rep.Reencoded = append(rep.Reencoded, f.Path)
		}
	default:
		return fmt.Errorf("%w: %s of unknown kind %q", ErrCorrupt, f.Path, f.Kind)
	}
	if err != nil {
		return fmt.Errorf("lightrag: restore %s: %w", f.Path, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case check && sum != f.SHA256:
		return fmt.Errorf("%w: %s restores with SHA-256 %.12s, the snapshot was taken of %.12s", ErrCorrupt, f.Path, sum, f.SHA256)
	case f.Kind == kindGraphML && f.Graph != nil && f.Graph.Unchecked && sum != f.SHA256:
		// The layout was not checked when the snapshot was taken: the same
		// graph, written as NetworkX would, but not the file's bytes.
		rep.Reencoded = append(rep.Reencoded, f.Path)
	}
	if err := out.Chmod(fs.FileMode(f.Mode)); err != nil {
		return err
	}
	rep.Files++
	return out.Sync()
}

// writeChunked puts the file the pieces were assembled into at full, once its
// SHA-256 is the snapshot's.
func (c *collected) writeChunked(f *fileEntry, full string, rep *RestoreReport) error {
	if c.pieces == nil {
		return fmt.Errorf("%w: %s: its pieces are missing", ErrCorrupt, f.Path)
	}
	name, sum, err := c.pieces.finish(f.Path)
	if err != nil {
		return fmt.Errorf("lightrag: restore %s: %w", f.Path, err)
	}
	if sum != f.SHA256 {
		return fmt.Errorf("%w: %s restores with SHA-256 %.12s, the snapshot was taken of %.12s", ErrCorrupt, f.Path, sum, f.SHA256)
	}
	out := c.pieces.out
	if err := out.Chmod(fs.FileMode(f.Mode)); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := os.Rename(name, full); err != nil {
		return err
	}
	c.pieces.outName = "" // renamed: close leaves it
	rep.Files++
	return nil
}

// lines splits an order stream into its lines.
func lines(data []byte) []string {
	s := string(data)
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func (c *collected) writeKVFile(f *fileEntry, bw *bufio.Writer) error {
	order, err := c.stream(f)
	if err != nil {
		return err
	}
	keys := lines(order)
	entries := c.kv[f.Path]
	if len(keys) != len(entries) {
		return fmt.Errorf("%w: %d keys in the order, %d entries", ErrCorrupt, len(keys), len(entries))
	}
	return writeKV(bw, func(yield func(string, []byte) bool) error {
		for _, k := range keys {
			v, ok := entries[k]
			if !ok {
				return fmt.Errorf("%w: entry %q is missing", ErrCorrupt, k)
			}
			if !yield(k, v) {
				return nil
			}
		}
		return nil
	})
}

func (c *collected) writeVDBFile(f *fileEntry, bw *bufio.Writer) error {
	order, err := c.stream(f)
	if err != nil {
		return err
	}
	ids := lines(order)
	rows := c.vdb[f.Path]
	if len(ids) != len(rows) {
		return fmt.Errorf("%w: %d ids in the order, %d entries", ErrCorrupt, len(ids), len(rows))
	}
	for _, id := range ids {
		r, ok := rows[id]
		if !ok {
			return fmt.Errorf("%w: entry %q is missing", ErrCorrupt, id)
		}
		if len(r.row) != f.Dim*4 {
			return fmt.Errorf("%w: the vector of %q has %d bytes, not %d", ErrCorrupt, id, len(r.row), f.Dim*4)
		}
	}
	vw := newVDBWriter(bw)
	for _, m := range f.Members {
		var value []byte
		if m.Name != "data" && m.Name != "matrix" {
			value = []byte(m.Value)
		}
		if err := vw.member(m.Name, value); err != nil {
			return err
		}
		switch m.Name {
		case "data":
			for _, id := range ids {
				if err := vw.entry(rows[id].entry); err != nil {
					return err
				}
			}
		case "matrix":
			for _, id := range ids {
				if err := vw.row(rows[id].row); err != nil {
					return err
				}
			}
		}
	}
	return vw.close()
}

// writeGraphFile writes the GraphML file; exact says whether it is the file's
// own bytes (else it was re-encoded and its hash cannot be checked).
func (c *collected) writeGraphFile(ctx context.Context, f *fileEntry, bw *bufio.Writer) (exact bool, err error) {
	if f.Graph == nil {
		return false, fmt.Errorf("%w: GraphML file without its head", ErrCorrupt)
	}
	order, err := c.stream(f)
	if err != nil {
		return false, err
	}
	if c.spill != nil {
		// The chunks of one file are its order alone, joined now: the 200k/600k
		// file's are 16 MiB of heap the layout can have.
		c.chunks = nil
	}
	l, err := decodeLayout(order, f.Graph)
	if err != nil {
		return false, err
	}
	g, nodes, edges := c.graph()
	if len(l.Nodes) != nodes || len(l.Edges) != edges {
		return false, fmt.Errorf("%w: the order names %d nodes and %d edges, the snapshot holds %d and %d", ErrCorrupt, len(l.Nodes), len(l.Edges), nodes, edges)
	}
	if f.Graph.Exact || f.Graph.Unchecked {
		if c.spill != nil {
			pg := newPrefetched(ctx, g, l)
			defer pg.close()
			g = pg
		}
		return f.Graph.Exact, graphml.WriteLayout(ctx, bw, l, g)
	}
	return false, graphml.Write(ctx, bw, &layoutView{l: l, c: c})
}

// layoutView is the graph in a layout's order and orientation.
type layoutView struct {
	l *graphml.Layout
	c *collected
}

func (v *layoutView) Meta() graph.Meta { return graph.Meta{Directed: v.c.directed} }
func (v *layoutView) Close() error     { return nil }

func (v *layoutView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		g, _, _ := v.c.graph()
		for _, nl := range v.l.Nodes {
			n, ok, err := g.Node(ctx, nl.ID)
			if err != nil {
				yield(n, err)
				return
			}
			if !ok {
				yield(n, fmt.Errorf("%w: node %q of the order is missing", ErrCorrupt, nl.ID))
				return
			}
			if !yield(n, nil) {
				return
			}
		}
	}
}

func (v *layoutView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		g, _, _ := v.c.graph()
		for _, el := range v.l.Edges {
			e, ok, err := g.Edge(ctx, el.Source, el.Target, el.Type)
			if err != nil {
				yield(e, err)
				return
			}
			if !ok {
				yield(e, fmt.Errorf("%w: edge %q-%q of the order is missing", ErrCorrupt, el.Source, el.Target))
				return
			}
			e.Source, e.Target = el.Source, el.Target
			if !yield(e, nil) {
				return
			}
		}
	}
}
