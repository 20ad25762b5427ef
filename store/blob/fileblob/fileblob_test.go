package fileblob_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/blobtest"
	"github.com/graphvault/graphvault/store/blob/fileblob"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver { return open(t, t.TempDir()) })
}

func open(t testing.TB, dir string) *fileblob.Driver {
	t.Helper()
	d, err := fileblob.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func TestOpenCreatesAbsoluteDir(t *testing.T) {
	t.Chdir(t.TempDir())
	d := open(t, filepath.Join("some", "store"))
	if !filepath.IsAbs(d.Dir()) {
		t.Errorf("Dir() = %q, want an absolute path", d.Dir())
	}
	if fi, err := os.Stat(d.Dir()); err != nil || !fi.IsDir() {
		t.Errorf("Stat(Dir()) = %v, %v; want a directory", fi, err)
	}
}

func TestOpenFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "below")} {
		if d, err := fileblob.Open(dir); err == nil {
			t.Errorf("Open(%q) = %v, nil; want an error", dir, d)
		}
	}
}

func TestLayout(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	if err := d.Put(ctx, "a/b/c", []byte("abc")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(d.Dir(), "a", "b", "c"))
	if err != nil || string(got) != "abc" {
		t.Errorf("file a/b/c holds %q, %v; want %q", got, err, "abc")
	}
	if err := d.Delete(ctx, "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	entries, err := os.ReadDir(d.Dir())
	if err != nil || len(entries) != 0 {
		t.Errorf("root after deleting the only object holds %v, %v; want nothing", entries, err)
	}
}

// TestPutsLeaveOnlyObjects checks that every kind of put, into new and existing
// directories, leaves the object and no temporary file behind.
func TestPutsLeaveOnlyObjects(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	puts := map[string]func(context.Context, string, []byte) error{"Put": d.Put, "PutIfAbsent": d.PutIfAbsent, "PutUnsynced": d.PutUnsynced}
	var want []string
	for name, put := range puts {
		for _, key := range []string{"new/" + name, "new/" + name + "-again", name} {
			if err := put(ctx, key, []byte(key)); err != nil {
				t.Fatalf("%s %q: %v", name, key, err)
			}
			want = append(want, filepath.FromSlash(key))
		}
	}
	var got []string
	err := filepath.WalkDir(d.Dir(), func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(d.Dir(), path)
			got = append(got, rel)
		}
		return err
	})
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("files after the puts: %q, %v; want %q", got, err, want)
	}
}

func TestConflict(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	for _, k := range []string{"obj", "dir/x"} {
		if err := d.Put(ctx, k, []byte(k)); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	tests := []struct {
		name string
		put  func(ctx context.Context, key string, data []byte) error
		key  string
		want error
	}{
		{"below an object", d.Put, "obj/x", fileblob.ErrConflict},
		{"below an object, exclusive", d.PutIfAbsent, "obj/x", fileblob.ErrConflict},
		{"two below an object", d.PutUnsynced, "obj/x/y", fileblob.ErrConflict},
		{"on a prefix", d.Put, "dir", fileblob.ErrConflict},
		{"on a prefix, exclusive", d.PutIfAbsent, "dir", fileblob.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.put(ctx, tc.key, []byte("new")); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want one wrapping %v", err, tc.want)
			}
		})
	}
	// Nothing was lost or left behind.
	var keys []string
	for a, err := range d.List(ctx, "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		keys = append(keys, a.Key)
	}
	if want := []string{"dir/x", "obj"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
	assertNoTemp(t, d.Dir())
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(de.Name(), fileblob.TempPrefix) {
			t.Errorf("temporary file %s left behind", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReservedKeys(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	for _, key := range []string{".tmp-x", "a/.tmp-1/b", "", "../up", "a//b"} {
		if err := d.Put(ctx, key, nil); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
		}
		if _, err := d.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Get(%q): %v, want ErrInvalidKey", key, err)
		}
	}
	for _, err := range d.List(ctx, "a/.tmp-1/") {
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List of a reserved prefix: %v, want ErrInvalidKey", err)
		}
	}
}

