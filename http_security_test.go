package graphvault_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
)

// badText marks where a test puts text that is not valid UTF-8 into a JSON
// document: it is marshalled as a string and then replaced in the bytes.
const badText = "@@bad-text@@"

// notText are what replaces badText: a byte that starts no UTF-8 sequence, a
// sequence cut short, an encoded surrogate, and an escaped lone surrogate, all of
// which encoding/json would silently decode into U+FFFD.
var notText = map[string]string{
	"byte 0xff":          "\xff",
	"cut sequence":       "\xe2\x82",
	"encoded surrogate":  "\xed\xa0\x80",
	"escaped surrogate":  `\ud800`,
	"reversed surrogate": `\udc00\ud800`,
}

// freeText are bodies whose strings are free text the server stores and answers
// as given (names, descriptions, labels, properties): before the text was checked
// these were stored with U+FFFD, and a PATCH answered 200.
func (s *secServer) freeText() map[string]any {
	return map[string]any{
		"POST " + repl + "/targets":             map[string]any{"name": "named " + badText, "kind": "file", "path": filepath.Join(s.outer, "new-target")},
		"PATCH " + repl + "/targets/{id}":       map[string]any{"name": "renamed " + badText},
		"POST " + rec + "/checkpoints":          map[string]any{"graph_ids": []string{graphvault.DemoGraph}, "description": "before " + badText},
		"POST " + bk + "/graphs/{id}/snapshots": map[string]any{"labels": map[string]string{"note": badText}},
		"POST " + bk + "/graphs/{id}/changes": map[string]any{"upsert_nodes": []map[string]any{
			{"id": "text-node", "labels": []string{"Label" + badText}, "props": map[string]any{"description": badText}}}},
	}
}

