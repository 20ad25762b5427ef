package s3blob_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/s3blob"
)

func TestConfigFromURL(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
	getenv := func(k string) string { return env[k] }
	u, _ := url.Parse("s3://snaps/graphvault/prod/?endpoint=127.0.0.1:9000&region=eu-west-1&secure=false")
	got, err := s3blob.ConfigFromURL(u, getenv)
	if err != nil {
		t.Fatal(err)
	}
	want := s3blob.Config{Endpoint: "127.0.0.1:9000", Bucket: "snaps", Prefix: "graphvault/prod", Region: "eu-west-1", AccessKey: "id", SecretKey: "secret"}
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	u, _ = url.Parse("s3://snaps")
	if got, err := s3blob.ConfigFromURL(u, getenv); err != nil || got.Endpoint != "s3.amazonaws.com" || !got.Secure || got.Prefix != "" {
		t.Fatalf("defaults: got %v, %v", got, err)
	}
	for _, raw := range []string{
		"s3://id:secret@snaps/p",
		"s3:///prefix",
		"s3://snaps?endpoint=",
		"s3://snaps?endpoint=http://host:9000",
		"s3://snaps?secure=maybe",
		"s3://snaps?acl=public",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s3blob.ConfigFromURL(u, getenv); !errors.Is(err, blob.ErrInvalidURL) {
			t.Errorf("%s: got %v, want ErrInvalidURL", raw, err)
		} else if strings.Contains(err.Error(), "secret") && !strings.Contains(err.Error(), "AWS_SECRET") {
			t.Errorf("%s: the error shows the secret: %v", raw, err)
		}
	}
	u, _ = url.Parse("s3://snaps")
	if _, err := s3blob.ConfigFromURL(u, func(k string) string {
		if k == "AWS_ACCESS_KEY_ID" {
			return "id"
		}
		return ""
	}); !errors.Is(err, blob.ErrInvalidURL) {
		t.Errorf("an access key without a secret key: got %v, want ErrInvalidURL", err)
	}
}

// TestOpenURL opens an s3:// URL against the in-process server, with the
// credentials from the environment, and writes through it.
func TestOpenURL(t *testing.T) {
	f := newFake(t, nil)
	cfg := f.config(t)
	t.Setenv("AWS_ACCESS_KEY_ID", cfg.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cfg.SecretKey)
	host := strings.TrimPrefix(f.url, "http://")
	ctx := context.Background()
	b, err := blob.OpenURL(ctx, "s3://"+cfg.Bucket+"/pre/fix?secure=false&region=us-east-1&endpoint="+host)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.backend.HeadObject(cfg.Bucket, "pre/fix/k"); err != nil {
		t.Fatalf("the object is not below the prefix: %v", err)
	}
	if _, err := blob.OpenURL(ctx, "s3://missing-bucket?secure=false&endpoint="+host); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a missing bucket: got %v, want ErrNotFound", err)
	}
}
