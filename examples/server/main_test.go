package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// startServer runs the server in-process on a free port and returns its base URL.
func startServer(t *testing.T, args ...string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	return startServerEnv(t, func(string) string { return "" }, args...)
}

// startServerEnv is startServer with an environment.
func startServerEnv(t *testing.T, getenv func(string) string, args ...string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	finished := make(chan struct{})
	args = append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...)
	go func() {
		err := run(ctx, args, pw, getenv)
		pw.CloseWithError(io.EOF)
		done <- err
		close(finished)
	}()
	sc := bufio.NewScanner(pr)
	base := ""
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "graphvault listening on "); ok {
			base = rest
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("server did not start: %v", <-done)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return base, cancel, done
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func call(t *testing.T, method, url, token string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// TestDocumentedCalls runs the calls of the old system's documentation as written.
func TestDocumentedCalls(t *testing.T) {
	base, cancel, done := startServer(t, "-every", "0")
	status, body, _ := call(t, "POST", base+"/api/backup/backup/graphs/graph1/snapshots?wait=true", "")
	if status != http.StatusCreated {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	var snap struct{ ID, Status string }
	if err := json.Unmarshal(body, &snap); err != nil || snap.Status != "completed" {
		t.Fatalf("snapshot body %s (%v)", body, err)
	}
	// The documented call, with no body and no query, is accepted and runs; the
	// answer names the snapshot it takes.
	status, body, _ = call(t, "POST", base+"/api/backup/backup/graphs/graph1/snapshots", "")
	var accepted struct {
		SnapshotID string `json:"snapshot_id"`
	}
	if status != http.StatusAccepted || json.Unmarshal(body, &accepted) != nil || accepted.SnapshotID == "" {
		t.Fatalf("documented snapshot call: %d %s", status, body)
	}
	if status, body, _ := call(t, "GET", base+"/api/backup/backup/snapshots/"+accepted.SnapshotID, ""); status != http.StatusOK {
		t.Fatalf("the accepted snapshot's row: %d %s", status, body)
	}
	for _, path := range []string{
		"/api/backup/backup/graphs/graph1/snapshots",
		"/api/monitoring/metrics",
		"/api/monitoring/health",
		"/api/monitoring/stats/backups",
		"/api/monitoring/stats/recovery",
	} {
		status, body, _ := call(t, "GET", base+path, "")
		if status != http.StatusOK || !json.Valid(body) {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		if strings.Contains(path, "snapshots") || strings.Contains(path, "stats/backups") {
			if !strings.Contains(string(body), snap.ID) && !strings.Contains(string(body), "graph1") {
				t.Fatalf("GET %s does not show the snapshot: %s", path, body)
			}
		}
	}
	// The old system's bodies, with its field names.
	for _, c := range []struct{ path, body string }{
		{"/api/backup/replication/targets", `{"name":"offsite","base_url":"http://127.0.0.1:1/api/backup/replication/receive","api_key":"k3y"}`},
		{"/api/backup/recovery/checkpoints", `{"graph_ids":["graph1"],"description":"before upgrade"}`},
	} {
		status, body := post(t, base+c.path, c.body)
		if status/100 != 2 || !json.Valid(body) || strings.Contains(string(body), "k3y") {
			t.Fatalf("POST %s: %d %s", c.path, status, body)
		}
		status, body, _ = call(t, "GET", base+c.path, "")
		if status != http.StatusOK || !json.Valid(body) || strings.Contains(string(body), "k3y") {
			t.Fatalf("GET %s: %d %s", c.path, status, body)
		}
	}
	if status, body, _ := call(t, "GET", base+"/api/backup/recovery/health", ""); (status != http.StatusOK && status != http.StatusServiceUnavailable) || !json.Valid(body) {
		t.Fatalf("recovery health: %d %s", status, body)
	}
	if status, body, _ := call(t, "POST", base+"/api/monitoring/metrics/collect", ""); status/100 != 2 || !json.Valid(body) {
		t.Fatalf("collect: %d %s", status, body)
	}
	status, body, _ = call(t, "GET", base+"/api/monitoring/metrics/prometheus", "")
	if status != http.StatusOK {
		t.Fatalf("prometheus: %d", status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("prometheus output does not parse: %v", err)
	}
	n := 0
	for name := range families {
		if strings.HasPrefix(name, "graphvault_") {
			n++
		}
	}
	if n < 15 {
		t.Fatalf("%d graphvault_ metric families, want at least 15", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not shut down")
	}
}

// TestTokenGuardsChangesAndContent: with -token, every change needs it, and so
// does graph content, which -read-token allows too; status needs no token.
func TestTokenGuardsChangesAndContent(t *testing.T) {
	base, _, _ := startServer(t, "-every", "0", "-token", "s3cret", "-read-token", "r3ad")
	checkTokens(t, base, "s3cret", "r3ad")
}

// TestTokensFromEnvironment: GRAPHVAULT_TOKEN and GRAPHVAULT_READ_TOKEN stand in
// for the flags.
func TestTokensFromEnvironment(t *testing.T) {
	env := map[string]string{"GRAPHVAULT_TOKEN": "envw", "GRAPHVAULT_READ_TOKEN": "envr"}
	base, _, _ := startServerEnv(t, func(k string) string { return env[k] }, "-every", "0")
	checkTokens(t, base, "envw", "envr")
}

func checkTokens(t *testing.T, base, write, read string) {
	t.Helper()
	url := base + "/api/backup/backup/graphs/graph1/snapshots?wait=true"
	if status, body, h := call(t, "POST", url, ""); status != http.StatusUnauthorized || !strings.Contains(h.Get("Content-Type"), "problem+json") {
		t.Fatalf("without token: %d %s", status, body)
	}
	if status, _, _ := call(t, "POST", url, "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", status)
	}
	if status, body, _ := call(t, "POST", url, read); status != http.StatusForbidden {
		t.Fatalf("a change with the read token: %d %s", status, body)
	}
	status, body, _ := call(t, "POST", url, write)
	if status != http.StatusCreated {
		t.Fatalf("with token: %d %s", status, body)
	}
	var snap struct{ ID string }
	json.Unmarshal(body, &snap)
	if status, _, _ := call(t, "GET", base+"/api/backup/backup/graphs/graph1/snapshots", ""); status != http.StatusOK {
		t.Fatalf("status needs no token: %d", status)
	}
	manifest := base + "/api/backup/backup/snapshots/" + snap.ID + "/manifest"
	if status, _, _ := call(t, "GET", manifest, ""); status != http.StatusUnauthorized {
		t.Fatalf("graph content without a token: %d", status)
	}
	for _, token := range []string{read, write} {
		if status, body, _ := call(t, "GET", manifest, token); status != http.StatusOK || !json.Valid(body) {
			t.Fatalf("graph content with a token: %d %s", status, body)
		}
	}
}

func TestGraphsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	pr, pw := io.Pipe()
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dir, "-every", "0"}, pw, func(string) string { return "" })
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var base string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "graphvault listening on "); ok {
			base = rest
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if status, body, _ := call(t, "POST", base+"/api/backup/backup/graphs/graph1/snapshots?wait=true", ""); status != http.StatusCreated {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// Started again on the same data, with -demo false: graph1 comes back from its snapshot.
	base2, _, _ := startServerIn(t, dir, "-every", "0", "-demo", "false")
	status, body, _ := call(t, "POST", base2+"/api/backup/backup/graphs/graph1/snapshots?wait=true", "")
	if status != http.StatusCreated {
		t.Fatalf("snapshot after restart: %d %s", status, body)
	}
	var snap struct {
		Kind     string
		BytesNew int64 `json:"bytes_new"`
		Nodes    int64
	}
	json.Unmarshal(body, &snap)
	if snap.Nodes != 2000 || snap.Kind != "incremental" || snap.BytesNew > 1000 {
		t.Fatalf("after restart: %+v, want the same 2000-node graph and nearly nothing new", snap)
	}
}

func startServerIn(t *testing.T, dir string, args ...string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	return startServer(t, append([]string{"-data", dir}, args...)...)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-every", "-1s"}, {"-keep", "0"}, {"-rate", "0"}, {"-demo", "maybe"}, {"extra"}, {"-graphml", "/nonexistent/file.graphml"}} {
		if err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...), io.Discard, func(string) string { return "" }); err == nil {
			t.Fatalf("%v accepted", args)
		}
	}
}
