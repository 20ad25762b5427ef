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
