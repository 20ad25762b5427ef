package graphvault_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

// The tokens the HTTP tests configure: testToken allows everything, testReadToken
// graph content only.
const (
	testToken     = "openapi-test-token"
	testReadToken = "openapi-test-read-token"
)

// openVault opens a Vault with cfg (in a fresh folder unless cfg.Data is set, with
// a silent log unless cfg.Logger is set) and closes it when the test ends.
func openVault(t testing.TB, cfg graphvault.Config) *graphvault.Vault {
	t.Helper()
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v, err := graphvault.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := v.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return v
}

// serveVault serves h on a local test server, closed when the test ends (before
// the Vault it serves, which openVault registered first).
func serveVault(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// hostGraph is a graph the host keeps: the Vault snapshots it but does not hold it
// in memory, so it takes no changes over HTTP.
type hostGraph struct{ *memgraph.Graph }

// TestChanges drives POST /api/backup/backup/graphs/{id}/changes through the
// document-checking client: a batch applies whole, a bad one changes nothing, a
// host's graph is 409, and a snapshot after a change holds it.
func TestChanges(t *testing.T) {
	v := openVault(t, graphvault.Config{Demo: true, Token: testToken, ReadToken: testReadToken,
		Graphs: map[string]graph.Graph{"hosted": hostGraph{memgraph.New()}}})
	c := newAPIClient(t, serveVault(t, v.Handler()).URL)
	path := bk + "/graphs/graph1/changes"
	position := func() uint64 {
		g, err := v.Graphs().Graph(t.Context(), graphvault.DemoGraph)
		if err != nil {
			t.Fatal(err)
		}
		return g.(*memgraph.Graph).Position()
	}

	var first struct{ ID string }
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true"}, 201).decode(t, &first)

	type result struct {
		GraphID      string `json:"graph_id"`
		Applied      int
		Nodes, Edges int64
	}
	var before, after result
	c.do(req{method: "POST", path: path, body: map[string]any{
		"upsert_nodes": []map[string]any{{"id": "tour-a", "labels": []string{"Tour"}, "props": map[string]any{"n": 1}}},
	}}, 200).decode(t, &before)
	c.do(req{method: "POST", path: path, body: graphvault.Changes{
		UpsertNodes: []graph.Node{{ID: "tour-b"}},
		UpsertEdges: []graph.Edge{{Source: "tour-a", Target: "tour-b", Type: "next"}},
	}}, 200).decode(t, &after)
	if before.GraphID != "graph1" || before.Applied != 1 || after.Applied != 2 ||
		after.Nodes != before.Nodes+1 || after.Edges != before.Edges+1 || before.Nodes != 2001 {
		t.Fatalf("changes answered %+v then %+v", before, after)
	}
	pos := position()

	// Rejected batches change nothing.
	c.do(req{method: "POST", path: path, body: map[string]any{
		"upsert_nodes": []map[string]any{{"id": "tour-c"}},
		"upsert_edges": []map[string]any{{"source": "tour-c", "target": "nowhere"}},
	}}, 422)
	c.do(req{method: "POST", path: path, body: map[string]any{}}, 400)
	c.do(req{method: "POST", path: path, body: map[string]any{"upsert_nodes": []map[string]any{{"id": ""}}}, invalid: true}, 400)
	c.do(req{method: "POST", path: path, body: map[string]any{"upsert_nodes": []map[string]any{{"id": "a\x00b"}}}}, 400)
	c.do(req{method: "POST", path: path, body: map[string]any{"rename": "x"}, invalid: true}, 400)
	c.do(req{method: "POST", path: path, body: map[string]any{"delete_nodes": slices.Repeat([]string{"n"}, 10001)}}, 413)
	c.do(req{method: "POST", path: path, body: `{"delete_nodes":["a"]}`, contentType: "text/plain", invalid: true}, 415)
	c.do(req{method: "POST", path: path, body: map[string]any{"delete_nodes": []string{"tour-a"}}, noToken: true}, 401)
	c.do(req{method: "POST", path: path, body: map[string]any{"delete_nodes": []string{"tour-a"}}, header: map[string]string{"Authorization": "Bearer " + testReadToken}}, 403)
	c.do(req{method: "POST", path: bk + "/graphs/nograph/changes", body: map[string]any{"delete_nodes": []string{"a"}}}, 404)
	c.do(req{method: "POST", path: bk + "/graphs/hosted/changes", body: map[string]any{"delete_nodes": []string{"a"}}}, 409)
	c.do(req{method: "POST", path: bk + "/graphs/" + strings.Repeat("g", 300) + "/changes", body: map[string]any{"delete_nodes": []string{"a"}}, invalid: true}, 400)
	if got := position(); got != pos {
		t.Fatalf("rejected batches moved graph1 from %d to %d", pos, got)
	}

	// A snapshot holds the changes; the diff from before them shows them.
	var second struct{ ID string }
	c.do(req{method: "POST", path: bk + "/graphs/graph1/snapshots?wait=true"}, 201).decode(t, &second)
	var d struct {
		Nodes struct{ Added int } `json:"nodes"`
		Edges struct{ Added int } `json:"edges"`
	}
	c.do(req{method: "GET", path: bk + "/snapshots/" + first.ID + "/diff/" + second.ID}, 200).decode(t, &d)
	if d.Nodes.Added != 2 || d.Edges.Added != 1 {
		t.Fatalf("diff after the changes: %+v", d)
	}
	// Removing what was added, and deleting what does not exist, are changes too.
	var removed result
	c.do(req{method: "POST", path: path, body: map[string]any{
		"delete_edges": []map[string]any{{"source": "tour-a", "target": "tour-b", "type": "next"}},
		"delete_nodes": []string{"tour-a", "tour-b", "never-there"},
	}}, 200).decode(t, &removed)
	if removed.Nodes != before.Nodes-1 || removed.Edges != before.Edges || removed.Applied != 4 {
		t.Fatalf("after removing: %+v", removed)
	}
}

// TestRestartServesGraphsFromSnapshots closes a Vault and opens another on its
// folder: graph1 comes back, with the changes its last snapshot holds, whether or
// not Demo is set.
func TestRestartServesGraphsFromSnapshots(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	v, err := graphvault.Open(ctx, graphvault.Config{Data: dir, Demo: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.Handler())
	if status, body := send(t, "POST", srv.URL+bk+"/graphs/graph1/changes", "",
		`{"upsert_nodes":[{"id":"kept","props":{"since":"restart"}}]}`); status != 200 {
		t.Fatalf("changes: %d %s", status, body)
	}
	status, body := send(t, "POST", srv.URL+bk+"/graphs/graph1/snapshots?wait=true", "", "")
	if status != 201 {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	srv.Close()
	if err := v.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	v2 := openVault(t, graphvault.Config{Data: dir})
	if ids := v2.GraphIDs(); len(ids) != 1 || ids[0] != graphvault.DemoGraph {
		t.Fatalf("after restart the Vault serves %v", ids)
	}
	g, err := v2.Graphs().Graph(ctx, graphvault.DemoGraph)
	if err != nil {
		t.Fatal(err)
	}
	view, err := g.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	found := false
	for n, err := range view.Nodes(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if n.ID == "kept" {
			found = n.Props["since"] == "restart"
		}
	}
	if !found {
		t.Fatal("the change did not come back with the graph")
	}
	var snap struct {
		Kind     string
		BytesNew int64 `json:"bytes_new"`
		Nodes    int64
	}
	srv2 := serveVault(t, v2.Handler())
	status, body = send(t, "POST", srv2.URL+bk+"/graphs/graph1/snapshots?wait=true", "", "")
	if status != 201 {
		t.Fatalf("snapshot after restart: %d %s", status, body)
	}
	json.Unmarshal(body, &snap)
	if snap.Nodes != 2001 || snap.Kind != "incremental" || snap.BytesNew > 1000 {
		t.Fatalf("after restart: %+v, want the same 2001-node graph and nearly nothing new", snap)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]graphvault.Config{
		"negative period":   {Every: -time.Second},
		"negative keep":     {Keep: -1},
		"negative rate":     {Rate: -1},
		"bad graph id":      {Graphs: map[string]graph.Graph{"../x": memgraph.New()}},
		"missing GraphML":   {GraphML: []string{"/nonexistent/file.graphml"}},
		"unnamable GraphML": {GraphML: []string{"/"}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Data = t.TempDir()
			cfg.Logger = slog.New(slog.DiscardHandler)
			v, err := graphvault.Open(t.Context(), cfg)
			if err == nil {
				v.Close(context.Background())
				t.Fatal("opened")
			}
			if !errors.Is(err, graphvault.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		})
	}
}

// send makes one request with an optional bearer token and JSON body.
func send(t testing.TB, method, url, token, body string) (int, []byte) {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != "" {
		r = strings.NewReader(body)
	}
	hr, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestHostMemgraphTakesNoChanges: Config.Graphs are the host's graphs, and the
// changes route serves only the graphs the Vault holds itself (the demo, graphs
// restored at start); a host's graph is 409 even when it is a *memgraph.Graph.
func TestHostMemgraphTakesNoChanges(t *testing.T) {
	host := memgraph.New()
	v := openVault(t, graphvault.Config{Graphs: map[string]graph.Graph{"host": host}})
	srv := serveVault(t, v.Handler())
	status, body := send(t, "POST", srv.URL+bk+"/graphs/host/changes", "", `{"upsert_nodes":[{"id":"from-http"}]}`)
	if status != http.StatusConflict {
		t.Fatalf("changes to a host's graph: %d %s, want 409", status, body)
	}
	if host.Position() != 0 {
		t.Fatal("the host's graph was changed")
	}
}

// TestReadTokenAloneOpensNothing: a read token without a write token must not
// leave changes open to everyone: Open refuses the Config, or changes are refused.
func TestReadTokenAloneOpensNothing(t *testing.T) {
	v, err := graphvault.Open(t.Context(), graphvault.Config{Data: t.TempDir(), Demo: true, ReadToken: "r",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		if !errors.Is(err, graphvault.ErrInvalid) {
			t.Fatalf("Open: %v, want ErrInvalid", err)
		}
		return
	}
	defer v.Close(context.Background())
	srv := serveVault(t, v.Handler())
	status, body := send(t, "POST", srv.URL+bk+"/graphs/graph1/changes", "", `{"upsert_nodes":[{"id":"x"}]}`)
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		t.Fatalf("a change without a token: %d %s", status, body)
	}
}

// TestGraphIDsAreNotServedTwice: two graphs under one id, a GraphML file named
// like a host's graph or two files with the same name, are a Config that cannot
// be opened, not one graph silently replacing the other.
func TestGraphIDsAreNotServedTwice(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a", "g.graphml"), filepath.Join(dir, "b", "g.graphml")
	for _, p := range []string{a, b} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed"><node id="n"/></graph></graphml>`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, cfg := range map[string]graphvault.Config{
		"two files":         {GraphML: []string{a, b}},
		"a file and a host": {GraphML: []string{a}, Graphs: map[string]graph.Graph{"g": memgraph.New()}},
		"memory and a host": {MemoryGraphs: []string{"g"}, Graphs: map[string]graph.Graph{"g": memgraph.New()}},
		"memory and a file": {MemoryGraphs: []string{"g"}, GraphML: []string{a}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Data = t.TempDir()
			cfg.Logger = slog.New(slog.DiscardHandler)
			v, err := graphvault.Open(t.Context(), cfg)
			if err == nil {
				v.Close(context.Background())
				t.Fatal("Open served two graphs under one id")
			}
			if !errors.Is(err, graphvault.ErrInvalid) {
				t.Fatalf("Open: %v, want ErrInvalid", err)
			}
		})
	}
}

// TestCloseStatus: with CloseStatus, status (health, metrics, lists) needs the
// read or the write token too; without it, status stays open. CloseStatus
// without a token is an invalid Config.
func TestCloseStatus(t *testing.T) {
	for _, closed := range []bool{false, true} {
		v := openVault(t, graphvault.Config{Demo: true, Token: testToken, ReadToken: testReadToken, CloseStatus: closed})
		srv := serveVault(t, v.Handler())
		for _, path := range []string{"/api/monitoring/health", "/api/monitoring/metrics/prometheus", bk + "/graphs"} {
			want := map[bool]int{false: 200, true: 401}[closed]
			if status, body := send(t, "GET", srv.URL+path, "", ""); status != want {
				t.Errorf("CloseStatus %v: GET %s without a token: %d %s, want %d", closed, path, status, body, want)
			}
			for _, token := range []string{testReadToken, testToken} {
				if status, body := send(t, "GET", srv.URL+path, token, ""); status != 200 {
					t.Errorf("CloseStatus %v: GET %s with a token: %d %s", closed, path, status, body)
				}
			}
		}
	}
	_, err := graphvault.Open(t.Context(), graphvault.Config{Data: t.TempDir(), CloseStatus: true, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, graphvault.ErrInvalid) {
		t.Fatalf("CloseStatus without a token: %v, want ErrInvalid", err)
	}
}
