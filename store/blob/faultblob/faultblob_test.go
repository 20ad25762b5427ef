package faultblob_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/blobtest"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

// TestConformance checks that the wrapper without rules is transparent.
func TestConformance(t *testing.T) {
	blobtest.Run(t, func(*testing.T) blob.Driver { return faultblob.New(memblob.New()) })
}

var errBoom = errors.New("boom")

// call runs one operation on d and returns its error; for Get, also the data.
func call(ctx context.Context, d blob.Driver, op faultblob.Op, key string) ([]byte, error) {
	switch op {
	case faultblob.OpPut:
		return nil, d.Put(ctx, key, []byte("new data"))
	case faultblob.OpPutIfAbsent:
		return nil, d.PutIfAbsent(ctx, key, []byte("new data"))
	case faultblob.OpGet:
		return d.Get(ctx, key)
	case faultblob.OpStat:
		_, err := d.Stat(ctx, key)
		return nil, err
	case faultblob.OpList:
		for _, err := range d.List(ctx, key) {
			if err != nil {
				return nil, err
			}
		}
		return nil, nil
	case faultblob.OpDelete:
		return nil, d.Delete(ctx, key)
	case faultblob.OpClose:
		return nil, d.Close()
	}
	panic("unknown op " + op.String())
}

var allOps = []faultblob.Op{
	faultblob.OpPut, faultblob.OpPutIfAbsent, faultblob.OpGet, faultblob.OpStat,
	faultblob.OpList, faultblob.OpDelete, faultblob.OpClose,
}

func TestErrEveryOp(t *testing.T) {
	for _, op := range allOps {
		t.Run(op.String(), func(t *testing.T) {
			d := faultblob.New(memblob.New())
			if err := d.Unwrap().Put(t.Context(), "k", []byte("x")); err != nil {
				t.Fatal(err)
			}
			d.Inject(faultblob.Rule{Ops: op, Err: errBoom})
			if _, err := call(t.Context(), d, op, "k"); !errors.Is(err, errBoom) {
				t.Errorf("%v: error %v, want %v", op, err, errBoom)
			}
			// Other operations are untouched (Close last, since it ends the driver).
			for _, other := range allOps {
				if other == op || other == faultblob.OpPutIfAbsent {
					continue
				}
				if _, err := call(t.Context(), d, other, "k"); err != nil {
					t.Errorf("%v with a rule for %v: %v", other, op, err)
				}
			}
		})
	}
}

func TestMatching(t *testing.T) {
	tests := []struct {
		name string
		rule faultblob.Rule
		// keys Put in order, and whether each call should fail
		keys []string
		fail []bool
	}{
		{"every call", faultblob.Rule{Err: errBoom}, []string{"a", "b"}, []bool{true, true}},
		{"prefix", faultblob.Rule{Prefix: "seg/", Err: errBoom}, []string{"seg/1", "idx/1", "seg/2"}, []bool{true, false, true}},
		{"predicate", faultblob.Rule{Match: func(k string) bool { return strings.HasSuffix(k, ".m") }, Err: errBoom},
			[]string{"a.m", "a.d", "b.m"}, []bool{true, false, true}},
		{"nth", faultblob.Rule{Nth: 2, Err: errBoom}, []string{"a", "b", "c"}, []bool{false, true, false}},
		{"nth of the matching calls", faultblob.Rule{Prefix: "s/", Nth: 2, Err: errBoom},
			[]string{"s/1", "x", "s/2", "s/3"}, []bool{false, false, true, false}},
		{"other op", faultblob.Rule{Ops: faultblob.OpGet | faultblob.OpDelete, Err: errBoom}, []string{"a"}, []bool{false}},
		{"write ops", faultblob.Rule{Ops: faultblob.OpWrite, Err: errBoom}, []string{"a"}, []bool{true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := faultblob.New(memblob.New())
			d.Inject(tc.rule)
			for i, k := range tc.keys {
				err := d.Put(t.Context(), k, []byte("x"))
				if got := errors.Is(err, errBoom); got != tc.fail[i] {
					t.Errorf("Put(%q): error %v, want failure %v", k, err, tc.fail[i])
				}
			}
		})
	}
}

func TestWriteFaults(t *testing.T) {
	data := []byte("0123456789")
	tests := []struct {
		name    string
		fault   faultblob.WriteFault
		op      faultblob.Op
		want    []byte
		present bool
	}{
		{"lost put", faultblob.LoseWrite, faultblob.OpPut, nil, false},
		{"lost put-if-absent", faultblob.LoseWrite, faultblob.OpPutIfAbsent, nil, false},
		{"truncated put", faultblob.TruncateWrite, faultblob.OpPut, data[:5], true},
		{"truncated put-if-absent", faultblob.TruncateWrite, faultblob.OpPutIfAbsent, data[:5], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			d := faultblob.New(memblob.New())
			d.Inject(faultblob.Rule{Write: tc.fault})
			var err error
			if tc.op == faultblob.OpPut {
				err = d.Put(ctx, "k", data)
			} else {
				err = d.PutIfAbsent(ctx, "k", data)
			}
			if err != nil {
				t.Fatalf("put reported %v, want success", err)
			}
			got, err := d.Unwrap().Get(ctx, "k")
			if present := err == nil; present != tc.present || string(got) != string(tc.want) {
				t.Errorf("stored %q (err %v), want %q present %v", got, err, tc.want, tc.present)
			}
		})
	}
}

