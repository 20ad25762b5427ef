package graphvault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
)

// EncryptionKeySize is the size in bytes of the master key snapshots are
// encrypted with (AES-256).
const EncryptionKeySize = 32

// ErrEncryptionKey reports an encryption key that does not open the snapshots in
// the bucket: none is given and some are encrypted, or another key wrapped their
// data keys. It is not damage: Open refuses to start and marks nothing.
var ErrEncryptionKey = errors.New("graphvault: wrong encryption key")

// SettingError is an error of Open that one setting of the Config can fix: its
// message is one line that names the field. It unwraps to the cause
// (ErrInvalid, ErrEncryptionKey, ErrStore, ErrBucket, ErrInstance).
type SettingError struct {
	// Setting is the name of the Config field, such as "EncryptionKeyFile".
	Setting string
	// Err says what is wrong with it.
	Err error
}

// Error says, on one line, what is wrong and which field to set.
func (e *SettingError) Error() string {
	return strings.Join(strings.Fields(fmt.Sprintf("%v (set Config.%s)", e.Err, e.Setting)), " ")
}

// Unwrap returns the cause.
func (e *SettingError) Unwrap() error { return e.Err }

// ParseEncryptionKey decodes a master key as a key file holds it: 32 bytes as
// they are, or their text as 64 hex digits or base64 (standard or URL alphabet,
// padded or not), with white space around it ignored.
func ParseEncryptionKey(b []byte) ([]byte, error) {
	if len(b) == EncryptionKeySize {
		return bytes.Clone(b), nil
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == EncryptionKeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == EncryptionKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: an encryption key is %d bytes, or their text as 64 hex digits or base64", ErrInvalid, EncryptionKeySize)
}

// ReadEncryptionKeyFile reads and decodes a key file (see [ParseEncryptionKey]).
func ReadEncryptionKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: encryption key file: %v", ErrInvalid, err)
	}
	k, err := ParseEncryptionKey(b)
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	return k, nil
}

// checkEncryptionConfig validates the encryption fields of c.
func (c *Config) checkEncryptionConfig() error {
	switch {
	case c.EncryptionKey != nil && c.EncryptionKeyFile != "":
		return &SettingError{Setting: "EncryptionKey", Err: fmt.Errorf("%w: give EncryptionKey or EncryptionKeyFile, not both", ErrInvalid)}
	case c.EncryptionKey != nil && len(c.EncryptionKey) != EncryptionKeySize:
		return &SettingError{Setting: "EncryptionKey", Err: fmt.Errorf("%w: an encryption key is %d bytes, got %d", ErrInvalid, EncryptionKeySize, len(c.EncryptionKey))}
	case c.EncryptionKeyFile != "":
		abs, err := filepath.Abs(c.EncryptionKeyFile)
		if err != nil {
			return &SettingError{Setting: "EncryptionKeyFile", Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
		}
		c.EncryptionKeyFile = abs
	}
	return nil
}

// keySetting names the Config field the encryption key came from, or would.
func (c *Config) keySetting() string {
	if c.EncryptionKey != nil {
		return "EncryptionKey"
	}
	return "EncryptionKeyFile"
}

// loadEncryptionKey returns the master key of Config.EncryptionKey or
// Config.EncryptionKeyFile, or nil when snapshots are not to be encrypted. A key
// file others may read is named in the log.
func (v *Vault) loadEncryptionKey() ([]byte, error) {
	c := &v.cfg
	if c.EncryptionKey != nil {
		return bytes.Clone(c.EncryptionKey), nil
	}
	if c.EncryptionKeyFile == "" {
		return nil, nil
	}
	k, err := ReadEncryptionKeyFile(c.EncryptionKeyFile)
	if err != nil {
		return nil, &SettingError{Setting: "EncryptionKeyFile", Err: err}
	}
	if fi, err := os.Stat(c.EncryptionKeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		v.log.Warn("the encryption key file can be read by others than its owner; make it mode 0600", "file", c.EncryptionKeyFile, "mode", fi.Mode().Perm())
	}
	return k, nil
}

// encryptionOptions are the engine's options for the master key, if any.
func (v *Vault) encryptionOptions() []backup.Option {
	if v.encKey == nil {
		return nil
	}
	return []backup.Option{backup.WithEncryptionKey(v.encKey)}
}

// checkEncryptionKey refuses to start when the master key is missing or wrong
// for encrypted snapshots in the bucket. Left to the restore at start, such
// snapshots could not be told from damaged ones.
func (v *Vault) checkEncryptionKey(ctx context.Context) error {
	err := v.engine.CheckKey(ctx)
	if errors.Is(err, backup.ErrWrongKey) {
		return v.wrongKey(err)
	}
	if err != nil {
		return fmt.Errorf("check the encryption key against the bucket: %w", err)
	}
	if v.encKey != nil {
		v.log.Info("snapshots are encrypted", "setting", v.cfg.keySetting())
	}
	return nil
}

// wrongKey turns the engine's ErrWrongKey into ErrEncryptionKey naming the
// setting to fix.
func (v *Vault) wrongKey(err error) error {
	detail := strings.TrimPrefix(err.Error(), backup.ErrWrongKey.Error()+": ")
	return &SettingError{Setting: v.cfg.keySetting(), Err: fmt.Errorf("%w: %s", ErrEncryptionKey, detail)}
}

// RotateEncryptionKey wraps the data key of every encrypted snapshot in the
// bucket cfg names under newKey instead of the key cfg gives
// (Config.EncryptionKey or EncryptionKeyFile); segments are not rewritten. It
// returns how many data keys it wrapped anew. Stop every instance that shares the
// bucket first, and start them with newKey after: an instance still running with
// the old key goes on wrapping new snapshots' keys with it. A rotation cut short
// is finished by running it again with the same keys (keys already under newKey
// are skipped); until then Open refuses both keys with ErrEncryptionKey.
func RotateEncryptionKey(ctx context.Context, cfg Config, newKey []byte) (n int, err error) {
	if len(newKey) != EncryptionKeySize {
		return 0, fmt.Errorf("%w: the new encryption key is %d bytes, not %d", ErrInvalid, len(newKey), EncryptionKeySize)
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		return 0, err
	}
	v := &Vault{cfg: cfg, log: cfg.Logger, catalog: &graph.Registry{}}
	defer func() { err = errors.Join(err, v.release()) }()
	if v.encKey, err = v.loadEncryptionKey(); err != nil {
		return 0, err
	}
	if v.encKey == nil {
		return 0, &SettingError{Setting: "EncryptionKeyFile", Err: fmt.Errorf("%w: a rotation needs the current encryption key", ErrInvalid)}
	}
	if err := v.openStorage(ctx); err != nil {
		return 0, err
	}
	engine, err := backup.New(v.store, v.bucket, append(v.encryptionOptions(), backup.WithLogger(v.log))...)
	if err != nil {
		return 0, err
	}
	n, err = engine.RotateKey(ctx, newKey)
	if errors.Is(err, backup.ErrWrongKey) {
		return n, v.wrongKey(err)
	}
	if err != nil {
		return n, fmt.Errorf("rotate the encryption key: %w", err)
	}
	v.log.Info("data keys wrapped under the new encryption key", "rotated", n)
	return n, nil
}
