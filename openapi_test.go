package graphvault_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/graphvault/graphvault"
)

func init() {
	// Media types the document uses beyond those kin-openapi decodes itself.
	openapi3filter.RegisterBodyDecoder("application/health+json", openapi3filter.JSONBodyDecoder)
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(graphvault.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// apiClient sends requests to a running server and checks each request and answer
// against the OpenAPI document.
type apiClient struct {
	t      *testing.T
	base   string
	doc    *openapi3.T
	router routers.Router
	http   *http.Client
	// seen counts the answers per documented operation ("GET /api/...") and status.
	seen map[string]map[int]int
	// peer is the base URL of a second server, which receives replication.
	peer string
}

func newAPIClient(t *testing.T, base string) *apiClient {
	t.Helper()
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{
		t: t, base: base, doc: doc, router: router, seen: map[string]map[int]int{},
		http: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// req describes one request. A body of type string is sent as it is; any other
// non-nil body is encoded as JSON.
type req struct {
	method, path string
	body         any
	contentType  string            // default application/json when there is a body
	header       map[string]string // extra headers
	noToken      bool              // send no bearer token
	invalid      bool              // the request breaks the document on purpose
}

// answer is what the server answered.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("body does not decode into %T: %v: %s", v, err, a.body)
	}
}

// do sends r, checks it and the answer against the document, and fails the test
// unless the status is one of want.
func (c *apiClient) do(r req, want ...int) answer {
	c.t.Helper()
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
	}
	hr, err := http.NewRequest(r.method, c.base+r.path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if r.body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
	} else {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if !r.noToken {
		hr.Header.Set("Authorization", "Bearer "+testToken)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}

	route, params, err := c.router.FindRoute(hr)
	if err != nil {
		c.t.Fatalf("%s %s: the document has no such operation: %v", r.method, r.path, err)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    checkBearer,
	}
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route, Options: opts}
	// ValidateRequest reads the body; give it a copy and send the original.
	check := hr.Clone(context.Background())
	check.Body = io.NopCloser(bytes.NewReader(raw))
	in.Request = check
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case r.noToken && route.Operation.Security != nil && len(*route.Operation.Security) > 0:
		// The request lacks what the document asks for.
		var se *openapi3filter.SecurityRequirementsError
		if !errors.As(reqErr, &se) {
			c.t.Errorf("%s %s without a token: the document does not require one (%v)", r.method, r.path, reqErr)
		}
	case r.invalid:
		if reqErr == nil {
			c.t.Errorf("%s %s %s: meant to break the document, but it passes", r.method, r.path, raw)
		}
	case reqErr != nil:
		c.t.Errorf("%s %s %s: the request breaks the document: %v", r.method, r.path, raw, reqErr)
	}

	hr.Body = io.NopCloser(bytes.NewReader(raw))
	resp, err := c.http.Do(hr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", r.method, r.path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: body}
	if len(want) > 0 && !slices.Contains(want, a.status) {
		c.t.Fatalf("%s %s: status %d, want %v: %s", r.method, r.path, a.status, want, body)
	}

	secured := route.Operation.Security != nil && len(*route.Operation.Security) > 0
	if a.status == http.StatusUnauthorized && !secured {
		c.t.Errorf("%s %s answered 401, but the document requires no token", r.method, r.path)
	}
	if r.noToken && secured && a.status < 400 {
		c.t.Errorf("%s %s answered %d without a token, but the document requires one", r.method, r.path, a.status)
	}
	key := r.method + " " + route.Path
	if c.seen[key] == nil {
		c.seen[key] = map[int]int{}
	}
	c.seen[key][a.status]++
	if route.Operation.Responses.Status(a.status) == nil {
		c.t.Errorf("%s: the document does not list status %d (%s)", key, a.status, body)
		return a
	}
	in.Request = hr
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 a.status,
		Header:                 a.header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		c.t.Errorf("%s %s answered %d, which breaks the document: %v\n%s", r.method, r.path, a.status, err, clip(body))
	}
	if ct := a.header.Get("Content-Type"); len(body) > 0 && a.status != http.StatusMovedPermanently && a.status != http.StatusFound {
		mt := strings.TrimSpace(strings.Split(ct, ";")[0])
		if route.Operation.Responses.Status(a.status).Value.Content.Get(mt) == nil {
			c.t.Errorf("%s answered %d with Content-Type %q, which the document does not list", key, a.status, ct)
		}
	}
	return a
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// checkBearer is the document's bearer scheme as the server applies it.
func checkBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearer" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	// The document has one bearer scheme; which token allows which operation it
	// says in words (the read token: graph content only).
	if got := in.RequestValidationInput.Request.Header.Get("Authorization"); got != "Bearer "+testToken && got != "Bearer "+testReadToken {
		return errors.New("no bearer token")
	}
	return nil
}

