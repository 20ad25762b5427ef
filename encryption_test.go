package graphvault_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// writeKey writes a key file holding key as text (hex) and returns its path.
func writeKey(t *testing.T, key []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "snapshot.key")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, graphvault.EncryptionKeySize) }

func TestParseEncryptionKey(t *testing.T) {
	k := []byte("0123456789abcdefghijklmnopqrstuv")
	for _, tc := range []struct {
		name string
		file string
		ok   bool
	}{
		{"raw bytes", string(k), true},
		{"hex", hex.EncodeToString(k), true},
		{"hex with a newline", hex.EncodeToString(k) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(k) + "\n", true},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(k), true},
		{"base64 url alphabet", base64.URLEncoding.EncodeToString(k), true},
		{"empty", "", false},
		{"short", "0123456789abcdef", false},
		{"hex of 31 bytes", hex.EncodeToString(k[:31]), false},
		{"hex of 33 bytes", hex.EncodeToString(append(bytes.Clone(k), 'w')), false},
		{"33 raw bytes", string(k) + "w", false},
		{"not hex", strings.Repeat("g", 64), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graphvault.ParseEncryptionKey([]byte(tc.file))
			switch {
			case tc.ok && err != nil:
				t.Fatalf("error %v", err)
			case tc.ok && !bytes.Equal(got, k):
				t.Fatalf("got %x, want %x", got, k)
			case !tc.ok && !errors.Is(err, graphvault.ErrInvalid):
				t.Fatalf("got %x, %v; want ErrInvalid", got, err)
			}
		})
	}
}

// A bad key setting stops Open before anything is made, naming the field.
func TestOpenRefusesBadKeySettings(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.key")
	short := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(short, []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cfg     graphvault.Config
		setting string
	}{
		{"missing file", graphvault.Config{EncryptionKeyFile: missing}, "EncryptionKeyFile"},
		{"short file", graphvault.Config{EncryptionKeyFile: short}, "EncryptionKeyFile"},
		{"short key", graphvault.Config{EncryptionKey: []byte("short")}, "EncryptionKey"},
		{"both", graphvault.Config{EncryptionKey: testKey(1), EncryptionKeyFile: short}, "EncryptionKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.cfg.Data = filepath.Join(dir, "data")
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			v, err := graphvault.Open(t.Context(), tc.cfg)
			if err == nil {
				v.Close(context.Background())
				t.Fatal("opened")
			}
			checkSettingError(t, err, graphvault.ErrInvalid, tc.setting)
			if _, err := os.Stat(tc.cfg.Data); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the data folder was made: %v", err)
			}
		})
	}
}

// checkSettingError checks that err is a one-line *SettingError naming setting
// and wrapping want.
func checkSettingError(t *testing.T, err, want error, setting string) {
	t.Helper()
	var se *graphvault.SettingError
	switch {
	case !errors.As(err, &se):
		t.Fatalf("error %v is not a SettingError", err)
	case se.Setting != setting:
		t.Fatalf("error %v names %s, want %s", err, se.Setting, setting)
	case !errors.Is(err, want):
		t.Fatalf("error %v is not %v", err, want)
	case strings.Contains(err.Error(), "\n"):
		t.Fatalf("error is more than one line: %q", err)
	case !strings.Contains(err.Error(), "Config."+setting):
		t.Fatalf("error %q does not name Config.%s", err, setting)
	}
}

// Snapshots taken with a key restore only with it: a start with no key or
// another key is refused with ErrEncryptionKey, naming the setting, and marks
// nothing damaged; with the key the graph comes back.
func TestEncryptedSnapshotsRestoreOnlyWithTheKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeKey(t, testKey(1))
	v := openVault(t, graphvault.Config{Data: dir, Demo: true, EncryptionKeyFile: keyFile})
	changeDemo(t, v, "secret-node-name")
	first, _ := snapshotDemo(t, v)
	changeDemo(t, v, "second-node-name")
	second, _ := snapshotDemo(t, v)
	for _, id := range []string{first, second} {
		row, err := v.Store().GetSnapshot(t.Context(), id)
		if err != nil || !row.Encrypted {
			t.Fatalf("snapshot %s: %+v %v; want it encrypted", id, row, err)
		}
	}
	closeVault(t, v)
	// No object of the bucket holds a node id in the clear.
	err := filepath.WalkDir(filepath.Join(dir, "bucket"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if bytes.Contains(b, []byte("secret-node-name")) {
			t.Errorf("%s holds a node id in the clear", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		cfg     graphvault.Config
		setting string
		says    string
	}{
		{"no key", graphvault.Config{}, "EncryptionKeyFile", "no encryption key is given"},
		{"another key file", graphvault.Config{EncryptionKeyFile: writeKey(t, testKey(2))}, "EncryptionKeyFile", "2 of the 2 data keys"},
		{"another key", graphvault.Config{EncryptionKey: testKey(2)}, "EncryptionKey", "2 of the 2 data keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Data = dir
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			v, err := graphvault.Open(t.Context(), tc.cfg)
			if err == nil {
				v.Close(context.Background())
				t.Fatal("opened")
			}
			checkSettingError(t, err, graphvault.ErrEncryptionKey, tc.setting)
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not say %q", err, tc.says)
			}
			checkCompleted(t, dir, first, second)
		})
	}

	// The key as raw bytes in a file opens them as well as its hex text did.
	raw := filepath.Join(t.TempDir(), "raw.key")
	if err := os.WriteFile(raw, testKey(1), 0o600); err != nil {
		t.Fatal(err)
	}
	v = openVault(t, graphvault.Config{Data: dir, EncryptionKeyFile: raw})
	if !hasNode(t, v, graphvault.DemoGraph, "second-node-name") {
		t.Fatal("the graph did not come back from its newest snapshot with the key")
	}
	if _, err := v.Engine().Restore(t.Context(), first, memgraph.New(), backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore of the first snapshot with the key: %v", err)
	}
}

