package recovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

type apiFixture struct {
	*fixture
	srv *httptest.Server
}

func newAPI(t *testing.T, h *health.Runner, opts api.Options) *apiFixture {
	t.Helper()
	f := newFixture(t)
	return newAPIOn(t, f, h, opts)
}

func newAPIOn(t *testing.T, f *fixture, h *health.Runner, opts api.Options) *apiFixture {
	t.Helper()
	if opts.Operations == nil {
		opts.Operations = api.NewOperations()
	}
	t.Cleanup(func() { opts.Operations.Close(context.Background()) })
	mux := http.NewServeMux()
	mux.Handle("/api/backup/recovery/", http.StripPrefix("/api/backup/recovery", NewHandler(f.svc, h, opts)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &apiFixture{fixture: f, srv: srv}
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (a *apiFixture) do(t *testing.T, method, path, body string, out any) *http.Response {
	t.Helper()
	return a.doAs(t, "", method, path, body, out)
}

// doAs is do with a bearer token, if not empty.
func (a *apiFixture) doAs(t *testing.T, token, method, path, body string, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.srv.URL+"/api/backup/recovery"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return resp
}

func TestHandlerCheckpointLifecycle(t *testing.T) {
	a := newAPI(t, nil, api.Options{})
	g := a.graph("g1", "alice", "bob")

	var cp meta.Checkpoint
	resp := a.do(t, "POST", "/checkpoints", `{"graph_ids": ["g1"], "description": "before import", "created_by": "ops", "metadata": {"ticket": 7}}`, &cp)
	if resp.StatusCode != http.StatusCreated || cp.ID == "" || len(cp.Graphs) != 1 || cp.Description != "before import" {
		t.Fatalf("create = %d %+v", resp.StatusCode, cp)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/backup/recovery/checkpoints/"+cp.ID {
		t.Errorf("Location = %q", loc)
	}
	var page api.Page[meta.Checkpoint]
	if resp := a.do(t, "GET", "/checkpoints?limit=10", "", &page); resp.StatusCode != http.StatusOK || len(page.Items) != 1 || page.Items[0].ID != cp.ID {
		t.Errorf("list = %d %+v", resp.StatusCode, page)
	}
	var got meta.Checkpoint
	if resp := a.do(t, "GET", "/checkpoints/"+cp.ID, "", &got); resp.StatusCode != http.StatusOK || got.ID != cp.ID {
		t.Errorf("get = %d %+v", resp.StatusCode, got)
	}
	var v Validation
	if resp := a.do(t, "POST", "/checkpoints/"+cp.ID+"/validate", "", &v); resp.StatusCode != http.StatusOK || !v.OK || !v.Checkpoint.Validated {
		t.Errorf("validate = %d %+v", resp.StatusCode, v)
	}

	into := memgraph.New()
	a.reg.Register("copy", into)
	body := `{"checkpoint_id": "` + cp.ID + `", "targets": {"g1": "copy"}}`
	var plan Plan
	if resp := a.do(t, "POST", "/plan", body, &plan); resp.StatusCode != http.StatusOK || !plan.Executable || len(plan.Steps) != 1 || plan.Steps[0].TargetGraph != "copy" {
		t.Fatalf("plan = %d %+v", resp.StatusCode, plan)
	}
	if into.Position() != 0 {
		t.Fatal("the plan wrote to the target")
	}
	var res RestoreResult
	if resp := a.do(t, "POST", "/restore?wait=true", body, &res); resp.StatusCode != http.StatusOK || len(res.Graphs) != 1 {
		t.Fatalf("restore = %d %+v", resp.StatusCode, res)
	}
	if d := diffGraphs(t, g, into); d != "" {
		t.Errorf("restored graph differs: %s", d)
	}

	// Without wait the restore is an operation to poll.
	var op api.OperationStatus
	resp = a.do(t, "POST", "/restore", body, &op)
	if resp.StatusCode != http.StatusAccepted || op.Kind != "restore" {
		t.Fatalf("restore = %d %+v", resp.StatusCode, op)
	}
	loc := strings.TrimPrefix(resp.Header.Get("Location"), "/api/backup/recovery")
	for op.Status == api.OpRunning {
		a.do(t, "GET", loc, "", &op)
	}
	if op.Status != api.OpSucceeded {
		t.Errorf("operation = %+v", op)
	}

	var status StatusReport
	if resp := a.do(t, "GET", "/status", "", &status); resp.StatusCode != http.StatusOK || len(status.Graphs) != 2 {
		t.Errorf("status = %d %+v", resp.StatusCode, status)
	}

	if resp := a.do(t, "DELETE", "/checkpoints/"+cp.ID, "", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete = %d", resp.StatusCode)
	}
	if resp := a.do(t, "GET", "/checkpoints/"+cp.ID, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("get after delete = %d", resp.StatusCode)
	}
}

// TestHandlerRejects sends bad requests: each is answered 4xx problem+json and
// changes nothing.
func TestHandlerRejects(t *testing.T) {
	a := newAPI(t, nil, api.Options{})
	a.graph("g1", "alice")
	a.reg.Register("copy", memgraph.New())
	cp, err := a.svc.Create(a.ctx, CreateRequest{GraphIDs: []string{"g1"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := &stepClock{base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	late := memgraph.New(memgraph.WithClock(clock.now))
	a.reg.Register("late", late)
	a.apply(late, peopleOps("x"))
	a.apply(late, peopleOps("y"))
	a.snapshot("late", late)

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		ctype  string // overrides application/json
		status int
		detail string
	}{
		{"no body", "POST", "/checkpoints", "", "", 400, "body is required"},
		{"unknown field", "POST", "/checkpoints", `{"graph_ids": ["g1"], "graphs": []}`, "", 400, `unknown field "graphs"`},
		{"not JSON", "POST", "/checkpoints", `{"graph_ids": [`, "", 400, "malformed JSON"},
		{"wrong type", "POST", "/checkpoints", `{"graph_ids": "g1"}`, "", 400, "graph_ids"},
		{"wrong content type", "POST", "/checkpoints", `{"graph_ids": ["g1"]}`, "text/plain", 415, "Content-Type"},
		{"no graphs", "POST", "/checkpoints", `{"graph_ids": []}`, "", 400, "graph_ids"},
		{"bad graph id", "POST", "/checkpoints", `{"graph_ids": ["../etc"]}`, "", 400, "graph_ids[0]"},
		{"graph twice", "POST", "/checkpoints", `{"graph_ids": ["g1", "g1"]}`, "", 400, "twice"},
		{"unknown graph", "POST", "/checkpoints", `{"graph_ids": ["g1", "nosuch"]}`, "", 404, "nosuch"},
		{"snapshot of a graph not named", "POST", "/checkpoints", `{"graph_ids": ["g1"], "snapshots": {"g2": "` + meta.NewID() + `"}}`, "", 400, "snapshots.g2"},
		{"bad snapshot id", "POST", "/checkpoints", `{"graph_ids": ["g1"], "snapshots": {"g1": "nope"}}`, "", 400, "snapshots.g1"},
		{"bad checkpoint id", "GET", "/checkpoints/nope", "", "", 400, "id"},
		{"unknown checkpoint", "GET", "/checkpoints/" + meta.NewID(), "", "", 404, "checkpoint"},
		{"delete bad id", "DELETE", "/checkpoints/nope", "", "", 400, "id"},
		{"validate unknown", "POST", "/checkpoints/" + meta.NewID() + "/validate", "", "", 404, "checkpoint"},
		{"validate with a body field", "POST", "/checkpoints/" + cp.ID + "/validate", `{"full": true}`, "", 400, "unknown field"},
		{"bad limit", "GET", "/checkpoints?limit=0", "", "", 400, "limit"},
		{"bad cursor", "GET", "/checkpoints?cursor=!!", "", "", 400, "cursor"},
		{"plan without a subject", "POST", "/plan", `{}`, "", 400, "checkpoint_id"},
		{"plan with both", "POST", "/plan", `{"checkpoint_id": "` + cp.ID + `", "graph_id": "g1"}`, "", 400, "graph_id"},
		{"plan time with a checkpoint", "POST", "/plan", `{"checkpoint_id": "` + cp.ID + `", "at": "2025-01-01T00:00:00Z"}`, "", 400, "at"},
		{"plan bad time", "POST", "/plan", `{"graph_id": "g1", "at": "yesterday"}`, "", 400, "invalid JSON value"},
		{"plan bad target", "POST", "/plan", `{"checkpoint_id": "` + cp.ID + `", "targets": {"g1": "a b"}}`, "", 400, "targets.g1"},
		{"plan unknown graph", "POST", "/plan", `{"graph_id": "nosuch"}`, "", 404, "nosuch"},
		{"restore before any snapshot", "POST", "/restore?wait=true", `{"graph_id": "late", "at": "2025-01-01T00:01:30Z", "targets": {"late": "copy"}}`, "", 409, "no completed snapshot"},
		{"restore into an unknown graph", "POST", "/restore?wait=true", `{"checkpoint_id": "` + cp.ID + `", "targets": {"g1": "nosuch"}}`, "", 404, "nosuch"},
		{"restore bad wait", "POST", "/restore?wait=maybe", `{"checkpoint_id": "` + cp.ID + `"}`, "", 400, "wait"},
		{"unknown path", "GET", "/nothing", "", "", 404, "no such resource"},
		{"wrong method", "PUT", "/checkpoints", "", "", 405, "PUT"},
		{"health bad fresh", "GET", "/health?fresh=perhaps", "", "", 400, "fresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := a.countCheckpoints()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, a.srv.URL+"/api/backup/recovery"+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			ct := "application/json"
			if tt.ctype != "" {
				ct = tt.ctype
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p api.Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || p.Status != tt.status {
				t.Errorf("status = %d (problem %d), want %d: %+v", resp.StatusCode, p.Status, tt.status, p)
			}
			if ct := resp.Header.Get("Content-Type"); ct != api.ContentTypeProblem {
				t.Errorf("Content-Type = %q, want problem+json", ct)
			}
			if text := p.Detail + " " + problemFields(p); !strings.Contains(text, tt.detail) {
				t.Errorf("problem %q, want it to mention %q", text, tt.detail)
			}
			if got := a.countCheckpoints(); got != before {
				t.Errorf("checkpoints %d → %d: a rejected request changed something", before, got)
			}
		})
	}
	if n, e := mustGraph(t, a, "copy").Len(); n+e != 0 {
		t.Errorf("rejected restores wrote %d nodes and %d edges", n, e)
	}
}

func problemFields(p api.Problem) string {
	var s []string
	for _, f := range p.Errors {
		s = append(s, f.Field)
	}
	return strings.Join(s, " ")
}

func mustGraph(t *testing.T, a *apiFixture, id string) *memgraph.Graph {
	t.Helper()
	g, err := a.reg.Graph(a.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return g.(*memgraph.Graph)
}

// TestHandlerScopes asks every route with no token, the read token and the write
// token: status routes are open, POST /plan and operations need a token, changes
// need the write token. The requests that get through are malformed, so that none
// changes anything.
func TestHandlerScopes(t *testing.T) {
	a := newAPI(t, nil, api.Options{Authorizer: api.BearerToken(api.Tokens{Write: "w", Read: "r"})})
	a.graph("g1", "alice")
	id := meta.NewID()
	tests := []struct {
		method, path, body string
		scope              api.Scope
	}{
		{"POST", "/checkpoints", `{}`, api.ScopeWrite},
		{"GET", "/checkpoints", "", api.ScopeStatus},
		{"GET", "/checkpoints/" + id, "", api.ScopeStatus},
		{"DELETE", "/checkpoints/nope", "", api.ScopeWrite},
		{"POST", "/checkpoints/nope/validate", "", api.ScopeWrite},
		{"POST", "/plan", `{}`, api.ScopeRead},
		{"POST", "/restore", `{}`, api.ScopeWrite},
		{"GET", "/operations/nope", "", api.ScopeRead},
		{"GET", "/health", "", api.ScopeStatus},
		{"GET", "/status", "", api.ScopeStatus},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for _, c := range []struct {
				token string
				want  int // 0: let through
			}{
				{"", map[api.Scope]int{api.ScopeRead: 401, api.ScopeWrite: 401}[tt.scope]},
				{"r", map[api.Scope]int{api.ScopeWrite: 403}[tt.scope]},
				{"w", 0},
			} {
				got := a.doAs(t, c.token, tt.method, tt.path, tt.body, nil).StatusCode
				denied := got == http.StatusUnauthorized || got == http.StatusForbidden
				switch {
				case c.want == 0 && denied:
					t.Errorf("token %q: status = %d, want the request let through", c.token, got)
				case c.want != 0 && got != c.want:
					t.Errorf("token %q: status = %d, want %d", c.token, got, c.want)
				}
			}
		})
	}
	if n := a.countCheckpoints(); n != 0 {
		t.Errorf("checkpoints = %d, want 0", n)
	}
}

// TestErrorMap checks the status each error of the handler's table answers with,
// also wrapped.
func TestErrorMap(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{ErrInvalid, 400}, {ErrNotFound, 404}, {ErrInexact, 409}, {ErrBusy, 409}, {ErrCorrupt, 422},
		{backup.ErrNotFound, 404}, {backup.ErrInvalid, 400}, {backup.ErrBusy, 409},
		{backup.ErrCorrupt, 422}, {backup.ErrWrongKey, 422}, {graph.ErrNotFound, 404},
		{meta.ErrNotFound, 404}, {meta.ErrInvalid, 400}, {meta.ErrConflict, 409}, {meta.ErrClosed, 503},
		{errors.New("something else"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			if got := errorMap.StatusOf(fmt.Errorf("recovery: doing it: %w", tt.err)); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHandlerHealth(t *testing.T) {
	f := newFixture(t)
	f.graph("g1", "alice")
	runner, err := health.New(f.st, []health.Checker{NewCheckpointCheck(f.svc, CheckpointPolicy{Required: true})}, health.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIOn(t, f, runner, api.Options{})
	stored := newAPIOn(t, f, nil, api.Options{})
	cp, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"g1"}})
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status string                    `json:"status"`
		Output string                    `json:"output"`
		Checks map[string][]healthDetail `json:"checks"`
	}
	tests := []struct {
		name   string
		api    *apiFixture
		setup  func(t *testing.T)
		path   string
		code   int
		status string
	}{
		{"unvalidated warns", a, nil, "/health", 200, "warn"},
		{"the last report is answered", a, func(t *testing.T) {
			if _, err := f.svc.Validate(f.ctx, cp.ID); err != nil {
				t.Fatal(err)
			}
		}, "/health", 200, "warn"},
		{"fresh runs the checks", a, nil, "/health?fresh=true", 200, "pass"},
		{"a damaged checkpoint fails", a, func(t *testing.T) {
			m, err := f.e.Manifest(f.ctx, cp.Graphs[0].SnapshotID)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.drv.Delete(f.ctx, m.Layers[0].Segments[0].Key); err != nil {
				t.Fatal(err)
			}
		}, "/health?fresh=1", 503, "fail"},
		{"without a runner the stored events answer", stored, nil, "/health", 503, "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			var ans answer
			resp := tt.api.do(t, "GET", tt.path, "", &ans)
			if resp.StatusCode != tt.code || ans.Status != tt.status {
				t.Errorf("health = %d %+v, want %d %s", resp.StatusCode, ans, tt.code, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != ContentTypeHealth {
				t.Errorf("Content-Type = %q", ct)
			}
			if _, ok := ans.Checks["recovery:checkpoint"]; !ok {
				t.Errorf("checks = %v, want recovery:checkpoint", ans.Checks)
			}
		})
	}
}

func TestHandlerPointInTime(t *testing.T) {
	a := newAPI(t, nil, api.Options{})
	clock := &stepClock{base: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	g := memgraph.New(memgraph.WithClock(clock.now))
	a.reg.Register("g", g)
	copies := history(t, a.fixture, "g", g, 5, 2)
	into := memgraph.New()
	a.reg.Register("copy", into)
	at := clock.at(4).Add(10 * time.Second).Format(time.RFC3339Nano)
	var res RestoreResult
	resp := a.do(t, "POST", "/restore?wait=1", `{"graph_id": "g", "at": "`+at+`", "targets": {"g": "copy"}}`, &res)
	if resp.StatusCode != http.StatusOK || !res.Exact {
		t.Fatalf("restore = %d %+v", resp.StatusCode, res)
	}
	if d := graphtest.DiffContent(copies[4], readContent(t, a.fixture, into)); d != "" {
		t.Errorf("restored graph differs from the graph after batch 4: %s", d)
	}
}

// signalCheck passes and says so on ran, without blocking.
type signalCheck struct{ ran chan struct{} }

func (signalCheck) Component() string { return "test" }
func (signalCheck) Name() string      { return "signal" }
func (c signalCheck) Check(context.Context) health.Result {
	select {
	case c.ran <- struct{}{}:
	default:
	}
	return health.Result{Status: health.Pass}
}

// TestHandlerTriggersHealth runs the health checks every hour: a checkpoint created
// through the handler still shows in the next report at once.
func TestHandlerTriggersHealth(t *testing.T) {
	f := newFixture(t)
	f.graph("g1", "alice")
	ran := make(chan struct{}, 1)
	runner, err := health.New(f.st, []health.Checker{NewCheckpointCheck(f.svc, CheckpointPolicy{Required: true}), signalCheck{ran}},
		health.WithInterval(time.Hour), health.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIOn(t, f, runner, api.Options{})
	if err := runner.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Close(context.Background()) })
	wait := func(what string) {
		t.Helper()
		select {
		case <-ran:
		case <-time.After(10 * time.Second): // a guard, not a wait: a run takes milliseconds
			t.Fatalf("no health run %s", what)
		}
	}
	wait("after Start")
	if resp := a.do(t, "POST", "/checkpoints", `{"graph_ids": ["g1"]}`, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d", resp.StatusCode)
	}
	wait("after the checkpoint was created")
	if err := runner.Close(f.ctx); err != nil { // waits for the run to finish
		t.Fatal(err)
	}
	rep, _ := runner.Last()
	i := slices.IndexFunc(rep.Checks, func(c health.CheckResult) bool { return c.Key() == "recovery:checkpoint" })
	if i < 0 {
		t.Fatalf("checks = %+v, want recovery:checkpoint", rep.Checks)
	}
	if c := rep.Checks[i]; c.Status != health.Warn || !strings.Contains(c.Message, "not validated") {
		t.Errorf("recovery:checkpoint = %s %q, want warn: the new checkpoint is not validated", c.Status, c.Message)
	}
}