// await polls the operation a 202 answer started, under prefix, until it has
// finished, and returns its final state.
func (c *apiClient) await(a answer, prefix string) map[string]any {
	c.t.Helper()
	var op struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	a.decode(c.t, &op)
	if got, want := a.header.Get("Location"), "/operations/"+op.ID; !strings.HasSuffix(got, want) {
		c.t.Fatalf("Location = %q, want it to end in %q", got, want)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st map[string]any
		c.do(req{method: "GET", path: prefix + "/operations/" + op.ID}, 200).decode(c.t, &st)
		if st["status"] != "running" {
			if st["status"] != "succeeded" {
				c.t.Fatalf("operation %s: %v", op.ID, st)
			}
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("operation %s still running", op.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	bk   = "/api/backup/backup"
	rec  = "/api/backup/recovery"
	repl = "/api/backup/replication"
	recv = "/api/backup/replication/receive"
	mon  = "/api/monitoring"
)

// TestOpenAPI starts the server and runs every operation of openapi.yaml with
// realistic requests, checking each request and answer against the document; then
// it checks that the document lists no operation the server lacks and that the
// server serves no route the document lacks.
func TestOpenAPI(t *testing.T) {
	// The limit on mutating calls is off here; TestOpenAPIRateLimit checks it.
	// File targets go to test folders anywhere in the temporary directory.
	v := openVault(t, graphvault.Config{Demo: true, Token: testToken, ReadToken: testReadToken, TargetRoots: []string{os.TempDir()}})
	if err := v.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := newAPIClient(t, serveVault(t, v.Handler()).URL)
	c.peer = serveVault(t, openVault(t, graphvault.Config{Token: testToken}).Handler()).URL

	t.Run("server", func(t *testing.T) { c.t = t; exerciseServer(c) })
	t.Run("backup", func(t *testing.T) { c.t = t; exerciseBackup(c) })
	t.Run("recovery", func(t *testing.T) { c.t = t; exerciseRecovery(c) })
	t.Run("replication", func(t *testing.T) { c.t = t; exerciseReplication(c) })
	t.Run("receiver", func(t *testing.T) { c.t = t; exerciseReceiver(c) })
	t.Run("monitoring", func(t *testing.T) { c.t = t; exerciseMonitoring(c) })
	c.t = t
	if t.Failed() {
		return
	}
	t.Run("every documented operation was run", func(t *testing.T) { checkCoverage(t, c) })
	t.Run("the server has no undocumented route", func(t *testing.T) { checkNoUndocumented(t, c) })
}

// TestOpenAPIRateLimit checks the answer to a client over the limit on mutating
// calls against the document.
func TestOpenAPIRateLimit(t *testing.T) {
	v := openVault(t, graphvault.Config{Demo: true, Token: testToken, Rate: 1})
	c := newAPIClient(t, serveVault(t, v.Handler()).URL)
	var limited answer
	for range 10 {
		if limited = c.do(req{method: "POST", path: mon + "/metrics/collect"}, 200, 429); limited.status == 429 {
			break
		}
	}
	if limited.status != http.StatusTooManyRequests {
		t.Fatal("10 calls at once, none limited")
	}
	if limited.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	c.do(req{method: "GET", path: mon + "/metrics/summary"}, 200)
}

func exerciseServer(c *apiClient) {
	a := c.do(req{method: "GET", path: "/api/openapi.yaml"}, 200)
	if ct := a.header.Get("Content-Type"); ct != "application/yaml" {
		c.t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if !bytes.Equal(a.body, graphvault.OpenAPI) {
		c.t.Error("GET /api/openapi.yaml does not serve the embedded document")
	}
	if loc := c.do(req{method: "GET", path: "/"}, 302).header.Get("Location"); loc != "/api/monitoring/dashboard" {
		c.t.Errorf("GET / redirects to %q", loc)
	}
}

func exerciseBackup(c *apiClient) {
	t := c.t
	c.do(req{method: "GET", path: bk + "/graphs"}, 200)

	// A snapshot as an operation, the documented call without body or query. The
	// 202 answer names the snapshot, whose row is there at once.
	a := c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots"}, 202)
	var accepted struct {
		SnapshotID string `json:"snapshot_id"`
	}
	a.decode(t, &accepted)
	if accepted.SnapshotID == "" {
		t.Fatalf("the 202 answer names no snapshot: %s", a.body)
	}
	c.do(req{method: "GET", path: bk + "/snapshots/" + accepted.SnapshotID}, 200)
	op := c.await(a, bk)
	s1 := op["result"].(map[string]any)["id"].(string)
	if s1 != accepted.SnapshotID {
		t.Errorf("the operation took snapshot %s, the 202 answer named %s", s1, accepted.SnapshotID)
	}
	var s2 struct{ ID, Kind string }
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true",
		body: map[string]any{"kind": "incremental", "labels": map[string]string{"reason": "test"}}}, 201).decode(t, &s2)
	var s3 struct{ ID string }
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots", body: map[string]any{"wait": true}}, 201).decode(t, &s3)

	var page struct {
		Items      []struct{ ID string }
		NextCursor string `json:"next_cursor"`
	}
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?limit=2"}, 200).decode(t, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %+v", page)
	}
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?cursor=" + url.QueryEscape(page.NextCursor)}, 200)
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?status=completed&kind=full"}, 200)
	c.do(req{method: "GET", path: bk + "/graphs/nograph/snapshots"}, 200)
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1}, 200)
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/manifest"}, 200)

	c.do(req{method: "POST", path: bk + "/snapshots/" + s1 + "/verify"}, 200)
	c.await(c.do(req{method: "POST", path: bk + "/snapshots/" + s1 + "/verify", body: map[string]any{"full": true}}, 202), bk)
	c.do(req{method: "POST", path: bk + "/snapshots/" + s2.ID + "/verify?wait=true", body: map[string]any{"full": true}}, 200)

	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/diff/" + s2.ID}, 200)
	c.do(req{method: "GET", path: bk + "/diff?from=" + s1 + "&to=" + s3.ID + "&limit=10"}, 200)

	// Graph content needs a token, the read token will do; changes need the write
	// token.
	readToken := map[string]string{"Authorization": "Bearer " + testReadToken}
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/manifest", header: readToken}, 200)
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/diff/" + s2.ID, header: readToken}, 200)
	c.do(req{method: "GET", path: bk + "/diff?from=" + s1 + "&to=" + s3.ID, header: readToken}, 200)
	c.do(req{method: "GET", path: bk + "/operations/" + op["id"].(string), header: readToken}, 200)
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/manifest", noToken: true}, 401)
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/diff/" + s2.ID, noToken: true}, 401)
	c.do(req{method: "GET", path: bk + "/diff?from=" + s1 + "&to=" + s3.ID, noToken: true}, 401)
	c.do(req{method: "GET", path: bk + "/operations/" + op["id"].(string), noToken: true}, 401)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true", header: readToken}, 403)
	// Status needs none.
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1, noToken: true}, 200)
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots", noToken: true}, 200)

	// Changes to the demo graph, which the Vault holds in memory (TestChanges
	// tries the rest).
	var changed struct{ Applied, Nodes int }
	c.do(req{method: "POST", path: bk + "/graphs/graph1/changes", body: map[string]any{
		"upsert_nodes": []map[string]any{{"id": "openapi-node", "labels": []string{"Test"}, "props": map[string]any{"k": "v"}}},
		"upsert_edges": []map[string]any{{"source": "openapi-node", "target": "openapi-node", "type": "self"}},
	}}, 200).decode(t, &changed)
	if changed.Applied != 2 || changed.Nodes != 2001 {
		t.Errorf("changes: %+v", changed)
	}
	c.do(req{method: "POST", path: bk + "/graphs/graph1/changes", body: map[string]any{"delete_nodes": []string{"openapi-node"}}, noToken: true}, 401)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/changes", body: map[string]any{"upsert_edges": []map[string]any{{"source": "openapi-node", "target": "nowhere"}}}}, 422)
	c.do(req{method: "POST", path: bk + "/graphs/nograph/changes", body: map[string]any{"delete_nodes": []string{"x"}}}, 404)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/changes", body: map[string]any{"delete_nodes": []string{"openapi-node"}}}, 200)

	var plan struct {
		DryRun     bool `json:"dry_run"`
		Restorable bool
	}
	c.do(req{method: "POST", path: bk + "/snapshots/" + s2.ID + "/restore", body: map[string]any{"dry_run": true}}, 200).decode(t, &plan)
	if !plan.DryRun || !plan.Restorable {
		t.Errorf("dry run: %+v", plan)
	}
	c.do(req{method: "POST", path: bk + "/snapshots/" + s3.ID + "/restore?wait=true"}, 200)
	c.await(c.do(req{method: "POST", path: bk + "/snapshots/" + s3.ID + "/restore",
		body: map[string]any{"target_graph": "graph1"}}, 202), bk)

	c.do(req{method: "POST", path: bk + "/graphs/graph1/prune", body: map[string]any{"keep_last": 2, "dry_run": true}}, 200)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/prune", body: map[string]any{"keep_last": 10, "keep_within": "72h"}}, 200)
	c.do(req{method: "POST", path: bk + "/gc?wait=true", body: map[string]any{"dry_run": true, "grace": "0s"}}, 200)
	c.await(c.do(req{method: "POST", path: bk + "/gc"}, 202), bk)
	c.do(req{method: "GET", path: bk + "/stats"}, 200)

	var s4 struct{ ID string }
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true"}, 201).decode(t, &s4)
	c.do(req{method: "DELETE", path: bk + "/snapshots/" + s4.ID}, 204)

	// Bad requests, each answered before any work.
	unknown := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	long := strings.Repeat("g", 300)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true", noToken: true}, 401)
	c.do(req{method: "POST", path: bk + "/graphs/" + long + "/snapshots", invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/graphs/nograph/snapshots?wait=true"}, 404)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots", body: map[string]any{"kind": "full", "extra": 1}, invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots", body: "{\"kind\":", invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots", body: `{"kind":"full"}`, contentType: "text/plain", invalid: true}, 415)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots", body: map[string]any{"labels": map[string]string{"x": strings.Repeat("y", 2<<20)}}}, 413)
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?status=done", invalid: true}, 400)
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?limit=0", invalid: true}, 400)
	c.do(req{method: "GET", path: bk + "/snapshots/" + unknown}, 404)
	c.do(req{method: "GET", path: bk + "/snapshots/not-a-ulid", invalid: true}, 400)
	c.do(req{method: "DELETE", path: bk + "/snapshots/" + unknown}, 404)
	c.do(req{method: "GET", path: bk + "/snapshots/" + unknown + "/manifest"}, 404)
	c.do(req{method: "POST", path: bk + "/snapshots/" + unknown + "/verify"}, 404)
	c.do(req{method: "POST", path: bk + "/snapshots/" + s1 + "/restore", body: map[string]any{"hops": 99}, invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/snapshots/" + unknown + "/restore", body: map[string]any{"target_graph": "nograph"}}, 404)
	c.do(req{method: "POST", path: bk + "/snapshots/" + s1 + "/restore?wait=true", body: map[string]any{"node_ids": []string{"no such node"}}}, 422)
	c.do(req{method: "GET", path: bk + "/snapshots/" + s1 + "/diff/" + unknown}, 404)
	c.do(req{method: "GET", path: bk + "/diff?from=" + s1, invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/prune", invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/graphs/graph1/prune", body: map[string]any{"keep_within": 5}, invalid: true}, 400)
	c.do(req{method: "POST", path: bk + "/gc", body: map[string]any{"grace": "-1h"}}, 400)
	c.do(req{method: "GET", path: bk + "/operations/" + strings.Repeat("A", 26)}, 404)
	c.do(req{method: "GET", path: bk + "/operations/nope", invalid: true}, 400)
}

func exerciseRecovery(c *apiClient) {
	t := c.t
	var c1 struct {
		ID     string
		Graphs []struct {
			SnapshotID string `json:"snapshot_id"`
		}
	}
	a := c.do(req{method: "POST", path: rec + "/checkpoints",
		body: map[string]any{"graph_ids": []string{"graph1"}, "description": "before the import"}}, 201)
	a.decode(t, &c1)
	if loc := a.header.Get("Location"); loc != rec+"/checkpoints/"+c1.ID {
		t.Errorf("Location = %q", loc)
	}
	var c2 struct{ ID string }
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{
		"graph_ids": []string{"graph1"}, "snapshots": map[string]string{"graph1": c1.Graphs[0].SnapshotID},
		"created_by": "ops", "metadata": map[string]any{"ticket": 42},
	}}, 201).decode(t, &c2)

	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	c.do(req{method: "GET", path: rec + "/checkpoints?limit=1"}, 200).decode(t, &page)
	if page.NextCursor == "" {
		t.Fatal("no next_cursor with two checkpoints and limit=1")
	}
	c.do(req{method: "GET", path: rec + "/checkpoints?cursor=" + url.QueryEscape(page.NextCursor)}, 200)
	c.do(req{method: "GET", path: rec + "/checkpoints/" + c1.ID}, 200)
	c.do(req{method: "POST", path: rec + "/checkpoints/" + c1.ID + "/validate"}, 200)
	c.do(req{method: "POST", path: rec + "/checkpoints/" + c2.ID + "/validate", body: map[string]any{}}, 200)

	c.do(req{method: "POST", path: rec + "/plan", body: map[string]any{"checkpoint_id": c1.ID}}, 200)
	c.do(req{method: "POST", path: rec + "/plan", body: map[string]any{
		"graph_id": "graph1", "allow_earlier": true, "targets": map[string]string{"graph1": "graph1"}}}, 200)
	c.do(req{method: "POST", path: rec + "/restore?wait=true", body: map[string]any{"checkpoint_id": c1.ID, "full_verify": true}}, 200)
	a = c.do(req{method: "POST", path: rec + "/restore", body: map[string]any{"checkpoint_id": c1.ID}}, 202)
	c.await(a, rec)
	// One registry of operations: the backup prefix shows recovery's too.
	var op struct{ ID string }
	a.decode(t, &op)
	c.do(req{method: "GET", path: bk + "/operations/" + op.ID}, 200)

	c.do(req{method: "GET", path: rec + "/health"}, 200, 503)
	c.do(req{method: "GET", path: rec + "/health?fresh=true"}, 200, 503)
	c.do(req{method: "GET", path: rec + "/status"}, 200)
	c.do(req{method: "DELETE", path: rec + "/checkpoints/" + c2.ID}, 204)

	unknown := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{"graph_ids": []string{"graph1"}}, noToken: true}, 401)
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{"description": "no graphs"}, invalid: true}, 400)
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{"graph_ids": []string{"../x"}}, invalid: true}, 400)
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{"graph_ids": []string{"nograph"}}}, 404)
	c.do(req{method: "POST", path: rec + "/checkpoints", body: map[string]any{"graph_ids": []string{"graph1"}, "name": "x"}, invalid: true}, 400)
	c.do(req{method: "GET", path: rec + "/checkpoints?cursor=%21", invalid: true}, 400)
	c.do(req{method: "GET", path: rec + "/checkpoints/" + unknown}, 404)
	c.do(req{method: "GET", path: rec + "/checkpoints/" + strings.Repeat("x", 300), invalid: true}, 400)
	c.do(req{method: "DELETE", path: rec + "/checkpoints/" + unknown}, 404)
	c.do(req{method: "POST", path: rec + "/checkpoints/" + unknown + "/validate"}, 404)
	c.do(req{method: "POST", path: rec + "/plan", body: map[string]any{"checkpoint_id": c1.ID, "graph_id": "graph1"}}, 400)
	c.do(req{method: "POST", path: rec + "/plan", body: map[string]any{"checkpoint_id": unknown}}, 404)
	c.do(req{method: "POST", path: rec + "/restore", body: map[string]any{}}, 400)
	c.do(req{method: "POST", path: rec + "/restore", body: map[string]any{"graph_id": "graph1", "at": "2001-01-01T00:00:00Z"}}, 404, 409, 422)
	c.do(req{method: "GET", path: rec + "/health?fresh=maybe", invalid: true}, 400)
	c.do(req{method: "GET", path: rec + "/operations/" + strings.Repeat("B", 26)}, 404)
}

