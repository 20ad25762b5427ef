package api

import (
	"errors"
	"net/http"
	"syscall"
)

// storageErrors are the operating-system errors that say the storage itself
// cannot take what a request asks it to keep, with the status and the detail
// they answer with. The detail names the cause, never the file: the error's own
// text (which does) is logged instead.
var storageErrors = []struct {
	errno  syscall.Errno
	status int
	detail string
}{
	{syscall.ENOSPC, http.StatusInsufficientStorage, "the storage is full (no space left on device)"},
	{syscall.EDQUOT, http.StatusInsufficientStorage, "the storage quota is exhausted (disk quota exceeded)"},
	{syscall.EROFS, http.StatusServiceUnavailable, "the storage is read-only (read-only file system)"},
	{syscall.EACCES, http.StatusServiceUnavailable, "the storage refused access (permission denied)"},
	{syscall.EPERM, http.StatusServiceUnavailable, "the storage refused the operation (operation not permitted)"},
}

// storageFailure reports whether err is a storage failure that is no fault of the
// request and no bug: disk full or out of quota (ENOSPC, EDQUOT: 507 Insufficient
// Storage) or storage that refuses writes (EROFS, EACCES, EPERM: 503 Service
// Unavailable), found with errors.Is anywhere in err's chain. It returns the
// status and a detail that names the cause without any path.
func storageFailure(err error) (int, string, bool) {
	if err == nil {
		return 0, "", false
	}
	for _, e := range storageErrors {
		if errors.Is(err, e.errno) {
			return e.status, e.detail, true
		}
	}
	return 0, "", false
}

// storageDetail returns the detail of a storage failure that answers with
// status, or "".
func storageDetail(err error, status int) string {
	if s, d, ok := storageFailure(err); ok && s == status {
		return d
	}
	return ""
}
