package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

// server is a handler under test with its engine, catalog and operations.
type server struct {
	t       *testing.T
	ctx     context.Context
	engine  *Engine
	store   *meta.Store
	bucket  *blob.Bucket
	graphs  *graph.Registry
	ops     *api.Operations
	handler http.Handler // what requests are sent to
	prefix  string       // where handler is mounted
	spec    *openAPISpec
}

// newServer returns a handler made with opts, whose operations and logger it
// fills in.
func newServer(t *testing.T, opts api.Options) *server {
	t.Helper()
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := blob.NewBucket(memblob.New())
	quiet := slog.New(slog.DiscardHandler)
	e, err := New(st, b, WithSegmentSize(1<<10, 16<<10, 16), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ops := api.NewOperations(api.WithOperationsLogger(quiet))
	t.Cleanup(func() { ops.Close(context.Background()) })
	reg := &graph.Registry{}
	reg.Register("g1", loadGraph(t, 40, 80, 1))
	reg.Register("g2", memgraph.New())
	if opts.Operations == nil {
		opts.Operations = ops
	}
	opts.Logger = quiet
	return &server{
		t: t, ctx: ctx, engine: e, store: st, bucket: b, graphs: reg, ops: opts.Operations,
		handler: NewHandler(e, reg, opts), spec: loadSpec(t),
	}
}

func loadGraph(t *testing.T, nodes, edges int, seed uint64) *memgraph.Graph {
	t.Helper()
	g := memgraph.New()
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: nodes, Edges: edges, Seed: seed, Labels: true})
	if err := gen.Replace(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

// response is an answer the handler gave.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body does not decode into %T: %v: %s", v, err, r.body)
	}
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != api.ContentTypeProblem {
		t.Fatalf("Content-Type = %q, want problem+json (status %d: %s)", ct, r.code, r.body)
	}
	var p api.Problem
	r.decode(t, &p)
	if p.Status != r.code {
		t.Fatalf("problem status %d, response status %d", p.Status, r.code)
	}
	return p
}

// do sends a request with a JSON body (a string is sent as is, nil sends none) and
// checks the answer against openapi.yaml.
func (a *server) do(method, target string, body any, header ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, a.prefix+target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	res := response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	a.spec.check(a.t, method, req.URL.Path[len(a.prefix):], res)
	return res
}

func (a *server) want(res response, code int) response {
	a.t.Helper()
	if res.code != code {
		a.t.Fatalf("status %d, want %d: %s", res.code, code, res.body)
	}
	return res
}

// await waits for the operation a 202 answer started and returns its final state
// as fetched through the API, with the given request headers.
func (a *server) await(res response, header ...string) api.OperationStatus {
	a.t.Helper()
	a.want(res, http.StatusAccepted)
	var st api.OperationStatus
	res.decode(a.t, &st)
	if got, want := res.header.Get("Location"), a.prefix+"/operations/"+st.ID; got != want {
		a.t.Fatalf("Location = %q, want %q", got, want)
	}
	op, ok := a.ops.Get(st.ID)
	if !ok {
		a.t.Fatalf("operation %s not in the registry", st.ID)
	}
	<-op.Done()
	a.want(a.do("GET", "/operations/"+st.ID, nil, header...), http.StatusOK).decode(a.t, &st)
	return st
}

