package replication

import (
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

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

const marker = "MARKERbodyFromInternalService7731"

// markerServer answers every request with an error whose body, headers and S3
// error fields carry the marker.
func markerServer(t *testing.T, status int, xmlBody bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-minio-error-desc", marker)
		if xmlBody {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+marker+`</Code><Message>`+marker+`</Message><Resource>/`+marker+`</Resource><RequestId>`+marker+`</RequestId></Error>`)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		io.WriteString(w, `{"title":"`+marker+`","detail":"`+marker+`","status":500} `+strings.Repeat(marker, 20))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTargetErrorsDoNotReflect registers s3 and http targets at a service that
// answers errors with a marker, and checks that the marker reaches no answer,
// last_error, event or log line (text and JSON), while the status stays known.
func TestTargetErrorsDoNotReflect(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewMultiHandler(
		slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	h := newHarness(t, harnessOpts{nodes: 50, edges: 80, service: []Option{WithLogger(logger)}})
	snap := h.snapshot(backup.KindFull)
	hd := NewHandler(h.svc, api.Options{Logger: logger})

	var answers []string
	call := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		answers = append(answers, rec.Body.String())
		return rec
	}
	cases := []struct {
		name, body string
	}{
		{"s3-xml", `{"name":"s3-xml","kind":"s3","endpoint":"%s","bucket":"bkt","access_key":"ak","secret_key":"sk"}`},
		{"s3-text", `{"name":"s3-text","kind":"s3","endpoint":"%s","bucket":"bkt"}`},
		{"http", `{"name":"http","kind":"http","base_url":"%s","token":"tok"}`},
	}
	for i, c := range cases {
		srv := markerServer(t, []int{403, 500, 502}[i], c.name == "s3-xml")
		body := strings.Replace(c.body, "%s", srv.URL, 1)
		// Registering with verify fails on the probe: the answer must not reflect.
		if rec := call("POST", "/targets?verify=true", body); rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: register with verify: status %d, want 422: %s", c.name, rec.Code, rec.Body)
		}
		rec := call("POST", "/targets", body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("%s: register: status %d: %s", c.name, rec.Code, rec.Body)
		}
		var tg meta.Target
		json.Unmarshal(rec.Body.Bytes(), &tg)
		rec = call("POST", "/targets/"+tg.ID+"/check", "")
		var res CheckResult
		json.Unmarshal(rec.Body.Bytes(), &res)
		if res.Health != HealthUnreachable || !strings.Contains(res.Error, "status") {
			t.Errorf("%s: check = %+v, want unreachable with a status", c.name, res)
		}
		call("POST", "/replicate?wait=true", `{"snapshot_id":"`+snap.ID+`","target_id":"`+tg.ID+`"}`)
		row, err := h.store.GetTarget(h.ctx, tg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row.LastError, marker) || row.LastError == "" {
			t.Errorf("%s: last_error = %q", c.name, row.LastError)
		}
	}
	fr, err := h.svc.Failover(h.ctx, snap.GraphID, memgraph.New(), FailoverOptions{})
	if err != nil {
		answers = append(answers, err.Error())
	}
	b, _ := json.Marshal(fr)
	answers = append(answers, string(b))
	call("POST", "/failover?wait=true", `{"graph_id":"`+snap.GraphID+`"}`)
	call("GET", "/targets", "")
	call("GET", "/status", "")
	call("GET", "/events", "")
	for i, a := range answers {
		if strings.Contains(a, marker) {
			t.Errorf("answer %d reflects the remote body: %s", i, a)
		}
	}
	if strings.Contains(logs.String(), marker) {
		t.Errorf("the log reflects the remote body:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "status 403") {
		t.Errorf("the log does not name the status:\n%s", logs)
	}
}

// TestTargetErrorClasses checks the classified form of network errors.
func TestTargetErrorClasses(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	tg, err := h.svc.Register(h.ctx, TargetSpec{Name: "gone", Kind: KindHTTP, Config: map[string]string{"base_url": url}, Secret: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Check(h.ctx, tg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Error, "network error: refused") || strings.Contains(res.Error, "127.0.0.1") {
		t.Errorf("check error = %q, want the refused class without the address", res.Error)
	}
}

// TestHTTPTargetNeverFollowsRedirect: the token must not go on to where a
// redirect points, even on the same host.
func TestHTTPTargetNeverFollowsRedirect(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer sink.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sink.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	tg, err := h.svc.Register(h.ctx, TargetSpec{Name: "r", Kind: KindHTTP, Config: map[string]string{"base_url": redirector.URL}, Secret: "the-token"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Check(h.ctx, tg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Health != HealthUnreachable || !strings.Contains(res.Error, "status 307") {
		t.Errorf("check = %+v, want unreachable with status 307", res)
	}
	h.svc.Replicate(h.ctx, h.snapshot(backup.KindFull).ID, ReplicateOptions{TargetID: tg.ID})
	// An s3 target does not follow one either (its requests are signed with the
	// secret key).
	s3, err := h.svc.Register(h.ctx, TargetSpec{Name: "s3", Kind: KindS3,
		Config: map[string]string{"endpoint": redirector.URL, "bucket": "bkt", "access_key": "ak"}, Secret: "the-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.svc.Check(h.ctx, s3.ID); err != nil || res.Health != HealthUnreachable {
		t.Errorf("s3 check = %+v, %v; want unreachable", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the redirect was followed %d times (Authorization %q)", len(leaked), leaked[0])
	}
}

// TestFileTargetRoots refuses file targets outside the allowed root, through
// links, "..", and at the service's own data, and stores nothing.
func TestFileTargetRoots(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "data", "targets")
	bucket := filepath.Join(base, "data", "bucket")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, bucket, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "nowhere"), filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bucket, filepath.Join(root, "tobucket")); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10, service: []Option{
		WithBucketOpener(nil), WithTargetRoots(root), WithProtectedPaths(bucket)}})
	refused := map[string]string{
		"root of the file system":  "/",
		"etc":                      "/etc",
		"proc self":                "/proc/self",
		"link out of the root":     filepath.Join(root, "escape"),
		"below a link out":         filepath.Join(root, "escape", "x"),
		"dangling link":            filepath.Join(root, "dangling", "x"),
		"dot dot out":              filepath.Join(root, "..", "..", "outside"),
		"dot dot raw":              root + "/a/../../../outside",
		"link then dot dot":        root + "/escape/../../../etc",
		"data folder":              filepath.Join(base, "data"),
		"bucket":                   bucket,
		"inside the bucket":        filepath.Join(bucket, "x"),
		"link to the bucket":       filepath.Join(root, "tobucket"),
		"outside, not yet created": filepath.Join(base, "elsewhere", "new"),
	}
	for name, p := range refused {
		_, err := h.svc.Register(h.ctx, TargetSpec{Name: strings.ReplaceAll(name, " ", "-"), Kind: KindFile, Config: map[string]string{"path": p}, Verify: true})
		if !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s (%s): err = %v, want ErrNotAllowed", name, p, err)
		}
	}
	if ts, _ := h.svc.List(h.ctx); len(ts) != 0 {
		t.Fatalf("refused targets were stored: %v", ts)
	}
	if _, err := os.Stat(filepath.Join(outside, "manifests")); err == nil {
		t.Error("a refused target was written")
	}
	ok, err := h.svc.Register(h.ctx, TargetSpec{Name: "ok", Kind: KindFile, Config: map[string]string{"path": filepath.Join(root, "replica")}, Verify: true})
	if err != nil {
		t.Fatalf("a target under the root: %v", err)
	}
	// A change that leads out is refused and leaves the target as it was.
	if _, err := h.svc.Update(h.ctx, ok.ID, TargetPatch{Config: map[string]string{"path": "/etc"}}); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("update to /etc: err = %v, want ErrNotAllowed", err)
	}
	// A link put in place after registration is found when the target is opened.
	if err := os.Symlink(outside, filepath.Join(root, "later")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "later"))
	later, err := h.svc.Register(h.ctx, TargetSpec{Name: "later", Kind: KindFile, Config: map[string]string{"path": filepath.Join(root, "later")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "later")); err != nil {
		t.Fatal(err)
	}
	if res, err := h.svc.Check(h.ctx, later.ID); err != nil || res.Health != HealthUnreachable {
		t.Errorf("check through a later link = %+v, %v; want unreachable", res, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "manifests")); err == nil {
		t.Error("a target was written through a later link")
	}

	// Over HTTP the refusal is 422 problem+json.
	hd := NewHandler(h.svc, api.Options{})
	req := httptest.NewRequest("POST", "/targets", strings.NewReader(`{"name":"etc","kind":"file","path":"/etc"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	hd.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnprocessableEntity || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Errorf("POST /targets /etc: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// TestTargetHosts limits http and s3 targets to the allowed hosts.
func TestTargetHosts(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10, service: []Option{WithTargetHosts("replica.example:9000", "Other.Example")}})
	cases := []struct {
		kind   string
		cfg    map[string]string
		secret string
		ok     bool
	}{
		{KindHTTP, map[string]string{"base_url": "http://replica.example:9000/api"}, "t", true},
		{KindHTTP, map[string]string{"base_url": "http://replica.example:9001/api"}, "t", false},
		{KindHTTP, map[string]string{"base_url": "http://replica.example/api"}, "t", false},
		{KindHTTP, map[string]string{"base_url": "https://other.example./api"}, "t", true},
		{KindHTTP, map[string]string{"base_url": "http://127.0.0.1:9000/api"}, "t", false},
		{KindHTTP, map[string]string{"base_url": "http://169.254.169.254/"}, "t", false},
		{KindS3, map[string]string{"endpoint": "replica.example:9000", "bucket": "b"}, "", true},
		{KindS3, map[string]string{"endpoint": "internal:9000", "bucket": "b"}, "", false},
		{KindS3, map[string]string{"endpoint": "https://other.example", "bucket": "b"}, "", true},
		{KindS3, map[string]string{"endpoint": "localhost", "bucket": "b"}, "", false},
	}
	for i, c := range cases {
		_, err := h.svc.Register(h.ctx, TargetSpec{Name: "t" + string(rune('a'+i)), Kind: c.kind, Config: c.cfg, Secret: c.secret})
		if c.ok && err != nil {
			t.Errorf("%v: %v", c.cfg, err)
		}
		if !c.ok && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%v: err = %v, want ErrNotAllowed", c.cfg, err)
		}
	}
	for _, bad := range []string{"", "a/b", "host:0", "host:x", "user@host"} {
		if _, err := New(h.engine, WithTargetHosts(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("WithTargetHosts(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}
