package main

import (
	"io/fs"
	"syscall"
)

// sysStamp returns the inode number and the change time (ns) of a file.
func sysStamp(fi fs.FileInfo) (ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, st.Ctim.Nano()
	}
	return 0, 0
}
