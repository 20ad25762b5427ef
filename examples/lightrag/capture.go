package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/graphvault/graphvault/store/graphml"
)

// retryWait is how long a read that found the file half written waits before its
// second and last try. LightRAG rewrites the whole file at once, so a short wait is
// enough for it to finish.
var retryWait = 500 * time.Millisecond

// stamp is what a cheap check compares: a file whose size, modification time,
// change time and inode did not move is taken as unchanged. The change time cannot
// be set back by a program that restores the modification time, and the inode
// moves when a writer replaces the file by a rename.
type stamp struct {
	size    int64
	modTime int64 // ns since 1970
	ctime   int64 // ns since 1970; 0 where not read
	ino     uint64
}

func stampOf(fi fs.FileInfo) stamp {
	ino, ctime := sysStamp(fi)
	return stamp{size: fi.Size(), modTime: fi.ModTime().UnixNano(), ctime: ctime, ino: ino}
}

// String is the stamp as kept in the snapshot label labelStamp.
func (s stamp) String() string {
	return fmt.Sprintf("size=%d,mtime=%d,ctime=%d,ino=%d", s.size, s.modTime, s.ctime, s.ino)
}

// stampLabel is the value of the label labelStamp: the stamp and when the read of
// the content ended.
func stampLabel(s stamp, readAt time.Time) string {
	return s.String() + ";read=" + strconv.FormatInt(readAt.UnixNano(), 10)
}

// parseStampLabel splits a label made by stampLabel.
func parseStampLabel(label string) (string, time.Time, bool) {
	st, read, ok := strings.Cut(label, ";read=")
	ns, err := strconv.ParseInt(read, 10, 64)
	if !ok || err != nil {
		return "", time.Time{}, false
	}
	return st, time.Unix(0, ns), true
}

// racyWindow is how long after a file's last change a stamp is not trusted: a
// rewrite within the same tick of the file system's clock, with the same size,
// would leave the stamp as it was. A snapshot read sooner than this after the
// change keeps its stamp, but the next check reads the content instead.
var racyWindow = 2 * time.Second

// trusted reports whether a file whose stamp is the one recorded by a snapshot
// read at readAt may be taken as unchanged without reading it.
func (s stamp) trusted(readAt time.Time) bool {
	return readAt.Sub(time.Unix(0, s.modTime)) >= racyWindow && (s.ctime == 0 || readAt.Sub(time.Unix(0, s.ctime)) >= racyWindow)
}

// capture is a consistent copy of a GraphML file: whole as far as its head and end
// show (the snapshot reads the rest and fails on anything else).
type capture struct {
	path   string    // the copy; remove it with discard
	sum    string    // hex SHA-256 of the content
	stamp  stamp     // of the source, before and after the copy
	readAt time.Time // when the copy was complete and the stamp checked again
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
	return errors.Is(err, errMoved) || errors.Is(err, errTruncated) || errors.Is(err, graphml.ErrSyntax) || errors.Is(err, graphml.ErrMalformed)
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
	c.readAt = time.Now()
	c.sum = hex.EncodeToString(h.Sum(nil))
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// check reads the head of the copy and checks that the document ends with
// </graphml>: a file cut short by a writer fails here, before anything is stored.
// The snapshot reads the whole document and fails on any other damage.
func (c *capture) check(context.Context) error {
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := graphml.NewDecoder(f).Meta(); err != nil {
		return fmt.Errorf("%s: %w", c.source, err)
	}
	var tail [256]byte
	n, err := f.ReadAt(tail[:], max(c.stamp.size-int64(len(tail)), 0))
	if err != nil && err != io.EOF {
		return err
	}
	if !bytes.HasSuffix(bytes.TrimRight(tail[:n], " \t\r\n"), []byte("</graphml>")) {
		return fmt.Errorf("%s: %w: %w", c.source, graphml.ErrSyntax, errTruncated)
	}
	return nil
}

// errTruncated is a document that does not end with </graphml>.
var errTruncated = errors.New("the document does not end with </graphml>: cut short, or still being written")

// hashFile returns the hex SHA-256 of a file's content.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