// resultOf re-encodes an operation's result into v.
func resultOf(t *testing.T, st api.OperationStatus, v any) {
	t.Helper()
	if st.Status != api.OpSucceeded {
		t.Fatalf("operation %s: %+v", st.Status, st.Error)
	}
	b, err := json.Marshal(st.Result)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// written counts snapshot rows and bucket objects: what a rejected request must
// not change.
func (a *server) written() (rows, objects int) {
	a.t.Helper()
	n, err := a.store.CountSnapshots(a.ctx, meta.SnapshotFilter{})
	if err != nil {
		a.t.Fatal(err)
	}
	for _, err := range a.bucket.List(a.ctx, "") {
		if err != nil {
			a.t.Fatal(err)
		}
		objects++
	}
	return n, objects
}

func (a *server) snapshot(graphID string) meta.Snapshot {
	a.t.Helper()
	var row meta.Snapshot
	a.want(a.do("POST", "/graphs/"+graphID+"/snapshots?wait=true", nil), http.StatusCreated).decode(a.t, &row)
	return row
}

func TestHandlerFlow(t *testing.T) {
	a := newServer(t, api.Options{})

	// The old documented call: no body, no content type.
	var first meta.Snapshot
	resultOf(t, a.await(a.do("POST", "/graphs/g1/snapshots", nil)), &first)
	if first.GraphID != "g1" || first.Status != meta.SnapshotCompleted || first.Nodes != 40 {
		t.Fatalf("first snapshot: %+v", first)
	}

	g1, _ := a.graphs.Graph(a.ctx, "g1")
	if err := g1.Apply(a.ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "NEW NODE", Labels: []string{"x"}}}}); err != nil {
		t.Fatal(err)
	}
	res := a.want(a.do("POST", "/graphs/g1/snapshots", map[string]any{"kind": "incremental", "labels": map[string]string{"by": "test"}, "wait": true}), http.StatusCreated)
	var second meta.Snapshot
	res.decode(t, &second)
	if second.Kind != meta.SnapshotIncremental || second.Labels["by"] != "test" || second.ParentID != first.ID {
		t.Fatalf("second snapshot: %+v", second)
	}
	if got, want := res.header.Get("Location"), "/snapshots/"+second.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}

	var got meta.Snapshot
	a.want(a.do("GET", "/snapshots/"+second.ID, nil), http.StatusOK).decode(t, &got)
	if got.ID != second.ID || got.RootHash != second.RootHash {
		t.Errorf("GET snapshot = %+v, want %+v", got, second)
	}

	var list api.Page[meta.Snapshot]
	a.want(a.do("GET", "/graphs/g1/snapshots", nil), http.StatusOK).decode(t, &list)
	if ids := snapshotIDs(list.Items); !slices.Equal(ids, []string{second.ID, first.ID}) || list.NextCursor != "" {
		t.Errorf("list = %v next %q, want [%s %s]", ids, list.NextCursor, second.ID, first.ID)
	}

	var m Manifest
	a.want(a.do("GET", "/snapshots/"+second.ID+"/manifest", nil), http.StatusOK).decode(t, &m)
	if m.ID != second.ID || m.Nodes != 41 || len(m.Layers) != 2 {
		t.Errorf("manifest: id %s nodes %d layers %d", m.ID, m.Nodes, len(m.Layers))
	}

	var quick VerifyReport
	a.want(a.do("POST", "/snapshots/"+second.ID+"/verify", nil), http.StatusOK).decode(t, &quick)
	var full VerifyReport
	resultOf(t, a.await(a.do("POST", "/snapshots/"+second.ID+"/verify", map[string]bool{"full": true})), &full)
	var fullWait VerifyReport
	a.want(a.do("POST", "/snapshots/"+second.ID+"/verify?wait=true", map[string]bool{"full": true}), http.StatusOK).decode(t, &fullWait)
	for _, rep := range []struct {
		r    VerifyReport
		full bool
	}{{quick, false}, {full, true}, {fullWait, true}} {
		if !rep.r.OK || rep.r.Full != rep.full || rep.r.SnapshotID != second.ID {
			t.Errorf("verify report: %+v, want ok, full %v", rep.r, rep.full)
		}
	}

	for _, target := range []string{"/diff?from=" + first.ID + "&to=" + second.ID, "/snapshots/" + first.ID + "/diff/" + second.ID} {
		var d Diff
		a.want(a.do("GET", target, nil), http.StatusOK).decode(t, &d)
		if d.Nodes.Added != 1 || d.Nodes.Removed != 0 || len(d.NodeDiffs) != 1 || d.NodeDiffs[0].ID != "NEW NODE" {
			t.Errorf("GET %s: %+v", target, d)
		}
	}

	// Restore: a dry run writes nothing, then a real one into g2.
	g2, _ := a.graphs.Graph(a.ctx, "g2")
	var plan RestorePlan
	a.want(a.do("POST", "/snapshots/"+second.ID+"/restore", map[string]any{"target_graph": "g2", "dry_run": true}), http.StatusOK).decode(t, &plan)
	if !plan.DryRun || !plan.Restorable || plan.Nodes != 41 || plan.TargetGraph != "g2" || plan.SourceGraph != "g1" || plan.Objects == 0 || plan.Bytes == 0 {
		t.Errorf("plan: %+v", plan)
	}
	if n, _ := g2.(*memgraph.Graph).Len(); n != 0 {
		t.Fatalf("dry run wrote %d nodes", n)
	}
	var rr RestoreResult
	resultOf(t, a.await(a.do("POST", "/snapshots/"+second.ID+"/restore", map[string]any{"target_graph": "g2"})), &rr)
	if n, e := g2.(*memgraph.Graph).Len(); rr.Nodes != 41 || n != 41 || int64(e) != rr.Edges || rr.SnapshotID != second.ID {
		t.Errorf("restore result %+v, g2 has %d nodes %d edges", rr, n, e)
	}
	// A partial restore merges: the node comes back and the rest of g2 stays.
	mg2 := g2.(*memgraph.Graph)
	if err := mg2.Apply(a.ctx, []graph.Op{{Kind: graph.OpDeleteNode, Node: graph.Node{ID: "NEW NODE"}}}); err != nil {
		t.Fatal(err)
	}
	rr = RestoreResult{}
	a.want(a.do("POST", "/snapshots/"+second.ID+"/restore?wait=true", map[string]any{"target_graph": "g2", "node_ids": []string{"NEW NODE"}}), http.StatusOK).decode(t, &rr)
	if n, _ := mg2.Len(); !rr.Partial || rr.Mode != RestoreMerged || rr.Nodes != 1 || n != 41 {
		t.Errorf("partial restore result %+v, g2 has %d nodes, want 41", rr, n)
	}
	if _, ok := mg2.Node("NEW NODE"); !ok {
		t.Errorf("the merged node is not in g2")
	}
	// A selection of nothing is 422 and writes nothing, merging or replacing.
	before, pos := content(t, mg2), mg2.Position()
	for _, body := range []map[string]any{
		{"target_graph": "g2", "node_ids": []string{"no such node"}},
		{"target_graph": "g2", "labels": []string{"no such label"}, "replace": true},
	} {
		p := a.want(a.do("POST", "/snapshots/"+second.ID+"/restore?wait=true", body), http.StatusUnprocessableEntity).problem(t)
		if !strings.Contains(p.Detail, "selection") {
			t.Errorf("empty selection problem: %+v", p)
		}
		st := a.await(a.do("POST", "/snapshots/"+second.ID+"/restore", body))
		if st.Status != api.OpFailed || st.Error == nil || st.Error.Status != http.StatusUnprocessableEntity {
			t.Errorf("empty selection operation: %+v", st)
		}
	}
	if d := graphtest.DiffContent(before, content(t, mg2)); d != "" || mg2.Position() != pos {
		t.Errorf("an empty selection changed g2 (position %d → %d): %s", pos, mg2.Position(), d)
	}
	// With replace the graph becomes the selection.
	rr = RestoreResult{}
	a.want(a.do("POST", "/snapshots/"+second.ID+"/restore?wait=true", map[string]any{"target_graph": "g2", "node_ids": []string{"NEW NODE"}, "replace": true}), http.StatusOK).decode(t, &rr)
	if n, _ := mg2.Len(); !rr.Partial || rr.Mode != RestoreReplaced || rr.Nodes != 1 || n != 1 {
		t.Errorf("replacing partial restore result %+v, g2 has %d nodes, want 1", rr, n)
	}

	var graphs api.Page[GraphInfo]
	a.want(a.do("GET", "/graphs", nil), http.StatusOK).decode(t, &graphs)
	if len(graphs.Items) != 2 || graphs.Items[0].ID != "g1" || graphs.Items[0].Stats == nil || graphs.Items[0].Stats.Completed != 2 ||
		graphs.Items[1].ID != "g2" || !graphs.Items[1].Registered || graphs.Items[1].Stats != nil {
		t.Errorf("graphs: %+v", graphs.Items)
	}
	var stats api.Page[meta.GraphStats]
	a.want(a.do("GET", "/stats", nil), http.StatusOK).decode(t, &stats)
	if len(stats.Items) != 1 || stats.Items[0].GraphID != "g1" || stats.Items[0].Snapshots != 2 {
		t.Errorf("stats: %+v", stats.Items)
	}

	var pr PruneResult
	a.want(a.do("POST", "/graphs/g1/prune", map[string]any{"keep_last": 1, "keep_within": "0s", "dry_run": true}), http.StatusOK).decode(t, &pr)
	if !pr.DryRun || !slices.Equal(pr.Removed, []string{first.ID}) {
		t.Errorf("prune dry run: %+v", pr)
	}
	if rows, _ := a.written(); rows != 2 {
		t.Fatalf("dry-run prune left %d rows, want 2", rows)
	}
	a.want(a.do("POST", "/graphs/g1/prune", map[string]any{"keep_last": 1}), http.StatusOK).decode(t, &pr)
	if pr.DryRun || !slices.Equal(pr.Removed, []string{first.ID}) {
		t.Errorf("prune: %+v", pr)
	}
	a.want(a.do("GET", "/snapshots/"+first.ID, nil), http.StatusNotFound).problem(t)

	a.want(a.do("DELETE", "/snapshots/"+second.ID, nil), http.StatusNoContent)
	a.want(a.do("DELETE", "/snapshots/"+second.ID, nil), http.StatusNotFound).problem(t)

	var gc GCResult
	a.want(a.do("POST", "/gc?wait=true", map[string]string{"grace": "0s"}), http.StatusOK).decode(t, &gc)
	if gc.Deleted == 0 || gc.DryRun {
		t.Errorf("gc: %+v", gc)
	}
	if _, objects := a.written(); objects != 0 {
		t.Errorf("%d objects left after deleting every snapshot and collecting", objects)
	}
	resultOf(t, a.await(a.do("POST", "/gc", nil)), &gc)
}

