package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/monitoring"
	"github.com/graphvault/graphvault/monitoring/dashboard"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

var quiet = slog.New(slog.DiscardHandler)

var screenshots = flag.String("screenshots", "", "also copy the browser tests' screenshots into this folder")

const mountPrefix = "/api/monitoring"

// errBucketDown is the fault injected into one snapshot's manifest write.
var errBucketDown = errors.New("bucket unavailable for the manifest")

// monitored is a store with everything the dashboard reads, served as a host
// would.
type monitored struct {
	st     *meta.Store
	prom   *monitoring.Prometheus
	col    *monitoring.Collector
	health *health.Runner
	parts  monitoring.Parts
}

func newMonitored(t *testing.T, clock func() time.Time) *monitored {
	t.Helper()
	ctx := context.Background()
	m := &monitored{}
	var err error
	if m.prom, err = monitoring.NewPrometheus(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.prom.Shutdown(context.Background()) })
	if m.st, err = meta.Open(ctx, ":memory:", meta.WithMeterProvider(m.prom.MeterProvider)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.st.Close() })
	if m.col, err = monitoring.NewCollector(m.st, monitoring.WithMeterProvider(m.prom.MeterProvider),
		monitoring.WithLogger(quiet), monitoring.WithClock(clock)); err != nil {
		t.Fatal(err)
	}
	m.parts = monitoring.Parts{Prometheus: m.prom, Collector: m.col}
	return m
}