// newestSnapshot returns the id of graph1's newest completed snapshot.
func (c *apiClient) newestSnapshot() string {
	c.t.Helper()
	var page struct{ Items []struct{ ID string } }
	c.do(req{method: "GET", path: bk + "/graphs/graph1/snapshots?limit=1&status=completed"}, 200).decode(c.t, &page)
	if len(page.Items) != 1 {
		c.t.Fatal("graph1 has no completed snapshot")
	}
	return page.Items[0].ID
}

func exerciseReplication(c *apiClient) {
	t := c.t
	c.do(req{method: "GET", path: repl + "/targets"}, 200)
	var local, peer struct{ ID string }
	c.do(req{method: "POST", path: repl + "/targets?verify=true",
		body: map[string]any{"name": "local", "kind": "file", "path": t.TempDir()}}, 201).decode(t, &local)
	// The older API's body registers an http target: a second server's receiver.
	a := c.do(req{method: "POST", path: repl + "/targets",
		body: map[string]any{"name": "peer", "base_url": c.peer + recv, "api_key": testToken}}, 201)
	a.decode(t, &peer)
	if loc := a.header.Get("Location"); loc != repl+"/targets/"+peer.ID {
		t.Errorf("Location = %q", loc)
	}
	c.do(req{method: "GET", path: repl + "/targets/" + local.ID}, 200)
	c.do(req{method: "PATCH", path: repl + "/targets/" + peer.ID, body: map[string]any{"name": "peer2", "enabled": true}}, 200)
	c.do(req{method: "PATCH", path: repl + "/targets/" + local.ID + "?verify=true", body: map[string]any{"config": map[string]string{"path": t.TempDir()}}}, 200)
	c.do(req{method: "POST", path: repl + "/targets/" + local.ID + "/check"}, 200)
	c.do(req{method: "POST", path: repl + "/targets/" + peer.ID + "/check"}, 200)

	sid := c.newestSnapshot()
	var res struct {
		Items []struct{ OK bool }
	}
	c.do(req{method: "POST", path: repl + "/replicate?wait=true", body: map[string]any{"snapshot_id": sid, "target_id": local.ID}}, 200).decode(t, &res)
	if len(res.Items) != 1 || !res.Items[0].OK {
		t.Errorf("replicate: %+v", res)
	}
	c.await(c.do(req{method: "POST", path: repl + "/replicate", body: map[string]any{"snapshot_id": sid, "verify_content": true}}, 202), repl)
	c.do(req{method: "GET", path: repl + "/status"}, 200)
	var events struct {
		Items      []json.RawMessage
		NextCursor string `json:"next_cursor"`
	}
	c.do(req{method: "GET", path: repl + "/events?limit=1&kind=snapshot&status=ok"}, 200).decode(t, &events)
	if len(events.Items) != 1 || events.NextCursor == "" {
		t.Errorf("events: %d items, next %q", len(events.Items), events.NextCursor)
	}
	c.do(req{method: "GET", path: repl + "/events?graph_id=graph1&target_id=" + local.ID + "&cursor=" + url.QueryEscape(events.NextCursor)}, 200)

	unknown := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	c.do(req{method: "POST", path: repl + "/targets", body: map[string]any{"name": "x", "kind": "file", "path": t.TempDir()}, noToken: true}, 401)
	c.do(req{method: "POST", path: repl + "/targets", body: map[string]any{"kind": "file", "path": t.TempDir()}}, 400)
	c.do(req{method: "POST", path: repl + "/targets", body: map[string]any{"name": "local", "kind": "file", "path": t.TempDir()}}, 409)
	c.do(req{method: "POST", path: repl + "/targets", body: map[string]any{"name": "y", "kind": "file", "path": t.TempDir(), "token": "t"}}, 400)
	c.do(req{method: "POST", path: repl + "/targets", body: map[string]any{"name": "z", "kind": "ftp"}, invalid: true}, 400)
	c.do(req{method: "POST", path: repl + "/targets?verify=true", body: map[string]any{"name": "gone", "base_url": "http://127.0.0.1:1/x", "token": "t"}}, 422)
	c.do(req{method: "GET", path: repl + "/targets/" + unknown}, 404)
	c.do(req{method: "GET", path: repl + "/targets/x", invalid: true}, 400)
	c.do(req{method: "PATCH", path: repl + "/targets/" + local.ID, body: map[string]any{"kind": "s3"}}, 400)
	c.do(req{method: "PATCH", path: repl + "/targets/" + unknown, body: map[string]any{"enabled": false}}, 404)
	c.do(req{method: "POST", path: repl + "/targets/" + unknown + "/check"}, 404)
	c.do(req{method: "POST", path: repl + "/replicate", body: map[string]any{"target_id": local.ID}, invalid: true}, 400)
	c.do(req{method: "POST", path: repl + "/replicate", body: map[string]any{"snapshot_id": unknown}}, 404)
	c.do(req{method: "GET", path: repl + "/events?kind=other", invalid: true}, 400)
	c.do(req{method: "GET", path: repl + "/operations/" + strings.Repeat("C", 26)}, 404)
	c.do(req{method: "DELETE", path: repl + "/targets/" + unknown}, 404)
	c.do(req{method: "DELETE", path: repl + "/targets/" + peer.ID}, 204)
	c.do(req{method: "POST", path: repl + "/failover?wait=true", body: map[string]any{"graph_id": "graph1"}}, 200)
	c.await(c.do(req{method: "POST", path: repl + "/failover", body: map[string]any{"graph_id": "graph1", "no_journal": true}}, 202), repl)
	c.do(req{method: "POST", path: repl + "/failover", body: map[string]any{"graph_id": "nope"}}, 404)
	c.do(req{method: "POST", path: repl + "/failover", body: map[string]any{"graph_id": "../x"}, invalid: true}, 400)
}

