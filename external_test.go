package graphvault_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestExampleServerBuildsOutsideTheModule proves that a host can build
// examples/server from outside this module: it makes a throwaway module that
// requires github.com/graphvault/graphvault (replaced by this checkout) and holds
// a copy of examples/server/main.go as its main package, builds it with go build,
// starts the binary, and tours the API it serves: a snapshot, a change, a second
// snapshot, their diff, a restore of the first, replication to a folder, and
// health.
func TestExampleServerBuildsOutsideTheModule(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the build of examples/server in a module of its own")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build examples/server from outside the module")
	}
	bin := buildExampleServer(t, gobin)

	data := filepath.Join(t.TempDir(), "data")
	const token = "tour-token"
	srv := startExampleServer(t, bin, "-data", data, "-every", "0", "-token", token)
	tour := &tourClient{t: t, base: srv.base, token: token}

	// Health answers before anything else happens.
	var health struct {
		Status string
		Checks map[string][]struct{ Status string }
	}
	tour.call("GET", "/api/monitoring/health", nil, &health, 200, 503)
	if health.Status == "" || len(health.Checks) == 0 {
		t.Fatalf("health at start: %+v", health)
	}

	type snapshot struct {
		ID, Status, Kind string
		GraphID          string `json:"graph_id"`
		Nodes, Edges     int64
	}
	var first snapshot
	tour.call("POST", "/api/backup/backup/graphs/graph1/snapshots?wait=true", nil, &first, 201)
	if first.Status != "completed" || first.GraphID != "graph1" || first.Nodes != 2000 || first.Edges == 0 {
		t.Fatalf("first snapshot: %+v", first)
	}
	// Changes need the token; with it, the batch applies.
	tour.callAs("", "POST", "/api/backup/backup/graphs/graph1/changes", map[string]any{"delete_nodes": []string{"x"}}, nil, 401)
	var changed struct {
		GraphID      string `json:"graph_id"`
		Applied      int
		Nodes, Edges int64
	}
	tour.call("POST", "/api/backup/backup/graphs/graph1/changes", map[string]any{
		"upsert_nodes": []map[string]any{
			{"id": "tour-a", "labels": []string{"Tour"}, "props": map[string]any{"step": "change"}},
			{"id": "tour-b", "labels": []string{"Tour"}},
		},
		"upsert_edges": []map[string]any{{"source": "tour-a", "target": "tour-b", "type": "next"}},
	}, &changed, 200)
	if changed.GraphID != "graph1" || changed.Applied != 3 || changed.Nodes != first.Nodes+2 || changed.Edges != first.Edges+1 {
		t.Fatalf("changes: %+v after %+v", changed, first)
	}
	var second snapshot
	tour.call("POST", "/api/backup/backup/graphs/graph1/snapshots?wait=true", nil, &second, 201)
	if second.Status != "completed" || second.Kind != "incremental" || second.Nodes != changed.Nodes || second.Edges != changed.Edges {
		t.Fatalf("second snapshot: %+v", second)
	}

	type diff struct {
		From, To     string
		Nodes, Edges struct{ Added, Removed, Changed int }
		NodeChanges  []struct{ ID, Change string } `json:"node_changes"`
	}
	var d diff
	tour.callAs("", "GET", "/api/backup/backup/snapshots/"+first.ID+"/diff/"+second.ID, nil, nil, 401)
	tour.call("GET", "/api/backup/backup/snapshots/"+first.ID+"/diff/"+second.ID, nil, &d, 200)
	if d.From != first.ID || d.To != second.ID || d.Nodes.Added != 2 || d.Nodes.Removed != 0 || d.Edges.Added != 1 || len(d.NodeChanges) != 2 {
		t.Fatalf("diff: %+v", d)
	}
	for _, c := range d.NodeChanges {
		if !strings.HasPrefix(c.ID, "tour-") || c.Change != "added" {
			t.Fatalf("diff lists %+v", c)
		}
	}

	// Restoring the first snapshot into graph1 takes the changes back.
	var restored struct {
		SnapshotID   string `json:"snapshot_id"`
		GraphID      string `json:"graph_id"`
		Nodes, Edges int64
	}
	tour.call("POST", "/api/backup/backup/snapshots/"+first.ID+"/restore?wait=true",
		map[string]any{"target_graph": "graph1"}, &restored, 200)
	if restored.SnapshotID != first.ID || restored.GraphID != "graph1" || restored.Nodes != first.Nodes || restored.Edges != first.Edges {
		t.Fatalf("restore: %+v, want the first snapshot's %+v", restored, first)
	}
	var third snapshot
	tour.call("POST", "/api/backup/backup/graphs/graph1/snapshots?wait=true", nil, &third, 201)
	var back diff
	tour.call("GET", "/api/backup/backup/snapshots/"+first.ID+"/diff/"+third.ID, nil, &back, 200)
	if third.Nodes != first.Nodes || third.Edges != first.Edges ||
		back.Nodes.Added+back.Nodes.Removed+back.Nodes.Changed+back.Edges.Added+back.Edges.Removed+back.Edges.Changed != 0 {
		t.Fatalf("after the restore graph1 is not the first snapshot again: %+v, diff %+v", third, back)
	}

	// A folder target, checked when registered, then a replication to it.
	replica := filepath.Join(data, "targets", "replica") // under the default target root
	var target struct {
		ID, Name, Kind string
		Enabled        bool
	}
	tour.call("POST", "/api/backup/replication/targets?verify=true",
		map[string]any{"name": "tour-folder", "kind": "file", "path": replica}, &target, 201)
	if target.ID == "" || target.Kind != "file" || !target.Enabled {
		t.Fatalf("target: %+v", target)
	}
	var replicated struct {
		Items []struct {
			TargetID      string `json:"target_id"`
			SnapshotID    string `json:"snapshot_id"`
			OK            bool
			ObjectsCopied int64 `json:"objects_copied"`
			Error         string
		}
	}
	tour.call("POST", "/api/backup/replication/replicate?wait=true",
		map[string]any{"snapshot_id": third.ID, "target_id": target.ID}, &replicated, 200)
	if len(replicated.Items) != 1 || !replicated.Items[0].OK || replicated.Items[0].TargetID != target.ID ||
		replicated.Items[0].SnapshotID != third.ID || replicated.Items[0].ObjectsCopied == 0 {
		t.Fatalf("replicate: %+v", replicated)
	}
	if _, err := os.Stat(filepath.Join(replica, "manifests", "graph1", third.ID+".json")); err != nil {
		t.Fatalf("the folder target holds no manifest of the replicated snapshot: %v", err)
	}
	var status struct {
		Items []struct {
			TargetID       string `json:"target_id"`
			GraphID        string `json:"graph_id"`
			LastSnapshotID string `json:"last_snapshot_id"`
		}
	}
	tour.call("GET", "/api/backup/replication/status", nil, &status, 200)
	found := false
	for _, it := range status.Items {
		found = found || it.TargetID == target.ID && it.GraphID == "graph1" && it.LastSnapshotID == third.ID
	}
	if !found {
		t.Fatalf("replication status does not show the copy: %+v", status)
	}

	// Health, run now: the store, the bucket and the fresh snapshots pass.
	tour.call("GET", "/api/monitoring/health?fresh=true", nil, &health, 200)
	if health.Status == "fail" || len(health.Checks) == 0 {
		t.Fatalf("health after the tour: %+v", health)
	}
	var recHealth struct{ Status string }
	tour.call("GET", "/api/backup/recovery/health?fresh=true", nil, &recHealth, 200)
	if recHealth.Status != "pass" && recHealth.Status != "warn" {
		t.Errorf("recovery health after the tour: %q", recHealth.Status)
	}

	srv.stop(t)
	if out := srv.output(); !strings.Contains(out, "shutting down") {
		t.Errorf("the server did not log its shutdown:\n%s", out)
	}
}

