package meta_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/meta"
	"github.com/graphvault/graphvault/store/meta/metatest"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, meta.SecretKeySize) }

// rawSecret reads the secret column as the database holds it.
func rawSecret(t *testing.T, s *meta.Store, id string) string {
	t.Helper()
	var v string
	if err := s.DB().NewSelect().Table("graphvault_targets").Column("secret").Where("id = ?", id).Scan(context.Background(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSealedSecrets: with a sealer, secrets are sealed at rest and read back
// plain; plain rows are sealed by SealSecrets; a store given another key cannot
// read them and changes nothing; Rekey re-seals under a new key.
func TestSealedSecrets(t *testing.T) {
	metatest.ForEachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		dsn := metatest.OpenDSN(t, kind)
		open := func(opts ...meta.Option) *meta.Store {
			t.Helper()
			s, err := meta.Open(ctx, dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		const secret = "s3-secret-PLAINTEXT-value"
		plainStore := open()
		old := &meta.Target{Name: "old", Kind: meta.TargetHTTP, Config: map[string]string{"base_url": "http://x"}, Secret: secret + "-old"}
		if err := plainStore.CreateTarget(ctx, old); err != nil {
			t.Fatal(err)
		}
		if got := rawSecret(t, plainStore, old.ID); got != old.Secret {
			t.Fatalf("without a sealer the row holds %q", got)
		}

		k1, _ := meta.NewSealer(key(1))
		s1 := open(meta.WithSealer(k1))
		n, err := s1.SealSecrets(ctx)
		if err != nil || n != 1 {
			t.Fatalf("SealSecrets = %d, %v; want 1 row sealed", n, err)
		}
		tg := &meta.Target{Name: "new", Kind: meta.TargetS3, Config: map[string]string{"bucket": "b"}, Secret: secret}
		if err := s1.CreateTarget(ctx, tg); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{old.ID, tg.ID} {
			if raw := rawSecret(t, s1, id); strings.Contains(raw, "PLAINTEXT") || !meta.Sealed(raw) {
				t.Errorf("row %s holds %q at rest", id, raw)
			}
		}
		if got, err := s1.GetTarget(ctx, tg.ID); err != nil || got.Secret != secret {
			t.Fatalf("GetTarget = %v, %v", got, err)
		}
		if ts, err := s1.ListTargets(ctx); err != nil || len(ts) != 2 || ts[1].Secret != secret+"-old" {
			t.Fatalf("ListTargets = %v, %v", ts, err)
		}
		tg.Name = "renamed"
		if err := s1.UpdateTarget(ctx, tg); err != nil {
			t.Fatal(err)
		}
		if raw := rawSecret(t, s1, tg.ID); strings.Contains(raw, "PLAINTEXT") {
			t.Errorf("an update wrote the secret plain: %q", raw)
		}

		// A store with another key, or with none, refuses and changes nothing.
		k2, _ := meta.NewSealer(key(2))
		before := rawSecret(t, s1, tg.ID)
		for name, s := range map[string]*meta.Store{"other key": open(meta.WithSealer(k2)), "no key": plainStore} {
			if _, err := s.SealSecrets(ctx); !errors.Is(err, meta.ErrSealed) {
				t.Errorf("%s: SealSecrets err = %v, want ErrSealed", name, err)
			}
			if _, err := s.GetTarget(ctx, tg.ID); !errors.Is(err, meta.ErrSealed) {
				t.Errorf("%s: GetTarget err = %v, want ErrSealed", name, err)
			}
		}
		if rawSecret(t, s1, tg.ID) != before {
			t.Error("a store with the wrong key changed a row")
		}

		// Rotation: the new key seals, the old one only opens.
		next, _ := meta.NewSealer(key(3), key(1))
		if n, err := s1.Rekey(ctx, next); err != nil || n != 2 {
			t.Fatalf("Rekey = %d, %v; want 2", n, err)
		}
		k3, _ := meta.NewSealer(key(3))
		s3 := open(meta.WithSealer(k3))
		if got, err := s3.GetTarget(ctx, tg.ID); err != nil || got.Secret != secret {
			t.Fatalf("after Rekey, the new key alone reads %v, %v", got, err)
		}
		if _, err := open(meta.WithSealer(k1)).GetTarget(ctx, tg.ID); !errors.Is(err, meta.ErrSealed) {
			t.Errorf("after Rekey the old key still opens the rows: %v", err)
		}
		// A secret moved to another row does not open there.
		if _, err := k3.Open(rawSecret(t, s3, tg.ID), old.ID); !errors.Is(err, meta.ErrSealed) {
			t.Errorf("a sealed secret opened for another row: %v", err)
		}
		if _, err := meta.NewSealer([]byte("short")); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("NewSealer(short) err = %v", err)
		}
	})
}