func exerciseReceiver(c *apiClient) {
	t := c.t
	body := "a replicated object"
	sum := sha256.Sum256([]byte(body))
	h := hex.EncodeToString(sum[:])
	obj := recv + "/objects/data/" + h[:2] + "/" + h
	bin := "application/octet-stream"
	c.do(req{method: "PUT", path: obj, body: body, contentType: bin}, 204)
	c.do(req{method: "PUT", path: obj, body: body, contentType: bin, header: map[string]string{"If-None-Match": "*"}}, 412)
	if a := c.do(req{method: "GET", path: obj}, 200); string(a.body) != body {
		t.Errorf("GET %s = %q", obj, a.body)
	}
	c.do(req{method: "HEAD", path: obj}, 200)
	c.do(req{method: "GET", path: recv + "/objects?prefix=data/&limit=1"}, 200)
	c.do(req{method: "PUT", path: recv + "/objects/index/" + h[:2] + "/" + h, body: "other bytes", contentType: bin}, 422)
	c.do(req{method: "GET", path: recv + "/objects/index/00/" + strings.Repeat("0", 64)}, 404)
	c.do(req{method: "HEAD", path: recv + "/objects/index/00/" + strings.Repeat("0", 64)}, 404)

	sid := c.newestSnapshot()
	manifest := recv + "/objects/manifests/graph1/" + sid + ".json"
	m := c.do(req{method: "GET", path: manifest}, 200)
	// This server serves graph1 itself: it receives no snapshot of it.
	c.do(req{method: "PUT", path: manifest, body: string(m.body), contentType: bin}, 403)

	key := recv + "/objects/keys/" + sid + ".json"
	c.do(req{method: "PUT", path: key, body: `{"wrapped":"x"}`, contentType: bin}, 204)
	c.do(req{method: "GET", path: key}, 200)
	c.do(req{method: "HEAD", path: key}, 200)
	c.do(req{method: "HEAD", path: manifest, noToken: true}, 401)
	c.do(req{method: "PUT", path: key, body: "[1]", contentType: bin}, 422)

	c.do(req{method: "GET", path: obj, noToken: true}, 401)
	c.do(req{method: "PUT", path: obj, body: body, contentType: bin, noToken: true}, 401)
	c.do(req{method: "GET", path: recv + "/objects?cursor=%21", invalid: true}, 400)
	c.do(req{method: "GET", path: recv + "/objects", noToken: true}, 401)
	c.do(req{method: "GET", path: manifest, noToken: true}, 401)
	c.do(req{method: "GET", path: key, noToken: true}, 401)
}

