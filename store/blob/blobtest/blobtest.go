// Package blobtest is the conformance suite every [blob.Driver] passes. A driver's own
// test calls [Run] with a constructor:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Driver { return memblob.New() })
//	}
//
// The suite drives each driver through a [blob.Bucket], as callers do, and also calls
// it directly where the bucket would hide a fault (cancelled contexts). It checks the
// contract in the blob package documentation: atomic and exclusive puts, copies in and
// out, key order and prefix rules of List, the sentinel errors, keys rejected before
// the driver sees them, concurrent use, and Close.
//
// The suite never stores one object at a key that is a directory-style prefix of
// another object's key ("a" beside "a/b"): fileblob cannot hold both.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
)

// clockSlack is how far a ModTime may lie outside the interval around the put that
// set it: remote servers keep whole seconds and their own clock.
const clockSlack = 5 * time.Second

// Run runs the conformance suite. newDriver must return a new, empty driver each
// time; drivers that share a remote bucket should each get their own prefix. Run wraps
// every driver in a [blob.Bucket] and closes it when the subtest ends.
func Run(t *testing.T, newDriver func(t *testing.T) blob.Driver) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Copies", testCopies},
		{"Overwrite", testOverwrite},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"Stat", testStat},
		{"List", testList},
		{"ListStopEarly", testListStopEarly},
		{"Delete", testDelete},
		{"KeyReuseAfterDelete", testKeyReuseAfterDelete},
		{"NotFound", testNotFound},
		{"InvalidKey", testInvalidKey},
		{"InvalidPrefix", testInvalidPrefix},
		{"Concurrent", testConcurrent},
		{"CancelledContext", testCancelledContext},
		{"Close", testClose},
		{"Syncer", testSyncer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newHarness(t, newDriver))
		})
	}
}

// harness is one driver under test: raw is the driver itself, spy counts the calls
// that reach it through the bucket b.
type harness struct {
	t   *testing.T
	raw blob.Driver
	spy *spy
	b   *blob.Bucket
	ctx context.Context
}