func snapshotIDs(rows []meta.Snapshot) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func TestHandlerRejectsBadRequests(t *testing.T) {
	a := newServer(t, api.Options{MaxBodyBytes: 256})
	snap := a.snapshot("g1")
	unknown := meta.NewID()
	long := strings.Repeat("a", 300)
	tests := []struct {
		name   string
		method string
		target string
		body   any
		header []string
		want   int
	}{
		{"malformed JSON", "POST", "/graphs/g1/snapshots", `{"kind": }`, nil, 400},
		{"unknown field", "POST", "/graphs/g1/snapshots", `{"kind":"full","color":"red"}`, nil, 400},
		{"two values", "POST", "/graphs/g1/snapshots", `{} {}`, nil, 400},
		{"wrong field type", "POST", "/graphs/g1/snapshots", `{"labels":["a"]}`, nil, 400},
		{"bad kind", "POST", "/graphs/g1/snapshots", `{"kind":"synthetic"}`, nil, 400},
		{"oversize body", "POST", "/graphs/g1/snapshots", `{"labels":{"a":"` + strings.Repeat("x", 300) + `"}}`, nil, 413},
		{"wrong content type", "POST", "/graphs/g1/snapshots", `{}`, []string{"Content-Type", "text/plain"}, 415},
		{"no content type", "POST", "/graphs/g1/snapshots", `{}`, []string{"Content-Type", ""}, 415},
		{"bad wait", "POST", "/graphs/g1/snapshots?wait=maybe", nil, nil, 400},
		{"dot-dot graph id", "POST", "/graphs/..%2Fx/snapshots", nil, nil, 400},
		{"dot-dot path", "POST", "/graphs/../x/snapshots", nil, nil, 400},
		{"long graph id", "POST", "/graphs/" + long + "/snapshots", nil, nil, 400},
		{"graph id with space", "POST", "/graphs/a%20b/snapshots", nil, nil, 400},
		{"unknown graph", "POST", "/graphs/nope/snapshots", nil, nil, 404},
		{"list bad limit", "GET", "/graphs/g1/snapshots?limit=0", nil, nil, 400},
		{"list bad cursor", "GET", "/graphs/g1/snapshots?cursor=xyz", nil, nil, 400},
		{"list bad status", "GET", "/graphs/g1/snapshots?status=done", nil, nil, 400},
		{"list bad kind", "GET", "/graphs/g1/snapshots?kind=big", nil, nil, 400},
		{"bad snapshot id", "GET", "/snapshots/..%2F..%2Fetc", nil, nil, 400},
		{"long snapshot id", "GET", "/snapshots/" + long, nil, nil, 400},
		{"lower-case snapshot id", "GET", "/snapshots/" + strings.ToLower(snap.ID), nil, nil, 400},
		{"unknown snapshot", "GET", "/snapshots/" + unknown, nil, nil, 404},
		{"manifest of unknown", "GET", "/snapshots/" + unknown + "/manifest", nil, nil, 404},
		{"delete unknown", "DELETE", "/snapshots/" + unknown, nil, nil, 404},
		{"delete bad id", "DELETE", "/snapshots/x", nil, nil, 400},
		{"restore unknown snapshot", "POST", "/snapshots/" + unknown + "/restore", nil, nil, 404},
		{"restore into unknown graph", "POST", "/snapshots/" + snap.ID + "/restore", `{"target_graph":"nope"}`, nil, 404},
		{"restore into bad graph id", "POST", "/snapshots/" + snap.ID + "/restore", `{"target_graph":"../x"}`, nil, 400},
		{"restore bad hops", "POST", "/snapshots/" + snap.ID + "/restore", `{"node_ids":["A"],"hops":99}`, nil, 400},
		{"restore hops alone", "POST", "/snapshots/" + snap.ID + "/restore", `{"hops":1}`, nil, 400},
		{"restore empty node id", "POST", "/snapshots/" + snap.ID + "/restore", `{"node_ids":[""]}`, nil, 400},
		{"restore empty label", "POST", "/snapshots/" + snap.ID + "/restore", `{"labels":[""]}`, nil, 400},
		{"restore unknown field", "POST", "/snapshots/" + snap.ID + "/restore", `{"target":"g2"}`, nil, 400},
		{"verify unknown", "POST", "/snapshots/" + unknown + "/verify", nil, nil, 404},
		{"full verify unknown", "POST", "/snapshots/" + unknown + "/verify", `{"full":true}`, nil, 404},
		{"verify unknown field", "POST", "/snapshots/" + snap.ID + "/verify", `{"deep":true}`, nil, 400},
		{"diff missing to", "GET", "/diff?from=" + snap.ID, nil, nil, 400},
		{"diff bad from", "GET", "/diff?from=x&to=" + snap.ID, nil, nil, 400},
		{"diff unknown", "GET", "/snapshots/" + snap.ID + "/diff/" + unknown, nil, nil, 404},
		{"diff bad limit", "GET", "/snapshots/" + snap.ID + "/diff/" + snap.ID + "?limit=0", nil, nil, 400},
		{"prune without body", "POST", "/graphs/g1/prune", nil, nil, 400},
		{"prune negative", "POST", "/graphs/g1/prune", `{"keep_last":-1}`, nil, 400},
		{"prune bad duration", "POST", "/graphs/g1/prune", `{"keep_within":"a week"}`, nil, 400},
		{"prune bad graph id", "POST", "/graphs/..%2Fx/prune", `{}`, nil, 400},
		{"gc negative grace", "POST", "/gc", `{"grace":"-1h"}`, nil, 400},
		{"gc unknown field", "POST", "/gc", `{"force":true}`, nil, 400},
		{"unknown operation", "GET", "/operations/AAAAAAAAAAAAAAAAAAAAAAAAAA", nil, nil, 404},
		{"bad operation id", "GET", "/operations/x", nil, nil, 400},
		{"unknown route", "GET", "/nothing", nil, nil, 404},
		{"wrong method", "PUT", "/snapshots/" + snap.ID, nil, nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, objects := a.written()
			res := a.do(tt.method, tt.target, tt.body, tt.header...)
			if res.code != tt.want {
				t.Fatalf("status %d, want %d: %s", res.code, tt.want, res.body)
			}
			p := res.problem(t)
			if p.Detail == "" {
				t.Error("problem without detail")
			}
			if r, o := a.written(); r != rows || o != objects {
				t.Errorf("rows %d → %d, objects %d → %d: a rejected request wrote", rows, r, objects, o)
			}
		})
	}
}

