// Package blob is the object storage graphvault keeps snapshot data in.
//
// A [Bucket] is the portable type callers hold. It wraps a small [Driver] — memblob
// (in memory), fileblob (a directory) or s3blob (any S3-compatible server through
// minio-go) — validates every key before the driver sees it, wraps errors with the
// operation and key, and refuses calls after Close. blobtest is the conformance suite
// every driver runs.
//
// [OpenURL] opens a bucket from a URL through the driver registered for its
// scheme ([Register]): a folder path or file:// (fileblob), s3:// (s3blob), mem://
// (memblob). A driver registers when its package is linked, so a program that
// names only the portable API links only the drivers it imports.
//
// Keys are slash-separated paths relative to the bucket: non-empty segments of valid
// UTF-8 without NUL, no "." or ".." segment, no leading or trailing slash, at most
// 1024 bytes. A key can never name anything outside the bucket. Portable callers do
// not store objects at both "a" and "a/b": a directory-backed driver (fileblob) cannot
// hold a file and a directory of the same name and refuses the second put.
//
// # Errors
//
// [ErrNotFound] for a missing object, [ErrExists] when PutIfAbsent finds the key
// taken, [ErrInvalidKey] for a key that fails [ValidateKey] (no driver call is made),
// [ErrClosed] after Close, [ErrInvalidURL] for a URL OpenURL cannot open. Every error is an [*Error] carrying Op and Key. A cancelled
// or expired context gives an error wrapping ctx.Err().
//
// # Metrics
//
// [NewBucket] records, through the MeterProvider given by [WithMeterProvider]
// (otel.GetMeterProvider() by default), with a meter named after this import path:
//
//   - graphvault.blob.operations (counter, {operation}): calls, by op and result
//   - graphvault.blob.duration (histogram, s): call latency, by op and result; for
//     list, the time until the iteration ends
//   - graphvault.blob.bytes (counter, By): object bytes written by successful put and
//     put-if-absent calls and read by successful get calls, by op
//
// op is one of put, put_if_absent, get, stat, list, delete, sync, remove_temp;
// result is one of ok, not_found, exists, invalid_key, closed, canceled, error. No
// key is ever an attribute.
package blob

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
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

// MaxSegmentLen is the longest path segment of a key accepted, in bytes: the
// longest file name most file systems take, so that every key fits every driver.
const MaxSegmentLen = 255

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
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w: a path segment is longer than %d bytes", ErrInvalidKey, MaxSegmentLen)
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

// Option configures a [Bucket].
type Option func(*config)

type config struct {
	mp metric.MeterProvider
}

// WithMeterProvider sets where the bucket records its metrics. nil, the default,
// means otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// Bucket is the portable object store. It is safe for concurrent use.
type Bucket struct {
	drv    Driver
	closed atomic.Bool
	m      *meters
}

// NewBucket wraps a driver. The bucket owns the driver and closes it on Close.
func NewBucket(drv Driver, opts ...Option) *Bucket {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	return &Bucket{drv: drv, m: newMeters(c.mp)}
}

// op and outcome index the precomputed attribute sets.
type op int

const (
	opPut op = iota
	opPutIfAbsent
	opGet
	opStat
	opList
	opDelete
	opSync
	opRemoveTemp
	numOps
)

var opNames = [numOps]string{"put", "put-if-absent", "get", "stat", "list", "delete", "sync", "remove-temp"}

type outcome int

const (
	outOK outcome = iota
	outNotFound
	outExists
	outInvalidKey
	outClosed
	outCanceled
	outError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "not_found", "exists", "invalid_key", "closed", "canceled", "error"}

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return outOK
	case errors.Is(err, ErrNotFound):
		return outNotFound
	case errors.Is(err, ErrExists):
		return outExists
	case errors.Is(err, ErrInvalidKey):
		return outInvalidKey
	case errors.Is(err, ErrClosed):
		return outClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outCanceled
	}
	return outError
}

// meterName is the instrumentation scope of the bucket's instruments.
const meterName = "github.com/graphvault/graphvault/store/blob"

