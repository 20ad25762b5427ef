// Package fileblob is a [blob.Driver] that keeps objects as files below a directory.
//
// The object "a/b/c" is the file a/b/c below the root; directories are made as
// needed and removed when their last object goes. Every file operation goes through
// an [os.Root], so neither a key nor a symbolic link placed in the directory can
// reach a file outside it.
//
// Writes are durable and atomic: Put writes a temporary file beside the target,
// syncs it, renames it over the target and syncs the directory. PutIfAbsent links
// the synced temporary file to the target name, which fails if the name is taken, so
// it is exclusive even across processes sharing the directory. Temporary files are
// named ".tmp-" followed by random letters; List never shows them, and a crash may
// leave some behind for [Driver.RemoveTemp] ([blob.TempRemover]) to collect. A writer of many objects
// that needs them durable only together uses [Driver.PutUnsynced] and then
// [Driver.Sync] ([blob.Syncer]): on Linux the two syncs per object become one
// sync of the file system. On Linux, a driver opened with [DropBehind] takes the
// objects PutUnsynced writes out of the page cache once they are on disk.
//
// Linking the package registers the scheme "file" with [blob.OpenURL]: a plain
// folder path or "file:///abs/dir" opens that folder, made if missing.
//
// Limits: a directory cannot be a file too, so the store cannot hold both "a" and
// "a/b"; the second Put fails with an error wrapping [ErrConflict]. Key segments
// beginning with ".tmp-" are reserved ([blob.ErrInvalidKey]). List skips files whose
// names are not valid keys, and symbolic links.
//
// # Errors
//
// Get and Stat of a missing key return an error wrapping [blob.ErrNotFound],
// PutIfAbsent of a taken key one wrapping [blob.ErrExists]; a call with a done
// context returns ctx.Err() and changes nothing; file system errors are returned as
// *fs.PathError values, wrapped.
package fileblob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/graphvault/graphvault/store/blob"
)

// TempPrefix starts the name of every temporary file the driver writes.
const TempPrefix = ".tmp-"

// ErrConflict reports a key that would need a file and a directory of the same name.
var ErrConflict = errors.New("fileblob: key conflicts with a stored object or prefix")

const (
	filePerm = 0o640
	dirPerm  = 0o750
)

// Driver stores objects in a directory. It is safe for concurrent use, also by
// several processes sharing the directory.
type Driver struct {
	dir    string
	within string // dir with a trailing separator: every object path starts with it
	root   *os.Root
	drops  *dropQueue // with DropBehind; nil when written objects stay cached

	closeOnce sync.Once
	closeErr  error
}

var (
	_ blob.Driver      = (*Driver)(nil)
	_ blob.Syncer      = (*Driver)(nil)
	_ blob.TempRemover = (*Driver)(nil)
)

// Option configures a Driver.
type Option func(*options)

type options struct {
	dropBehind bool
}

// DropBehind takes the objects PutUnsynced writes, the bulk of a snapshot, out
// of the page cache once they are on disk, where the system allows it (Linux),
// so that a backup does not push out of memory what the host reads all the
// time: its database, its graph's files. Objects read back soon after, by a
// verify or a restore, are then read from disk: restoring a 200,000-node
// snapshot just taken was about a quarter slower in examples/bench.
func DropBehind() Option { return func(o *options) { o.dropBehind = true } }

// Open returns a driver storing objects below dir, which is made absolute and
// created if missing.
func Open(dir string, opts ...Option) (*Driver, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fileblob: %w", err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("fileblob: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("fileblob: %w", err)
	}
	within := abs
	if !strings.HasSuffix(within, string(filepath.Separator)) {
		within += string(filepath.Separator)
	}
	d := &Driver{dir: abs, within: within, root: root}
	if dropBehind && o.dropBehind {
		d.drops = new(dropQueue)
	}
	return d, nil
}

// Dir returns the absolute path of the directory holding the objects.
func (d *Driver) Dir() string { return d.dir }

