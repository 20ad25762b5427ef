package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
)

// TestPlacesFromFlagsAndEnvironment: -store, -bucket and -instance put things
// where they say, the environment fills what no flag gives, and the server says
// where they are.
func TestPlacesFromFlagsAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"GRAPHVAULT_BUCKET": filepath.Join(dir, "env-bucket"), "GRAPHVAULT_LEASE_TTL": "2s"}
	o, err := parseFlags([]string{"-store", "file:" + filepath.Join(dir, "m.db"), "-instance", "node-a"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Bucket != env["GRAPHVAULT_BUCKET"] || o.cfg.Instance != "node-a" || o.cfg.LeaseTTL != 2*time.Second || o.shutdown != 30*time.Second {
		t.Fatalf("parsed %+v, shutdown %v", o.cfg, o.shutdown)
	}
	if _, err := parseFlags([]string{"-shutdown-timeout", "-1s"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("a negative -shutdown-timeout was accepted")
	}
	if _, err := parseFlags(nil, func(k string) string { return map[string]string{"GRAPHVAULT_LEASE_TTL": "soon"}[k] }, io.Discard); err == nil {
		t.Fatal("GRAPHVAULT_LEASE_TTL=soon was accepted")
	}

	// The server runs on them and stops when its context ends (as on SIGTERM),
	// returning nil: the process exits 0.
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-store", "file:" + filepath.Join(dir, "m.db"),
			"-instance", "node-a", "-every", "0", "-shutdown-timeout", "5s"}, &out, func(k string) string { return env[k] })
	}()
	for !strings.Contains(out.String(), "dashboard:") {
		select {
		case err := <-done:
			t.Fatalf("the server stopped: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, want := range []string{"store:       file:" + filepath.Join(dir, "m.db"), "bucket:      " + env["GRAPHVAULT_BUCKET"], "instance:    node-a"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the server does not say %q:\n%s", want, out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop: %v, want nil (exit 0)", err)
	}
	for _, p := range []string{filepath.Join(dir, "m.db"), env["GRAPHVAULT_BUCKET"]} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("nothing at %s: %v", p, err)
		}
	}
}

// TestUnreachableStoreIsOneLine: a store nobody answers at stops the start with
// one line naming -store.
func TestUnreachableStoreIsOneLine(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-store", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"},
		io.Discard, func(string) string { return "" })
	if !errors.Is(err, graphvault.ErrStore) {
		t.Fatalf("got %v, want ErrStore", err)
	}
	if msg := explain(err); strings.Contains(msg, "\n") || !strings.Contains(msg, "-store") {
		t.Fatalf("message %q is not one line naming -store", msg)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