// TestForeignFiles checks that List skips what the driver did not write: temporary
// files, files with names that are not keys, and symbolic links.
func TestForeignFiles(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	if err := d.Put(ctx, "k/ok", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(d.Dir(), "k")
	for _, name := range []string{fileblob.TempPrefix + "orphan", "back\\slash"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("ok", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for a, err := range d.List(ctx, "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		keys = append(keys, a.Key)
	}
	if want := []string{"k/ok"}; !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
}

// TestSymlinkEscape checks that a symbolic link inside the directory pointing out of
// it gives no access to the outside.
func TestSymlinkEscape(t *testing.T) {
	ctx := t.Context()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := open(t, t.TempDir())
	if err := os.Symlink(outside, filepath.Join(d.Dir(), "evil")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Get(ctx, "evil/secret"); err == nil {
		t.Errorf("Get through an escaping link = %q, want an error", got)
	}
	if _, err := d.Stat(ctx, "evil/secret"); err == nil {
		t.Error("Stat through an escaping link succeeded, want an error")
	}
	if err := d.Put(ctx, "evil/planted", []byte("x")); err == nil {
		t.Error("Put through an escaping link succeeded, want an error")
	}
	if err := d.Delete(ctx, "evil/secret"); err == nil {
		t.Error("Delete through an escaping link succeeded, want an error")
	}
	entries, err := os.ReadDir(outside)
	if err != nil || len(entries) != 1 {
		t.Errorf("outside directory holds %v, %v; want only the secret", entries, err)
	}
}

func TestRemoveTemp(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	if err := d.Put(ctx, "a/obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	files := map[string]time.Time{
		filepath.Join("a", fileblob.TempPrefix+"old"): old,
		fileblob.TempPrefix + "old2":                  old,
		filepath.Join("a", fileblob.TempPrefix+"new"): time.Now(),
	}
	for name, mod := range files {
		p := filepath.Join(d.Dir(), name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.RemoveTemp(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 2 {
		t.Errorf("RemoveTemp = %d, %v; want 2, nil", n, err)
	}
	for name, mod := range files {
		_, err := os.Stat(filepath.Join(d.Dir(), name))
		if gone := errors.Is(err, os.ErrNotExist); gone != (mod == old) {
			t.Errorf("%s: removed %v, want %v", name, gone, mod == old)
		}
	}
	if _, err := d.Get(ctx, "a/obj"); err != nil {
		t.Errorf("Get of an object after RemoveTemp: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.RemoveTemp(cancelled, time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("RemoveTemp with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestRemoveTempThroughBucket checks that a Bucket reaches the driver's RemoveTemp
// (blob.TempRemover) and that the folders a dead put made only for its temporary
// file go with it, while a fresh temporary file and its folder stay.
func TestRemoveTempThroughBucket(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	b := blob.NewBucket(d)
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mod time.Time) string {
		p := filepath.Join(d.Dir(), filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldTemp := write("data/ab/cd/"+fileblob.TempPrefix+"old", old)
	freshTemp := write("data/ef/"+fileblob.TempPrefix+"fresh", time.Now())
	n, err := b.RemoveTemp(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Bucket.RemoveTemp = %d, %v; want 1, nil", n, err)
	}
	if _, err := os.Stat(oldTemp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old temporary file: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(d.Dir(), "data", "ab")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("folders left empty by the old temporary file: %v, want them removed", err)
	}
	if _, err := os.Stat(freshTemp); err != nil {
		t.Errorf("fresh temporary file: %v, want it kept", err)
	}
}

// TestPutIfAbsentOverEmptyDir checks that an empty directory left by another process
// does not block a key.
func TestPutIfAbsentOverEmptyDir(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	for _, key := range []string{"e1", "e2"} {
		if err := os.Mkdir(filepath.Join(d.Dir(), key), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.PutIfAbsent(ctx, "e1", []byte("1")); err != nil {
		t.Errorf("PutIfAbsent over an empty directory: %v", err)
	}
	if err := d.Put(ctx, "e2", []byte("2")); err != nil {
		t.Errorf("Put over an empty directory: %v", err)
	}
}

// TestPutDeleteSameDirectory races puts against deletes that prune the directory
// the puts write into.
func TestPutDeleteSameDirectory(t *testing.T) {
	ctx := t.Context()
	d := open(t, t.TempDir())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				key := fmt.Sprintf("s/a/b/w%d-%d", w, i)
				if err := d.Put(ctx, key, []byte(key)); err != nil {
					t.Errorf("Put(%q): %v", key, err)
					return
				}
				if err := d.Delete(ctx, key); err != nil {
					t.Errorf("Delete(%q): %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	entries, err := os.ReadDir(d.Dir())
	if err != nil || len(entries) != 0 {
		t.Errorf("root after all deletes holds %v, %v; want nothing", entries, err)
	}
}

// BenchmarkPutUnsynced stores 64 KiB objects under new keys spread over 256
// directories, as a snapshot stores segments: the cost of a put apart from its
// bytes. One Sync at the end, as before a commit.
func BenchmarkPutUnsynced(b *testing.B) {
	ctx := b.Context()
	d := open(b, b.TempDir())
	data := make([]byte, 64<<10)
	i := 0
	for b.Loop() {
		if err := d.PutUnsynced(ctx, fmt.Sprintf("data/%02x/%d", i%256, i), data); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := d.Sync(ctx); err != nil {
		b.Fatal(err)
	}
}