// name returns the path of key relative to the root. The bucket has validated key
// already; the checks are repeated so that the driver alone never leaves its root.
func (d *Driver) name(key string) (string, error) {
	if err := blob.ValidateKey(key); err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, TempPrefix) {
			return "", fmt.Errorf("%w: segment %q starts with the reserved %q", blob.ErrInvalidKey, seg, TempPrefix)
		}
	}
	name := filepath.FromSlash(key)
	full := filepath.Join(d.dir, name)
	if !filepath.IsLocal(name) || !strings.HasPrefix(full, d.within) {
		return "", fmt.Errorf("%w: not below the root", blob.ErrInvalidKey)
	}
	return name, nil
}

// Put stores data under key, replacing any object there.
func (d *Driver) Put(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, false, true)
}

// PutIfAbsent stores data under key unless the key is taken.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, true, true)
}

// PutUnsynced is Put without its file system syncs, where the system can make a
// whole file system durable at once (Linux: syncfs); elsewhere it is Put. The
// object is renamed into place whole, as by Put, and Sync makes it durable.
func (d *Driver) PutUnsynced(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, false, !canSyncFS)
}

// Sync makes every object stored so far durable: one sync of the file system the
// folder is on, instead of two per object (see PutUnsynced).
func (d *Driver) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil || !canSyncFS {
		return err
	}
	err := d.syncDir(".", syncFS)
	if d.drops != nil {
		drop(d.drops.take(), err != nil)
	}
	return err
}

func (d *Driver) put(ctx context.Context, key string, data []byte, exclusive, durable bool) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := d.name(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(name)

	// Crash safety rests on this order:
	//  1. write the data to a new temporary file in the target's directory and fsync
	//     it, so the bytes are on disk before any name points at them;
	//  2. rename it over the target (Put) or hard-link it to the target name
	//     (PutIfAbsent: link fails if the name exists, making the create exclusive);
	//     both are atomic, so a reader sees the old object or the whole new one;
	//  3. fsync the directory, so the new name survives a crash, and, if the put
	//     created directories, their parents up to the root, so the path does too.
	// A crash before 2 leaves only a ".tmp-" file, which List ignores and RemoveTemp
	// collects. Without durable (PutUnsynced) the two syncs are left to Sync.
	tmp, f, created, err := d.writeTemp(dir, data, durable)
	if err != nil {
		return err
	}
	if f != nil {
		defer func() {
			if err != nil {
				_ = f.Close()
			} else {
				drop(d.drops.push(f, int64(len(data))), true)
			}
		}()
	}
	renamed := false
	defer func() {
		// After a link or a failure tmp is an orphan; after a rename it is gone.
		if renamed {
			return
		}
		if rmErr := d.root.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if exclusive {
		err = d.commit(name, func() error { return d.root.Link(tmp, name) })
		if errors.Is(err, fs.ErrExist) {
			return blob.ErrExists
		}
	} else {
		err = d.commit(name, func() error { return d.root.Rename(tmp, name) })
		renamed = err == nil
	}
	if err != nil || !durable {
		return err
	}
	for p := dir; ; p = filepath.Dir(p) {
		if err := d.syncDir(p, (*os.File).Sync); err != nil {
			return err
		}
		if !created || p == "." {
			return nil
		}
	}
}

// commit runs link or rename onto name. If name is a directory left empty, it is
// removed and the step tried again; a directory in use is a conflict.
func (d *Driver) commit(name string, step func() error) error {
	err := step()
	if err == nil {
		return nil
	}
	fi, statErr := d.root.Lstat(name)
	if statErr != nil || !fi.IsDir() {
		return err // name is not a directory: report the original error
	}
	if rmErr := d.root.Remove(name); rmErr != nil {
		return fmt.Errorf("%w: %q is a prefix of stored keys", ErrConflict, filepath.ToSlash(name))
	}
	return step()
}

// writeTemp writes data to a new temporary file in dir, synced when sync is set,
// and returns its name and whether dir had to be created. An unsynced file that
// is to be dropped from the cache once written (see dropbehind.go) is returned
// open, for the caller to queue; any other is closed.
func (d *Driver) writeTemp(dir string, data []byte, sync bool) (tmp string, open *os.File, created bool, _ error) {
	// The file is created in dir as it is; only when dir is missing is it made,
	// so that a put into an existing folder walks the path once. A concurrent
	// Delete may remove dir or one of its parents, empty, between MkdirAll and
	// OpenFile; try again then. Once the temporary file exists the directory is
	// not empty.
	for attempt := 0; ; attempt++ {
		tmp = filepath.Join(dir, TempPrefix+rand.Text())
		f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		conflict := errors.Is(err, syscall.ENOTDIR)
		if errors.Is(err, fs.ErrNotExist) && attempt < 10 {
			created = true
			err = d.root.MkdirAll(dir, dirPerm)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				continue
			}
			conflict = errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist)
		}
		if conflict {
			return "", nil, false, fmt.Errorf("%w: a prefix of the key is an object: %w", ErrConflict, err)
		}
		if err != nil {
			return "", nil, false, err
		}
		_, err = f.Write(data)
		switch {
		case err != nil:
		case sync:
			err = f.Sync()
		default:
			startWriteback(f)
			if err == nil && d.drops != nil {
				return tmp, f, created, nil
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			if rmErr := d.root.Remove(tmp); rmErr != nil {
				err = errors.Join(err, rmErr)
			}
			return "", nil, false, err
		}
		return tmp, nil, created, nil
	}
}

