package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/graphvault/graphvault/store/graphml"
)

// retryWait is how long a read that found the file half written waits before its
// second and last try. LightRAG rewrites the whole file at once, so a short wait is
// enough for it to finish.
var retryWait = 500 * time.Millisecond

// stamp is what a cheap check compares: a file whose size and modification time
// did not move is taken as unchanged.
type stamp struct {
	size    int64
	modTime time.Time
}

func stampOf(fi fs.FileInfo) stamp { return stamp{size: fi.Size(), modTime: fi.ModTime()} }

// capture is a consistent copy of a GraphML file, checked to be a whole graph.
type capture struct {
	path   string // the copy; remove it with discard
	sum    string // hex SHA-256 of the content
	stamp  stamp  // of the source, before and after the copy
	nodes  int64
	edges  int64
	source string
}

func (c *capture) discard() error {
	if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// errMoved is a file that changed while it was being copied.
var errMoved = errors.New("the file changed while it was being read")

// retryable reports whether a read failed because the file was being written.
func retryable(err error) bool {
	return errors.Is(err, errMoved) || errors.Is(err, graphml.ErrSyntax) || errors.Is(err, graphml.ErrMalformed)
}

// captureFile copies src into a temporary file in dir and checks the copy, trying a
// second time after retryWait if the file was being written. Other errors (a
// missing file, say) are returned at once.
func captureFile(ctx context.Context, src, dir string) (*capture, error) {
	c, err := captureOnce(ctx, src, dir)
	if err == nil || !retryable(err) {
		return c, err
	}
	first := err
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(retryWait):
	}
	c, err = captureOnce(ctx, src, dir)
	if err != nil {
		if retryable(err) {
			return nil, fmt.Errorf("read %s twice, %v apart, and it is not a whole GraphML graph: %w (first try: %v)", src, retryWait, err, first)
		}
		return nil, err
	}
	return c, nil
}

func captureOnce(ctx context.Context, src, dir string) (_ *capture, err error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	before, err := in.Stat()
	if err != nil {
		return nil, err
	}
	if before.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a GraphML file", src)
	}
	out, err := os.CreateTemp(dir, ".capture-*.graphml")
	if err != nil {
		return nil, fmt.Errorf("create copy: %w", err)
	}
	c := &capture{path: out.Name(), stamp: stampOf(before), source: src}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.discard())
		}
	}()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), &ctxReader{ctx: ctx, r: in})
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	after, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if stampOf(after) != c.stamp {
		return nil, fmt.Errorf("%s: %w", src, errMoved)
	}
	c.sum = hex.EncodeToString(h.Sum(nil))
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// check decodes the whole copy, counting nodes and edges: a file cut short by a
// writer fails here, before anything is stored.
func (c *capture) check(ctx context.Context) error {
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	d := graphml.NewDecoder(f)
	if _, err := d.Meta(); err != nil {
		return fmt.Errorf("%s: %w", c.source, err)
	}
	for _, err := range d.Nodes(ctx) {
		if err != nil {
			return fmt.Errorf("%s: %w", c.source, err)
		}
		c.nodes++
	}
	for _, err := range d.Edges(ctx) {
		if err != nil {
			return fmt.Errorf("%s: %w", c.source, err)
		}
		c.edges++
	}
	return d.Err()
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
