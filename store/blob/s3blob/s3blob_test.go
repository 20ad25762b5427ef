package s3blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/blobtest"
	"github.com/graphvault/graphvault/store/blob/s3blob"
)

// fake is an in-process S3 server.
type fake struct {
	backend *s3mem.Backend
	url     string
	buckets atomic.Int64
}

// newFake starts a server; wrap, if not nil, sits in front of it.
func newFake(t *testing.T, wrap func(http.Handler) http.Handler) *fake {
	t.Helper()
	f := &fake{backend: s3mem.New()}
	var h http.Handler = gofakes3.New(f.backend).Server()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

// config returns the configuration of a new, empty bucket.
func (f *fake) config(t *testing.T) s3blob.Config {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", f.buckets.Add(1))
	if err := f.backend.CreateBucket(name); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return s3blob.Config{
		Endpoint:  f.url, // http:// URL form
		Bucket:    name,
		AccessKey: "test-access",
		SecretKey: "test-secret",
		Region:    "us-east-1",
	}
}

func open(t *testing.T, cfg s3blob.Config) *s3blob.Driver {
	t.Helper()
	d, err := s3blob.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open(%v): %v", cfg, err)
	}
	return d
}

func TestConformance(t *testing.T) {
	f := newFake(t, nil)
	blobtest.Run(t, func(t *testing.T) blob.Driver { return open(t, f.config(t)) })
}

// TestConformancePrefix runs the suite with stores sharing one bucket under
// different prefixes, next to an object outside them.
func TestConformancePrefix(t *testing.T) {
	f := newFake(t, nil)
	shared := f.config(t)
	outside := open(t, shared)
	if err := outside.Put(t.Context(), "stores/1", []byte("not a store")); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		cfg := shared
		cfg.Prefix = fmt.Sprintf("/stores/%d/", n.Add(1))
		return open(t, cfg)
	})
}

// TestRealEndpoint runs the suite against the server named by the environment.
func TestRealEndpoint(t *testing.T) {
	endpoint := os.Getenv("GRAPHVAULT_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("GRAPHVAULT_TEST_S3_ENDPOINT is not set (also _ACCESS_KEY, _SECRET_KEY, _BUCKET, optional _REGION); skipping the test against a real S3 server")
	}
	base := s3blob.Config{
		Endpoint:  endpoint,
		Bucket:    os.Getenv("GRAPHVAULT_TEST_S3_BUCKET"),
		AccessKey: os.Getenv("GRAPHVAULT_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("GRAPHVAULT_TEST_S3_SECRET_KEY"),
		Region:    os.Getenv("GRAPHVAULT_TEST_S3_REGION"),
	}
	run := "graphvault-test/" + strings.ToLower(rand.Text())
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		cfg := base
		cfg.Prefix = fmt.Sprintf("%s/%d", run, n.Add(1))
		d := open(t, cfg)
		t.Cleanup(func() { removeAll(t, cfg) })
		return d
	})
}

// removeAll deletes what a test left under cfg.Prefix.
func removeAll(t *testing.T, cfg s3blob.Config) {
	ctx := context.WithoutCancel(t.Context())
	d, err := s3blob.Open(ctx, cfg)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for a, err := range d.List(ctx, "") {
		if err == nil {
			err = d.Delete(ctx, a.Key)
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
	}
}

func TestOpenErrors(t *testing.T) {
	f := newFake(t, nil)
	good := f.config(t)
	tests := []struct {
		name   string
		modify func(*s3blob.Config)
		want   error // nil: any error
	}{
		{"missing bucket", func(c *s3blob.Config) { c.Bucket = "no-such-bucket" }, blob.ErrNotFound},
		{"no bucket", func(c *s3blob.Config) { c.Bucket = "" }, nil},
		{"no endpoint", func(c *s3blob.Config) { c.Endpoint = "" }, nil},
		{"bad scheme", func(c *s3blob.Config) { c.Endpoint = "ftp://host" }, nil},
		{"endpoint with path", func(c *s3blob.Config) { c.Endpoint = f.url + "/path" }, nil},
		{"bad URL", func(c *s3blob.Config) { c.Endpoint = "http://%zz" }, nil},
		{"bad prefix", func(c *s3blob.Config) { c.Prefix = "a//b" }, blob.ErrInvalidKey},
		{"wrong scheme for server", func(c *s3blob.Config) { c.Endpoint = "https://" + strings.TrimPrefix(f.url, "http://") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.modify(&cfg)
			d, err := s3blob.Open(t.Context(), cfg)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Open = %v, %v; want an error wrapping %v", d, err, tc.want)
			}
		})
	}
	t.Run("host:port form", func(t *testing.T) {
		cfg := good
		cfg.Endpoint = strings.TrimPrefix(f.url, "http://")
		d := open(t, cfg)
		if err := d.Put(t.Context(), "k", []byte("v")); err != nil {
			t.Errorf("Put: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s3blob.Open(ctx, good); !errors.Is(err, context.Canceled) {
			t.Errorf("Open with a cancelled context: %v, want context.Canceled", err)
		}
	})
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg := s3blob.Config{
		Endpoint:     "s3.example.org",
		Bucket:       "backups",
		AccessKey:    "AKIDEXAMPLE",
		SecretKey:    "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
		SessionToken: "FwoGZXIvYXdzEXAMPLETOKEN",
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("open", "cfg", cfg)
	outputs := map[string]string{
		"String": cfg.String(),
		"%v":     fmt.Sprintf("%v", cfg),
		"%+v":    fmt.Sprintf("%+v", cfg),
		"%#v":    fmt.Sprintf("%#v", cfg),
		"%s ptr": fmt.Sprintf("%s", &cfg),
		"slog":   logged.String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{cfg.SecretKey, cfg.SessionToken} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output %q shows a secret", name, out)
			}
		}
		for _, public := range []string{cfg.Endpoint, cfg.Bucket, cfg.AccessKey} {
			if !strings.Contains(out, public) {
				t.Errorf("%s output %q lacks %q", name, out, public)
			}
		}
	}
}

