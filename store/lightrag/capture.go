package lightrag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// stamp is what says a file did not change: LightRAG writes its files whole, in
// place or through a rename, and either moves one of these.
type stamp struct {
	size  int64
	mtime time.Time
	inode uint64
	mode  fs.FileMode
}

func stampOf(fi fs.FileInfo) stamp {
	s := stamp{size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode = st.Ino
	}
	return s
}

// captured is one entry of a working directory read consistently.
type captured struct {
	path   string // slash-separated, relative to the root
	kind   string // kindDir, kindSymlink or a file (classified later)
	mode   fs.FileMode
	size   int64
	sum    string // hex SHA-256 of a file's content
	copy   string // the private copy of a file
	target string // of a symlink
}

// capture is a working directory (or one file) copied aside, every file checked
// not to have moved while the whole set was read.
type capture struct {
	single  bool // the root is one file
	entries []*captured
	scratch string
}

func (c *capture) close() error {
	if c == nil || c.scratch == "" {
		return nil
	}
	return os.RemoveAll(c.scratch)
}

// readHook, when set by a test, runs after each file is copied.
var readHook func(path string)

// captureDir reads root into a scratch folder under tmp, retrying the whole set
// until no file moved while it was read, at most tries times, waiting wait, then
// twice as long, between tries.
func captureDir(ctx context.Context, root, tmp string, tries int, wait time.Duration) (*capture, error) {
	var last error
	for i := range tries {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait << (i - 1)):
			}
		}
		c, err := captureOnce(ctx, root, tmp)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errMoved) {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("%w: %s changed during each of %d reads (is LightRAG writing?); last: %v", ErrUnsettled, root, tries, last)
}

var errMoved = errors.New("changed while it was read")

func captureOnce(ctx context.Context, root, tmp string) (_ *capture, err error) {
	before, single, err := walk(root)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(tmp, ".lightrag-capture-*")
	if err != nil {
		return nil, fmt.Errorf("lightrag: scratch folder: %w", err)
	}
	c := &capture{single: single, scratch: scratch}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	paths := make([]string, 0, len(before))
	for p := range before {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := before[p]
		e := &captured{path: p, mode: st.mode}
		full := root
		if !single {
			full = filepath.Join(root, filepath.FromSlash(p))
		}
		switch {
		case st.mode.IsDir():
			e.kind = kindDir
		case st.mode&fs.ModeSymlink != 0:
			e.kind = kindSymlink
			if e.target, err = os.Readlink(full); err != nil {
				return nil, err
			}
		default:
			e.copy = filepath.Join(scratch, fmt.Sprint(i))
			if e.size, e.sum, err = copyFile(full, e.copy, st); err != nil {
				return nil, err
			}
			if readHook != nil {
				readHook(full)
			}
		}
		c.entries = append(c.entries, e)
	}
	// The whole set again: a file LightRAG saved after it was copied, or one
	// added or removed meanwhile, means the copies may mix two saves.
	after, _, err := walk(root)
	if err != nil {
		return nil, err
	}
	if len(after) != len(before) {
		return nil, fmt.Errorf("%w: files were added or removed", errMoved)
	}
	for p, s := range before {
		a, ok := after[p]
		if !ok || a != s && !(s.mode.IsDir() && a.mode == s.mode && a.inode == s.inode) {
			return nil, fmt.Errorf("%s %w", p, errMoved)
		}
	}
	return c, nil
}

// walk stats every entry under root (root itself excluded), or root alone when it
// is a file, by slash-separated relative path.
func walk(root string) (map[string]stamp, bool, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, false, fmt.Errorf("lightrag: %w", err)
	}
	out := map[string]stamp{}
	if fi.Mode().IsRegular() {
		out[filepath.Base(root)] = stampOf(fi)
		return out, true, nil
	}
	if !fi.IsDir() {
		return nil, false, fmt.Errorf("%w: %s is neither a folder nor a file", ErrUnsupported, root)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.ContainsFunc(rel, func(r rune) bool { return r < 0x20 }) {
			return fmt.Errorf("%w: file name %q holds a control character", ErrUnsupported, rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if t := info.Mode().Type(); t != 0 && t != fs.ModeDir && t != fs.ModeSymlink {
			return fmt.Errorf("%w: %s is a %v, not a file, folder or link", ErrUnsupported, rel, t)
		}
		out[rel] = stampOf(info)
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// A file removed between listing and stat: the folder is moving.
			return nil, false, fmt.Errorf("%w: %v", errMoved, err)
		}
		return nil, false, fmt.Errorf("lightrag: %w", err)
	}
	return out, false, nil
}

// copyFile copies src to dst, hashing it, and checks that src did not move.
func copyFile(src, dst string, want stamp) (int64, string, error) {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, "", fmt.Errorf("%s %w", src, errMoved)
	}
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, "", err
	}
	if stampOf(fi) != want {
		return 0, "", fmt.Errorf("%s %w", src, errMoved)
	}
	out, err := os.Create(dst)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", fmt.Errorf("lightrag: copy %s: %w", src, err)
	}
	if fi, err = in.Stat(); err != nil {
		return 0, "", err
	}
	if stampOf(fi) != want || n != want.size {
		return 0, "", fmt.Errorf("%s %w", src, errMoved)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
