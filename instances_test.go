package graphvault_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdmaps "maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
	"github.com/graphvault/graphvault/store/meta/metatest"
)

var quiet = slog.New(slog.DiscardHandler)

// slowGraph takes delay to open each view, so that its snapshots run long enough
// to be seen running, and killed, from outside.
type slowGraph struct {
	graph.Graph
	delay time.Duration
}

func (g slowGraph) View(ctx context.Context) (graph.View, error) {
	select {
	case <-time.After(g.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Graph.View(ctx)
}

func smallGraph(t testing.TB, delay time.Duration) graph.Graph {
	g := memgraph.New()
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 50, Edges: 100, Seed: 1}).Replace(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return slowGraph{Graph: g, delay: delay}
}

// oneLine checks that a start-up error is one line naming the setting to fix.
func oneLine(t *testing.T, err error, sentinel error, names ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want %v", err, sentinel)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, n := range names {
		if !strings.Contains(msg, n) {
			t.Errorf("error %q does not name %s", msg, n)
		}
	}
}

// fakeS3 starts an in-process S3 server with the bucket "snaps"; refusePut makes
// it answer every PUT with 403. It returns the bucket URL's endpoint parameters.
func fakeS3(t *testing.T, refusePut bool) (backend *s3mem.Backend, query string) {
	t.Helper()
	backend = s3mem.New()
	if err := backend.CreateBucket("snaps"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend).Server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refusePut && r.Method == http.MethodPut {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	return backend, "endpoint=" + strings.TrimPrefix(ts.URL, "http://") + "&secure=false&region=us-east-1"
}

// TestStartupChecks: a store or bucket that cannot be used, and an instance name
// in use, fail Open with a sentinel error whose one-line message names the
// setting to fix.
func TestStartupChecks(t *testing.T) {
	ctx := context.Background()
	open := func(c graphvault.Config) error {
		c.Logger = quiet
		if c.Data == "" {
			c.Data = t.TempDir()
		}
		v, err := graphvault.Open(ctx, c)
		if err == nil {
			v.Close(ctx)
		}
		return err
	}
	t.Run("store unreachable", func(t *testing.T) {
		err := open(graphvault.Config{Store: "postgres://postgres:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"})
		oneLine(t, err, graphvault.ErrStore, "unreachable", "Config.Store")
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("store DSN invalid", func(t *testing.T) {
		oneLine(t, open(graphvault.Config{Store: "oracle://db/x"}), graphvault.ErrStore, "Config.Store")
	})
	t.Run("store cannot be migrated", func(t *testing.T) {
		// A database file that is not one: opened, but no table can be made.
		p := filepath.Join(t.TempDir(), "not-a.db")
		if err := os.WriteFile(p, []byte(strings.Repeat("not a database ", 100)), 0o644); err != nil {
			t.Fatal(err)
		}
		oneLine(t, open(graphvault.Config{Store: p}), graphvault.ErrStore, "Config.Store")
	})
	t.Run("bucket URL invalid", func(t *testing.T) {
		oneLine(t, open(graphvault.Config{Bucket: "ftp://host/x"}), graphvault.ErrBucket, "invalid URL", "Config.Bucket")
	})
	t.Run("bucket missing", func(t *testing.T) {
		_, q := fakeS3(t, false)
		oneLine(t, open(graphvault.Config{Bucket: "s3://no-such-bucket/p?" + q}), graphvault.ErrBucket, "unreachable", "Config.Bucket")
	})
	t.Run("bucket not writable", func(t *testing.T) {
		_, q := fakeS3(t, true)
		oneLine(t, open(graphvault.Config{Bucket: "s3://snaps/p?" + q}), graphvault.ErrBucket, "not writable", "Config.Bucket")
	})
	t.Run("instance name in use", func(t *testing.T) {
		dir := t.TempDir()
		st, err := meta.Open(ctx, filepath.Join(dir, "graphvault.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		// Another process named "node-a" holds its lease and keeps renewing it.
		if ok, err := st.AcquireLease(ctx, "graphvault.instance.node-a", "node-a#elsewhere", time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
		start := time.Now()
		err = open(graphvault.Config{Data: dir, Instance: "node-a", LeaseTTL: 300 * time.Millisecond})
		oneLine(t, err, graphvault.ErrInstance, "Config.Instance")
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("gave up after %v, before a lease time", d)
		}
		// The same name twice in one process is refused at once.
		v, err := graphvault.Open(ctx, graphvault.Config{Data: t.TempDir(), Instance: "node-b", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close(ctx)
		oneLine(t, open(graphvault.Config{Instance: "node-b"}), graphvault.ErrInstance, "Config.Instance")
	})
	t.Run("instance name invalid", func(t *testing.T) {
		if err := open(graphvault.Config{Instance: "bad name\n"}); !errors.Is(err, graphvault.ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
}

// TestVaultOnS3 keeps snapshots in an S3 bucket below a prefix, and a second
// instance on the same store and bucket restores them.
func TestVaultOnS3(t *testing.T) {
	ctx := context.Background()
	backend, q := fakeS3(t, false)
	store := "file:" + filepath.Join(t.TempDir(), "graphvault.db")
	key, err := graphvault.NewSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := graphvault.Config{Data: t.TempDir(), Store: store, Bucket: "s3://snaps/prod/graphvault?" + q, Logger: quiet,
		Instance: "a", MemoryGraphs: []string{"g"}, SecretKey: key}
	a, err := graphvault.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.Graphs().Graph(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if err := graphtest.Generate(graphtest.GenerateOptions{Nodes: 30, Edges: 60, Seed: 2}).Replace(ctx, g.(graph.Writer)); err != nil {
		t.Fatal(err)
	}
	row, err := a.Engine().Snapshot(ctx, "g", g, backup.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if row.Labels[backup.InstanceLabel] != "a" {
		t.Errorf("snapshot labels %v, want instance a", row.Labels)
	}
	objs, err := backend.ListBucket("snaps", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) == 0 {
		t.Fatal("no object in the S3 bucket")
	}
	for _, o := range objs.Contents {
		if !strings.HasPrefix(o.Key, "prod/graphvault/") {
			t.Errorf("object %s is not below the prefix", o.Key)
		}
	}
	cfg.Instance, cfg.Data = "b", t.TempDir()
	b, err := graphvault.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	a.Close(ctx)
	gb, err := b.Graphs().Graph(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := graphtest.Read(ctx, g)
	got, _ := graphtest.Read(ctx, gb)
	if d := graphtest.DiffContent(want, got); d != "" {
		t.Fatalf("the second instance serves another graph: %s", d)
	}
}

// TestSettleOnlyAbandoned: at start and while it runs, an instance settles the
// running snapshots of instances that are gone, and leaves alone those of an
// instance whose lease holds.
func TestSettleOnlyAbandoned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := meta.Open(ctx, filepath.Join(dir, "graphvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const ttl = 400 * time.Millisecond
	if ok, err := st.AcquireLease(ctx, "graphvault.instance.live", "live#1", ttl); err != nil || !ok {
		t.Fatal(ok, err)
	}
	rows := map[string]*meta.Snapshot{}
	for _, owner := range []string{"live", "gone", "me"} {
		r := &meta.Snapshot{GraphID: "g", Status: meta.SnapshotRunning, StartedAt: time.Now().UTC(), Labels: map[string]string{backup.InstanceLabel: owner}}
		if err := st.CreateSnapshot(ctx, r); err != nil {
			t.Fatal(err)
		}
		rows[owner] = r
	}
	status := func(owner string) string {
		r, err := st.GetSnapshot(ctx, rows[owner].ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	v, err := graphvault.Open(ctx, graphvault.Config{Data: dir, Instance: "me", LeaseTTL: ttl, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(ctx)
	for owner, want := range map[string]string{"live": meta.SnapshotRunning, "gone": meta.SnapshotFailed, "me": meta.SnapshotFailed} {
		if got := status(owner); got != want {
			t.Errorf("after start, the row of instance %s is %s, want %s", owner, got, want)
		}
	}
	// "live" stops renewing its lease: within a lease time and a renewal the
	// running instance settles its row.
	deadline := time.Now().Add(ttl + time.Second)
	for status("live") == meta.SnapshotRunning {
		if time.Now().After(deadline) {
			t.Fatalf("the row of an instance whose lease expired is still running after %v", ttl+time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childSpec is the configuration of an instance TestInstanceChild runs.
type childSpec struct {
	Data, Store, Bucket, Name, SecretKey string
	Every, TTL, Delay                    time.Duration
}

// TestInstanceChild is one instance of TestInstances, in a process of its own:
// it serves graph "g" with a schedule until SIGTERM, then stops gracefully
// (exit 0) or says why not (exit 3).
func TestInstanceChild(t *testing.T) {
	raw := os.Getenv("GRAPHVAULT_INSTANCE_CHILD")
	if raw == "" {
		t.Skip("run by TestInstances")
	}
	var c childSpec
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	v, err := graphvault.Open(ctx, graphvault.Config{Data: c.Data, Store: c.Store, Bucket: c.Bucket, Instance: c.Name, SecretKey: c.SecretKey,
		LeaseTTL: c.TTL, Every: c.Every, Graphs: map[string]graph.Graph{"g": smallGraph(t, c.Delay)}, Logger: quiet})
	if err != nil {
		fmt.Println("instance child failed:", err)
		os.Exit(3)
	}
	if err := v.Start(ctx); err != nil {
		fmt.Println("instance child failed:", err)
		os.Exit(3)
	}
	srv := httptest.NewServer(v.Handler())
	fmt.Printf("instance child at %s\n", srv.URL)
	<-ctx.Done()
	srv.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.Close(cctx); err != nil {
		fmt.Println("instance child failed to stop:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

type child struct {
	name string
	cmd  *exec.Cmd
	base string
}

func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstanceChild$")
	cmd.Env = append(os.Environ(), "GRAPHVAULT_INSTANCE_CHILD="+string(raw))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{name: spec.Name, cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	rd := bufio.NewReader(out)
	for c.base == "" {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("instance %s did not start: %v", spec.Name, err)
		}
		if strings.HasPrefix(line, "instance child failed") {
			t.Fatalf("instance %s: %s", spec.Name, line)
		}
		c.base, _ = strings.CutPrefix(strings.TrimSpace(line), "instance child at ")
		if c.base == strings.TrimSpace(line) {
			c.base = ""
		}
	}
	go io.Copy(io.Discard, rd) //nolint:errcheck
	return c
}

// list returns the snapshot rows the child lists for graph g, by id.
func (c *child) list(t *testing.T) map[string]meta.Snapshot {
	t.Helper()
	resp, err := http.Get(c.base + "/api/backup/backup/graphs/g/snapshots?limit=1000")
	if err != nil {
		t.Fatalf("instance %s: %v", c.name, err)
	}
	defer resp.Body.Close()
	var page struct {
		Items []meta.Snapshot `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("instance %s: list: %d %v", c.name, resp.StatusCode, err)
	}
	out := map[string]meta.Snapshot{}
	for _, r := range page.Items {
		out[r.ID] = r
	}
	return out
}

// TestInstances runs two instances as processes of their own on one database
// (SQLite, and PostgreSQL and MariaDB when their DSNs are set) and one bucket
// folder, with a schedule of a second: every slot is taken exactly once, both
// list the same rows, a snapshot running on one shows running on the other,
// killing one mid-snapshot leaves nothing running once its lease expired, and
// SIGTERM stops the other with status 0, its rows settled and its leases given up.
func TestInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two instances for several seconds")
	}
	metatest.ForEachKind(t, func(t *testing.T, kind string) {
		t.Parallel()
		ctx := context.Background()
		dsn := metatest.OpenDSN(t, kind)
		if kind == metatest.SQLite {
			dsn = "file:" + dsn
		}
		key, err := graphvault.NewSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		bucket := t.TempDir()
		const every, ttl, delay = time.Second, 1500 * time.Millisecond, 600 * time.Millisecond
		spec := func(name string) childSpec {
			return childSpec{Data: t.TempDir(), Store: dsn, Bucket: bucket, Name: name, SecretKey: key, Every: every, TTL: ttl, Delay: delay}
		}
		a, b := startChild(t, spec("a")), startChild(t, spec("b"))
		st := metatest.OpenWith(t, dsn)

		// Both run for a while; one is seen running from the other's list.
		seenRunning := false
		for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			for _, c := range []*child{a, b} {
				for _, r := range c.list(t) {
					if r.Status == meta.SnapshotRunning && r.Labels[backup.InstanceLabel] != c.name {
						seenRunning = true
					}
				}
			}
		}
		if !seenRunning {
			t.Errorf("no instance listed a snapshot running on the other")
		}
		checkSlots(t, st, every)

		// Kill whichever instance is taking a snapshot; the other survives.
		byName := map[string]*child{"a": a, "b": b}
		var killed string
		var survivor *child
		for end := time.Now().Add(5 * time.Second); killed == "" && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			rows, _, err := st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "g", Status: meta.SnapshotRunning, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if victim := byName[r.Labels[backup.InstanceLabel]]; victim != nil {
					victim.cmd.Process.Kill() //nolint:errcheck
					victim.cmd.Wait()         //nolint:errcheck
					killed, survivor = r.ID, byName[map[string]string{"a": "b", "b": "a"}[victim.name]]
					break
				}
			}
		}
		if killed == "" {
			t.Fatal("no instance took a snapshot in 5s")
		}
		killedAt := time.Now()
		for {
			r, err := st.GetSnapshot(ctx, killed)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != meta.SnapshotRunning {
				if r.Status != meta.SnapshotFailed {
					t.Errorf("the killed snapshot is %s, want failed", r.Status)
				}
				break
			}
			if time.Since(killedAt) > ttl+2*time.Second {
				t.Fatalf("the killed instance's snapshot is still running %v after the kill", time.Since(killedAt))
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The survivor takes the schedule over once the lease expired.
		time.Sleep(ttl + 2*every)
		checkSlots(t, st, every)
		var newest time.Time
		for _, r := range survivor.list(t) {
			if r.Labels[backup.InstanceLabel] == survivor.name && r.StartedAt.After(newest) {
				newest = r.StartedAt
			}
		}
		if newest.Before(killedAt.Add(ttl)) {
			t.Errorf("%s took no snapshot after the other's lease expired (its newest at %v, kill at %v)", survivor.name, newest, killedAt)
		}

		// SIGTERM stops the survivor with status 0, nothing left running and its
		// leases given up.
		if err := survivor.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := survivor.cmd.Wait(); err != nil {
			t.Fatalf("%s after SIGTERM: %v, want status 0", survivor.name, err)
		}
		if n, err := st.CountSnapshots(ctx, meta.SnapshotFilter{Status: meta.SnapshotRunning}); err != nil || n != 0 {
			t.Errorf("%d snapshots running after the stop (%v)", n, err)
		}
		leases, err := st.ListLeases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases {
			if strings.HasPrefix(l.Holder, survivor.name) && !l.Expired(time.Now()) {
				t.Errorf("lease %s still held by %s after it stopped", l.Name, l.Holder)
			}
		}
	})
}

// checkSlots counts the scheduled snapshots per slot in the store: each slot
// has exactly one, whichever instance took it.
func checkSlots(t *testing.T, st *meta.Store, every time.Duration) {
	t.Helper()
	rows, _, err := st.ListSnapshots(context.Background(), meta.SnapshotFilter{GraphID: "g", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slots := map[time.Time][]string{}
	for _, r := range rows {
		if r.Labels["scheduled"] == "true" {
			slot := r.CreatedAt.Truncate(every)
			slots[slot] = append(slots[slot], r.Labels[backup.InstanceLabel])
		}
	}
	if len(slots) < 3 {
		t.Fatalf("%d scheduled slots taken, want at least 3", len(slots))
	}
	for _, slot := range slices.SortedFunc(stdmaps.Keys(slots), time.Time.Compare) {
		if len(slots[slot]) != 1 {
			t.Errorf("slot %v taken %d times, by %v", slot.Format(time.StampMilli), len(slots[slot]), slots[slot])
		}
	}
}
