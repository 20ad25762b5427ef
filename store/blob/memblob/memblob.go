// Package memblob is a [blob.Driver] that keeps objects in memory. It is the default
// store in tests and examples, and suits small hosts that need no durability.
//
// Linking the package registers the scheme "mem" with [blob.OpenURL]: "mem://"
// opens a new, empty bucket every time, for trials.
//
// Data is copied on the way in and on the way out, so neither the caller's slice
// passed to Put nor the slice returned by Get aliases what the driver holds.
//
// # Errors
//
// Get and Stat of a missing key return an error wrapping [blob.ErrNotFound];
// PutIfAbsent of a taken key one wrapping [blob.ErrExists]; every call after Close one
// wrapping [blob.ErrClosed]; a call with a done context returns ctx.Err() and changes
// nothing.
package memblob

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/graphvault/graphvault/store/blob"
)

// Driver is an in-memory object store. It is safe for concurrent use.
type Driver struct {
	mu      sync.RWMutex
	objects map[string]object
	closed  bool
}

type object struct {
	data []byte
	mod  time.Time
}

var _ blob.Driver = (*Driver)(nil)

// New returns an empty store.
func New() *Driver { return &Driver{objects: make(map[string]object)} }

// Put stores a copy of data under key.
func (d *Driver) Put(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, false)
}

// PutIfAbsent stores a copy of data under key unless the key is taken.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, true)
}

func (d *Driver) put(ctx context.Context, key string, data []byte, exclusive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	obj := object{data: bytes.Clone(data), mod: time.Now()}
	if obj.data == nil {
		obj.data = []byte{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return blob.ErrClosed
	}
	if _, taken := d.objects[key]; taken && exclusive {
		return blob.ErrExists
	}
	d.objects[key] = obj
	return nil
}

func (d *Driver) lookup(ctx context.Context, key string) (object, error) {
	if err := ctx.Err(); err != nil {
		return object{}, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return object{}, blob.ErrClosed
	}
	obj, ok := d.objects[key]
	if !ok {
		return object{}, blob.ErrNotFound
	}
	return obj, nil
}

// GetInto returns a copy of the object stored under key, in buf when it has room.
func (d *Driver) GetInto(ctx context.Context, key string, buf []byte) ([]byte, error) {
	obj, err := d.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	// Stored slices are never modified, only replaced, so copying outside the lock
	// is safe.
	return append(buf[:0], obj.data...), nil
}

// Get returns a copy of the object stored under key.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	return d.GetInto(ctx, key, nil)
}

// Stat returns the size and modification time of the object stored under key.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	obj, err := d.lookup(ctx, key)
	if err != nil {
		return blob.Attrs{}, err
	}
	return blob.Attrs{Key: key, Size: int64(len(obj.data)), ModTime: obj.mod}, nil
}

// List yields the objects whose key starts with prefix, in key order, as they were
// when the iteration started.
func (d *Driver) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	return func(yield func(blob.Attrs, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(blob.Attrs{}, err)
			return
		}
		d.mu.RLock()
		if d.closed {
			d.mu.RUnlock()
			yield(blob.Attrs{}, blob.ErrClosed)
			return
		}
		var list []blob.Attrs
		for k, obj := range d.objects {
			if strings.HasPrefix(k, prefix) {
				list = append(list, blob.Attrs{Key: k, Size: int64(len(obj.data)), ModTime: obj.mod})
			}
		}
		d.mu.RUnlock()
		slices.SortFunc(list, func(a, b blob.Attrs) int { return strings.Compare(a.Key, b.Key) })
		for _, a := range list {
			if err := ctx.Err(); err != nil {
				yield(blob.Attrs{}, err)
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}

// Delete removes the object under key, if any.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return blob.ErrClosed
	}
	delete(d.objects, key)
	return nil
}

// Close drops every object. Later calls fail with ErrClosed; Close itself may be
// called again.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.objects = nil
	return nil
}

func init() {
	blob.Register("mem", func(_ context.Context, u *url.URL) (blob.Driver, error) {
		if u.RawQuery != "" {
			return nil, fmt.Errorf("%w: a mem URL takes no query", blob.ErrInvalidURL)
		}
		return New(), nil
	})
}
