package fileblob_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/blobtest"
	"github.com/graphvault/graphvault/store/blob/fileblob"
)

func TestConformanceDropBehind(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		d, err := fileblob.Open(t.TempDir(), fileblob.DropBehind())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	})
}

// residentPages counts the pages of a file that are in the page cache.
func residentPages(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// With DropBehind, objects written unsynced leave the page cache: the oldest ones
// as soon as more than the lag is written after them, the rest at Sync; without
// it they stay. Either way they read back whole.
func TestUnsyncedObjectsLeaveThePageCache(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary folder is in memory (tmpfs): its pages cannot leave the cache")
	}
	ctx := context.Background()
	const objects, size = 40, 4 << 20 // 160 MiB: more than the lag
	data := func(i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("object %03d ", i)), size/11) }
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%t", keep), func(t *testing.T) {
			root := filepath.Join(dir, fmt.Sprint(keep))
			var opts []fileblob.Option
			if !keep {
				opts = append(opts, fileblob.DropBehind())
			}
			d, err := fileblob.Open(root, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			key := func(i int) string { return fmt.Sprintf("data/%02d/obj%03d", i%7, i) }
			for i := range objects {
				if err := d.PutUnsynced(ctx, key(i), data(i)); err != nil {
					t.Fatal(err)
				}
			}
			first := residentPages(t, filepath.Join(root, filepath.FromSlash(key(0))))
			if err := d.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			last := residentPages(t, filepath.Join(root, filepath.FromSlash(key(objects-1))))
			pages := (len(data(0)) + os.Getpagesize() - 1) / os.Getpagesize()
			if keep {
				if first != pages || last != pages {
					t.Errorf("kept cached: first object has %d of %d pages cached, last %d", first, pages, last)
				}
			} else if first != 0 || last != 0 {
				t.Errorf("dropped: first object (before Sync) has %d of %d pages cached, last (after Sync) %d", first, pages, last)
			}
			for i := range objects {
				got, err := d.Get(ctx, key(i))
				if err != nil || !bytes.Equal(got, data(i)) {
					t.Fatalf("object %d: read back %d bytes, err %v", i, len(got), err)
				}
			}
		})
	}
}