// checkCompleted opens the metadata store of the data folder dir alone and
// checks that the snapshots are still completed, with no error recorded.
func checkCompleted(t *testing.T, dir string, ids ...string) {
	t.Helper()
	st, err := meta.Open(t.Context(), filepath.Join(dir, "graphvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range ids {
		row, err := st.GetSnapshot(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if row.Status != meta.SnapshotCompleted || row.Error != "" {
			t.Fatalf("snapshot %s is %s %q after a start with the wrong key; want it completed, unmarked", id, row.Status, row.Error)
		}
	}
}

// hideKeys hides the key objects from listings, so that the start-up check sees
// no encrypted snapshot and only the restore meets the wrong key.
type hideKeys struct{ blob.Driver }

func (h hideKeys) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	return func(yield func(blob.Attrs, error) bool) {
		for a, err := range h.Driver.List(ctx, prefix) {
			if err == nil && strings.HasPrefix(a.Key, "keys/") {
				continue
			}
			if !yield(a, err) {
				return
			}
		}
	}
}

// A restore at start that meets a key it cannot use stops the start and marks
// nothing, even when the key check before it saw no encrypted snapshot.
func TestWrongKeyNeverQuarantines(t *testing.T) {
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Demo: true, EncryptionKey: testKey(1)})
	first, _ := snapshotDemo(t, v)
	closeVault(t, v)
	cfg := graphvault.WrapBucket(graphvault.Config{Data: dir, EncryptionKey: testKey(2), Logger: slog.New(slog.DiscardHandler)},
		func(d blob.Driver) blob.Driver { return hideKeys{d} })
	v, err := graphvault.Open(t.Context(), cfg)
	if err == nil {
		v.Close(context.Background())
		t.Fatal("opened with the wrong key")
	}
	checkSettingError(t, err, graphvault.ErrEncryptionKey, "EncryptionKey")
	checkCompleted(t, dir, first)
}

// A rotation wraps the data keys under the new key: the old key no longer
// opens the snapshots, the new one does, and a rotation with a wrong or no
// current key changes nothing.
func TestRotateEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	oldFile, newFile := writeKey(t, testKey(1)), writeKey(t, testKey(2))
	v := openVault(t, graphvault.Config{Data: dir, Demo: true, EncryptionKeyFile: oldFile})
	changeDemo(t, v, "before-rotation")
	first, _ := snapshotDemo(t, v)
	second, _ := snapshotDemo(t, v)
	closeVault(t, v)

	for _, tc := range []struct {
		name    string
		cfg     graphvault.Config
		want    error
		setting string
	}{
		{"no current key", graphvault.Config{}, graphvault.ErrInvalid, "EncryptionKeyFile"},
		{"wrong current key", graphvault.Config{EncryptionKey: testKey(3)}, graphvault.ErrEncryptionKey, "EncryptionKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Data, tc.cfg.Logger = dir, quiet
			n, err := graphvault.RotateEncryptionKey(t.Context(), tc.cfg, testKey(2))
			if n != 0 {
				t.Errorf("rotated %d data keys", n)
			}
			checkSettingError(t, err, tc.want, tc.setting)
		})
	}
	if _, err := graphvault.RotateEncryptionKey(t.Context(), graphvault.Config{Data: dir, EncryptionKeyFile: oldFile, Logger: quiet}, []byte("short")); !errors.Is(err, graphvault.ErrInvalid) {
		t.Fatalf("a short new key: %v, want ErrInvalid", err)
	}
	n, err := graphvault.RotateEncryptionKey(t.Context(), graphvault.Config{Data: dir, EncryptionKeyFile: oldFile, Logger: quiet}, testKey(2))
	if err != nil || n != 2 {
		t.Fatalf("rotation: %d, %v; want 2 data keys", n, err)
	}
	// The rotation is done: running it again finds nothing under the old key
	// and says the old key is wrong.
	if _, err := graphvault.RotateEncryptionKey(t.Context(), graphvault.Config{Data: dir, EncryptionKeyFile: newFile, Logger: quiet}, testKey(2)); err != nil {
		t.Fatalf("rotation to the key in place: %v", err)
	}
	if v, err := graphvault.Open(t.Context(), graphvault.Config{Data: dir, EncryptionKeyFile: oldFile, Logger: quiet}); err == nil {
		v.Close(context.Background())
		t.Fatal("the old key opens the snapshots after the rotation")
	} else {
		checkSettingError(t, err, graphvault.ErrEncryptionKey, "EncryptionKeyFile")
	}
	checkCompleted(t, dir, first, second)
	v = openVault(t, graphvault.Config{Data: dir, EncryptionKeyFile: newFile})
	if !hasNode(t, v, graphvault.DemoGraph, "before-rotation") {
		t.Fatal("the graph did not come back with the new key")
	}
	if _, err := v.Engine().Restore(t.Context(), first, memgraph.New(), backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore of the first snapshot with the new key: %v", err)
	}
}
