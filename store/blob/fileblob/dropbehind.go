package fileblob

import (
	"os"
	"sync"
)

// With DropBehind, objects written by PutUnsynced, the bulk of a backup, leave the
// page cache once they are on disk. A backup is written once and read rarely, so
// keeping it cached would push out what the host reads all the time, its database
// and its graph. Pages given back are used again for the next objects, so a large
// snapshot holds about dropLagBytes of cache instead of its whole size, and does
// not have to find fresh memory for every object.
//
// A written file is kept open in a queue while its writeback runs. Once the queue
// holds more than dropLagBytes or dropLagFiles, the oldest file is waited for (its
// writeback started long before, so there is rarely anything left to wait for),
// dropped from the cache and closed. Sync drops every file still queued, which
// syncfs has just made clean. Reading an object back later reads it from disk.

const (
	dropLagBytes = 64 << 20
	dropLagFiles = 128
)

// dropQueue holds written files whose pages are not dropped yet.
type dropQueue struct {
	mu    sync.Mutex
	files []queuedFile
	bytes int64
}

type queuedFile struct {
	f    *os.File
	size int64
}

// push queues f, of size bytes, and returns the files that fell out of the lag
// window, for the caller to drop outside the lock.
func (q *dropQueue) push(f *os.File, size int64) []queuedFile {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.files = append(q.files, queuedFile{f, size})
	q.bytes += size
	n := 0
	for n < len(q.files) && (q.bytes > dropLagBytes || len(q.files)-n > dropLagFiles) {
		q.bytes -= q.files[n].size
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]queuedFile, n)
	copy(out, q.files[:n])
	q.files = append(q.files[:0], q.files[n:]...)
	return out
}

// take empties the queue and returns what it held.
func (q *dropQueue) take() []queuedFile {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.files
	q.files, q.bytes = nil, 0
	return out
}

// drop waits for each file's writeback, drops its pages and closes it. Errors are
// not reported here: dropping is a hint, and a failed write is reported by the
// Sync that makes the objects durable.
func drop(files []queuedFile, wait bool) {
	for _, qf := range files {
		dropCached(qf.f, wait)
		_ = qf.f.Close()
	}
}