// syncDir opens dir and syncs it with sync: (*os.File).Sync makes its directory
// entries durable, syncFS the whole file system it is on.
func (d *Driver) syncDir(dir string, sync func(*os.File) error) error {
	f, err := d.root.Open(dir)
	if err != nil {
		return err
	}
	err = sync(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// notFound reports whether err means that a path names no regular file.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR)
}

// Get returns the object stored under key.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	return d.GetInto(ctx, key, nil)
}

// GetInto returns the object stored under key, read into buf when it has room.
func (d *Driver) GetInto(ctx context.Context, key string, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, err := d.name(key)
	if err != nil {
		return nil, err
	}
	f, err := d.root.Open(name)
	if notFound(err) {
		return nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, blob.ErrNotFound
	}
	// Objects are replaced by rename, never written in place: the size holds.
	size := int(fi.Size())
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// Stat returns the size and modification time of the object stored under key.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	if err := ctx.Err(); err != nil {
		return blob.Attrs{}, err
	}
	name, err := d.name(key)
	if err != nil {
		return blob.Attrs{}, err
	}
	fi, err := d.root.Stat(name)
	if notFound(err) || err == nil && !fi.Mode().IsRegular() {
		return blob.Attrs{}, blob.ErrNotFound
	}
	if err != nil {
		return blob.Attrs{}, err
	}
	return blob.Attrs{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes the object under key, then the directories it leaves empty.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := d.name(key)
	if err != nil {
		return err
	}
	fi, err := d.root.Lstat(name)
	if notFound(err) || err == nil && fi.IsDir() {
		return nil // no object, perhaps a prefix of other keys
	}
	if err != nil {
		return err
	}
	if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Remove the parents left empty, so the prefix may become a key later. Remove
	// fails on a directory that is not empty, which ends the walk; that and a
	// concurrent Put recreating a directory are expected, not errors.
	for dir := filepath.Dir(name); dir != "."; dir = filepath.Dir(dir) {
		if d.root.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List yields the objects whose key starts with prefix, in key order. Objects added
// or removed during the iteration may or may not be seen.
func (d *Driver) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	return func(yield func(blob.Attrs, error) bool) {
		dirKey, base := "", prefix
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			dirKey, base = prefix[:i], prefix[i+1:]
		}
		if dirKey != "" {
			if _, err := d.name(dirKey); err != nil {
				yield(blob.Attrs{}, err)
				return
			}
		}
		d.walk(ctx, dirKey, base, yield)
	}
}

