package graphvault

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/meta"
)

// ErrSecretKey reports that the secret key a Vault was given cannot open the
// target secrets sealed in its metadata store: another key sealed them. Every
// instance that shares a store must be given the same key (Config.SecretKey or
// the same key file).
var ErrSecretKey = errors.New("graphvault: the secret key cannot open the target secrets sealed in the store; give every instance that shares the store the same key")

// SecretKeyFileName is the key file a Vault keeps in its data folder when
// Config.SecretKey and Config.SecretKeyFile are empty.
const SecretKeyFileName = "secret.key"

// NewSecretKey returns a new random key for Config.SecretKey, as 64 hex digits.
func NewSecretKey() (string, error) {
	k := make([]byte, meta.SecretKeySize)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	return hex.EncodeToString(k), nil
}

// ParseSecretKey decodes a key written as 64 hex digits or as the standard
// base64 of 32 bytes.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == meta.SecretKeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == meta.SecretKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: a secret key is 64 hex digits or the base64 of %d bytes", ErrInvalid, meta.SecretKeySize)
}

// secretKeys holds the keys target secrets are sealed with.
type secretKeys struct {
	mu       sync.Mutex // one rotation at a time
	file     string     // the key file, or "" when the key came from Config.SecretKey
	current  []byte
	previous [][]byte
}

// loadSecretKeys reads Config.SecretKey and Config.PreviousSecretKeys, or the
// key file: its first line is the current key, any further lines keys it replaced
// (a rotation in progress). A missing default key file is made with a new key,
// mode 0600.
func (v *Vault) loadSecretKeys() (*meta.Sealer, error) {
	k := &v.keys
	if v.cfg.SecretKey != "" {
		cur, err := ParseSecretKey(v.cfg.SecretKey)
		if err != nil {
			return nil, err
		}
		k.current = cur
	} else {
		k.file = v.cfg.SecretKeyFile
		keys, err := readKeyFile(k.file)
		if errors.Is(err, fs.ErrNotExist) && k.file == filepath.Join(v.cfg.Data, SecretKeyFileName) {
			s, gerr := NewSecretKey()
			if gerr != nil {
				return nil, gerr
			}
			keys, err = [][]byte{must(ParseSecretKey(s))}, writeKeyFile(k.file, s)
		}
		if err != nil {
			return nil, fmt.Errorf("secret key file: %w", err)
		}
		k.current, k.previous = keys[0], keys[1:]
	}
	for _, p := range v.cfg.PreviousSecretKeys {
		pk, err := ParseSecretKey(p)
		if err != nil {
			return nil, err
		}
		k.previous = append(k.previous, pk)
	}
	return meta.NewSealer(k.current, k.previous...)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// readKeyFile reads the keys of a key file; lines starting with # are comments.
func readKeyFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseSecretKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", filepath.Base(path), len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s holds no key", ErrInvalid, filepath.Base(path))
	}
	return keys, nil
}

// writeKeyFile replaces the key file with the keys given, one a line: a
// temporary file with mode 0600, synced, renamed over the old one, then the
// folder synced, so a crash leaves the old file or the new one.
func writeKeyFile(path string, keys ...string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(strings.Join(keys, "\n") + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		defer d.Close()
		return d.Sync()
	}
	return nil
}

// sealSecrets seals the plain target secrets of the store and re-seals those a
// previous key sealed; a key that cannot open them stops the start.
func (v *Vault) sealSecrets(ctx context.Context) error {
	n, err := v.store.SealSecrets(ctx)
	if errors.Is(err, meta.ErrSealed) {
		return ErrSecretKey
	}
	if err != nil {
		return err
	}
	if n > 0 {
		v.log.Info("target secrets sealed with the current secret key", "targets", n, "key_id", meta.SecretKeyID(v.keys.current))
	}
	// A key file that still lists the keys a finished rotation replaced keeps
	// only the current one.
	if v.keys.file != "" && len(v.keys.previous) > 0 && len(v.cfg.PreviousSecretKeys) == 0 {
		return writeKeyFile(v.keys.file, hex.EncodeToString(v.keys.current))
	}
	return nil
}

// RotateSecretKey seals every target secret under key (see [NewSecretKey]) in
// one transaction. With a key file, the file lists the new key and the old one
// while the rows change and the new one alone after, so a crash at any point
// leaves a file that opens the rows. With Config.SecretKey, the caller gives the
// new key to the next start and to every instance that shares the store.
func (v *Vault) RotateSecretKey(ctx context.Context, key string) error {
	next, err := ParseSecretKey(key)
	if err != nil {
		return err
	}
	k := &v.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.current
	sealer, err := meta.NewSealer(next, append([][]byte{old}, k.previous...)...)
	if err != nil {
		return err
	}
	if k.file != "" {
		if err := writeKeyFile(k.file, hex.EncodeToString(next), hex.EncodeToString(old)); err != nil {
			return fmt.Errorf("secret key file: %w", err)
		}
	}
	if _, err := v.store.Rekey(ctx, sealer); err != nil {
		if k.file != "" {
			err = errors.Join(err, writeKeyFile(k.file, hex.EncodeToString(old)))
		}
		return err
	}
	k.current, k.previous = next, nil
	if k.file != "" {
		return writeKeyFile(k.file, hex.EncodeToString(next))
	}
	return nil
}

// targetPlaces are the replication options that keep targets where the
// operator allows: file targets under Config.TargetRoots (by default the folder
// targets/ in the data folder, made if missing) and away from the Vault's own
// bucket, database and key file; http and s3 targets at Config.TargetHosts.
func (v *Vault) targetPlaces() ([]replication.Option, error) {
	roots := v.cfg.TargetRoots
	if len(roots) == 0 {
		def := filepath.Join(v.cfg.Data, "targets")
		if err := os.MkdirAll(def, 0o755); err != nil {
			return nil, err
		}
		roots = []string{def}
	}
	protected := localPaths(v.cfg.Bucket, v.cfg.Store)
	if v.keys.file != "" {
		protected = append(protected, v.keys.file)
	}
	if v.cfg.EncryptionKeyFile != "" {
		protected = append(protected, v.cfg.EncryptionKeyFile)
	}
	return []replication.Option{
		replication.WithTargetRoots(roots...),
		replication.WithTargetHosts(v.cfg.TargetHosts...),
		replication.WithProtectedPaths(protected...),
	}, nil
}

// checkTargetConfig validates and fills the target and key fields of c.
func (c *Config) checkTargetConfig() error {
	c.TargetRoots = slices.Clone(c.TargetRoots)
	for i, r := range c.TargetRoots {
		abs, err := filepath.Abs(r)
		if err != nil || r == "" {
			return fmt.Errorf("%w: target root %q", ErrInvalid, r)
		}
		c.TargetRoots[i] = abs
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		return fmt.Errorf("%w: give SecretKey or SecretKeyFile, not both", ErrInvalid)
	}
	if c.SecretKey == "" {
		if c.SecretKeyFile == "" {
			c.SecretKeyFile = filepath.Join(c.Data, SecretKeyFileName)
		}
		abs, err := filepath.Abs(c.SecretKeyFile)
		if err != nil {
			return fmt.Errorf("%w: secret key file: %v", ErrInvalid, err)
		}
		c.SecretKeyFile = abs
	} else if _, err := ParseSecretKey(c.SecretKey); err != nil {
		return err
	}
	for _, p := range c.PreviousSecretKeys {
		if _, err := ParseSecretKey(p); err != nil {
			return err
		}
	}
	return nil
}
