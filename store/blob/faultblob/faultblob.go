// Package faultblob wraps a [blob.Driver] and injects faults, for the tests of code
// that stores data in a blob bucket: errors, lost and truncated writes, latency,
// calls that hang until their context ends, and bit flips on read. It also counts
// calls per operation.
//
//	fd := faultblob.New(memblob.New())
//	fd.Inject(faultblob.Rule{Ops: faultblob.OpPut, Prefix: "seg/", Nth: 3, Err: io.ErrUnexpectedEOF})
//	bucket := blob.NewBucket(fd)
//
// A rule applies to a call when the operation is among its Ops, the key starts with
// its Prefix and its Match, if set, accepts the key; for List the key is the prefix
// argument. Rules are checked in the order they were injected; when several apply,
// the first error wins and the other effects add up.
//
// # Errors
//
// Injected errors are returned as given, so a test can inject a blob sentinel such as
// [blob.ErrNotFound]; Delay and Hang end with ctx.Err().
package faultblob

import (
	"bytes"
	"context"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/graphvault/graphvault/store/blob"
)

// Op is a set of driver operations.
type Op uint8

// The operations; combine them with |.
const (
	OpPut Op = 1 << iota
	OpPutIfAbsent
	OpGet
	OpStat
	OpList
	OpDelete
	OpClose
	OpSync // blob.Syncer's Sync; PutUnsynced counts as OpPut

	// OpWrite is both kinds of put.
	OpWrite = OpPut | OpPutIfAbsent
	// OpAll is every operation; a Rule with no Ops means the same.
	OpAll = OpPut | OpPutIfAbsent | OpGet | OpStat | OpList | OpDelete | OpClose | OpSync
)

var opNames = []string{"put", "put-if-absent", "get", "stat", "list", "delete", "close", "sync"}

// String names the operations in o, joined by "|".
func (o Op) String() string {
	var names []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// WriteFault is how a put misbehaves while reporting success.
type WriteFault uint8

const (
	// WriteOK stores the data.
	WriteOK WriteFault = iota
	// LoseWrite stores nothing.
	LoseWrite
	// TruncateWrite stores the first half of the data (rounded down).
	TruncateWrite
)

// Rule describes a fault and the calls it hits.
type Rule struct {
	Ops    Op                    // operations hit; zero means all
	Prefix string                // the key must start with it
	Match  func(key string) bool // optional further test of the key
	// Nth, if positive, limits the rule to the nth call it applies to (1 is the
	// first); zero means every call.
	Nth int

	Err     error         // returned instead of calling the driver
	Delay   time.Duration // waited before the call; not for Close
	Hang    bool          // the call blocks until its context ends; not for Close
	Write   WriteFault    // Put and PutIfAbsent only
	FlipBit bool          // Get only: flips the lowest bit of the middle byte read
}

type rule struct {
	Rule
	seen int // calls the rule applied to
}

// Driver is a blob.Driver that passes calls to another one, injecting the faults of
// its rules. It is safe for concurrent use; rules may change while calls run.
type Driver struct {
	inner blob.Driver

	mu    sync.Mutex
	rules []*rule
	calls map[Op]int
}

var (
	_ blob.Driver      = (*Driver)(nil)
	_ blob.TempRemover = (*Driver)(nil)
)

// New wraps inner, with no rules.
func New(inner blob.Driver) *Driver {
	return &Driver{inner: inner, calls: make(map[Op]int)}
}

// Unwrap returns the wrapped driver, to inspect or change what is stored without
// faults or counting.
func (d *Driver) Unwrap() blob.Driver { return d.inner }

// Inject adds a rule and returns a function that removes it.
func (d *Driver) Inject(r Rule) (remove func()) {
	rr := &rule{Rule: r}
	if rr.Ops == 0 {
		rr.Ops = OpAll
	}
	d.mu.Lock()
	d.rules = append(d.rules, rr)
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, x := range d.rules {
			if x == rr {
				d.rules = append(d.rules[:i:i], d.rules[i+1:]...)
				return
			}
		}
	}
}

// Reset removes every rule and sets the call counts to zero.
func (d *Driver) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = nil
	clear(d.calls)
}

// Calls returns how many calls of the operations in ops were made, faulty or not.
func (d *Driver) Calls(ops Op) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for op, c := range d.calls {
		if op&ops != 0 {
			n += c
		}
	}
	return n
}

