package blob

import (
	"context"
	"iter"
	"time"
)

// Attrs describes a stored object.
type Attrs struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Driver is the small interface an object store implements. The portable [Bucket]
// validates keys before any driver call, so a driver only ever sees keys that passed
// [ValidateKey]. All methods may be called concurrently.
//
// Errors: a missing object is an error wrapping ErrNotFound; PutIfAbsent on an
// existing key returns an error wrapping ErrExists.
type Driver interface {
	// Put stores data under key atomically: a reader sees the old object, or the
	// whole new one, never part of it. It does not keep data after it returns:
	// callers reuse the slice.
	Put(ctx context.Context, key string, data []byte) error
	// PutIfAbsent is Put that fails with ErrExists if key is already stored.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Get returns the whole object.
	Get(ctx context.Context, key string) ([]byte, error)
	// Stat returns the object's attributes.
	Stat(ctx context.Context, key string) (Attrs, error)
	// List yields the objects whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string) iter.Seq2[Attrs, error]
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// Close releases the driver's resources.
	Close() error
}

// BufferGetter is an optional Driver method for readers that load many objects
// one after the other: GetInto reads the whole object into buf when it has room,
// else into a new slice, so that one buffer serves object after object.
type BufferGetter interface {
	GetInto(ctx context.Context, key string, buf []byte) ([]byte, error)
}

// Syncer is an optional Driver method set for writers that store many objects and
// need them durable only together, which costs a file system far less than one
// sync per object. PutUnsynced is Put, except that the object may be lost in a
// crash of the machine until a later Sync returns; Sync makes every object stored
// so far durable. Readers see the whole object or none, as with Put.
type Syncer interface {
	PutUnsynced(ctx context.Context, key string, data []byte) error
	Sync(ctx context.Context) error
}

// TempRemover is an optional Driver method for drivers that write through
// temporary objects a crash can leave behind, such as fileblob's ".tmp-" files.
// RemoveTemp deletes the temporary objects last modified before cutoff and
// reports how many it removed. It must leave younger ones alone: another writer
// sharing the store may be writing them. It may be called concurrently with any
// other method.
type TempRemover interface {
	RemoveTemp(ctx context.Context, cutoff time.Time) (int, error)
}