func TestHandlerPagination(t *testing.T) {
	a := newServer(t, api.Options{})
	g1, _ := a.graphs.Graph(a.ctx, "g1")
	var want []string
	for range 7 {
		row, err := a.engine.Snapshot(a.ctx, "g1", g1, SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{row.ID}, want...) // newest first
	}
	if _, err := a.engine.Snapshot(a.ctx, "other", g1, SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 3, 7, 50} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(want) {
					t.Fatal("pagination does not end")
				}
				target := fmt.Sprintf("/graphs/g1/snapshots?status=completed&limit=%d", limit)
				if cursor != "" {
					target += "&cursor=" + cursor
				}
				var page api.Page[meta.Snapshot]
				a.want(a.do("GET", target, nil), http.StatusOK).decode(t, &page)
				if len(page.Items) > limit {
					t.Fatalf("page of %d items, limit %d", len(page.Items), limit)
				}
				got = append(got, snapshotIDs(page.Items)...)
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Fatalf("walked %v, want %v", got, want)
			}
		})
	}
	var failed api.Page[meta.Snapshot]
	a.want(a.do("GET", "/graphs/g1/snapshots?status=failed", nil), http.StatusOK).decode(t, &failed)
	if len(failed.Items) != 0 {
		t.Errorf("failed snapshots: %v", snapshotIDs(failed.Items))
	}
}