type entry struct {
	name string
	sort string // name, followed by "/" for a directory
	dir  bool
}

// walk yields the objects below the directory of keys dirKey+"/"... (the root when
// dirKey is empty) whose next segment starts with base, in key order. It reports
// whether to go on.
//
// Keys sort byte-wise, and every key below directory x starts with x+"/", so sorting
// each directory's entries by name, with "/" appended to directory names, visits the
// keys in order.
func (d *Driver) walk(ctx context.Context, dirKey, base string, yield func(blob.Attrs, error) bool) bool {
	if err := ctx.Err(); err != nil {
		yield(blob.Attrs{}, err)
		return false
	}
	dirName := "."
	if dirKey != "" {
		dirName = filepath.FromSlash(dirKey)
	}
	f, err := d.root.Open(dirName)
	if notFound(err) {
		return true
	}
	if err != nil {
		yield(blob.Attrs{}, err)
		return false
	}
	des, err := f.ReadDir(-1)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if notFound(err) {
		return true // dirName is a file or went away
	}
	if err != nil {
		yield(blob.Attrs{}, err)
		return false
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, TempPrefix) || !strings.HasPrefix(n, base) {
			continue
		}
		switch {
		case de.IsDir():
			entries = append(entries, entry{name: n, sort: n + "/", dir: true})
		case de.Type().IsRegular():
			entries = append(entries, entry{name: n, sort: n})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.sort, b.sort) })
	for _, e := range entries {
		key := e.name
		if dirKey != "" {
			key = path.Join(dirKey, e.name)
		}
		if blob.ValidateKey(key) != nil {
			continue // not written by this driver
		}
		if e.dir {
			if !d.walk(ctx, key, "", yield) {
				return false
			}
			continue
		}
		fi, err := d.root.Lstat(filepath.FromSlash(key))
		if notFound(err) {
			continue // deleted since ReadDir
		}
		if err != nil {
			yield(blob.Attrs{}, err)
			return false
		}
		if !yield(blob.Attrs{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil) {
			return false
		}
	}
	return true
}

// RemoveTemp deletes the temporary files last modified before cutoff, which writes
// interrupted by a crash leave behind, and the directories that leaves empty, and
// reports how many files it removed. Pass a cutoff older than the longest write in
// progress, such as an hour ago: younger files may be writes under way, in this
// process or another one sharing the directory, and are left alone.
func (d *Driver) RemoveTemp(ctx context.Context, cutoff time.Time) (int, error) {
	removed := 0
	err := fs.WalkDir(d.root.FS(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if de.IsDir() || !strings.HasPrefix(de.Name(), TempPrefix) {
			return nil
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		name := filepath.FromSlash(p)
		if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		// A put that made directories for its key and died leaves them empty.
		// Removing a directory fails while it holds anything, which ends the
		// walk up; a put racing with it makes the directory again.
		for dir := filepath.Dir(name); dir != "."; dir = filepath.Dir(dir) {
			if d.root.Remove(dir) != nil {
				break
			}
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("fileblob: remove temporary files: %w", err)
	}
	return removed, nil
}

// Close releases the directory. Later calls fail; Close itself may be called again.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		if d.drops != nil {
			drop(d.drops.take(), false)
		}
		d.closeErr = d.root.Close()
	})
	return d.closeErr
}

func init() { blob.Register("file", openURL) }

// openURL opens the folder a file URL names ("file:///abs/dir", or a plain path
// passed to blob.OpenURL), made if missing.
func openURL(_ context.Context, u *url.URL) (blob.Driver, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("%w: file URL names host %q; a folder on this machine has none", blob.ErrInvalidURL, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: a file URL takes no query or fragment", blob.ErrInvalidURL)
	}
	dir := u.Path
	if dir == "" {
		dir = u.Opaque
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: file URL names no folder", blob.ErrInvalidURL)
	}
	return Open(filepath.FromSlash(dir))
}
