package meta

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var ids = struct {
	sync.Mutex
	entropy io.Reader
	last    ulid.ULID
}{entropy: ulid.Monotonic(rand.Reader, 0)}

// NewID returns a new ULID: 26 characters of Crockford base32 that sort by creation
// time. IDs made by one process are strictly increasing, even when the clock steps
// back.
func NewID() string {
	ids.Lock()
	defer ids.Unlock()
	ms := ulid.Timestamp(time.Now())
	if last := ids.last.Time(); ms < last {
		ms = last
	}
	for {
		id, err := ulid.New(ms, ids.entropy)
		if err == nil && id.Compare(ids.last) > 0 {
			ids.last = id
			return id.String()
		}
		// Entropy overflow within one millisecond (or a fresh random value not above
		// the last one after a clock step): move to the next millisecond.
		ms++
	}
}

// ValidID reports whether s is a well-formed ULID in canonical (upper case) form.
func ValidID(s string) bool {
	id, err := ulid.ParseStrict(s)
	return err == nil && id.String() == s
}

// encodeCursor makes the opaque cursor that resumes a list after id.
func encodeCursor(id string) string {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// decodeCursor returns the id a cursor resumes after; "" for an empty cursor.
func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) != len(ulid.ULID{}) {
		return "", fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	var u ulid.ULID
	copy(u[:], b)
	return u.String(), nil
}

// pageLimit validates a requested page size.
func pageLimit(limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: negative limit %d", ErrInvalid, limit)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

// utc normalises a time for storage: UTC, microsecond precision, zero stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// checkID validates an id supplied by a caller for a new row, filling it if empty.
func checkID(id *string) error {
	if *id == "" {
		*id = NewID()
		return nil
	}
	if !ValidID(*id) {
		return fmt.Errorf("%w: id %q is not a ULID", ErrInvalid, *id)
	}
	return nil
}