func TestHandlerMountedWithAuth(t *testing.T) {
	a := newServer(t, api.Options{Authorizer: api.BearerToken(api.Tokens{Write: "s3cret"})})
	const prefix = "/api/backup/backup"
	outer := http.NewServeMux()
	outer.Handle(prefix+"/", http.StripPrefix(prefix, a.handler))
	a.handler, a.prefix = outer, prefix

	tests := []struct {
		name   string
		method string
		target string
		header []string
		want   int
	}{
		{"snapshot without token", "POST", "/graphs/g1/snapshots", nil, 401},
		{"snapshot with wrong token", "POST", "/graphs/g1/snapshots", []string{"Authorization", "Bearer nope"}, 401},
		{"gc without token", "POST", "/gc", nil, 401},
		{"delete without token", "DELETE", "/snapshots/" + meta.NewID(), nil, 401},
		{"list without token", "GET", "/graphs/g1/snapshots", nil, 200},
		{"stats without token", "GET", "/stats", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, objects := a.written()
			res := a.do(tt.method, tt.target, nil, tt.header...)
			if res.code != tt.want {
				t.Fatalf("status %d, want %d: %s", res.code, tt.want, res.body)
			}
			if tt.want == 401 {
				p := res.problem(t)
				if res.header.Get("WWW-Authenticate") == "" || p.Instance != prefix+tt.target {
					t.Errorf("problem %+v, WWW-Authenticate %q", p, res.header.Get("WWW-Authenticate"))
				}
			}
			if r, o := a.written(); r != rows || o != objects {
				t.Errorf("rows %d → %d, objects %d → %d", rows, r, objects, o)
			}
		})
	}

	// The documented call, under its documented path, with the token.
	st := a.await(a.do("POST", "/graphs/g1/snapshots", nil, "Authorization", "Bearer s3cret"), "Authorization", "Bearer s3cret")
	var row meta.Snapshot
	resultOf(t, st, &row)
	res := a.want(a.do("POST", "/graphs/g1/snapshots?wait=true", nil, "Authorization", "Bearer s3cret"), http.StatusCreated)
	if got, want := res.header.Get("Location"), prefix+"/snapshots/"; !strings.HasPrefix(got, want) {
		t.Errorf("Location = %q, want under %q", got, want)
	}
	var list api.Page[meta.Snapshot]
	a.want(a.do("GET", "/graphs/g1/snapshots", nil), http.StatusOK).decode(t, &list)
	if len(list.Items) != 2 || list.Items[1].ID != row.ID {
		t.Errorf("list after snapshots: %v", snapshotIDs(list.Items))
	}
}