func TestFlipBit(t *testing.T) {
	ctx := t.Context()
	d := faultblob.New(memblob.New())
	want := []byte("abcde")
	for _, k := range []string{"k", "empty"} {
		data := want
		if k == "empty" {
			data = nil
		}
		if err := d.Put(ctx, k, data); err != nil {
			t.Fatal(err)
		}
	}
	remove := d.Inject(faultblob.Rule{Ops: faultblob.OpGet, FlipBit: true})
	got, err := d.Get(ctx, "k")
	if err != nil || string(got) != "abbde" { // 'c'^1 == 'b'
		t.Errorf("Get with a bit flip = %q, %v; want %q", got, err, "abbde")
	}
	if got, err := d.Get(ctx, "empty"); err != nil || len(got) != 0 {
		t.Errorf("Get of an empty object with a bit flip = %q, %v; want empty", got, err)
	}
	remove()
	if got, err := d.Get(ctx, "k"); err != nil || string(got) != string(want) {
		t.Errorf("Get after removing the rule = %q, %v; want %q", got, err, want)
	}
}

func TestHangAndDelay(t *testing.T) {
	tests := []struct {
		name string
		rule faultblob.Rule
	}{
		{"hang", faultblob.Rule{Hang: true}},
		{"long delay", faultblob.Rule{Delay: time.Hour}},
	}
	for _, tc := range tests {
		for _, op := range allOps[:6] {
			t.Run(tc.name+"/"+op.String(), func(t *testing.T) {
				// inner counts the calls that get through.
				inner := faultblob.New(memblob.New())
				d := faultblob.New(inner)
				d.Inject(tc.rule)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() {
					_, err := call(ctx, d, op, "k")
					done <- err
				}()
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
				if n := inner.Calls(faultblob.OpAll); n != 0 {
					t.Errorf("%d calls reached the driver, want 0", n)
				}
			})
		}
	}
	t.Run("short delay then call", func(t *testing.T) {
		d := faultblob.New(memblob.New())
		d.Inject(faultblob.Rule{Delay: time.Nanosecond, Err: errBoom})
		if _, err := call(t.Context(), d, faultblob.OpGet, "k"); !errors.Is(err, errBoom) {
			t.Errorf("error %v, want %v after the delay", err, errBoom)
		}
	})
}

func TestCallsAndReset(t *testing.T) {
	ctx := t.Context()
	d := faultblob.New(memblob.New())
	d.Inject(faultblob.Rule{Ops: faultblob.OpGet, Err: errBoom})
	for range 3 {
		if err := d.Put(ctx, "k", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Get(ctx, "k"); !errors.Is(err, errBoom) {
		t.Fatalf("Get: %v, want %v", err, errBoom)
	}
	counts := []struct {
		ops  faultblob.Op
		want int
	}{
		{faultblob.OpPut, 3},
		{faultblob.OpGet, 1},
		{faultblob.OpWrite, 3},
		{faultblob.OpPut | faultblob.OpGet, 4},
		{faultblob.OpAll, 4},
		{faultblob.OpList, 0},
	}
	for _, c := range counts {
		if got := d.Calls(c.ops); got != c.want {
			t.Errorf("Calls(%v) = %d, want %d", c.ops, got, c.want)
		}
	}
	d.Reset()
	if got := d.Calls(faultblob.OpAll); got != 0 {
		t.Errorf("Calls after Reset = %d, want 0", got)
	}
	if _, err := d.Get(ctx, "k"); err != nil {
		t.Errorf("Get after Reset: %v", err)
	}
}

func TestFirstErrorWins(t *testing.T) {
	d := faultblob.New(memblob.New())
	errSecond := errors.New("second")
	d.Inject(faultblob.Rule{Prefix: "x", Err: errBoom})
	d.Inject(faultblob.Rule{Err: errSecond})
	for key, want := range map[string]error{"x1": errBoom, "y1": errSecond} {
		if err := d.Delete(t.Context(), key); !errors.Is(err, want) {
			t.Errorf("Delete(%q): %v, want %v", key, err, want)
		}
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   faultblob.Op
		want string
	}{
		{0, "none"},
		{faultblob.OpGet, "get"},
		{faultblob.OpWrite, "put|put-if-absent"},
		{faultblob.OpAll, "put|put-if-absent|get|stat|list|delete|close|sync"},
	}
	for _, tc := range tests {
		if got := tc.op.String(); got != tc.want {
			t.Errorf("Op(%d).String() = %q, want %q", tc.op, got, tc.want)
		}
	}
}
