package graphvault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/meta"
)

const targetsRepl = "/api/backup/replication"

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// targetCall sends a JSON request to srv and returns the status, content type
// and body.
func targetCall(t *testing.T, srv *httptest.Server, method, path string, body any) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestTargetsStayInAllowedPlaces: file targets outside the allowed root (by
// default targets/ in the data folder), through links or "..", at the data
// folder or the bucket, and http targets outside the allowed hosts are refused
// with problem+json, and nothing is stored or written.
func TestTargetsStayInAllowedPlaces(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	outside := filepath.Join(dir, "outside")
	if err := os.MkdirAll(filepath.Join(data, "targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(data, "targets", "escape")); err != nil {
		t.Fatal(err)
	}
	v := openVault(t, graphvault.Config{Data: data, Demo: true, TargetHosts: []string{"replica.example:9621"}})
	srv := serveVault(t, v.Handler())
	for _, body := range []map[string]any{
		{"name": "root", "kind": "file", "path": "/"},
		{"name": "etc", "kind": "file", "path": "/etc"},
		{"name": "proc", "kind": "file", "path": "/proc/self"},
		{"name": "shm", "kind": "file", "path": "/dev/shm/x"},
		{"name": "link", "kind": "file", "path": filepath.Join(data, "targets", "escape")},
		{"name": "dotdot", "kind": "file", "path": filepath.Join(data, "targets") + "/../../outside"},
		{"name": "data", "kind": "file", "path": data},
		{"name": "bucket", "kind": "file", "path": filepath.Join(data, "bucket")},
		{"name": "in-bucket", "kind": "file", "path": filepath.Join(data, "bucket", "manifests")},
		{"name": "host", "kind": "http", "base_url": "http://127.0.0.1:9621/api/backup/replication/receive", "token": "t"},
		{"name": "s3host", "kind": "s3", "endpoint": "169.254.169.254", "bucket": "bkt"},
	} {
		code, ctype, b := targetCall(t, srv, "POST", targetsRepl+"/targets?verify=true", body)
		if (code != http.StatusUnprocessableEntity && code != http.StatusBadRequest) || !strings.HasPrefix(ctype, "application/problem+json") {
			t.Errorf("%v: %d %s %s", body, code, ctype, b)
		}
	}
	ts, err := v.Replication().List(t.Context())
	if err != nil || len(ts) != 0 {
		t.Fatalf("refused targets were stored: %v %v", ts, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a refused target wrote outside the root: %v", entries)
	}
	code, _, b := targetCall(t, srv, "POST", targetsRepl+"/targets?verify=true",
		map[string]any{"name": "ok", "kind": "file", "path": filepath.Join(data, "targets", "copy1")})
	if code != http.StatusCreated {
		t.Fatalf("a target under the default root: %d %s", code, b)
	}
}

// TestTargetErrorsAreClassified: a target at a service that answers errors with
// a marker is checked and replicated to; the marker is in no answer and no log
// line (text and JSON handlers), and last_error holds the status only.
func TestTargetErrorsAreClassified(t *testing.T) {
	const marker = "ROOTmarkerFromInternalService4411"
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-minio-error-desc", marker)
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `<Error><Code>`+marker+`</Code><Message>`+marker+`</Message></Error>`+strings.Repeat(marker, 30))
	}))
	defer internal.Close()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewMultiHandler(slog.NewTextHandler(logs, nil), slog.NewJSONHandler(logs, nil)))
	v := openVault(t, graphvault.Config{Demo: true, Logger: log})
	srv := serveVault(t, v.Handler())
	var answers []string
	for _, body := range []map[string]any{
		{"name": "s3", "kind": "s3", "endpoint": internal.URL, "bucket": "bkt", "access_key": "ak", "secret_key": "sk"},
		{"name": "http", "kind": "http", "base_url": internal.URL, "token": "tok"},
	} {
		code, _, b := targetCall(t, srv, "POST", targetsRepl+"/targets?verify=true", body)
		answers = append(answers, b)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("verify of %s: %d %s", body["name"], code, b)
		}
		code, _, b = targetCall(t, srv, "POST", targetsRepl+"/targets", body)
		if code != http.StatusCreated {
			t.Fatalf("register %s: %d %s", body["name"], code, b)
		}
		var tg struct{ ID string }
		json.Unmarshal([]byte(b), &tg)
		_, _, b = targetCall(t, srv, "POST", targetsRepl+"/targets/"+tg.ID+"/check", nil)
		answers = append(answers, b)
		if !strings.Contains(b, "status 500") {
			t.Errorf("check of %s does not name the status: %s", body["name"], b)
		}
	}
	code, _, b := targetCall(t, srv, "POST", "/api/backup/backup/graphs/graph1/snapshots?wait=true", map[string]any{})
	if code != http.StatusCreated {
		t.Fatalf("snapshot: %d %s", code, b)
	}
	var snap struct{ ID string }
	json.Unmarshal([]byte(b), &snap)
	_, _, b = targetCall(t, srv, "POST", targetsRepl+"/replicate?wait=true", map[string]any{"snapshot_id": snap.ID})
	answers = append(answers, b)
	_, _, b = targetCall(t, srv, "POST", targetsRepl+"/failover?wait=true", map[string]any{"graph_id": "graph1"})
	answers = append(answers, b)
	for _, p := range []string{"/targets", "/status", "/events"} {
		_, _, b := targetCall(t, srv, "GET", targetsRepl+p, nil)
		answers = append(answers, b)
	}
	for i, a := range answers {
		if strings.Contains(a, marker) {
			t.Errorf("answer %d reflects the remote body: %s", i, a)
		}
	}
	if strings.Contains(logs.String(), marker) {
		t.Errorf("the log reflects the remote body:\n%s", logs)
	}
}