func TestHandlerOperationFailure(t *testing.T) {
	a := newServer(t, api.Options{})
	a.graphs.Register("broken", failingReader{})
	st := a.await(a.do("POST", "/graphs/broken/snapshots", nil))
	if st.Status != api.OpFailed || st.Error == nil || st.Error.Status != 500 || strings.Contains(st.Error.Detail, "disk on fire") {
		t.Fatalf("failed snapshot operation: %+v error %+v", st, st.Error)
	}
	res := a.want(a.do("POST", "/graphs/broken/snapshots?wait=true", nil), http.StatusInternalServerError)
	if p := res.problem(t); strings.Contains(p.Detail, "disk on fire") {
		t.Errorf("500 leaks the error: %+v", p)
	}
	var failed api.Page[meta.Snapshot]
	a.want(a.do("GET", "/graphs/broken/snapshots?status=failed", nil), http.StatusOK).decode(t, &failed)
	if len(failed.Items) != 2 {
		t.Errorf("%d failed rows, want 2", len(failed.Items))
	}
	// A snapshot in progress cannot be deleted; a failed one can.
	a.want(a.do("DELETE", "/snapshots/"+failed.Items[0].ID, nil), http.StatusNoContent)
}

// failingReader is a graph whose views cannot be opened.
type failingReader struct{ graph.Graph }

func (failingReader) View(context.Context) (graph.View, error) {
	return nil, fmt.Errorf("disk on fire")
}

func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", ErrNotFound), 404},
		{fmt.Errorf("x: %w", graph.ErrNotFound), 404},
		{fmt.Errorf("x: %w", meta.ErrNotFound), 404},
		{ErrInvalid, 400},
		{fmt.Errorf("x: %w", meta.ErrInvalid), 400},
		{ErrBusy, 409},
		{fmt.Errorf("x: %w", meta.ErrConflict), 409},
		{&CorruptError{Key: "k", Err: fmt.Errorf("bad")}, 422},
		{ErrWrongKey, 422},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 504},
		{fmt.Errorf("x: %w", meta.ErrClosed), 503},
		{fmt.Errorf("disk on fire"), 500},
	}
	for _, tt := range tests {
		if got := errorStatuses.StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// openAPISpec is the part of openapi.yaml the tests check answers against.
type openAPISpec struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"` // path → method (or "parameters") → operation
	Components struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema yaml.Node `yaml:"schema"`
			} `yaml:"content"`
		} `yaml:"responses"`
		Schemas map[string]struct {
			Required []string `yaml:"required"`
		} `yaml:"schemas"`
	} `yaml:"components"`
	templates []pathTemplate
}

type pathTemplate struct {
	path string
	re   *regexp.Regexp
}

