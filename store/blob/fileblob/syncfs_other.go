//go:build !linux

package fileblob

import "os"

// canSyncFS is false where no call makes a whole file system durable:
// PutUnsynced syncs as Put does, and Sync has nothing to do.
const canSyncFS = false

func syncFS(*os.File) error { return nil }

func startWriteback(*os.File) {}

const dropBehind = false

func dropCached(*os.File, bool) {}