// TestPutIfAbsentConflictRetry checks that a 409 from a server busy with another
// write to the key is retried, and a persistent one reported.
func TestPutIfAbsentConflictRetry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		conflicts int64
		wantErr   bool
	}{
		{"transient", 2, false},
		{"persistent", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var left atomic.Int64
			left.Store(tc.conflicts)
			f := newFake(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*" && left.Add(-1) >= 0 {
						w.Header().Set("Content-Type", "application/xml")
						w.WriteHeader(http.StatusConflict)
						fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>busy</Message></Error>`)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			d := open(t, f.config(t))
			err := d.PutIfAbsent(t.Context(), "k", []byte("v"))
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("PutIfAbsent: %v, want error %v", err, tc.wantErr)
			}
			if errors.Is(err, blob.ErrExists) {
				t.Errorf("PutIfAbsent: %v, a conflict is not ErrExists", err)
			}
		})
	}
}

// TestServerErrors checks that errors other than missing and taken keys pass
// through and do not look like sentinels.
func TestServerErrors(t *testing.T) {
	var deny atomic.Bool
	f := newFake(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if deny.Load() {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>denied</Message></Error>`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	d := open(t, f.config(t))
	deny.Store(true)
	ctx := t.Context()
	_, getErr := d.Get(ctx, "k")
	_, statErr := d.Stat(ctx, "k")
	var listErr error
	for _, err := range d.List(ctx, "") {
		listErr = err
	}
	for name, err := range map[string]error{
		"Put":         d.Put(ctx, "k", nil),
		"PutIfAbsent": d.PutIfAbsent(ctx, "k", nil),
		"Get":         getErr,
		"Stat":        statErr,
		"List":        listErr,
		"Delete":      d.Delete(ctx, "k"),
	} {
		if err == nil || errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrExists) {
			t.Errorf("%s against a denying server: %v, want an access error", name, err)
		}
	}
}

func TestClosedDriver(t *testing.T) {
	d := open(t, newFake(t, nil).config(t))
	for range 2 {
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	ctx := t.Context()
	_, err := d.Get(ctx, "k")
	if !errors.Is(err, blob.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := d.Put(ctx, "k", nil); !errors.Is(err, blob.ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
}

// TestPutIfAbsentConditional checks that the conditional upload alone refuses a
// taken key: the server here answers every existence check with 404, as happens
// when a racer writes between the check and the upload.
func TestPutIfAbsentConditional(t *testing.T) {
	var hideObjects atomic.Bool
	f := newFake(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hideObjects.Load() && r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	d := open(t, f.config(t))
	ctx := t.Context()
	if err := d.Put(ctx, "manifest", []byte("first")); err != nil {
		t.Fatal(err)
	}
	hideObjects.Store(true)
	if err := d.PutIfAbsent(ctx, "manifest", []byte("second")); !errors.Is(err, blob.ErrExists) {
		t.Errorf("PutIfAbsent on a taken key past the check: %v, want ErrExists", err)
	}
	got, err := d.Get(ctx, "manifest")
	if err != nil || string(got) != "first" {
		t.Errorf("Get = %q, %v; want %q", got, err, "first")
	}
}
