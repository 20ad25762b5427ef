package backup

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	h := newHarness(t, WithEncryptionKey(key(1)))
	if err := h.engine.CheckKey(h.ctx); err != nil {
		t.Fatalf("empty bucket: %v", err)
	}
	none, err := New(h.store, h.bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := none.CheckKey(h.ctx); err != nil {
		t.Fatalf("empty bucket, no key: %v", err)
	}
	g := loadGenerated(t, 50, 100, false)
	h.snapshot(g, KindFull)
	mutate(t, g, newRand(), 1)
	h.snapshot(g, KindAuto)

	engine := func(k []byte) *Engine {
		e, err := New(h.store, h.bucket, WithEncryptionKey(k))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name   string
		engine *Engine
		want   string // "" for no error, else a part of the message
	}{
		{"the key", h.engine, ""},
		{"the key again", engine(key(1)), ""},
		{"another key", engine(key(2)), "2 of the 2 data keys in the bucket are wrapped by master key " + masterKeyID(key(1))},
		{"no key", none, "holds 2 encrypted data keys and no encryption key is given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.engine.CheckKey(h.ctx)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tc.want != "" && !errors.Is(err, ErrWrongKey):
				t.Fatalf("got %v, want ErrWrongKey", err)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %q, want it to say %q", err, tc.want)
			}
		})
	}

	// A rotation cut short leaves keys under both masters: the old key and the
	// new one each miss some, and rotating again finishes it.
	var first string
	for a, err := range h.bucket.List(h.ctx, keysPrefix) {
		if err != nil {
			t.Fatal(err)
		}
		first = a.Key
		break
	}
	stored, err := h.bucket.Get(h.ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := unwrapKey(key(1), stored, first)
	if err != nil {
		t.Fatal(err)
	}
	rewrapped, err := wrapKey(key(3), dk, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bucket.Put(h.ctx, first, rewrapped); err != nil {
		t.Fatal(err)
	}
	if err := engine(key(1)).CheckKey(h.ctx); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "1 of the 2") {
		t.Fatalf("old key after a partial rotation: %v", err)
	}
	if err := engine(key(3)).CheckKey(h.ctx); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "1 of the 2") {
		t.Fatalf("new key after a partial rotation: %v", err)
	}
	if n, err := engine(key(1)).RotateKey(h.ctx, key(3)); err != nil || n != 1 {
		t.Fatalf("finishing the rotation: %d, %v; want 1 key object", n, err)
	}
	if err := engine(key(3)).CheckKey(h.ctx); err != nil {
		t.Fatalf("new key after the rotation: %v", err)
	}

	// A key object that does not parse is damage for verification to name, not
	// a wrong key.
	if err := h.bucket.Put(h.ctx, first, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := engine(key(3)).CheckKey(h.ctx); err != nil {
		t.Fatalf("damaged key object: %v", err)
	}
}