type meters struct {
	ops      metric.Int64Counter
	duration metric.Float64Histogram
	bytes    metric.Int64Counter
	// attrs[op][outcome] and opAttrs[op] are built once so a call allocates nothing.
	attrs   [numOps][numOutcomes]metric.MeasurementOption
	opAttrs [numOps]metric.MeasurementOption
}

func newMeters(mp metric.MeterProvider) *meters {
	m, err := buildMeters(mp.Meter(meterName))
	if err != nil {
		// The names and units are constants, so this only happens with a broken
		// provider; report it the OpenTelemetry way and keep the bucket working.
		otel.Handle(fmt.Errorf("blob: creating instruments: %w", err))
		m, _ = buildMeters(noop.Meter{}) // the no-op meter never fails
	}
	return m
}

func buildMeters(meter metric.Meter) (*meters, error) {
	var m meters
	var err, e error
	m.ops, e = meter.Int64Counter("graphvault.blob.operations",
		metric.WithUnit("{operation}"),
		metric.WithDescription("Blob store calls, by operation and result."))
	err = errors.Join(err, e)
	m.duration, e = meter.Float64Histogram("graphvault.blob.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Blob store call latency, by operation and result."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
			0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	err = errors.Join(err, e)
	m.bytes, e = meter.Int64Counter("graphvault.blob.bytes",
		metric.WithUnit("By"),
		metric.WithDescription("Object bytes written by put and read by get."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	for o := range numOps {
		// Label values are snake_case, like every graphvault label value.
		opAttr := attribute.String("op", strings.ReplaceAll(opNames[o], "-", "_"))
		m.opAttrs[o] = metric.WithAttributeSet(attribute.NewSet(opAttr))
		for r := range numOutcomes {
			m.attrs[o][r] = metric.WithAttributeSet(attribute.NewSet(opAttr,
				attribute.String("result", outcomeNames[r])))
		}
	}
	// The bytes moved by the calls that move them are listed at zero before the
	// first call.
	for _, o := range []op{opPut, opPutIfAbsent, opGet} {
		m.bytes.Add(context.Background(), 0, m.opAttrs[o])
	}
	return &m, nil
}

// record counts one finished call. n is the number of object bytes moved, counted
// only when the call succeeded.
func (m *meters) record(ctx context.Context, o op, start time.Time, n int, err error) {
	// Measurements are recorded even when the call's context is cancelled.
	ctx = context.WithoutCancel(ctx)
	attrs := m.attrs[o][outcomeOf(err)]
	m.ops.Add(ctx, 1, attrs)
	m.duration.Record(ctx, time.Since(start).Seconds(), attrs)
	if err == nil && n > 0 {
		m.bytes.Add(ctx, int64(n), m.opAttrs[o])
	}
}

// check refuses a call on a closed bucket, an invalid key or a done context, before
// the driver sees it.
func (b *Bucket) check(ctx context.Context, op, key string, isPrefix bool) error {
	if b.closed.Load() {
		return &Error{Op: op, Key: key, Err: ErrClosed}
	}
	var err error
	if isPrefix {
		err = ValidatePrefix(key)
	} else {
		err = ValidateKey(key)
	}
	if err == nil {
		err = ctx.Err()
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

// Put stores data under key atomically, replacing any object there. data is not
// kept after Put returns; the caller may reuse it.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) (err error) {
	start := time.Now()
	defer func() { b.m.record(ctx, opPut, start, len(data), err) }()
	if err = b.check(ctx, "put", key, false); err != nil {
		return err
	}
	return wrap("put", key, b.drv.Put(ctx, key, data))
}

// PutUnsynced is Put for one of many objects that Sync makes durable together.
// With a driver that can defer durability ([Syncer]) the object may be lost in a
// crash of the machine until Sync returns; with any other driver it is Put.
func (b *Bucket) PutUnsynced(ctx context.Context, key string, data []byte) (err error) {
	start := time.Now()
	defer func() { b.m.record(ctx, opPut, start, len(data), err) }()
	if err = b.check(ctx, "put", key, false); err != nil {
		return err
	}
	if s, ok := b.drv.(Syncer); ok {
		return wrap("put", key, s.PutUnsynced(ctx, key, data))
	}
	return wrap("put", key, b.drv.Put(ctx, key, data))
}

// Sync makes every object stored so far durable; see PutUnsynced. With a driver
// that does not defer durability there is nothing to do.
func (b *Bucket) Sync(ctx context.Context) (err error) {
	s, ok := b.drv.(Syncer)
	if !ok {
		return b.check(ctx, "sync", "", true)
	}
	start := time.Now()
	defer func() { b.m.record(ctx, opSync, start, 0, err) }()
	if err = b.check(ctx, "sync", "", true); err != nil {
		return err
	}
	return wrap("sync", "", s.Sync(ctx))
}

// PutIfAbsent stores data under key unless the key is taken (ErrExists).
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (err error) {
	start := time.Now()
	defer func() { b.m.record(ctx, opPutIfAbsent, start, len(data), err) }()
	if err = b.check(ctx, "put-if-absent", key, false); err != nil {
		return err
	}
	return wrap("put-if-absent", key, b.drv.PutIfAbsent(ctx, key, data))
}

// Get returns the whole object stored under key.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	return b.GetInto(ctx, key, nil)
}

// GetInto is Get reading into buf when it has room for the object and the driver
// can ([BufferGetter]); the result may alias buf.
func (b *Bucket) GetInto(ctx context.Context, key string, buf []byte) (data []byte, err error) {
	start := time.Now()
	defer func() { b.m.record(ctx, opGet, start, len(data), err) }()
	if err = b.check(ctx, "get", key, false); err != nil {
		return nil, err
	}
	if bg, ok := b.drv.(BufferGetter); ok {
		data, err = bg.GetInto(ctx, key, buf)
	} else {
		data, err = b.drv.Get(ctx, key)
	}
	if err != nil {
		return nil, wrap("get", key, err)
	}
	return data, nil
}

// Stat returns the attributes of the object stored under key.
func (b *Bucket) Stat(ctx context.Context, key string) (a Attrs, err error) {
	start := time.Now()
	defer func() { b.m.record(ctx, opStat, start, 0, err) }()
	if err = b.check(ctx, "stat", key, false); err != nil {
		return Attrs{}, err
	}
	a, err = b.drv.Stat(ctx, key)
	if err != nil {
		return Attrs{}, wrap("stat", key, err)
	}
	return a, nil
}

// Exists reports whether an object is stored under key.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List yields the objects whose key starts with prefix, in key order. An error ends
// the sequence.
func (b *Bucket) List(ctx context.Context, prefix string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		start := time.Now()
		var err error
		defer func() { b.m.record(ctx, opList, start, 0, err) }()
		if err = b.check(ctx, "list", prefix, true); err != nil {
			yield(Attrs{}, err)
			return
		}
		for a, derr := range b.drv.List(ctx, prefix) {
			if derr != nil {
				err = wrap("list", prefix, derr)
				yield(Attrs{}, err)
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}

// Delete removes the object under key; a missing object is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) (err error) {
	start := time.Now()
	defer func() { b.m.record(ctx, opDelete, start, 0, err) }()
	if err = b.check(ctx, "delete", key, false); err != nil {
		return err
	}
	return wrap("delete", key, b.drv.Delete(ctx, key))
}

// RemoveTemp deletes the temporary objects, last modified before cutoff, that
// writes interrupted by a crash left behind, and reports how many it removed. A
// driver without temporaries (one that is not a [TempRemover]) has none to remove.
// Pass a cutoff older than the longest write in progress anywhere the store is
// shared, such as an hour ago: younger temporaries are left alone.
func (b *Bucket) RemoveTemp(ctx context.Context, cutoff time.Time) (n int, err error) {
	tr, ok := b.drv.(TempRemover)
	if !ok {
		return 0, b.check(ctx, "remove-temp", "", true)
	}
	start := time.Now()
	defer func() { b.m.record(ctx, opRemoveTemp, start, 0, err) }()
	if err = b.check(ctx, "remove-temp", "", true); err != nil {
		return 0, err
	}
	n, err = tr.RemoveTemp(ctx, cutoff)
	return n, wrap("remove-temp", "", err)
}

// Close closes the driver. Calls after the first return nil and do nothing; calls
// racing with Close may still reach the driver.
func (b *Bucket) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	return wrap("close", "", b.drv.Close())
}