func exerciseMonitoring(c *apiClient) {
	t := c.t
	var col struct {
		Samples []struct{ Name string }
	}
	c.do(req{method: "POST", path: mon + "/metrics/collect"}, 200).decode(t, &col)
	c.do(req{method: "POST", path: mon + "/metrics/collect", body: map[string]any{}}, 200)
	if len(col.Samples) == 0 {
		t.Fatal("the collector wrote no sample")
	}
	var hist struct {
		Series []json.RawMessage
	}
	c.do(req{method: "GET", path: mon + "/metrics/history?name=" + url.QueryEscape(col.Samples[0].Name) + "&since=1h&limit=50"}, 200).decode(t, &hist)
	if len(hist.Series) == 0 {
		t.Errorf("no history of %s", col.Samples[0].Name)
	}
	c.do(req{method: "GET", path: mon + "/metrics/history?name=graphvault_nothing&since=" + url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))}, 200)
	var m struct {
		Metrics map[string]json.RawMessage
	}
	c.do(req{method: "GET", path: mon + "/metrics"}, 200).decode(t, &m)
	if len(m.Metrics) < 20 {
		t.Errorf("%d metric families", len(m.Metrics))
	}
	if a := c.do(req{method: "GET", path: mon + "/metrics/prometheus"}, 200); !bytes.Contains(a.body, []byte("graphvault_")) {
		t.Error("no graphvault_ metric in the exposition")
	}
	c.do(req{method: "GET", path: mon + "/metrics/summary"}, 200)
	c.do(req{method: "GET", path: mon + "/health"}, 200, 503)
	c.do(req{method: "GET", path: mon + "/health?fresh=true"}, 200, 503)
	c.do(req{method: "GET", path: mon + "/stats/backups"}, 200)
	c.do(req{method: "GET", path: mon + "/stats/recovery"}, 200)
	c.do(req{method: "GET", path: mon + "/stats/replication?limit=5"}, 200)
	c.do(req{method: "GET", path: mon + "/dashboard"}, 200)
	c.do(req{method: "GET", path: mon + "/dashboard/"}, 301)
	for _, name := range []string{"app.css", "app.js", "icon.svg"} {
		a := c.do(req{method: "GET", path: mon + "/dashboard/assets/" + name}, 200)
		etag := a.header.Get("ETag")
		c.do(req{method: "GET", path: mon + "/dashboard/assets/" + name, header: map[string]string{"If-None-Match": etag}}, 304)
	}
	c.do(req{method: "GET", path: mon + "/dashboard/assets/app.js", header: map[string]string{"Range": "bytes=0-9"}}, 206)

	c.do(req{method: "POST", path: mon + "/metrics/collect", noToken: true}, 401)
	c.do(req{method: "POST", path: mon + "/metrics/collect", body: map[string]any{"x": 1}, invalid: true}, 400)
	c.do(req{method: "POST", path: mon + "/metrics/collect", body: `{"a":"` + strings.Repeat("x", 2000) + `"}`, invalid: true}, 413)
	c.do(req{method: "GET", path: mon + "/metrics?format=x"}, 400)
	c.do(req{method: "GET", path: mon + "/metrics/summary?x=1"}, 400)
	c.do(req{method: "GET", path: mon + "/metrics/history", invalid: true}, 400)
	c.do(req{method: "GET", path: mon + "/metrics/history?name=x&since=later"}, 400)
	c.do(req{method: "GET", path: mon + "/health?fresh=maybe", invalid: true}, 400)
	c.do(req{method: "GET", path: mon + "/stats/backups?x=1"}, 400)
	c.do(req{method: "GET", path: mon + "/stats/recovery?x=1"}, 400)
	c.do(req{method: "GET", path: mon + "/stats/replication?limit=0", invalid: true}, 400)
	c.do(req{method: "GET", path: mon + "/dashboard/assets/nothing.txt", invalid: true}, 404)
}