// buildExampleServer builds examples/server/main.go as the main package of a new
// module outside this checkout and returns the binary's path.
func buildExampleServer(t *testing.T, gobin string) string {
	t.Helper()
	root, err := filepath.Abs(".") // a test runs in its package's folder: the module root
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := ""
	for _, l := range strings.Split(string(goMod), "\n") {
		if strings.HasPrefix(l, "go ") {
			goLine = strings.TrimSpace(l)
			break
		}
	}
	if goLine == "" {
		t.Fatal("the checkout's go.mod has no go line")
	}
	dir := t.TempDir()
	mod := fmt.Sprintf("module example.com/graphvault-host\n\n%s\n\nrequire github.com/graphvault/graphvault v0.0.0\n\nreplace github.com/graphvault/graphvault => %s\n",
		goLine, strings.ReplaceAll(root, `\`, `/`))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(dir, "go.sum"))
	copyFile(t, filepath.Join(root, "examples", "server", "main.go"), filepath.Join(dir, "main.go"))

	bin := filepath.Join(dir, "graphvault-server")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".")
	cmd.Dir = dir
	// -mod=mod lets go add the requirements the host's go.mod does not list (the
	// module proxy is asked for any not in the module cache); GOWORK=off keeps a
	// workspace around the temporary folder out of it. Later entries win.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of examples/server outside the module: %v\n%s\ngo.mod:\n%s", err, out, mod)
	}
	return bin
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// exampleServer is a running server binary.
type exampleServer struct {
	base string
	cmd  *exec.Cmd
	done chan error // the process's exit, once

	mu  sync.Mutex
	out bytes.Buffer // everything it wrote
}

func (s *exampleServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// startExampleServer starts bin on a free port of 127.0.0.1 and waits until it
// says it listens and answers. It is stopped when the test ends if stop was not
// called.
func startExampleServer(t *testing.T, bin string, args ...string) *exampleServer {
	t.Helper()
	// The port is free when asked; another process may take it before the server
	// does, so a server that exits without listening is tried again.
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s, err := tryStartExampleServer(t, bin, addr, args)
		if err == nil {
			return s
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v", attempt, err)
	}
}

func tryStartExampleServer(t *testing.T, bin, addr string, args []string) (*exampleServer, error) {
	t.Helper()
	s := &exampleServer{cmd: exec.Command(bin, append([]string{"-addr", addr}, args...)...), done: make(chan error, 1)}
	s.cmd.Env = append(os.Environ(), "GRAPHVAULT_TOKEN=", "GRAPHVAULT_READ_TOKEN=")
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.out.Write(p)
	})
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "graphvault listening on "); ok {
				select {
				case listening <- rest:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		s.done <- s.cmd.Wait()
	}()
	select {
	case base := <-listening:
		if base != "http://"+addr {
			s.kill()
			return nil, fmt.Errorf("the server says it listens on %s, asked for %s", base, addr)
		}
		s.base = base
	case err := <-s.done:
		s.done <- err
		return nil, fmt.Errorf("the server exited before listening: %v\n%s", err, s.output())
	case <-time.After(2 * time.Minute):
		s.kill()
		return nil, fmt.Errorf("the server did not say it listens within 2 minutes:\n%s", s.output())
	}
	t.Cleanup(s.kill)
	// It listens before it starts; wait until it answers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/api/openapi.yaml")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("the server does not answer: %v\n%s", err, s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop interrupts the server, as a terminal or a service manager would, and
// expects it to finish its work and exit cleanly.
func (s *exampleServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Skipf("cannot interrupt the server on %s: %v", runtime.GOOS, err)
	}
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("the server exited with %v:\n%s", err, s.output())
		}
	case <-time.After(time.Minute):
		t.Errorf("the server did not stop within a minute of an interrupt:\n%s", s.output())
		s.kill()
	}
}

// kill ends the process if it still runs and waits for it.
func (s *exampleServer) kill() {
	select {
	case err := <-s.done:
		s.done <- err
		return
	default:
	}
	s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// tourClient makes the tour's calls and decodes their answers.
type tourClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *tourClient) call(method, path string, body, out any, want ...int) {
	c.t.Helper()
	c.callAs(c.token, method, path, body, out, want...)
}

// callAs sends body as JSON with token (none if empty), fails unless the status
// is one of want, and decodes the answer into out unless out is nil.
func (c *tourClient) callAs(token, method, path string, body, out any, want ...int) {
	c.t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		c.t.Fatalf("%s %s: %d, want %v: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: the answer does not decode into %T: %v: %s", method, path, out, err, b)
		}
	}
}