// fault is the sum of the rules that apply to one call.
type fault struct {
	err   error
	delay time.Duration
	hang  bool
	write WriteFault
	flip  bool
}

// begin counts a call and returns the faults to inject into it.
func (d *Driver) begin(op Op, key string) fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[op]++
	var f fault
	for _, r := range d.rules {
		if r.Ops&op == 0 || !strings.HasPrefix(key, r.Prefix) || r.Match != nil && !r.Match(key) {
			continue
		}
		r.seen++
		if r.Nth > 0 && r.seen != r.Nth {
			continue
		}
		if f.err == nil {
			f.err = r.Err
		}
		f.delay += r.Delay
		f.hang = f.hang || r.Hang
		if f.write == WriteOK {
			f.write = r.Write
		}
		f.flip = f.flip || r.FlipBit
	}
	return f
}

// wait applies the delay and the hang, then returns the error to inject, if any.
func (f fault) wait(ctx context.Context) error {
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func (d *Driver) put(ctx context.Context, op Op, key string, data []byte, unsynced bool) error {
	f := d.begin(op, key)
	if err := f.wait(ctx); err != nil {
		return err
	}
	switch f.write {
	case LoseWrite:
		return nil
	case TruncateWrite:
		data = data[:len(data)/2]
	}
	if op == OpPutIfAbsent {
		return d.inner.PutIfAbsent(ctx, key, data)
	}
	if s, ok := d.inner.(blob.Syncer); ok && unsynced {
		return s.PutUnsynced(ctx, key, data)
	}
	return d.inner.Put(ctx, key, data)
}

// Put passes the call on, unless a rule says otherwise.
func (d *Driver) Put(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, OpPut, key, data, false)
}

// PutIfAbsent passes the call on, unless a rule says otherwise.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, OpPutIfAbsent, key, data, false)
}

// PutUnsynced passes the call on as the wrapped driver's PutUnsynced, or its Put
// when it has none, unless a rule for OpPut says otherwise.
func (d *Driver) PutUnsynced(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, OpPut, key, data, true)
}

// Sync passes the call on when the wrapped driver is a blob.Syncer, unless a rule
// says otherwise.
func (d *Driver) Sync(ctx context.Context) error {
	if err := d.begin(OpSync, "").wait(ctx); err != nil {
		return err
	}
	if s, ok := d.inner.(blob.Syncer); ok {
		return s.Sync(ctx)
	}
	return ctx.Err()
}

// Get passes the call on, unless a rule says otherwise.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	f := d.begin(OpGet, key)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	data, err := d.inner.Get(ctx, key)
	if err != nil || !f.flip || len(data) == 0 {
		return data, err
	}
	data = bytes.Clone(data) // never corrupt what the inner driver holds
	data[len(data)/2] ^= 1
	return data, nil
}

// Stat passes the call on, unless a rule says otherwise.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	if err := d.begin(OpStat, key).wait(ctx); err != nil {
		return blob.Attrs{}, err
	}
	return d.inner.Stat(ctx, key)
}

// List passes the call on, unless a rule says otherwise. The call is counted and the
// rules are checked when List is called; delays and errors come when the iteration
// starts.
func (d *Driver) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	f := d.begin(OpList, prefix)
	return func(yield func(blob.Attrs, error) bool) {
		if err := f.wait(ctx); err != nil {
			yield(blob.Attrs{}, err)
			return
		}
		for a, err := range d.inner.List(ctx, prefix) {
			if !yield(a, err) {
				return
			}
		}
	}
}

// Delete passes the call on, unless a rule says otherwise.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.begin(OpDelete, key).wait(ctx); err != nil {
		return err
	}
	return d.inner.Delete(ctx, key)
}

// RemoveTemp passes the call on when the wrapped driver is a blob.TempRemover;
// otherwise there is nothing to remove. No rule applies to it.
func (d *Driver) RemoveTemp(ctx context.Context, cutoff time.Time) (int, error) {
	if tr, ok := d.inner.(blob.TempRemover); ok {
		return tr.RemoveTemp(ctx, cutoff)
	}
	return 0, ctx.Err()
}

// Close closes the wrapped driver, unless a rule injects an error.
func (d *Driver) Close() error {
	if f := d.begin(OpClose, ""); f.err != nil {
		return f.err
	}
	return d.inner.Close()
}
