package backup

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/meta"
)

// TestGCRemovesOldTemporaries checks that GC removes the temporary objects older
// than the engine's threshold, counts them, and leaves younger ones alone.
func TestGCRemovesOldTemporaries(t *testing.T) {
	ctx := t.Context()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	drv, err := fileblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := blob.NewBucket(drv)
	t.Cleanup(func() { b.Close() })
	e, err := New(st, b, WithTempMaxAge(time.Minute), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ages := map[string]time.Duration{
		"data/aa/" + fileblob.TempPrefix + "old":   2 * time.Hour,
		"manifests/" + fileblob.TempPrefix + "mid": 10 * time.Minute,
		"data/bb/" + fileblob.TempPrefix + "fresh": 0,
	}
	for name, age := range ages {
		p := filepath.Join(drv.Dir(), filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(drv.Dir(), filepath.FromSlash(name)))
		return err == nil
	}

	res, err := e.GC(ctx, GCOptions{DryRun: true})
	if err != nil || res.TempRemoved != 0 || !exists("data/aa/"+fileblob.TempPrefix+"old") {
		t.Fatalf("dry run: %+v, %v; want nothing removed", res, err)
	}
	if _, err := e.GC(ctx, GCOptions{TempMaxAge: -time.Second}); !errors.Is(err, ErrInvalid) {
		t.Errorf("GC with a negative TempMaxAge: %v, want ErrInvalid", err)
	}
	res, err = e.GC(ctx, GCOptions{TempMaxAge: time.Hour})
	if err != nil || res.TempRemoved != 1 {
		t.Fatalf("GC with TempMaxAge 1h: %+v, %v; want 1 temporary removed", res, err)
	}
	res, err = e.GC(ctx, GCOptions{})
	if err != nil || res.TempRemoved != 1 {
		t.Fatalf("GC with the engine's TempMaxAge (1m): %+v, %v; want 1 more temporary removed", res, err)
	}
	for name, age := range ages {
		if got, want := exists(name), age < time.Minute; got != want {
			t.Errorf("%s (age %v) present %v, want %v", name, age, got, want)
		}
	}
	if n, err := e.RemoveTemp(ctx); n != 0 || err != nil {
		t.Errorf("RemoveTemp with only a fresh temporary left = %d, %v; want 0, nil", n, err)
	}
}

func TestTempMaxAgeMustBePositive(t *testing.T) {
	st, err := meta.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := blob.NewBucket(nil)
	for _, d := range []time.Duration{0, -time.Minute} {
		if _, err := New(st, b, WithTempMaxAge(d)); !errors.Is(err, ErrInvalid) {
			t.Errorf("New with WithTempMaxAge(%v): %v, want ErrInvalid", d, err)
		}
	}
}