func newHarness(t *testing.T, newDriver func(t *testing.T) blob.Driver) *harness {
	raw := newDriver(t)
	if raw == nil {
		t.Fatal("newDriver returned nil")
	}
	s := &spy{Driver: raw}
	h := &harness{t: t, raw: raw, spy: s, b: blob.NewBucket(s), ctx: t.Context()}
	t.Cleanup(func() {
		if err := h.b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

func (h *harness) put(key string, data []byte) {
	h.t.Helper()
	if err := h.b.Put(h.ctx, key, data); err != nil {
		h.t.Fatalf("Put(%q): %v", key, err)
	}
}

// wantData fails unless the object under key holds want.
func (h *harness) wantData(key string, want []byte) {
	h.t.Helper()
	got, err := h.b.Get(h.ctx, key)
	if err != nil {
		h.t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		h.t.Errorf("Get(%q) = %s, want %s", key, describe(got), describe(want))
	}
	// GetInto gives the same bytes whatever buffer it is given.
	for _, buf := range [][]byte{nil, make([]byte, 1), bytes.Repeat([]byte{0xee}, len(want)+64)} {
		got, err := h.b.GetInto(h.ctx, key, buf)
		if err != nil {
			h.t.Fatalf("GetInto(%q, %d-byte buffer): %v", key, cap(buf), err)
		}
		if !bytes.Equal(got, want) {
			h.t.Errorf("GetInto(%q, %d-byte buffer) = %s, want %s", key, cap(buf), describe(got), describe(want))
		}
	}
}

// wantAbsent fails unless key is missing.
func (h *harness) wantAbsent(key string) {
	h.t.Helper()
	ok, err := h.b.Exists(h.ctx, key)
	if err != nil || ok {
		h.t.Errorf("Exists(%q) = %v, %v; want false, nil", key, ok, err)
	}
}

func (h *harness) list(prefix string) []blob.Attrs {
	h.t.Helper()
	got, err := collect(h.b.List(h.ctx, prefix))
	if err != nil {
		h.t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func collect(seq iter.Seq2[blob.Attrs, error]) ([]blob.Attrs, error) {
	var out []blob.Attrs
	for a, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

func keysOf(attrs []blob.Attrs) []string {
	keys := make([]string, len(attrs))
	for i, a := range attrs {
		keys[i] = a.Key
	}
	return keys
}

// wantErr fails unless err wraps want.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, want)
	}
}

// describe prints data briefly: the bytes when short, the length and a digest else.
func describe(data []byte) string {
	if len(data) <= 32 {
		return fmt.Sprintf("%q", data)
	}
	var sum uint64
	for _, c := range data {
		sum = sum*1099511628211 + uint64(c)
	}
	return fmt.Sprintf("%d bytes (digest %x)", len(data), sum)
}

// randomBytes returns n bytes of deterministic noise.
func randomBytes(seed byte, n int) []byte {
	buf := make([]byte, n)
	src := rand.NewChaCha8([32]byte{seed})
	if _, err := src.Read(buf); err != nil {
		panic(err) // ChaCha8.Read never fails
	}
	return buf
}

var roundTripCases = []struct {
	name string
	key  string
	data []byte
}{
	{"empty", "rt/empty", []byte{}},
	{"nil", "rt/nil", nil},
	{"text", "rt/text", []byte("hello, graph")},
	{"every byte", "rt/bytes", func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()},
	{"3 MiB", "rt/large", randomBytes(1, 3<<20+1)},
	{"spaces", "rt/dir with space/file name.bin", []byte("spaces")},
	{"unicode", "rt/graphes/données/日本語-ключ-😀", []byte("unicode")},
	{"punctuation", "rt/a+b=c&d?e#f%g;h,i'j(k)l!m~n*o@p$q[r]", []byte("punct")},
	{"dots", "rt/.hidden/..x/x..", []byte("dots")},
	{"long", "rt/" + strings.Repeat(strings.Repeat("k", 99)+"/", 8) + "end", []byte("long")},
}

func testRoundTrip(t *testing.T, h *harness) {
	for _, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			h.put(tc.key, tc.data)
			h.wantData(tc.key, tc.data)
			a, err := h.b.Stat(h.ctx, tc.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if a.Key != tc.key || a.Size != int64(len(tc.data)) {
				t.Errorf("Stat = {Key:%q Size:%d}, want {Key:%q Size:%d}", a.Key, a.Size, tc.key, len(tc.data))
			}
		})
	}
}

func testCopies(t *testing.T, h *harness) {
	in := []byte("original")
	h.put("copy/k", in)
	in[0] = 'X'
	h.wantData("copy/k", []byte("original"))
	out, err := h.b.Get(h.ctx, "copy/k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	out[0] = 'Y'
	h.wantData("copy/k", []byte("original"))
}

// testSyncer checks PutUnsynced and Sync: through a bucket over any driver they
// are Put and nothing; a driver that implements blob.Syncer stores objects put
// unsynced as Put does (read back whole, replaced, listed), Sync succeeds, and a
// cancelled context stops both.
func testSyncer(t *testing.T, h *harness) {
	if err := h.b.PutUnsynced(h.ctx, "sync/any", []byte("one")); err != nil {
		t.Fatalf("Bucket.PutUnsynced: %v", err)
	}
	if err := h.b.Sync(h.ctx); err != nil {
		t.Fatalf("Bucket.Sync: %v", err)
	}
	h.wantData("sync/any", []byte("one"))
	s, ok := h.raw.(blob.Syncer)
	if !ok {
		return
	}
	for _, data := range [][]byte{randomBytes(3, 5000), []byte("short")} {
		if err := s.PutUnsynced(h.ctx, "sync/k", data); err != nil {
			t.Fatalf("PutUnsynced: %v", err)
		}
		h.wantData("sync/k", data)
	}
	if err := s.Sync(h.ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	h.wantData("sync/k", []byte("short"))
	if got := keysOf(h.list("sync/")); !slices.Equal(got, []string{"sync/any", "sync/k"}) {
		t.Errorf("List = %q, want [sync/any sync/k]", got)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if err := s.PutUnsynced(ctx, "sync/late", []byte("x")); err == nil {
		t.Error("PutUnsynced with a cancelled context succeeded")
	}
	if err := s.Sync(ctx); err == nil {
		t.Error("Sync with a cancelled context succeeded")
	}
	h.wantAbsent("sync/late")
}

func testOverwrite(t *testing.T, h *harness) {
	long, short := randomBytes(2, 4096), []byte("short")
	h.put("ow/k", long)
	h.put("ow/k", short)
	h.wantData("ow/k", short)
	a, err := h.b.Stat(h.ctx, "ow/k")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if a.Size != int64(len(short)) {
		t.Errorf("Stat size after overwrite = %d, want %d", a.Size, len(short))
	}
	if got := keysOf(h.list("ow/")); !slices.Equal(got, []string{"ow/k"}) {
		t.Errorf("List after overwrite = %q, want [ow/k]", got)
	}
}

func testPutIfAbsent(t *testing.T, h *harness) {
	if err := h.b.PutIfAbsent(h.ctx, "pia/k", []byte("first")); err != nil {
		t.Fatalf("PutIfAbsent on a free key: %v", err)
	}
	err := h.b.PutIfAbsent(h.ctx, "pia/k", []byte("second"))
	wantErr(t, "PutIfAbsent on a taken key", err, blob.ErrExists)
	h.wantData("pia/k", []byte("first"))
	if err := h.b.Delete(h.ctx, "pia/k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := h.b.PutIfAbsent(h.ctx, "pia/k", []byte("third")); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
	h.wantData("pia/k", []byte("third"))
	// A plain Put still overwrites.
	h.put("pia/k", []byte("fourth"))
	h.wantData("pia/k", []byte("fourth"))
}

func testPutIfAbsentRace(t *testing.T, h *harness) {
	const racers = 16
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   = make([]error, racers)
		values = make([][]byte, racers)
	)
	for i := range racers {
		values[i] = randomBytes(byte(10+i), 64<<10)
		wg.Go(func() {
			<-start
			errs[i] = h.b.PutIfAbsent(h.ctx, "race/manifest", values[i])
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Errorf("racer %d: error %v, want nil or one wrapping ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	h.wantData("race/manifest", values[winner])
}

func testStat(t *testing.T, h *harness) {
	before := time.Now()
	h.put("stat/k", []byte("12345"))
	after := time.Now()
	a, err := h.b.Stat(h.ctx, "stat/k")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if a.Key != "stat/k" || a.Size != 5 {
		t.Errorf("Stat = {Key:%q Size:%d}, want {Key:%q Size:5}", a.Key, a.Size, "stat/k")
	}
	if a.ModTime.Before(before.Add(-clockSlack)) || a.ModTime.After(after.Add(clockSlack)) {
		t.Errorf("Stat ModTime = %v, want within %v of [%v, %v]", a.ModTime, clockSlack, before, after)
	}
	ok, err := h.b.Exists(h.ctx, "stat/k")
	if err != nil || !ok {
		t.Errorf("Exists = %v, %v; want true, nil", ok, err)
	}
}

// listKeys are the objects of the List test, in key order. Byte order puts '-' and
// '.' before '/', which a naive directory walk gets wrong.
var listKeys = []string{
	"a-b/1",
	"a.b",
	"a/1",
	"a/2",
	"a/sub/deep/x",
	"a/sub/y",
	"ab",
	"abc/d",
	"b",
	"b0/z",
	"z/y/x/w",
	"ä/ü",
}

func testList(t *testing.T, h *harness) {
	// Store them out of order.
	for i := range listKeys {
		k := listKeys[(i*5)%len(listKeys)]
		h.put(k, []byte(k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", listKeys},
		{"a/", []string{"a/1", "a/2", "a/sub/deep/x", "a/sub/y"}},
		{"a", []string{"a-b/1", "a.b", "a/1", "a/2", "a/sub/deep/x", "a/sub/y", "ab", "abc/d"}},
		{"ab", []string{"ab", "abc/d"}},
		{"a/s", []string{"a/sub/deep/x", "a/sub/y"}},
		{"a/sub/", []string{"a/sub/deep/x", "a/sub/y"}},
		{"a/sub/deep/x", []string{"a/sub/deep/x"}},
		{"b", []string{"b", "b0/z"}},
		{"z/y/", []string{"z/y/x/w"}},
		{"ä", []string{"ä/ü"}},
		{"nope", nil},
		{"nope/", nil},
		{"a/1/", nil},
	}
	for _, tc := range tests {
		t.Run("prefix="+tc.prefix, func(t *testing.T) {
			attrs, err := collect(h.b.List(h.ctx, tc.prefix))
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			if got := keysOf(attrs); !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
			for _, a := range attrs {
				if a.Size != int64(len(a.Key)) || a.ModTime.IsZero() {
					t.Errorf("List(%q) item %q: Size %d ModTime %v, want Size %d and a ModTime", tc.prefix, a.Key, a.Size, a.ModTime, len(a.Key))
				}
			}
		})
	}
}

func testListStopEarly(t *testing.T, h *harness) {
	for i := range 5 {
		h.put(fmt.Sprintf("stop/%d", i), []byte{byte(i)})
	}
	var got []string
	for a, err := range h.b.List(h.ctx, "stop/") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, a.Key)
		if len(got) == 2 {
			break
		}
	}
	if want := []string{"stop/0", "stop/1"}; !slices.Equal(got, want) {
		t.Errorf("first two of List = %q, want %q", got, want)
	}
	// The store is still usable after an abandoned iteration.
	h.put("stop/5", []byte{5})
	if n := len(h.list("stop/")); n != 6 {
		t.Errorf("List after stopping early: %d objects, want 6", n)
	}
}

func testDelete(t *testing.T, h *harness) {
	h.put("del/k", []byte("x"))
	h.put("del/keep", []byte("y"))
	for i := range 2 {
		if err := h.b.Delete(h.ctx, "del/k"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if err := h.b.Delete(h.ctx, "del/never/stored"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	h.wantAbsent("del/k")
	_, err := h.b.Get(h.ctx, "del/k")
	wantErr(t, "Get after Delete", err, blob.ErrNotFound)
	if got := keysOf(h.list("del/")); !slices.Equal(got, []string{"del/keep"}) {
		t.Errorf("List after Delete = %q, want [del/keep]", got)
	}
}

// testKeyReuseAfterDelete checks that deleting the only object below a prefix frees
// the prefix to be a key (a directory store must not leave a directory behind in the
// way), and the other way round.
func testKeyReuseAfterDelete(t *testing.T, h *harness) {
	h.put("reuse/x/y/z", []byte("deep"))
	if err := h.b.Delete(h.ctx, "reuse/x/y/z"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	h.put("reuse/x", []byte("shallow"))
	h.wantData("reuse/x", []byte("shallow"))
	if got := keysOf(h.list("reuse/")); !slices.Equal(got, []string{"reuse/x"}) {
		t.Errorf("List = %q, want [reuse/x]", got)
	}
	if err := h.b.Delete(h.ctx, "reuse/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := h.b.PutIfAbsent(h.ctx, "reuse/x/again", []byte("deep again")); err != nil {
		t.Fatalf("PutIfAbsent below a deleted key: %v", err)
	}
	h.wantData("reuse/x/again", []byte("deep again"))
}

func testNotFound(t *testing.T, h *harness) {
	h.put("nf/dir/obj", []byte("x"))
	// A missing key, a key that is only a prefix of stored keys, and a key below a
	// stored object.
	for _, key := range []string{"nf/missing", "nf/dir", "nf/dir/obj/below"} {
		_, err := h.b.Get(h.ctx, key)
		wantErr(t, fmt.Sprintf("Get(%q)", key), err, blob.ErrNotFound)
		var be *blob.Error
		if !errors.As(err, &be) || be.Op != "get" || be.Key != key {
			t.Errorf("Get(%q) error %#v, want a *blob.Error with Op get and the key", key, err)
		}
		_, err = h.b.GetInto(h.ctx, key, make([]byte, 16))
		wantErr(t, fmt.Sprintf("GetInto(%q)", key), err, blob.ErrNotFound)
		_, err = h.b.Stat(h.ctx, key)
		wantErr(t, fmt.Sprintf("Stat(%q)", key), err, blob.ErrNotFound)
		h.wantAbsent(key)
		if err := h.b.Delete(h.ctx, key); err != nil {
			t.Errorf("Delete(%q): %v, want nil", key, err)
		}
	}
	h.wantData("nf/dir/obj", []byte("x"))
}

// invalidKeys are refused by every operation before the driver is called.
var invalidKeys = []struct{ name, key string }{
	{"empty", ""},
	{"absolute", "/abs"},
	{"parent", "../x"},
	{"inner parent", "a/../b"},
	{"dot", "a/./b"},
	{"lone dot", "."},
	{"double slash", "a//b"},
	{"trailing slash", "a/"},
	{"NUL", "a\x00b"},
	{"backslash", "a\\b"},
	{"backslash parent", "..\\x"},
	{"not UTF-8", "a/\xff\xfe"},
	{"too long", strings.Repeat("a", 2000)},
	{"just too long", strings.Repeat("a", blob.MaxKeyLen+1)},
}

func testInvalidKey(t *testing.T, h *harness) {
	ops := []struct {
		name string
		call func(key string) error
	}{
		{"Put", func(k string) error { return h.b.Put(h.ctx, k, []byte("x")) }},
		{"PutIfAbsent", func(k string) error { return h.b.PutIfAbsent(h.ctx, k, []byte("x")) }},
		{"Get", func(k string) error { _, err := h.b.Get(h.ctx, k); return err }},
		{"Stat", func(k string) error { _, err := h.b.Stat(h.ctx, k); return err }},
		{"Exists", func(k string) error { _, err := h.b.Exists(h.ctx, k); return err }},
		{"Delete", func(k string) error { return h.b.Delete(h.ctx, k) }},
	}
	for _, tc := range invalidKeys {
		t.Run(tc.name, func(t *testing.T) {
			if err := blob.ValidateKey(tc.key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("ValidateKey: %v, want ErrInvalidKey", err)
			}
			before := h.spy.calls.Load()
			for _, op := range ops {
				wantErr(t, op.name, op.call(tc.key), blob.ErrInvalidKey)
			}
			if n := h.spy.calls.Load() - before; n != 0 {
				t.Errorf("%d driver calls for an invalid key, want 0", n)
			}
		})
	}
}

func testInvalidPrefix(t *testing.T, h *harness) {
	for _, prefix := range []string{"/a", "a//", "../", "a/../", "a\x00", "\xff", "a\\", strings.Repeat("p", 2000)} {
		before := h.spy.calls.Load()
		_, err := collect(h.b.List(h.ctx, prefix))
		wantErr(t, fmt.Sprintf("List(%q)", prefix), err, blob.ErrInvalidKey)
		if n := h.spy.calls.Load() - before; n != 0 {
			t.Errorf("List(%q): %d driver calls, want 0", prefix, n)
		}
	}
}

func testConcurrent(t *testing.T, h *harness) {
	const workers, rounds = 16, 6
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				key := fmt.Sprintf("conc/w%02d/r%d", w, r)
				data := randomBytes(byte(w*rounds+r), 1024+w*r)
				if err := h.b.Put(h.ctx, key, data); err != nil {
					t.Errorf("Put(%q): %v", key, err)
					return
				}
				got, err := h.b.Get(h.ctx, key)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("Get(%q) = %s, %v; want %s", key, describe(got), err, describe(data))
				}
				if r%2 == 1 {
					if err := h.b.Delete(h.ctx, key); err != nil {
						t.Errorf("Delete(%q): %v", key, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if n, want := len(h.list("conc/")), workers*rounds/2; n != want {
		t.Errorf("List after concurrent work: %d objects, want %d", n, want)
	}
}

func testCancelledContext(t *testing.T, h *harness) {
	h.put("ctx/kept", []byte("kept"))
	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(h.ctx, time.Now().Add(-time.Hour))
	defer cancel2()

	// The driver itself must respect a done context, not only the bucket.
	drivers := []struct {
		name string
		d    blob.Driver
	}{{"driver", h.raw}, {"bucket", bucketDriver{h.b}}}
	ctxs := []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"expired", expired, context.DeadlineExceeded}}
	for _, d := range drivers {
		for _, c := range ctxs {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				wantErr(t, "Put", d.d.Put(c.ctx, "ctx/new", []byte("x")), c.want)
				wantErr(t, "PutIfAbsent", d.d.PutIfAbsent(c.ctx, "ctx/new2", []byte("x")), c.want)
				_, err := d.d.Get(c.ctx, "ctx/kept")
				wantErr(t, "Get", err, c.want)
				_, err = d.d.Stat(c.ctx, "ctx/kept")
				wantErr(t, "Stat", err, c.want)
				_, err = collect(d.d.List(c.ctx, "ctx/"))
				wantErr(t, "List", err, c.want)
				wantErr(t, "Delete", d.d.Delete(c.ctx, "ctx/kept"), c.want)
			})
		}
	}
	// Nothing changed.
	h.wantAbsent("ctx/new")
	h.wantAbsent("ctx/new2")
	h.wantData("ctx/kept", []byte("kept"))
}

func testClose(t *testing.T, h *harness) {
	h.put("close/k", []byte("x"))
	if err := h.b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	before := h.spy.calls.Load()
	wantErr(t, "Put after Close", h.b.Put(h.ctx, "close/k", nil), blob.ErrClosed)
	wantErr(t, "PutIfAbsent after Close", h.b.PutIfAbsent(h.ctx, "close/n", nil), blob.ErrClosed)
	_, err := h.b.Get(h.ctx, "close/k")
	wantErr(t, "Get after Close", err, blob.ErrClosed)
	_, err = h.b.Stat(h.ctx, "close/k")
	wantErr(t, "Stat after Close", err, blob.ErrClosed)
	_, err = h.b.Exists(h.ctx, "close/k")
	wantErr(t, "Exists after Close", err, blob.ErrClosed)
	_, err = collect(h.b.List(h.ctx, ""))
	wantErr(t, "List after Close", err, blob.ErrClosed)
	wantErr(t, "Delete after Close", h.b.Delete(h.ctx, "close/k"), blob.ErrClosed)
	if n := h.spy.calls.Load() - before; n != 0 {
		t.Errorf("%d driver calls after Close, want 0", n)
	}
	if err := h.b.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if n := h.spy.closes.Load(); n != 1 {
		t.Errorf("driver closed %d times, want 1", n)
	}
}

// spy counts the calls that reach a driver.
type spy struct {
	blob.Driver
	calls  atomic.Int64
	closes atomic.Int64
}

func (s *spy) Put(ctx context.Context, key string, data []byte) error {
	s.calls.Add(1)
	return s.Driver.Put(ctx, key, data)
}

func (s *spy) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	s.calls.Add(1)
	return s.Driver.PutIfAbsent(ctx, key, data)
}

func (s *spy) Get(ctx context.Context, key string) ([]byte, error) {
	s.calls.Add(1)
	return s.Driver.Get(ctx, key)
}

func (s *spy) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	s.calls.Add(1)
	return s.Driver.Stat(ctx, key)
}

func (s *spy) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	s.calls.Add(1)
	return s.Driver.List(ctx, prefix)
}

func (s *spy) Delete(ctx context.Context, key string) error {
	s.calls.Add(1)
	return s.Driver.Delete(ctx, key)
}

func (s *spy) Close() error {
	s.closes.Add(1)
	return s.Driver.Close()
}

// bucketDriver lets a test call a Bucket through the Driver interface.
type bucketDriver struct{ *blob.Bucket }
