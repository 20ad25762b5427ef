package graphvault_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/store/meta"
)

// The secrets the security test configures and then looks for everywhere. The
// server's tokens are testToken and testReadToken, shared with TestOpenAPI's
// exercises.
const (
	secS3Secret  = "s3SecretKeyDoNotLeak7f3a9c"
	secHTTPToken = "httpApiKeyDoNotLeak5b2e81"
)

// recorder keeps every answer the server gives, headers and body.
type recorder struct {
	mu      sync.Mutex
	answers []recorded
}

type recorded struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &recordingWriter{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.answers = append(rec.answers, recorded{method: r.Method, path: r.URL.RequestURI(), status: rw.status,
			header: w.Header().Clone(), body: bytes.Clone(rw.body.Bytes())})
	})
}

// syncBuffer is a log destination safe for concurrent writers.
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

// secServer is a whole Vault, served, with tokens and secrets configured.
type secServer struct {
	t      *testing.T
	v      *graphvault.Vault
	base   string
	rec    *recorder
	logs   *syncBuffer
	doc    *openapi3.T
	client *http.Client
	dir    string // the data folder
	outer  string // the folder holding it and the file target: nothing may appear in it

	// Ids that exist, for the path parameters of valid requests.
	snapshot, checkpoint, fileTarget, s3Target, httpTarget string
	fileTargetDir                                          string
}

func newSecServer(t *testing.T) *secServer {
	t.Helper()
	outer := t.TempDir()
	dir := filepath.Join(outer, "data")
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Started later, in scanSecrets: until then nothing but requests changes state.
	v := openVault(t, graphvault.Config{Data: dir, Demo: true, Token: testToken, ReadToken: testReadToken, Rate: 1e6, Logger: log,
		TargetRoots: []string{filepath.Dir(filepath.Dir(outer))}}) // file targets in any test folder of the temporary directory
	rec := &recorder{}
	srv := serveVault(t, rec.wrap(v.Handler()))
	s := &secServer{t: t, v: v, base: srv.URL, rec: rec, logs: logs, doc: loadOpenAPI(t), dir: dir, outer: outer,
		client: &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.seed()
	return s
}

// send makes one request. auth is the whole Authorization header ("" for none).
func (s *secServer) send(method, path, auth, contentType string, body []byte) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// must sends an authorized JSON request and fails unless the status is want.
func (s *secServer) must(method, path string, body any, want int) []byte {
	s.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			s.t.Fatal(err)
		}
	}
	status, _, b := s.send(method, path, "Bearer "+testToken, "application/json", raw)
	if status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, clip(b))
	}
	return b
}

// seed makes a snapshot, a checkpoint and three targets: a folder, an S3 bucket
// with access and secret keys, and another server's receive endpoint with an
// api_key. The last two cannot be reached and are disabled, so that only explicit
// calls go to them.
func (s *secServer) seed() {
	t := s.t
	var snap struct{ ID string }
	if err := json.Unmarshal(s.must("POST", bk+"/graphs/graph1/snapshots?wait=true", nil, 201), &snap); err != nil {
		t.Fatal(err)
	}
	s.snapshot = snap.ID
	var cp struct{ ID string }
	if err := json.Unmarshal(s.must("POST", rec+"/checkpoints", map[string]any{"graph_ids": []string{"graph1"}}, 201), &cp); err != nil {
		t.Fatal(err)
	}
	s.checkpoint = cp.ID
	s.fileTargetDir = filepath.Join(s.outer, "file-target")
	var tg struct{ ID string }
	json.Unmarshal(s.must("POST", repl+"/targets", map[string]any{"name": "sec-folder", "kind": "file", "path": s.fileTargetDir}, 201), &tg)
	s.fileTarget = tg.ID
	json.Unmarshal(s.must("POST", repl+"/targets", map[string]any{"name": "sec-bucket", "kind": "s3", "enabled": false,
		"endpoint": "127.0.0.1:1", "bucket": "graphs", "access_key": "AKIAEXAMPLEACCESS", "secret_key": secS3Secret}, 201), &tg)
	s.s3Target = tg.ID
	// Another server that refuses everything, as one with a different token would.
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, r, api.ErrUnauthorized)
	}))
	t.Cleanup(peer.Close)
	json.Unmarshal(s.must("POST", repl+"/targets", map[string]any{"name": "sec-peer", "enabled": false,
		"base_url": peer.URL + "/api/backup/replication/receive", "api_key": secHTTPToken}, 201), &tg)
	s.httpTarget = tg.ID
	if s.snapshot == "" || s.checkpoint == "" || s.fileTarget == "" || s.s3Target == "" || s.httpTarget == "" {
		t.Fatalf("seeding left an id empty: %+v", s)
	}
}