// TestInvalidTextChangesNothing walks every operation of openapi.yaml and puts
// text that is not valid UTF-8 into each of its path parameters, its query
// parameters and its JSON body (into a string value, a field name, and the free
// text the server stores): every request answers 400 problem+json saying so, and
// the server's state (rows, objects, files, graphs) and its lists of graphs and
// snapshots are what they were.
func TestInvalidTextChangesNothing(t *testing.T) {
	s := newSecServer(t)
	before, beforeLists := s.state(), s.lists()
	free := s.freeText()
	sent := 0
	for _, o := range s.operations() {
		key := o.method + " " + o.path
		names := params(o.path)
		values := map[string]string{}
		for _, p := range names {
			values[p] = s.valid(o.path, p)
		}
		path := fill(o.path, values, false)
		body := s.validBody(o)
		ct := contentType(o, body)
		var bodies []string // descriptions, for the checks below
		send := func(desc, path string, body []byte) {
			t.Helper()
			sent++
			status, h, b := s.send(o.method, path, "Bearer "+testToken, ct, body)
			if status != http.StatusBadRequest {
				t.Errorf("%s with %s: %d, want 400: %s", key, desc, status, clip(b))
				return
			}
			if o.op.Responses.Status(status) == nil {
				t.Errorf("%s answers 400, which the document does not list", key)
			}
			if o.method == http.MethodHead {
				return
			}
			if err := isProblem(status, h, b); err != nil {
				t.Errorf("%s with %s: %v", key, desc, err)
			}
			var p struct{ Detail string }
			json.Unmarshal(b, &p)
			if !strings.Contains(p.Detail, "UTF-8") && !strings.Contains(p.Detail, "surrogate") {
				t.Errorf("%s with %s: refused for another reason: %q", key, desc, p.Detail)
			}
		}

		for _, p := range names {
			vs := maps(values)
			vs[p] = "a\xffb"
			send(fmt.Sprintf("{%s} not UTF-8", p), fill(o.path, vs, false), body)
		}
		for _, prm := range o.op.Parameters {
			if prm.Value != nil && prm.Value.In == "query" {
				send(fmt.Sprintf("query %s not UTF-8", prm.Value.Name), path+"?"+url.QueryEscape(prm.Value.Name)+"=%FF", body)
			}
		}
		if body == nil {
			continue
		}
		if ct != "application/json" {
			// The receiver's objects: those that are JSON documents are text too.
			if strings.HasSuffix(o.path, "/keys/{file}") || strings.Contains(o.path, "/manifests/") {
				// A manifest of a graph this server serves is refused whatever it holds.
				vs := maps(values)
				vs["graph"] = "received-graph"
				send("a JSON object not UTF-8", fill(o.path, vs, false), []byte("{\"k\":\"\xff\"}"))
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: valid body %s: %v", key, body, err)
		}
		variants := map[string]any{}
		if v, ok := markFirstString(m); ok {
			variants["a string value"] = v
		}
		withKey := maps(m)
		withKey["field"+badText] = "x"
		variants["a field name"] = withKey
		if v, ok := free[key]; ok {
			variants["free text"] = v
			delete(free, key)
		}
		for what, v := range variants {
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			for name, bad := range notText {
				send(what+" with "+name, path, []byte(strings.ReplaceAll(string(raw), badText, bad)))
				bodies = append(bodies, what)
			}
		}
		if len(bodies) == 0 {
			t.Errorf("%s takes a JSON body, but no invalid text was sent in it", key)
		}
	}
	for key := range free {
		t.Errorf("%s has free text but is not in the document", key)
	}
	assertSame(t, before, s.state(), "requests with invalid UTF-8")
	if after := s.lists(); after != beforeLists {
		t.Errorf("the lists of graphs and snapshots changed:\nbefore %s\nafter  %s", beforeLists, after)
	}
	t.Logf("%d requests with invalid UTF-8", sent)
	if sent < 100 {
		t.Errorf("only %d requests", sent)
	}
}

// lists are the server's answers to the lists of graphs and of the demo graph's
// snapshots.
func (s *secServer) lists() string {
	s.t.Helper()
	return string(s.must("GET", bk+"/graphs", nil, 200)) + string(s.must("GET", bk+"/graphs/graph1/snapshots?limit=1000", nil, 200))
}

func maps[V any](m map[string]V) map[string]V {
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// markFirstString returns a copy of v with badText appended to its first string
// (in key order, depth first), and whether it has one.
func markFirstString(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return x + badText, true
	case []any:
		for i, e := range x {
			if m, ok := markFirstString(e); ok {
				c := slices.Clone(x)
				c[i] = m
				return c, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if m, ok := markFirstString(x[k]); ok {
				c := maps(x)
				c[k] = m
				return c, true
			}
		}
	}
	return v, false
}

// TestRouterAnswersProblems: what no route serves is a problem too, at the root as
// under each handler: an unknown path 404, a known path with another method 405
// with Allow, and a path that is not clean (empty, "." or ".." segments, also
// percent-encoded) 400, never a redirect; a refused mutation changes nothing.
func TestRouterAnswersProblems(t *testing.T) {
	s := newSecServer(t)
	before := s.state()
	// noToken is the status without a token where it differs: a handler asks for
	// the token of a change before it looks for the route.
	tests := []struct {
		method, path string
		want         int
		allow        string
		noToken      int
	}{
		{"GET", "/nothing", 404, "", 0},
		{"GET", "/api", 404, "", 0},
		{"GET", "/api/", 404, "", 0},
		{"POST", "/api/nothing", 404, "", 0},
		{"GET", "/api/backup", 404, "", 0},
		{"GET", "/api/backup/backup", 404, "", 0}, // a mount without its slash: was a redirect
		{"POST", "/api/backup/backup", 404, "", 0},
		{"GET", "/api/monitoring", 404, "", 0},
		{"GET", "/api/backup/backup/", 404, "", 0},
		{"GET", "/api/backup/backup/nothing", 404, "", 0},
		{"GET", "/api/monitoring/health/", 404, "", 0},
		{"POST", "/api/backup/recovery/checkpoints/", 404, "", 401},
		{"DELETE", "/", 405, "GET, HEAD", 0},
		{"POST", "/api/openapi.yaml", 405, "GET, HEAD", 0},
		{"PUT", "/api/backup/backup/graphs/graph1/changes", 405, "POST", 401},
		{"GET", "/api/backup/backup/graphs/graph1/changes", 405, "POST", 0},
		{"DELETE", "/api/monitoring/health", 405, "GET, HEAD", 401},
		{"PUT", "/api/backup/replication/targets", 405, "GET, HEAD, POST", 401},
		{"GET", "//api/monitoring/health", 400, "", 0},
		{"GET", "/api//monitoring/health", 400, "", 0},
		{"GET", "/api/monitoring//health", 400, "", 0},
		{"GET", "/api/monitoring/./health", 400, "", 0},
		{"GET", "/api/monitoring/x/../health", 400, "", 0},
		{"GET", "/api/monitoring/health/.", 400, "", 0},
		{"GET", "/api/monitoring/%2e%2e/monitoring/health", 400, "", 0},
		{"GET", "/api/./openapi.yaml", 400, "", 0},
		{"GET", "/api/../api/openapi.yaml", 400, "", 0},
		{"POST", "/api/backup/backup/graphs/graph1/../graph1/snapshots?wait=true", 400, "", 0},
		{"POST", "/api/backup/backup//graphs/graph1/snapshots?wait=true", 400, "", 0},
		{"DELETE", "/api/backup/replication/targets/./" + s.fileTarget, 400, "", 0},
	}
	for _, tt := range tests {
		for _, auth := range []string{"", "Bearer " + testToken} {
			status, h, b := s.send(tt.method, tt.path, auth, "application/json", []byte(`{}`))
			desc := fmt.Sprintf("%s %s (token %v)", tt.method, tt.path, auth != "")
			want := tt.want
			if auth == "" && tt.noToken != 0 {
				want = tt.noToken
			}
			if status != want {
				t.Errorf("%s: %d, want %d: %s", desc, status, want, clip(b))
				continue
			}
			if err := isProblem(status, h, b); err != nil {
				t.Errorf("%s: %v", desc, err)
			}
			if loc := h.Get("Location"); loc != "" {
				t.Errorf("%s: Location %q", desc, loc)
			}
			if want == http.StatusMethodNotAllowed && h.Get("Allow") != tt.allow {
				t.Errorf("%s: Allow %q, want %q", desc, h.Get("Allow"), tt.allow)
			}
		}
	}
	assertSame(t, before, s.state(), "requests no route serves")
}

// TestStorageFailures: a snapshot into a bucket that is full answers 507 and one
// into a bucket on read-only or refused storage 503, with a problem that names the
// cause and no path, as the answer to the request (wait) and as the operation's
// error; the snapshot's row keeps the whole cause. The faults are injected into the
// bucket's driver as the operating system reports them (a *fs.PathError around an
// errno); a folder made read-only is tried too where permissions are enforced.
func TestStorageFailures(t *testing.T) {
	dir := t.TempDir()
	var fd *faultblob.Driver
	cfg := graphvault.WrapBucket(graphvault.Config{Data: dir, Demo: true, Token: testToken},
		func(d blob.Driver) blob.Driver { fd = faultblob.New(d); return fd })
	v := openVault(t, cfg)
	srv := serveVault(t, v.Handler())
	c := newAPIClient(t, srv.URL)
	object := filepath.Join(dir, "bucket", "data", "ab", "object.tmp")
	tests := []struct {
		name   string
		errno  syscall.Errno
		want   int
		detail string
	}{
		{"disk full", syscall.ENOSPC, http.StatusInsufficientStorage, "full"},
		{"read-only file system", syscall.EROFS, http.StatusServiceUnavailable, "read-only"},
		{"permission denied", syscall.EACCES, http.StatusServiceUnavailable, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			remove := fd.Inject(faultblob.Rule{Ops: faultblob.OpWrite, Err: &fs.PathError{Op: "open", Path: object, Err: tt.errno}})
			defer remove()
			a := c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true", body: map[string]any{"kind": "full"}}, tt.want)
			checkStorageProblem(t, a.header, a.body, tt.want, tt.detail, dir)
			checkFailedRow(t, c, tt.errno)

			a = c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots", body: map[string]any{"kind": "full"}}, http.StatusAccepted)
			st := awaitFailed(t, c, a)
			b, _ := json.Marshal(st.Error)
			if st.Error == nil || st.Error.Status != tt.want {
				t.Fatalf("the operation failed with %s, want status %d", b, tt.want)
			}
			if !strings.Contains(st.Error.Detail, tt.detail) || strings.Contains(string(b), dir) {
				t.Errorf("the operation's error %s does not name the cause (%q) or names a path", b, tt.detail)
			}
			checkFailedRow(t, c, tt.errno)
		})
	}
	c.t = t

	t.Run("read-only folder", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("permissions are not enforced for root; the injected EACCES and EROFS above stand for it")
		}
		c.t = t
		bucket := filepath.Join(dir, "bucket")
		var dirs []string
		filepath.WalkDir(bucket, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, d := range dirs {
			if err := os.Chmod(d, 0o555); err != nil {
				t.Fatal(err)
			}
		}
		defer func() {
			for _, d := range dirs {
				os.Chmod(d, 0o755)
			}
		}()
		a := c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true", body: map[string]any{"kind": "full"}}, http.StatusServiceUnavailable)
		checkStorageProblem(t, a.header, a.body, http.StatusServiceUnavailable, "permission denied", dir)
	})
}

