package memblob_test

import (
	"context"
	"errors"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/blobtest"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(*testing.T) blob.Driver { return memblob.New() })
}

// TestClosedDriver checks the driver's own ErrClosed, seen by callers that use it
// without a Bucket.
func TestClosedDriver(t *testing.T) {
	ctx := context.Background()
	d := memblob.New()
	if err := d.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for i := range 2 {
		if err := d.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	_, getErr := d.Get(ctx, "k")
	_, statErr := d.Stat(ctx, "k")
	var listErr error
	for _, err := range d.List(ctx, "") {
		listErr = err
	}
	tests := []struct {
		op  string
		err error
	}{
		{"Put", d.Put(ctx, "k", nil)},
		{"PutIfAbsent", d.PutIfAbsent(ctx, "n", nil)},
		{"Get", getErr},
		{"Stat", statErr},
		{"List", listErr},
		{"Delete", d.Delete(ctx, "k")},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, blob.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", tc.op, tc.err)
		}
	}
}

// TestListCancelledMidway checks that List stops with the context's error when the
// context ends during the iteration.
func TestListCancelledMidway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := memblob.New()
	for _, k := range []string{"a", "b", "c"} {
		if err := d.Put(ctx, k, nil); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	var keys []string
	var last error
	for a, err := range d.List(ctx, "") {
		if err != nil {
			last = err
			break
		}
		keys = append(keys, a.Key)
		cancel()
	}
	if len(keys) != 1 || !errors.Is(last, context.Canceled) {
		t.Errorf("List with a context cancelled after the first item: keys %q, error %v; want [a], context.Canceled", keys, last)
	}
}
