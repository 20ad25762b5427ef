package meta

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
)

// ErrSealed: a sealed secret cannot be opened with the keys the store was given
// (another key sealed it, or the row was damaged), or a sealed row was read by a
// store given no key.
var ErrSealed = errors.New("store: sealed secret cannot be opened")

// SecretKeySize is the size of a key a [Sealer] takes: AES-256.
const SecretKeySize = 32

// sealedPrefix starts every sealed secret: "gv1:" key id ":" base64(nonce|ciphertext).
const sealedPrefix = "gv1:"

// Sealer seals the secrets of replication targets with AES-256-GCM before they
// are written to the database and opens them when they are read. It seals with
// its first key and opens with any of them, so a rotation can read what the
// previous key sealed. Each sealed value is bound to its row's id, so it cannot
// be moved to another row. A Sealer is safe for concurrent use.
type Sealer struct {
	keys []sealKey // keys[0] seals
}

type sealKey struct {
	id   string
	aead cipher.AEAD
}

// NewSealer returns a Sealer that seals with current and also opens what any of
// previous sealed. Each key is [SecretKeySize] bytes.
func NewSealer(current []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != SecretKeySize {
			return nil, fmt.Errorf("%w: secret key %d is %d bytes, want %d", ErrInvalid, i, len(k), SecretKeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, sealKey{id: SecretKeyID(k), aead: aead})
	}
	return s, nil
}

// SecretKeyID names a key without revealing it: 8 hex digits of a hash of it.
func SecretKeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("graphvault secret key id\x00"), key...))
	return hex.EncodeToString(sum[:4])
}

// KeyID is the id of the key the Sealer seals with.
func (s *Sealer) KeyID() string { return s.keys[0].id }

// Sealed reports whether v is a sealed secret (as opposed to a plain one).
func Sealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// Seal seals plain for the row id. The empty secret stays empty.
func (s *Sealer) Seal(plain, id string) (string, error) {
	if plain == "" {
		return "", nil
	}
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := k.aead.Seal(nonce, nonce, []byte(plain), aad(id))
	return sealedPrefix + k.id + ":" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open opens a value Seal made for the row id. A plain value is returned as it
// is; one no key of s can open is ErrSealed.
func (s *Sealer) Open(v, id string) (string, error) {
	plain, _, err := s.open(v, id)
	return plain, err
}

// open also says whether the value was sealed with the current key.
func (s *Sealer) open(v, id string) (plain string, current bool, err error) {
	if !Sealed(v) {
		return v, false, nil
	}
	kid, body, ok := strings.Cut(strings.TrimPrefix(v, sealedPrefix), ":")
	if !ok {
		return "", false, ErrSealed
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return "", false, ErrSealed
	}
	if s == nil {
		return "", false, ErrSealed
	}
	for i, k := range s.keys {
		if k.id != kid || len(raw) < k.aead.NonceSize() {
			continue
		}
		n := k.aead.NonceSize()
		p, err := k.aead.Open(nil, raw[:n], raw[n:], aad(id))
		if err != nil {
			return "", false, ErrSealed
		}
		return string(p), i == 0, nil
	}
	return "", false, ErrSealed
}

func aad(id string) []byte { return []byte("graphvault target secret\x00" + id) }

// WithSealer seals the secrets of replication targets with s: [Store.CreateTarget]
// and [Store.UpdateTarget] write them sealed, reads open them. Without it secrets
// are written as given and a sealed one cannot be read (ErrSealed).
func WithSealer(s *Sealer) Option { return func(c *config) { c.sealer = s } }

// sealTarget returns a copy of t to write, its secret sealed when the store has a
// sealer.
func (s *Store) sealTarget(t *Target) (*Target, error) {
	sl := s.sealer.Load()
	if sl == nil && Sealed(t.Secret) {
		return nil, fmt.Errorf("%w: a secret must not start with %q", ErrInvalid, sealedPrefix)
	}
	if sl == nil || t.Secret == "" {
		return t, nil
	}
	c := *t
	var err error
	if c.Secret, err = sl.Seal(t.Secret, t.ID); err != nil {
		return nil, err
	}
	return &c, nil
}

// openTarget opens the sealed secret of a row just read.
func (s *Store) openTarget(t *Target) error {
	if !Sealed(t.Secret) {
		return nil
	}
	p, err := s.sealer.Load().Open(t.Secret, t.ID)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.ID, err)
	}
	t.Secret = p
	return nil
}

// SealSecrets makes every target secret in the database sealed with the current
// key of the store's sealer: plain rows (written before sealing, or by a store
// without one) are sealed, rows sealed with a previous key are sealed again. It
// first opens every sealed row; if one cannot be opened it changes nothing and
// returns ErrSealed, which is how an instance given another key than the store's
// finds out. It runs in one transaction and returns how many rows it rewrote.
// Without a sealer it only checks that no row is sealed.
func (s *Store) SealSecrets(ctx context.Context) (int, error) {
	n := 0
	err := s.write(ctx, "seal secrets", "", func(ctx context.Context) error {
		n = 0
		return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var rows []Target
			if err := tx.NewSelect().Model(&rows).Column("id", "secret").Scan(ctx); err != nil {
				return err
			}
			sl := s.sealer.Load()
			type change struct{ id, secret string }
			var changes []change
			for _, r := range rows {
				if r.Secret == "" {
					continue
				}
				plain, current, err := sl.open(r.Secret, r.ID)
				if err != nil {
					return fmt.Errorf("target %s: %w", r.ID, err)
				}
				if sl == nil || current {
					continue
				}
				sealed, err := sl.Seal(plain, r.ID)
				if err != nil {
					return err
				}
				changes = append(changes, change{r.ID, sealed})
			}
			for _, c := range changes {
				if _, err := tx.NewUpdate().Model((*Target)(nil)).Set("secret = ?", c.secret).Where("id = ?", c.id).Exec(ctx); err != nil {
					return err
				}
			}
			n = len(changes)
			return nil
		})
	})
	return n, err
}

// Rekey makes next the store's sealer and seals every target secret with its
// current key (see [Store.SealSecrets]); next must also hold the key the rows are
// sealed with now, as a previous key. On error the store keeps its sealer and the
// rows are unchanged.
func (s *Store) Rekey(ctx context.Context, next *Sealer) (int, error) {
	if next == nil {
		return 0, &Error{Op: "rekey", Err: fmt.Errorf("%w: no sealer", ErrInvalid)}
	}
	old := s.sealer.Swap(next)
	n, err := s.SealSecrets(ctx)
	if err != nil {
		s.sealer.Store(old)
	}
	return n, err
}
