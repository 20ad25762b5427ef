package blob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	_ "github.com/graphvault/graphvault/store/blob/fileblob"
	_ "github.com/graphvault/graphvault/store/blob/memblob"
)

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct{ url, file string }{
		{filepath.Join(dir, "plain"), filepath.Join(dir, "plain", "k")},
		{"file://" + filepath.ToSlash(filepath.Join(dir, "uri")), filepath.Join(dir, "uri", "k")},
		{"file:" + filepath.Join(dir, "opaque"), filepath.Join(dir, "opaque", "k")},
		{"mem://", ""},
	} {
		b, err := blob.OpenURL(ctx, tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if err := b.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("%s: put: %v", tc.url, err)
		}
		if tc.file != "" {
			if got, err := os.ReadFile(tc.file); err != nil || string(got) != "v" {
				t.Errorf("%s: the object is not the file %s: %q, %v", tc.url, tc.file, got, err)
			}
		}
		b.Close()
	}
	for _, raw := range []string{"", "ftp://host/x", "file://otherhost/x", "file:///x?mode=1", "mem://?x=1", "mem ory://x"} {
		if _, err := blob.OpenURL(ctx, raw); !errors.Is(err, blob.ErrInvalidURL) {
			t.Errorf("%q: got %v, want ErrInvalidURL", raw, err)
		}
	}
}
