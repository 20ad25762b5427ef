package fileblob

import (
	"os"

	"golang.org/x/sys/unix"
)

// canSyncFS says that syncFS makes a whole file system durable in one call.
const canSyncFS = true

// syncFS flushes the file system that holds f (syncfs(2)).
func syncFS(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// startWriteback asks the system to start writing f's data to disk, and does not
// wait (sync_file_range(2) with SYNC_FILE_RANGE_WRITE). An unsynced put calls it
// so that the disk works while the next objects are made, and the Sync that
// follows has little left to wait for. It is only a hint: Sync is what makes the
// data durable and reports a failure to write it, so an error here is not one.
func startWriteback(f *os.File) {
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) { _ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE) })
}

// dropBehind says that written objects are dropped from the page cache (see
// dropbehind.go).
const dropBehind = true

// dropCached drops f's pages from the page cache, after waiting for their
// writeback when wait is set: only clean pages are dropped.
func dropCached(f *os.File, wait bool) {
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		if wait {
			_ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		}
		_ = unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED)
	})
}
