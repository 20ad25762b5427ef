package backup

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/graphvault/graphvault/store/blob"
)

// Encryption at rest: every layer has its own random 256-bit data key. The layer's
// segments (and, in format 2 and before, its index) are sealed with AES-256-GCM
// under it (a random 96-bit nonce before the ciphertext). The data key itself is
// sealed under the master key and stored as a small key object; rotating the
// master key rewrites only those.

// keyFile is the stored form of a wrapped data key.
type keyFile struct {
	MasterKeyID string `json:"master_key_id"`
	Wrapped     []byte `json:"wrapped"`
}

// masterKeyID names a master key without revealing it.
func masterKeyID(master []byte) string {
	sum := sha256.Sum256(append([]byte("graphvault master key id\x00"), master...))
	return hex.EncodeToString(sum[:8])
}

func seal(key, plain []byte) ([]byte, error) { return sealAD(key, plain, nil) }

// sealAD seals plain with additional data that open must be given again.
func sealAD(key, plain, ad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, plain, ad), nil
}

func open(key, sealed []byte) ([]byte, error) { return openAD(key, sealed, nil) }

func openAD(key, sealed, ad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("sealed data too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad)
}

func newDataKey() ([]byte, error) {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	return k, err
}

// errKeyMismatch marks an unwrap refused because the key object names another
// master key, as opposed to a key object that is damaged.
var errKeyMismatch = errors.New("master key id differs")

// wrapKey seals a data key under the master key, bound to the name of the key
// object: a key object copied over another one does not unwrap.
func wrapKey(master, dataKey []byte, objectKey string) ([]byte, error) {
	w, err := sealAD(master, dataKey, []byte(objectKey))
	if err != nil {
		return nil, err
	}
	return json.Marshal(keyFile{MasterKeyID: masterKeyID(master), Wrapped: w})
}

func unwrapKey(master, stored []byte, objectKey string) ([]byte, error) {
	var kf keyFile
	if err := json.Unmarshal(stored, &kf); err != nil {
		return nil, fmt.Errorf("%w: key object: %v", ErrCorrupt, err)
	}
	if master == nil {
		return nil, fmt.Errorf("%w: snapshot is encrypted and no key was given", ErrWrongKey)
	}
	if kf.MasterKeyID != masterKeyID(master) {
		return nil, fmt.Errorf("%w: data key is wrapped by master key %s, not %s: %w", ErrWrongKey, kf.MasterKeyID, masterKeyID(master), errKeyMismatch)
	}
	k, err := openAD(master, kf.Wrapped, []byte(objectKey))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot unwrap data key: %v", ErrWrongKey, err)
	}
	return k, nil
}

// RotateKey rewraps every data key in the bucket from the engine's current master
// key to newKey, then makes newKey the engine's key. Segments are not rewritten.
// Each key object is replaced atomically, so an interrupted rotation can be run
// again with the same keys: objects already under newKey are skipped. It returns
// how many key objects it rewrapped.
func (e *Engine) RotateKey(ctx context.Context, newKey []byte) (int, error) {
	old := e.key()
	if old == nil {
		return 0, fmt.Errorf("%w: the engine has no encryption key to rotate", ErrInvalid)
	}
	if len(newKey) != 32 {
		return 0, fmt.Errorf("%w: encryption key must be 32 bytes, got %d", ErrInvalid, len(newKey))
	}
	e.gcMu.Lock() // no snapshot may wrap a key with the old master meanwhile
	defer e.gcMu.Unlock()
	newID := masterKeyID(newKey)
	n := 0
	for a, err := range e.bucket.List(ctx, keysPrefix) {
		if err != nil {
			return n, err
		}
		stored, err := e.bucket.Get(ctx, a.Key)
		if err != nil {
			return n, err
		}
		var kf keyFile
		if err := json.Unmarshal(stored, &kf); err != nil {
			return n, &CorruptError{Key: a.Key, Err: err}
		}
		if kf.MasterKeyID == newID {
			continue
		}
		dk, err := unwrapKey(old, stored, a.Key)
		if err != nil {
			return n, fmt.Errorf("backup: rotate %s: %w", a.Key, err)
		}
		rewrapped, err := wrapKey(newKey, dk, a.Key)
		if err != nil {
			return n, err
		}
		if err := e.bucket.Put(ctx, a.Key, rewrapped); err != nil {
			return n, err
		}
		n++
	}
	k := append([]byte(nil), newKey...)
	e.masterKey.Store(&k)
	return n, nil
}

// CheckKey tells whether the engine's master key opens the data keys of every
// encrypted snapshot in the bucket, without reading any segment: it lists the key
// objects and compares the master key id each names with the engine's. It returns
// nil when they all match (or the bucket holds none), and otherwise an error
// wrapping [ErrWrongKey] that says how many do not and which master keys wrapped
// them, or that the engine has no key at all. A key object that does not parse is
// damage, not a key question, and is left to verification. Objects are read eight
// at a time.
func (e *Engine) CheckKey(ctx context.Context) error {
	var keys []string
	for a, err := range e.bucket.List(ctx, keysPrefix) {
		if err != nil {
			return fmt.Errorf("backup: list data keys: %w", err)
		}
		keys = append(keys, a.Key)
	}
	if len(keys) == 0 {
		return nil
	}
	master := e.key()
	if master == nil {
		return fmt.Errorf("%w: the bucket holds %d encrypted data keys and no encryption key is given", ErrWrongKey, len(keys))
	}
	want := masterKeyID(master)
	ids := make([]string, len(keys)) // the master key id each object names, "" when it names none
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, k := range keys {
		g.Go(func() error {
			stored, err := e.bucket.Get(gctx, k)
			if errors.Is(err, blob.ErrNotFound) {
				return nil // removed since the listing: garbage collection
			}
			if err != nil {
				return fmt.Errorf("backup: read %q: %w", k, err)
			}
			var kf keyFile
			if json.Unmarshal(stored, &kf) == nil {
				ids[i] = kf.MasterKeyID
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	others := map[string]int{}
	for _, id := range ids {
		if id != "" && id != want {
			others[id]++
		}
	}
	if len(others) == 0 {
		return nil
	}
	n := 0
	for _, c := range others {
		n += c
	}
	which := "master key "
	if len(others) > 1 {
		which = "master keys "
	}
	return fmt.Errorf("%w: %d of the %d data keys in the bucket are wrapped by %s%s, not by the key given (%s)",
		ErrWrongKey, n, len(keys), which, strings.Join(slices.Sorted(maps.Keys(others)), ", "), want)
}