// state is everything a request could change: the metadata store's rows, the
// objects in the bucket and the file target, the files anywhere under the test's
// folder, and the demo graph's journal position.
func (s *secServer) state() string {
	s.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	st := s.v.Store()
	f := meta.SnapshotFilter{Limit: 1000}
	for {
		rows, next, err := st.ListSnapshots(ctx, f)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, r := range rows {
			fmt.Fprintf(&b, "snapshot %s %s %s %v\n", r.ID, r.GraphID, r.Status, r.Labels)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	cps, _, err := st.ListCheckpoints(ctx, "", 1000)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, c := range cps {
		fmt.Fprintf(&b, "checkpoint %s %v %v\n", c.ID, c.Graphs, c.Validated)
	}
	targets, err := st.ListTargets(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, tg := range targets {
		fmt.Fprintf(&b, "target %s %q %s %v %v %x\n", tg.ID, tg.Name, tg.Kind, tg.Enabled, tg.Config, sha256.Sum256([]byte(tg.Secret)))
	}
	evs, _, err := st.ListReplicationEvents(ctx, meta.EventFilter{Limit: 1000})
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(&b, "replication events %d\n", len(evs))
	err = filepath.WalkDir(s.outer, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.outer, p)
		if strings.HasPrefix(filepath.Base(p), "graphvault.db") {
			return nil // the store's own files change as it reads; its rows are above
		}
		if d.IsDir() {
			fmt.Fprintf(&b, "dir %s\n", rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "file %s %d\n", rel, info.Size())
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	g, err := s.v.Graphs().Graph(ctx, graphvault.DemoGraph)
	if err != nil {
		s.t.Fatal(err)
	}
	if p, ok := g.(interface{ Position() uint64 }); ok {
		fmt.Fprintf(&b, "graph1 at %d\n", p.Position())
	}
	return b.String()
}

// assertSame fails with the lines that differ between two states.
func assertSame(t *testing.T, before, after, what string) {
	t.Helper()
	if before == after {
		return
	}
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	var diff []string
	for _, l := range a {
		if !slices.Contains(b, l) {
			diff = append(diff, "+ "+l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			diff = append(diff, "- "+l)
		}
	}
	t.Errorf("%s changed the server's state:\n%s", what, strings.Join(diff, "\n"))
}

// operation is one documented "METHOD path" with what the document says of it.
type operation struct {
	method, path string
	op           *openapi3.Operation
}

func (s *secServer) operations() []operation {
	var ops []operation
	for p, item := range s.doc.Paths.Map() {
		for m, op := range item.Operations() {
			ops = append(ops, operation{method: m, path: p, op: op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].method+ops[i].path < ops[j].method+ops[j].path })
	return ops
}

var paramPattern = regexp.MustCompile(`\{([a-z_]+)\}`)

// params returns the names of a path's parameters in order.
func params(path string) []string {
	var out []string
	for _, m := range paramPattern.FindAllStringSubmatch(path, -1) {
		out = append(out, m[1])
	}
	return out
}

// valid returns a value of a path parameter that names something that exists.
func (s *secServer) valid(path, param string) string {
	h := strings.Repeat("ab", 32)
	switch param {
	case "sid", "other":
		return s.snapshot
	case "name":
		return "app.js"
	case "area":
		return "data"
	case "shard":
		return h[:2]
	case "hash":
		return h
	case "file":
		return s.snapshot + ".json"
	case "graph":
		return graphvault.DemoGraph
	case "id":
		switch {
		case strings.Contains(path, "/graphs/"):
			return graphvault.DemoGraph
		case strings.Contains(path, "/checkpoints/"):
			return s.checkpoint
		case strings.Contains(path, "/targets/"):
			return s.fileTarget
		case strings.Contains(path, "/operations/"):
			return strings.Repeat("A", 26)
		}
	}
	s.t.Fatalf("%s: no valid value for path parameter {%s}; teach the security test about it", path, param)
	return ""
}

// fill puts values into a path template; each value is escaped as one segment
// unless raw.
func fill(path string, values map[string]string, raw bool) string {
	return paramPattern.ReplaceAllStringFunc(path, func(m string) string {
		v := values[m[1:len(m)-1]]
		if raw {
			return v
		}
		return url.PathEscape(v)
	})
}

// validBody returns a body the operation accepts, so that a request fails only for
// what is injected; nil for operations that take none.
func (s *secServer) validBody(o operation) []byte {
	var v any
	switch o.method + " " + o.path {
	case "POST " + bk + "/graphs/{id}/prune":
		v = map[string]any{"keep_last": 5, "dry_run": true}
	case "POST " + bk + "/snapshots/{sid}/restore":
		v = map[string]any{"dry_run": true}
	case "POST " + bk + "/gc":
		v = map[string]any{"dry_run": true}
	case "POST " + rec + "/checkpoints":
		v = map[string]any{"graph_ids": []string{graphvault.DemoGraph}}
	case "POST " + rec + "/plan", "POST " + rec + "/restore":
		v = map[string]any{"checkpoint_id": s.checkpoint}
	case "POST " + repl + "/targets":
		v = map[string]any{"name": "new", "kind": "file", "path": filepath.Join(s.outer, "new-target")}
	case "PATCH " + repl + "/targets/{id}":
		v = map[string]any{"enabled": true}
	case "POST " + repl + "/replicate":
		v = map[string]any{"snapshot_id": s.snapshot, "target_id": s.fileTarget}
	case "POST " + repl + "/failover":
		v = map[string]any{"graph_id": graphvault.DemoGraph, "no_journal": true}
	case "POST " + bk + "/graphs/{id}/changes":
		v = map[string]any{"upsert_nodes": []map[string]any{{"id": "security-node"}}}
	default:
		if o.op.RequestBody == nil {
			return nil
		}
		if o.op.RequestBody.Value.Content.Get("application/json") == nil {
			return []byte("object bytes")
		}
		v = map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

func contentType(o operation, body []byte) string {
	if body == nil || o.op.RequestBody == nil {
		return ""
	}
	if o.op.RequestBody.Value.Content.Get("application/json") != nil {
		return "application/json"
	}
	return "application/octet-stream"
}

// isProblem reports whether an answer is an RFC 9457 problem with its status.
func isProblem(status int, h http.Header, body []byte) error {
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	if p.Status != status || p.Title == "" {
		return fmt.Errorf("problem says status %d title %q, the answer is %d", p.Status, p.Title, status)
	}
	return nil
}

// TestSecurity boots the whole server with a token and secrets configured, then
// walks the operations of openapi.yaml: every mutating one refuses requests without
// the token or with a wrong one; every id position refuses traversal and injection
// attempts with a 4xx problem and writes nothing; and after every operation has run
// (TestOpenAPI's exercises, plus replication to targets that fail), no secret is in
// any answer, in the log or in the Prometheus exposition.
func TestSecurity(t *testing.T) {
	s := newSecServer(t)
	t.Run("no or wrong token", func(t *testing.T) { s.t = t; s.walkAuth() })
	t.Run("injection in id positions", func(t *testing.T) { s.t = t; s.walkInjection() })
	t.Run("target names are stored as given", func(t *testing.T) { s.t = t; s.targetNames() })
	t.Run("no secret leaks", func(t *testing.T) { s.t = t; s.scanSecrets() })
}

// readScope are the operations that change nothing but are not GETs: the read
// token allows them, as it allows the guarded GETs (graph content). The document
// has one bearer scheme for both tokens and says this in words.
var readScope = map[string]bool{"POST " + rec + "/plan": true}

// walkAuth sends every operation that changes something, and every one the
// document guards with the token, without a token and with wrong ones; then with
// the read token, which allows graph content and no change; and every operation
// the document does not guard without any token.
func (s *secServer) walkAuth() {
	t := s.t
	wrong := map[string]string{
		"no token":           "",
		"wrong token":        "Bearer not-the-token",
		"token cut short":    "Bearer " + testToken[:len(testToken)-1],
		"token made longer":  "Bearer " + testToken + "x",
		"token, no scheme":   testToken,
		"token, basic":       "Basic " + testToken,
		"empty bearer":       "Bearer ",
		"other server's key": "Bearer " + secHTTPToken,
	}
	before := s.state()
	walked := 0
	for _, o := range s.operations() {
		secured := o.op.Security != nil && len(*o.op.Security) > 0
		mutating := api.Mutating(o.method)
		if mutating && !secured {
			t.Errorf("%s %s changes things but the document does not guard it with the token", o.method, o.path)
		}
		if !mutating && !secured {
			continue
		}
		values := map[string]string{}
		for _, p := range params(o.path) {
			values[p] = s.valid(o.path, p)
		}
		path := fill(o.path, values, false)
		body := s.validBody(o)
		for name, auth := range wrong {
			status, h, b := s.send(o.method, path, auth, contentType(o, body), body)
			if status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: %d, want 401: %s", o.method, path, name, status, clip(b))
				continue
			}
			if o.method == http.MethodHead {
				continue // no body
			}
			if err := isProblem(status, h, b); err != nil {
				t.Errorf("%s %s with %s: %v", o.method, path, name, err)
			}
		}
		walked++
	}
	if walked < 20 {
		t.Errorf("only %d guarded operations in the document", walked)
	}
	assertSame(t, before, s.state(), "requests without a valid token")
	t.Logf("%d guarded operations × %d bad tokens: 401 problem, nothing changed", walked, len(wrong))

	reads, open := 0, 0
	for _, o := range s.operations() {
		secured := o.op.Security != nil && len(*o.op.Security) > 0
		values := map[string]string{}
		for _, p := range params(o.path) {
			values[p] = s.valid(o.path, p)
		}
		path := fill(o.path, values, false)
		body := s.validBody(o)
		key := o.method + " " + o.path
		if !secured {
			// Status: open to everyone, whatever the answer.
			status, _, b := s.send(o.method, path, "", contentType(o, body), body)
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				t.Errorf("%s %s without a token: %d, but the document does not guard it: %s", o.method, path, status, clip(b))
			}
			open++
			continue
		}
		status, h, b := s.send(o.method, path, "Bearer "+testReadToken, contentType(o, body), body)
		var want int
		switch {
		case slices.Contains(o.op.Tags, "receiver"):
			// The receiver knows the write token only: the other server's.
			want = http.StatusUnauthorized
		case api.Mutating(o.method) && !readScope[key]:
			want = http.StatusForbidden
		}
		switch {
		case want == 0 && (status == http.StatusUnauthorized || status == http.StatusForbidden):
			t.Errorf("%s %s with the read token: %d, want it allowed: %s", o.method, path, status, clip(b))
		case want != 0 && status != want:
			t.Errorf("%s %s with the read token: %d, want %d: %s", o.method, path, status, want, clip(b))
		case want != 0 && o.method != http.MethodHead:
			if err := isProblem(status, h, b); err != nil {
				t.Errorf("%s %s with the read token: %v", o.method, path, err)
			}
		}
		if o.op.Responses.Status(status) == nil {
			t.Errorf("%s answered %d to the read token, which the document does not list", key, status)
		}
		reads++
	}
	assertSame(t, before, s.state(), "requests with the read token, and unguarded ones without a token")
	t.Logf("%d guarded operations with the read token and %d open ones without a token: nothing changed", reads, open)
}

// payloads are what is put in id positions: decoded values, each escaped as one
// path segment, or sent as a JSON string.
var payloads = []string{
	"../x", "../../../../etc/passwd", "..", ".", "%2e%2e%2f", "%2e%2e%2fx", "..%2fx", "%252e%252e%252f",
	"..\\x", "a\x00b", "\x00", strings.Repeat("g", 300), "' OR 1=1 --", "\" OR \"\"=\"", "1; DROP TABLE snapshots",
	"graph1/../graph1", "граф😀", "\u202egraph", "<script>alert(1)</script>", "${jndi:ldap://x}", " graph1", "graph1\n",
}

// rawPaths are traversals in the URL itself, not escaped: the router refuses them
// (400, no redirect), and must never serve or write anything outside the API.
var rawPaths = []string{
	bk + "/snapshots/../../../../etc/passwd", bk + "/graphs/graph1/snapshots/../../../gc",
	recv + "/objects/data/../../../../../etc/passwd", recv + "/objects/%2e%2e/%2e%2e/x",
	mon + "/dashboard/assets/..%2f..%2fopenapi.yaml", mon + "/dashboard/assets/%2e%2e%2fapp.js",
}

// idField reports whether a request body property holds an id (or ids) of
// something the server keeps. Node ids (restore's node_ids) are graph content: any
// string is one, and a restore plan just finds none of these.
var idField = regexp.MustCompile(`(^|_)(id|ids)$|^target_graph$`)

var contentFields = map[string]bool{"node_ids": true}

// walkInjection sends the payloads in every path parameter and every id field of
// every request body, with the token, and expects 4xx problems and no change.
func (s *secServer) walkInjection() {
	t := s.t
	before := s.state()
	sent := 0
	check := func(o operation, desc string, status int, h http.Header, b []byte) {
		t.Helper()
		sent++
		switch {
		case status >= 500:
			t.Errorf("%s %s: %d: %s", o.method, desc, status, clip(b))
		case status < 400:
			t.Errorf("%s %s: %d, want 4xx: %s", o.method, desc, status, clip(b))
		case o.method != http.MethodHead:
			if err := isProblem(status, h, b); err != nil {
				t.Errorf("%s %s: %d: %v", o.method, desc, status, err)
			}
		}
	}
	for _, o := range s.operations() {
		names := params(o.path)
		body := s.validBody(o)
		for _, p := range names {
			for _, bad := range payloads {
				values := map[string]string{}
				for _, q := range names {
					values[q] = s.valid(o.path, q)
				}
				values[p] = bad
				path := fill(o.path, values, false)
				status, h, b := s.send(o.method, path, "Bearer "+testToken, contentType(o, body), body)
				check(o, fmt.Sprintf("%s with {%s}=%q", path, p, bad), status, h, b)
			}
		}
		if o.op.RequestBody == nil || contentType(o, body) != "application/json" {
			continue
		}
		schema := o.op.RequestBody.Value.Content.Get("application/json").Schema
		if schema == nil || schema.Value == nil {
			continue
		}
		values := map[string]string{}
		for _, q := range names {
			values[q] = s.valid(o.path, q)
		}
		path := fill(o.path, values, false)
		for prop, ps := range schema.Value.Properties {
			isMap := ps.Value != nil && ps.Value.AdditionalProperties.Schema != nil && (prop == "snapshots" || prop == "targets")
			if (!idField.MatchString(prop) || contentFields[prop]) && !isMap {
				continue
			}
			for _, bad := range payloads {
				var variants []any
				switch {
				case isMap:
					variants = []any{map[string]string{bad: graphvault.DemoGraph}, map[string]string{graphvault.DemoGraph: bad}}
				case ps.Value != nil && ps.Value.Type.Is("array"):
					variants = []any{[]string{bad}}
				default:
					variants = []any{bad}
				}
				for _, v := range variants {
					m := map[string]any{}
					json.Unmarshal(body, &m)
					m[prop] = v
					if prop != "graph_ids" && (o.path == rec+"/checkpoints") {
						m["graph_ids"] = []string{graphvault.DemoGraph}
					}
					raw, _ := json.Marshal(m)
					status, h, b := s.send(o.method, path, "Bearer "+testToken, "application/json", raw)
					check(o, fmt.Sprintf("%s with body %s", path, raw), status, h, b)
				}
			}
		}
	}
	for _, p := range rawPaths {
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			status, h, b := s.send(m, p, "Bearer "+testToken, "application/octet-stream", []byte("x"))
			sent++
			if status != http.StatusBadRequest {
				t.Errorf("%s %s (raw): %d, want 400: %s", m, p, status, clip(b))
			} else if err := isProblem(status, h, b); err != nil {
				t.Errorf("%s %s (raw): %v", m, p, err)
			}
			if bytes.Contains(b, []byte("root:")) {
				t.Errorf("%s %s (raw) served a file outside the API", m, p)
			}
		}
	}
	assertSame(t, before, s.state(), "injection attempts")
	t.Logf("%d injection requests: no 2xx, no 5xx, nothing written", sent)
}

// targetNames registers targets whose names look like injections: a name is free
// text, so it is stored and answered exactly as given, or refused with a 400, and
// nothing else changes.
func (s *secServer) targetNames() {
	t := s.t
	before := s.state()
	for i, name := range payloads {
		dir := filepath.Join(s.outer, fmt.Sprintf("named-%d", i))
		raw, _ := json.Marshal(map[string]any{"name": name, "kind": "file", "path": dir})
		status, h, b := s.send("POST", repl+"/targets", "Bearer "+testToken, "application/json", raw)
		switch status {
		case http.StatusCreated:
			var tg struct{ ID, Name string }
			json.Unmarshal(b, &tg)
			var got struct{ Name string }
			json.Unmarshal(s.must("GET", repl+"/targets/"+tg.ID, nil, 200), &got)
			if tg.Name != name || got.Name != name {
				t.Errorf("target named %q is stored as %q and read back as %q", name, tg.Name, got.Name)
			}
			s.must("DELETE", repl+"/targets/"+tg.ID, nil, 204)
		case http.StatusBadRequest:
			if err := isProblem(status, h, b); err != nil {
				t.Errorf("target named %q: %v", name, err)
			}
		default:
			t.Errorf("target named %q: %d: %s", name, status, clip(b))
		}
	}
	assertSame(t, before, s.state(), "registering and deleting targets with odd names")
}

// scanSecrets runs every operation, replicates to the targets that hold secrets
// (both fail), checks them, and then looks for the secrets in every answer the
// server gave in this test, in the log and in the Prometheus exposition.
func (s *secServer) scanSecrets() {
	t := s.t
	if err := s.v.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := newAPIClient(t, s.base)
	c.peer = serveVault(t, openVault(t, graphvault.Config{Token: testToken}).Handler()).URL
	exerciseServer(c)
	exerciseBackup(c)
	exerciseRecovery(c)
	exerciseReplication(c)
	exerciseReceiver(c)
	exerciseMonitoring(c)
	if t.Failed() {
		return
	}
	sid := c.newestSnapshot()
	for _, id := range []string{s.s3Target, s.httpTarget} {
		status, _, b := s.send("POST", repl+"/replicate?wait=true", "Bearer "+testToken, "application/json",
			[]byte(`{"snapshot_id":"`+sid+`","target_id":"`+id+`"}`))
		if status != http.StatusBadGateway {
			t.Errorf("replicate to an unreachable target: %d, want 502: %s", status, clip(b))
		}
		s.must("POST", repl+"/targets/"+id+"/check", nil, 200)
		s.must("PATCH", repl+"/targets/"+id, map[string]any{"enabled": true}, 200)
		s.must("GET", repl+"/targets/"+id, nil, 200)
	}
	// What the background loop does: catch up and check the enabled targets, which
	// fails for these two.
	n, err := s.v.Replication().CatchUp(t.Context())
	t.Logf("catch-up: %d runs, %v", n, err)
	for _, r := range s.v.Replication().CheckAll(t.Context()) {
		if (r.TargetID == s.s3Target || r.TargetID == s.httpTarget) && r.Health == "healthy" {
			t.Errorf("target %s cannot be reached but checks healthy", r.TargetID)
		}
	}
	for _, p := range []string{repl + "/targets", repl + "/status", repl + "/events?limit=1000", repl + "/events?status=failed",
		mon + "/stats/replication", mon + "/metrics", mon + "/metrics/summary", mon + "/health?fresh=true",
		rec + "/health?fresh=true", rec + "/status", bk + "/stats"} {
		s.send("GET", p, "", "", nil)
	}
	s.must("POST", mon+"/metrics/collect", nil, 200)
	_, _, prom := s.send("GET", mon+"/metrics/prometheus", "", "", nil)
	if !bytes.Contains(prom, []byte("graphvault_replication_")) {
		t.Fatalf("no replication metrics in the exposition:\n%s", clip(prom))
	}

	logs := s.logs.String()
	// The scan must have something to find: the failures are logged and recorded.
	if !strings.Contains(logs, "snapshot replication failed") {
		t.Errorf("the log does not show the failed replications; the scan would prove nothing:\n%s", clip([]byte(logs)))
	}
	secrets := map[string]string{"server token": testToken, "server read token": testReadToken,
		"s3 secret key": secS3Secret, "http target api_key": secHTTPToken}
	s.rec.mu.Lock()
	answers := slices.Clone(s.rec.answers)
	s.rec.mu.Unlock()
	for what, secret := range secrets {
		forms := []string{secret, url.QueryEscape(secret), hex.EncodeToString([]byte(secret))}
		for _, form := range forms {
			for _, a := range answers {
				if bytes.Contains(a.body, []byte(form)) {
					t.Errorf("the %s is in the answer to %s %s (%d): %s", what, a.method, a.path, a.status, clip(a.body))
				}
				for k, vs := range a.header {
					for _, v := range vs {
						if strings.Contains(v, form) {
							t.Errorf("the %s is in header %s of the answer to %s %s", what, k, a.method, a.path)
						}
					}
				}
			}
			if strings.Contains(logs, form) {
				i := strings.Index(logs, form)
				t.Errorf("the %s is in the log: …%s…", what, logs[max(0, i-300):min(len(logs), i+100)])
			}
			if bytes.Contains(prom, []byte(form)) {
				t.Errorf("the %s is in the Prometheus exposition", what)
			}
		}
	}
	t.Logf("%d answers, %d bytes of log and %d bytes of exposition scanned for %d secrets", len(answers), len(logs), len(prom), len(secrets))
}
