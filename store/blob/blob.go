// Package blob is the object storage graphvault keeps snapshot data in.
//
// A [Bucket] is the portable type callers hold. It wraps a small [Driver] — memblob
// (in memory), fileblob (a directory) or s3blob (any S3-compatible server through
// minio-go) — validates every key before the driver sees it, wraps errors with the
// operation and key, and refuses calls after Close. blobtest is the conformance suite
// every driver runs.
//
// Keys are slash-separated paths relative to the bucket: non-empty segments of valid
// UTF-8 without NUL, no "." or ".." segment, no leading or trailing slash, at most
// 1024 bytes. A key can never name anything outside the bucket.
//
// # Errors
//
// [ErrNotFound] for a missing object, [ErrExists] when PutIfAbsent finds the key
// taken, [ErrInvalidKey] for a key that fails [ValidateKey] (no driver call is made),
// [ErrClosed] after Close. Every error is an [*Error] carrying Op and Key.
package blob

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Sentinel errors. Test them with errors.Is.
var (
	ErrNotFound   = errors.New("blob: not found")
	ErrExists     = errors.New("blob: already exists")
	ErrInvalidKey = errors.New("blob: invalid key")
	ErrClosed     = errors.New("blob: bucket closed")
)

// MaxKeyLen is the longest key accepted, in bytes.
const MaxKeyLen = 1024

// Error is the error type every Bucket method returns.
type Error struct {
	Op  string // "put", "get", ...
	Key string
	Err error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "blob " + e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("blob %s %q: %v", e.Op, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ValidateKey reports whether key may name an object (see the package doc).
// Prefixes given to List follow the same rules except that they may be empty or end
// with a slash.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	return validatePath(key)
}

func validatePath(p string) error {
	switch {
	case len(p) > MaxKeyLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	case !utf8.ValidString(p):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: holds a NUL byte", ErrInvalidKey)
	case strings.ContainsRune(p, '\\'):
		return fmt.Errorf("%w: holds a backslash", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty path segment (leading, trailing or double slash)", ErrInvalidKey)
		case ".", "..":
			return fmt.Errorf("%w: %q segment", ErrInvalidKey, seg)
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix may be given to List.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validatePath(strings.TrimSuffix(prefix, "/"))
}

// Bucket is the portable object store. It is safe for concurrent use.
type Bucket struct {
	drv    Driver
	closed atomic.Bool
}

// NewBucket wraps a driver. The bucket owns the driver and closes it on Close.
func NewBucket(drv Driver) *Bucket { return &Bucket{drv: drv} }

func (b *Bucket) check(op, key string, isPrefix bool) error {
	if b.closed.Load() {
		return &Error{Op: op, Key: key, Err: ErrClosed}
	}
	var err error
	if isPrefix {
		err = ValidatePrefix(key)
	} else {
		err = ValidateKey(key)
	}
	if err != nil {
		return &Error{Op: op, Key: key, Err: err}
	}
	return nil
}

func wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) && be.Op == op && be.Key == key {
		return err
	}
	return &Error{Op: op, Key: key, Err: err}
}

// Put stores data under key atomically, replacing any object there.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	if err := b.check("put", key, false); err != nil {
		return err
	}
	return wrap("put", key, b.drv.Put(ctx, key, data))
}

// PutIfAbsent stores data under key unless the key is taken (ErrExists).
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := b.check("put-if-absent", key, false); err != nil {
		return err
	}
	return wrap("put-if-absent", key, b.drv.PutIfAbsent(ctx, key, data))
}

// Get returns the whole object stored under key.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	if err := b.check("get", key, false); err != nil {
		return nil, err
	}
	data, err := b.drv.Get(ctx, key)
	return data, wrap("get", key, err)
}

// Stat returns the attributes of the object stored under key.
func (b *Bucket) Stat(ctx context.Context, key string) (Attrs, error) {
	if err := b.check("stat", key, false); err != nil {
		return Attrs{}, err
	}
	a, err := b.drv.Stat(ctx, key)
	return a, wrap("stat", key, err)
}

// Exists reports whether an object is stored under key.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List yields the objects whose key starts with prefix, in key order.
func (b *Bucket) List(ctx context.Context, prefix string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		if err := b.check("list", prefix, true); err != nil {
			yield(Attrs{}, err)
			return
		}
		for a, err := range b.drv.List(ctx, prefix) {
			if !yield(a, wrap("list", prefix, err)) || err != nil {
				return
			}
		}
	}
}

// Delete removes the object under key; a missing object is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.check("delete", key, false); err != nil {
		return err
	}
	return wrap("delete", key, b.drv.Delete(ctx, key))
}

// Close closes the driver. Calls after the first return nil and do nothing.
func (b *Bucket) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	return wrap("close", "", b.drv.Close())
}