func loadSpec(t *testing.T) *openAPISpec {
	t.Helper()
	var s openAPISpec
	if err := yaml.Unmarshal(OpenAPI, &s); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	for p := range s.Paths {
		re := regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`)
		s.templates = append(s.templates, pathTemplate{p, regexp.MustCompile("^" + re + "$")})
	}
	return &s
}

// check fails the test unless openapi.yaml documents the answer: its path and
// method, its status (explicitly, for anything under 500), and for a 2xx JSON
// object answer the required properties of its schema.
func (s *openAPISpec) check(t *testing.T, method, path string, res response) {
	t.Helper()
	var tmpl string
	for _, pt := range s.templates {
		if pt.re.MatchString(path) {
			tmpl = pt.path
		}
	}
	if tmpl == "" {
		if res.code != 400 && res.code != 404 {
			t.Errorf("openapi.yaml: no path matches %s answered %d", path, res.code)
		}
		return
	}
	node, ok := s.Paths[tmpl][strings.ToLower(method)]
	if !ok {
		if res.code != 405 {
			t.Errorf("openapi.yaml: no %s %s, answered %d", method, tmpl, res.code)
		}
		return
	}
	var op struct {
		Responses map[string]yaml.Node `yaml:"responses"`
	}
	if err := node.Decode(&op); err != nil {
		t.Fatalf("openapi.yaml: %s %s: %v", method, tmpl, err)
	}
	resp, ok := op.Responses[strconv.Itoa(res.code)]
	if !ok {
		if _, def := op.Responses["default"]; !def || res.code < 500 {
			t.Errorf("openapi.yaml: %s %s does not list status %d", method, tmpl, res.code)
		}
		return
	}
	if res.code >= 300 || res.header.Get("Content-Type") != api.ContentTypeJSON {
		return
	}
	schema := s.schemaOf(resp)
	if schema == "" {
		return
	}
	var body map[string]any
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Errorf("%s %s: %d body is not an object: %s", method, tmpl, res.code, res.body)
		return
	}
	for _, f := range s.Components.Schemas[schema].Required {
		if _, ok := body[f]; !ok {
			t.Errorf("%s %s: %d answer lacks %q, required by schema %s", method, tmpl, res.code, f, schema)
		}
	}
}

// schemaOf follows a response (or response $ref) to the name of its JSON schema;
// "" for none or a oneOf.
func (s *openAPISpec) schemaOf(resp yaml.Node) string {
	var r struct {
		Ref     string `yaml:"$ref"`
		Content map[string]struct {
			Schema struct {
				Ref string `yaml:"$ref"`
			} `yaml:"schema"`
		} `yaml:"content"`
	}
	if err := resp.Decode(&r); err != nil {
		return ""
	}
	ref := r.Content["application/json"].Schema.Ref
	if r.Ref != "" {
		var sr struct {
			Ref string `yaml:"$ref"`
		}
		schema := s.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")].Content["application/json"].Schema
		if err := schema.Decode(&sr); err == nil {
			ref = sr.Ref
		}
	}
	return strings.TrimPrefix(ref, "#/components/schemas/")
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	s := loadSpec(t)
	routes := []string{
		"GET /graphs", "POST /graphs/{id}/snapshots", "GET /graphs/{id}/snapshots", "POST /graphs/{id}/prune",
		"GET /snapshots/{sid}", "DELETE /snapshots/{sid}", "GET /snapshots/{sid}/manifest",
		"POST /snapshots/{sid}/restore", "POST /snapshots/{sid}/verify", "GET /snapshots/{sid}/diff/{other}",
		"GET /diff", "POST /gc", "GET /stats", "GET /operations/{id}",
	}
	var documented []string
	for p, methods := range s.Paths {
		for m := range methods {
			if m != "parameters" {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	if !slices.Equal(routes, documented) {
		t.Fatalf("documented %v, served %v", documented, routes)
	}
}

// TestHandlerCachedAnswersSeeWrites reads the snapshot list and the stats, which
// are kept between requests, then changes the snapshots through the API: the next
// reads show each change at once.
func TestHandlerCachedAnswersSeeWrites(t *testing.T) {
	a := newServer(t, api.Options{})
	list := func() []string {
		t.Helper()
		var page api.Page[meta.Snapshot]
		a.want(a.do("GET", "/graphs/g1/snapshots?limit=10", nil), http.StatusOK).decode(t, &page)
		return snapshotIDs(page.Items)
	}
	count := func() int64 {
		t.Helper()
		var page api.Page[meta.GraphStats]
		a.want(a.do("GET", "/stats", nil), http.StatusOK).decode(t, &page)
		var n int64
		for _, g := range page.Items {
			n += g.Snapshots
		}
		return n
	}
	if got, n := list(), count(); len(got) != 0 || n != 0 {
		t.Fatalf("empty store: list %v, stats count %d", got, n)
	}
	first := a.snapshot("g1")
	if got, n := list(), count(); !slices.Equal(got, []string{first.ID}) || n != 1 {
		t.Fatalf("after a snapshot: list %v, stats count %d; want [%s] and 1", got, n, first.ID)
	}
	second := a.snapshot("g1")
	if got, n := list(), count(); !slices.Equal(got, []string{second.ID, first.ID}) || n != 2 {
		t.Fatalf("after a second snapshot: list %v, stats count %d; want [%s %s] and 2", got, n, second.ID, first.ID)
	}
	a.want(a.do("DELETE", "/snapshots/"+second.ID, nil), http.StatusNoContent)
	if got, n := list(), count(); !slices.Equal(got, []string{first.ID}) || n != 1 {
		t.Fatalf("after a delete: list %v, stats count %d; want [%s] and 1", got, n, first.ID)
	}
	// A closed store answers 503, not a kept answer.
	a.store.Close()
	a.want(a.do("GET", "/graphs/g1/snapshots?limit=10", nil), http.StatusServiceUnavailable)
	a.want(a.do("GET", "/stats", nil), http.StatusServiceUnavailable)
}

// TestHandlerSnapshotAcceptedNamesSnapshot starts a snapshot that waits for its
// graph: the 202 answer names the snapshot, whose row is there at once, and the
// finished operation shows the snapshot's totals as its progress.
func TestHandlerSnapshotAcceptedNamesSnapshot(t *testing.T) {
	a := newServer(t, api.Options{})
	g1, _ := a.graphs.Graph(a.ctx, "g1")
	slow := &gatedReader{Graph: g1.(graph.Graph), open: make(chan struct{})}
	release := sync.OnceFunc(func() { close(slow.open) })
	t.Cleanup(release)
	a.graphs.Register("slow", slow)

	res := a.want(a.do("POST", "/graphs/slow/snapshots", map[string]any{"kind": "full"}), http.StatusAccepted)
	var acc SnapshotAccepted
	res.decode(t, &acc)
	if !meta.ValidID(acc.SnapshotID) || acc.Kind != "snapshot" || acc.Status != api.OpRunning {
		t.Fatalf("202 answer: %s", res.body)
	}
	var row meta.Snapshot
	a.want(a.do("GET", "/snapshots/"+acc.SnapshotID, nil), http.StatusOK).decode(t, &row)
	if row.ID != acc.SnapshotID || row.GraphID != "slow" || (row.Status != meta.SnapshotPending && row.Status != meta.SnapshotRunning) {
		t.Fatalf("GET the snapshot while it is taken: %+v", row)
	}

	release()
	st := a.await(res)
	var done meta.Snapshot
	resultOf(t, st, &done)
	if done.ID != acc.SnapshotID || done.Status != meta.SnapshotCompleted || done.Nodes != 40 {
		t.Fatalf("result %+v, want snapshot %s completed with 40 nodes", done, acc.SnapshotID)
	}
	var p Progress
	b, _ := json.Marshal(st.Progress)
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if want := (Progress{Phase: "done", Records: done.Records, Bytes: done.BytesRaw}); p != want || p.Records == 0 {
		t.Errorf("final progress %+v, want %+v", p, want)
	}
}

// gatedReader is a graph whose views open once open is closed.
type gatedReader struct {
	graph.Graph
	open chan struct{}
}

func (g *gatedReader) View(ctx context.Context) (graph.View, error) {
	select {
	case <-g.open:
		return g.Graph.View(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestHandlerSnapshotNotStarted asks for a snapshot when the operations registry
// is closed: the answer is 503 and the row recorded for it is failed, not left
// pending.
func TestHandlerSnapshotNotStarted(t *testing.T) {
	a := newServer(t, api.Options{})
	if err := a.ops.Close(a.ctx); err != nil {
		t.Fatal(err)
	}
	a.want(a.do("POST", "/graphs/g1/snapshots", nil), http.StatusServiceUnavailable).problem(t)
	for status, want := range map[string]int{meta.SnapshotPending: 0, meta.SnapshotFailed: 1} {
		n, err := a.store.CountSnapshots(a.ctx, meta.SnapshotFilter{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%d %s rows, want %d", n, status, want)
		}
	}
}

// TestHandlerScopes checks which token each kind of route needs with separate
// read and write tokens.
func TestHandlerScopes(t *testing.T) {
	a := newServer(t, api.Options{Authorizer: api.BearerToken(api.Tokens{Write: "w", Read: "r"})})
	write := []string{"Authorization", "Bearer w"}
	var first, second meta.Snapshot
	a.want(a.do("POST", "/graphs/g1/snapshots?wait=true", nil, write...), http.StatusCreated).decode(t, &first)
	st := a.await(a.do("POST", "/graphs/g1/snapshots", nil, write...), write...)
	resultOf(t, st, &second)

	read := map[string][]string{
		"no token":    nil,
		"wrong token": {"Authorization", "Bearer nope"},
		"read token":  {"Authorization", "Bearer r"},
		"write token": write,
	}
	tests := []struct {
		method, target string
		want           map[string]int // by token; absent: 401
	}{
		{"GET", "/snapshots/" + first.ID + "/manifest", map[string]int{"read token": 200, "write token": 200}},
		{"GET", "/diff?from=" + first.ID + "&to=" + second.ID, map[string]int{"read token": 200, "write token": 200}},
		{"GET", "/snapshots/" + first.ID + "/diff/" + second.ID, map[string]int{"read token": 200, "write token": 200}},
		{"GET", "/operations/" + st.ID, map[string]int{"read token": 200, "write token": 200}},
		{"GET", "/graphs", map[string]int{"no token": 200, "wrong token": 200, "read token": 200, "write token": 200}},
		{"GET", "/graphs/g1/snapshots", map[string]int{"no token": 200, "wrong token": 200, "read token": 200, "write token": 200}},
		{"GET", "/snapshots/" + first.ID, map[string]int{"no token": 200, "wrong token": 200, "read token": 200, "write token": 200}},
		{"GET", "/stats", map[string]int{"no token": 200, "wrong token": 200, "read token": 200, "write token": 200}},
		{"POST", "/graphs/g1/snapshots", map[string]int{"read token": 403}},
		{"POST", "/graphs/g1/prune", map[string]int{"read token": 403}},
		{"POST", "/snapshots/" + first.ID + "/restore", map[string]int{"read token": 403}},
		{"POST", "/snapshots/" + first.ID + "/verify", map[string]int{"read token": 403}},
		{"DELETE", "/snapshots/" + first.ID, map[string]int{"read token": 403}},
		{"POST", "/gc", map[string]int{"read token": 403}},
	}
	for _, tt := range tests {
		for token, header := range read {
			if tt.method != "GET" && token == "write token" {
				continue // would change what the other cases read
			}
			want, ok := tt.want[token]
			if !ok {
				want = http.StatusUnauthorized
			}
			t.Run(tt.method+" "+tt.target+" "+token, func(t *testing.T) {
				rows, objects := a.written()
				res := a.do(tt.method, tt.target, nil, header...)
				if res.code != want {
					t.Fatalf("status %d, want %d: %s", res.code, want, res.body)
				}
				if want >= 400 {
					res.problem(t)
				}
				if r, o := a.written(); r != rows || o != objects {
					t.Errorf("rows %d → %d, objects %d → %d", rows, r, objects, o)
				}
			})
		}
	}
}