// operations returns every "METHOD path" of the document.
func operations(doc *openapi3.T) []string {
	var ops []string
	for p, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			ops = append(ops, m+" "+p)
		}
	}
	sort.Strings(ops)
	return ops
}

// checkCoverage fails for every documented operation the test did not run, and for
// every family of operations that never answered a 4xx.
func checkCoverage(t *testing.T, c *apiClient) {
	for _, op := range operations(c.doc) {
		if len(c.seen[op]) == 0 {
			t.Errorf("%s is documented but was never run", op)
		}
	}
	for _, tag := range []string{"backup", "recovery", "replication", "receiver", "monitoring"} {
		n := 0
		for p, item := range c.doc.Paths.Map() {
			for m, op := range item.Operations() {
				if !slices.Contains(op.Tags, tag) {
					continue
				}
				for code, count := range c.seen[m+" "+p] {
					if code >= 400 && code < 500 {
						n += count
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("no %s operation was run into a 4xx", tag)
		}
	}
}

// templateRE turns a documented path into a regular expression matching its
// instances.
func templateRE(p string) *regexp.Regexp {
	re := regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`)
	return regexp.MustCompile("^" + re + "$")
}

// checkNoUndocumented probes the server: every documented path allows exactly the
// documented methods (and HEAD with GET), and paths next to the documented ones,
// or below them, do not exist.
func checkNoUndocumented(t *testing.T, c *apiClient) {
	ulid := "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	values := map[string]string{"{sid}": ulid, "{other}": ulid, "{name}": "app.js", "{area}": "data",
		"{shard}": "ab", "{hash}": "ab" + strings.Repeat("0", 62), "{file}": ulid + ".json", "{graph}": "graph1"}
	instance := func(p string) string {
		for k, v := range values {
			p = strings.ReplaceAll(p, k, v)
		}
		switch {
		case strings.Contains(p, "/operations/"):
			return strings.ReplaceAll(p, "{id}", strings.Repeat("A", 26))
		case strings.Contains(p, "/graphs/"):
			return strings.ReplaceAll(p, "{id}", "graph1")
		}
		return strings.ReplaceAll(p, "{id}", ulid)
	}
	// Below these, routes are wildcards: any GET reaches the handler, which
	// answers 404 (or 400 for a bad key) for what it does not hold.
	wildcards := []string{mon + "/dashboard/", recv + "/objects/"}
	underWildcard := func(p string) bool {
		for _, w := range wildcards {
			if strings.HasPrefix(p, w) {
				return true
			}
		}
		return false
	}
	var templates []*regexp.Regexp
	for p := range c.doc.Paths.Map() {
		templates = append(templates, templateRE(p))
	}
	documented := func(p string) bool {
		for _, re := range templates {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}
	send := func(method, p string) (int, http.Header) {
		hr, _ := http.NewRequest(method, c.base+p, nil)
		hr.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := c.http.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}

	candidates := map[string]bool{}
	words := []string{"status", "stats", "health", "events", "targets", "replicate", "failover", "verify", "validate",
		"restore", "plan", "diff", "manifest", "check", "prune", "gc", "operations", "snapshots",
		"checkpoints", "graphs", "metrics", "history", "collect", "summary", "prometheus", "backups",
		"recovery", "replication", "dashboard", "assets", "export", "import", "cancel", "latest",
		"openapi.yaml", "openapi.json", "receive", "receiver", "schedule", "jobs", "config", ulid}
	for p, item := range c.doc.Paths.Map() {
		inst := instance(p)
		var methods []string
		for m := range item.Operations() {
			methods = append(methods, m)
			if m == http.MethodGet && item.Head == nil {
				methods = append(methods, http.MethodHead)
			}
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(methods, m) {
				continue
			}
			status, h := send(m, inst)
			if status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s (of %s) answered %d, want 405", m, inst, p, status)
				continue
			}
			allow := strings.Split(strings.ReplaceAll(h.Get("Allow"), " ", ""), ",")
			sort.Strings(allow)
			sort.Strings(methods)
			if !slices.Equal(allow, methods) {
				t.Errorf("%s allows %v, the document %v", p, allow, methods)
			}
		}
		segs := strings.Split(strings.Trim(inst, "/"), "/")
		for i := 1; i < len(segs); i++ {
			candidates["/"+strings.Join(segs[:i], "/")] = true
			candidates["/"+strings.Join(segs[:i], "/")+"/"] = true
		}
		for _, w := range words {
			candidates[strings.TrimSuffix(inst, "/")+"/"+w] = true
		}
	}
	for _, prefix := range []string{bk, rec, mon, repl, recv} {
		for _, w := range words {
			candidates[prefix+"/"+w] = true
			candidates[prefix+"/"+w+"/"+ulid] = true
		}
	}
	n := 0
	for p := range candidates {
		if documented(p) {
			continue
		}
		for _, m := range []string{"GET", "POST"} {
			n++
			status, h := send(m, p)
			switch {
			case status == http.StatusNotFound:
			case underWildcard(p) && (m == "GET" && status == http.StatusBadRequest || m != "GET" && status == http.StatusMethodNotAllowed):
			default:
				t.Errorf("%s %s answered %d; the document has no such route", m, p, status)
			}
			if ct := h.Get("Content-Type"); status >= 400 && ct != "application/problem+json" {
				t.Errorf("%s %s answered %d as %q, not as a problem", m, p, status, ct)
			}
		}
	}
	t.Logf("%d probes of undocumented paths", n)
	if n < 100 {
		t.Errorf("only %d probes", n)
	}
}