// serve mounts the monitoring handler with the dashboard under mountPrefix;
// wrap, if not nil, sits in front of it.
func (m *monitored) serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	parts := m.parts
	parts.Dashboard = dashboard.Handler(dashboard.WithRefresh(time.Second))
	var h http.Handler = monitoring.NewHandler(m.st, parts, api.Options{Logger: quiet})
	if wrap != nil {
		h = wrap(h)
	}
	mux := http.NewServeMux()
	mux.Handle(mountPrefix+"/", http.StripPrefix(mountPrefix, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + mountPrefix + "/dashboard"
}

// seed takes snapshots of two generated graphs in four rounds, one of them failing,
// collecting a set of samples an hour apart after each, then adds health, two
// replication targets and a validated checkpoint.
func seed(t *testing.T) *monitored {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now().Add(-4 * time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	m := newMonitored(t, clock)

	fd := faultblob.New(memblob.New())
	bucket := blob.NewBucket(fd, blob.WithMeterProvider(m.prom.MeterProvider))
	engine, err := backup.New(m.st, bucket, backup.WithMeterProvider(m.prom.MeterProvider), backup.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	graphs := &graph.Registry{}
	ids := []string{"graph-alpha", "graph-beta"}
	mem := map[string]*memgraph.Graph{}
	for _, id := range ids {
		mem[id] = memgraph.New()
		graphs.Register(id, mem[id])
	}
	var alphaSnapshot string
	for round := range 4 {
		for i, id := range ids {
			n := 150 + 80*round + 200*i
			gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: n, Edges: 3 * n, Seed: uint64(10*round + i + 1)})
			if err := gen.Replace(ctx, mem[id]); err != nil {
				t.Fatal(err)
			}
			if round == 2 && id == "graph-beta" {
				remove := fd.Inject(faultblob.Rule{Ops: faultblob.OpPutIfAbsent, Prefix: "manifests/", Err: errBucketDown})
				_, err := engine.Snapshot(ctx, id, mem[id], backup.SnapshotOptions{})
				remove()
				if !errors.Is(err, errBucketDown) {
					t.Fatalf("snapshot with a failing bucket: got %v, want %v", err, errBucketDown)
				}
				continue
			}
			sn, err := engine.Snapshot(ctx, id, mem[id], backup.SnapshotOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if id == "graph-alpha" {
				alphaSnapshot = sn.ID
			}
		}
		setClock(time.Now().Add(time.Duration(round-3) * time.Hour))
		if _, err := m.col.Collect(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Health: the store and bucket pass; every snapshot is older than the policy
	// allows, so freshness warns.
	checks := []health.Checker{
		health.NewStoreCheck(m.st),
		health.NewBucketCheck("snapshots", bucket),
		health.NewSnapshotFreshnessCheck(engine, graphs, health.FreshnessPolicy{WarnAfter: time.Millisecond, FailAfter: -1}),
	}
	if m.health, err = health.New(m.st, checks, health.WithLogger(quiet),
		health.WithMeterProvider(m.prom.MeterProvider)); err != nil {
		t.Fatal(err)
	}
	if rep := m.health.Run(ctx); rep.Status != health.Warn {
		t.Fatalf("seeded health: got %s (%v), want warn", rep.Status, rep.Reasons)
	}
	m.parts.Health, m.parts.HealthMaxAge = m.health, time.Hour

	// Replication: one target replicated 90 s ago, one failing.
	wall := time.Now()
	for _, tg := range []struct {
		name, health, lastErr string
		ok                    bool
	}{
		{"offsite-disk", "pass", "", true},
		{"edge-http", "fail", "dial tcp: connection refused", false},
	} {
		target := &meta.Target{Name: tg.name, Kind: "file", Config: map[string]string{"path": "replica"},
			Enabled: true, Health: tg.health, LastError: tg.lastErr, LastCheckAt: wall.Add(-time.Minute)}
		if err := m.st.CreateTarget(ctx, target); err != nil {
			t.Fatal(err)
		}
		ev := &meta.ReplicationEvent{TargetID: target.ID, GraphID: "graph-alpha", SnapshotID: alphaSnapshot,
			Kind: meta.EventSnapshot, Status: meta.EventOK, Bytes: 4096, StartedAt: wall.Add(-92 * time.Second),
			DurationSeconds: 2}
		if !tg.ok {
			ev.Status, ev.Error, ev.Bytes = meta.EventFailed, tg.lastErr, 0
		}
		if err := m.st.AddReplicationEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	cp := &meta.Checkpoint{Description: "before upgrade", Graphs: []meta.CheckpointGraph{{GraphID: "graph-alpha", SnapshotID: alphaSnapshot}},
		Validated: true, ValidatedAt: wall}
	if err := m.st.CreateCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	setClock(wall)
	if _, err := m.col.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// browser runs headless Chromium on url with args and returns what it wrote to
// stdout and stderr. It may run on any goroutine.
func browser(userDir, url string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + userDir,
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"}
	cmd := exec.CommandContext(ctx, "chromium", append(append(base, args...), url)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return "", errOut.String(), fmt.Errorf("chromium %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), nil
}

// runBoth loads url in two browsers side by side, one dumping the DOM it ends
// with, the other writing a screenshot to shot, and returns the DOM and the
// browsers' stderr.
func runBoth(t *testing.T, url, shot string) (dom, domErr, shotErr string) {
	t.Helper()
	var errDOM, errShot error
	domDir, shotDir := t.TempDir(), t.TempDir()
	var wg sync.WaitGroup
	wg.Go(func() { dom, domErr, errDOM = browser(domDir, url, "--dump-dom") })
	wg.Go(func() { _, shotErr, errShot = browser(shotDir, url, "--screenshot="+shot, "--window-size=1280,1600") })
	wg.Wait()
	if err := errors.Join(errDOM, errShot); err != nil {
		t.Fatal(err)
	}
	return dom, domErr, shotErr
}

// needChromium skips the test when Chromium is not installed.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not on PATH; install the Debian package chromium to run the browser tests")
	}
}

// consoleLines returns the console messages Chromium logged for the page: any
// console call, uncaught error or policy violation. The page logs none when it
// works.
func consoleLines(stderr string) []string {
	var out []string
	for line := range strings.Lines(stderr) {
		if strings.Contains(line, ":CONSOLE") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// element returns the outer HTML of the first element with the given id.
func element(t *testing.T, dom, tag, id string) string {
	t.Helper()
	start := strings.Index(dom, fmt.Sprintf(`<%s class="chart" id="%s">`, tag, id))
	if start < 0 {
		start = strings.Index(dom, fmt.Sprintf(`id="%s"`, id))
	}
	if start < 0 {
		t.Fatalf("the page has no element %s#%s", tag, id)
	}
	end := strings.Index(dom[start:], "</"+tag+">")
	if end < 0 {
		t.Fatalf("element %s#%s is not closed", tag, id)
	}
	return dom[start : start+end]
}

var loadsRE = regexp.MustCompile(`<body[^>]* data-loads="(\d+)"`)

func TestBrowserDashboard(t *testing.T) {
	needChromium(t)
	url := seed(t).serve(t, nil)
	shot := filepath.Join(t.TempDir(), "dashboard.png")

	dom, domErr, shotErr := runBoth(t, url, shot)

	for _, stderr := range []string{domErr, shotErr} {
		if lines := consoleLines(stderr); len(lines) > 0 {
			t.Errorf("the page logged to the console:\n%s", strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(dom, `data-state="ok"`) {
		t.Errorf("body data-state: want ok; page:\n%s", dom)
	}
	if m := loadsRE.FindStringSubmatch(dom); m == nil {
		t.Error("body has no data-loads")
	} else if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Errorf("loads within the time budget: got %d, want at least 2 with a one-second refresh", n)
	}
	if !regexp.MustCompile(`<div id="errors"[^>]*\shidden`).MatchString(dom) {
		t.Errorf("the error banner is shown: %s", element(t, dom, "div", "errors"))
	}
	if strings.Contains(dom, "section-error") {
		t.Error("a section shows an error")
	}

	charts := []struct {
		id          string
		mark        string
		min, series int
	}{
		{"chart-size", `<circle class="pt`, 8, 2},
		{"chart-duration", `<circle class="pt`, 8, 2},
		{"chart-counts", `<rect class="bar`, 4, 0},
		{"chart-avg-duration", `<rect class="bar`, 2, 0},
		{"chart-lag", `<rect class="bar`, 1, 0},
	}
	for _, c := range charts {
		fig := element(t, dom, "figure", c.id)
		if !strings.Contains(fig, `role="img"`) || !strings.Contains(fig, "<desc ") {
			t.Errorf("%s: the chart has no role=img and description", c.id)
		}
		if got := strings.Count(fig, c.mark); got < c.min {
			t.Errorf("%s: got %d of %s, want at least %d", c.id, got, c.mark, c.min)
		}
		if c.series > 0 {
			if got := strings.Count(fig, `<path class="line`); got != c.series {
				t.Errorf("%s: got %d lines, want %d", c.id, got, c.series)
			}
			if strings.Contains(fig, `d="M"`) || strings.Contains(fig, "NaN") {
				t.Errorf("%s: a line has no points or a NaN coordinate", c.id)
			}
		}
	}

	for _, want := range []string{
		`data-graph="graph-alpha"`, `data-graph="graph-beta"`, // graphs table
		`<span id="overall" class="badge badge-warn"`, // overall health
		"store:database", "backup:snapshots", // health checks
		"Snapshot of graph-beta failed", errBucketDown.Error(), // events
		`data-target="offsite-disk"`, "dial tcp: connection refused", // replication
		"before upgrade", // checkpoints
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %s", want)
		}
	}

	checkScreenshot(t, shot)
}

// TestBrowserEndpointError serves an empty store whose stats/backups answers 500:
// the page names the endpoint and its error, draws the rest with their empty
// states, and logs nothing to the console.
func TestBrowserEndpointError(t *testing.T) {
	needChromium(t)
	m := newMonitored(t, time.Now)
	url := m.serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stats/backups" {
				api.WriteProblem(w, r, http.StatusInternalServerError, "the snapshot table is locked")
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	shot := filepath.Join(t.TempDir(), "dashboard-error.png")
	dom, domErr, shotErr := runBoth(t, url, shot)
	for _, stderr := range []string{domErr, shotErr} {
		if lines := consoleLines(stderr); len(lines) > 0 {
			t.Errorf("the page logged to the console:\n%s", strings.Join(lines, "\n"))
		}
	}
	checkScreenshot(t, shot)
	if !strings.Contains(dom, `data-state="error"`) {
		t.Error("body data-state: want error")
	}
	banner := element(t, dom, "div", "errors")
	if strings.Contains(banner, "hidden") {
		t.Errorf("the error banner is hidden: %s", banner)
	}
	for _, want := range []string{"stats/backups", "500 Internal Server Error", "the snapshot table is locked"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q: %s", want, banner)
		}
	}
	for _, want := range []string{
		"No replication targets are configured.",
		"No checkpoints yet.",
		"No graph has a snapshot yet.",
		`class="section-error"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

// checkScreenshot asserts that path is a 1280x1600 PNG with something drawn on it,
// and copies it to -screenshots when that is set.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1600 || len(data) < 30_000 {
		t.Errorf("screenshot: got %dx%d, %d bytes; want 1280x1600 and more than 30 kB", b.Dx(), b.Dy(), len(data))
	}
	t.Logf("screenshot: %s", path)
	if *screenshots != "" {
		dst := filepath.Join(*screenshots, t.Name()+".png")
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot copied to %s", dst)
	}
}