// TestTargetSecretsSealedAtRest: secrets are sealed in the database under the key
// file made in the data folder; plain rows are sealed at start; a Vault given
// another key refuses to open with ErrSecretKey in one line; a rotation re-seals.
func TestTargetSecretsSealedAtRest(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	dbPath := filepath.Join(data, "graphvault.db")
	rawSecrets := func() string {
		t.Helper()
		st, err := meta.Open(ctx, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var vals []string
		if err := st.DB().NewSelect().Table("graphvault_targets").Column("secret").Scan(ctx, &vals); err != nil {
			t.Fatal(err)
		}
		return strings.Join(vals, "\n")
	}
	// A row written plain, as before secrets were sealed.
	st, err := meta.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTarget(ctx, &meta.Target{Name: "old", Kind: meta.TargetHTTP,
		Config: map[string]string{"base_url": "http://replica.example"}, Secret: "PLAIN-old-token"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	v, err := graphvault.Open(ctx, graphvault.Config{Data: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveVault(t, v.Handler())
	code, _, b := targetCall(t, srv, "POST", targetsRepl+"/targets", map[string]any{"name": "s3", "kind": "s3",
		"endpoint": "s3.example", "bucket": "bkt", "access_key": "ak", "secret_key": "PLAIN-s3-secret"})
	if code != http.StatusCreated || strings.Contains(b, "PLAIN") {
		t.Fatalf("register: %d %s", code, b)
	}
	if err := v.Close(ctx); err != nil {
		t.Fatal(err)
	}
	raw := rawSecrets()
	if strings.Contains(raw, "PLAIN") || strings.Count(raw, "gv1:") != 2 {
		t.Fatalf("secrets at rest:\n%s", raw)
	}
	fi, err := os.Stat(filepath.Join(data, graphvault.SecretKeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}

	// Another key cannot open them: the Vault refuses to start, in one line.
	other, _ := graphvault.NewSecretKey()
	_, err = graphvault.Open(ctx, graphvault.Config{Data: data, SecretKey: other, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, graphvault.ErrSecretKey) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("open with another key: %v", err)
	}
	if rawSecrets() != raw {
		t.Fatal("a Vault with the wrong key changed the rows")
	}

	// A rotation re-seals under the new key, which the key file then holds.
	v, err = graphvault.Open(ctx, graphvault.Config{Data: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RotateSecretKey(ctx, other); err != nil {
		t.Fatal(err)
	}
	ts, err := v.Replication().List(ctx)
	if err != nil || len(ts) != 2 || ts[0].Secret != "PLAIN-old-token" || ts[1].Secret != "PLAIN-s3-secret" {
		t.Fatalf("after the rotation: %v %v", ts, err)
	}
	v.Close(ctx)
	if rawSecrets() == raw {
		t.Error("the rotation did not re-seal the rows")
	}
	v, err = graphvault.Open(ctx, graphvault.Config{Data: data, SecretKey: other, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open with the new key: %v", err)
	}
	v.Close(ctx)
}