func checkStorageProblem(t *testing.T, h http.Header, body []byte, want int, detail, dir string) {
	t.Helper()
	if err := isProblem(want, h, body); err != nil {
		t.Error(err)
	}
	var p struct{ Detail string }
	json.Unmarshal(body, &p)
	if !strings.Contains(p.Detail, detail) {
		t.Errorf("detail %q does not name the cause (%q)", p.Detail, detail)
	}
	if strings.Contains(string(body), dir) || strings.Contains(string(body), "bucket") {
		t.Errorf("the answer names a path: %s", body)
	}
}

// checkFailedRow: the newest snapshot of graph1 failed, and its row says why.
func checkFailedRow(t *testing.T, c *apiClient, errno syscall.Errno) {
	t.Helper()
	var page struct {
		Items []struct {
			Status, Error string
		}
	}
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?limit=1"}, 200).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Status != "failed" || !strings.Contains(page.Items[0].Error, errno.Error()) {
		t.Errorf("the newest snapshot is %+v, want failed with %q", page.Items, errno.Error())
	}
}

type operationAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  *struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	} `json:"error"`
}

// awaitFailed polls the operation a 202 answer names until it ends, and fails the
// test unless it failed.
func awaitFailed(t *testing.T, c *apiClient, a answer) operationAnswer {
	t.Helper()
	var op operationAnswer
	a.decode(t, &op)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.do(req{method: "GET", path: bk + "/operations/" + op.ID}, 200).decode(t, &op)
		if op.Status == "failed" {
			return op
		}
		if op.Status != "running" {
			t.Fatalf("operation %s: %s, want failed", op.ID, op.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still running", op.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
