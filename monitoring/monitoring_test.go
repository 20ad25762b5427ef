package monitoring

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
	"github.com/graphvault/graphvault/store/meta"
)

var quiet = slog.New(slog.DiscardHandler)

// env is a store, bucket, engine, health and collector all measured through one
// Prometheus helper, and the handler over them.
type env struct {
	t       *testing.T
	ctx     context.Context
	prom    *Prometheus
	st      *meta.Store
	fd      *faultblob.Driver
	engine  *backup.Engine
	graphs  *graph.Registry
	health  *health.Runner
	col     *Collector
	handler http.Handler
	now     atomic.Pointer[time.Time]
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, ctx: ctx}
	e.setNow(time.Now())
	p, err := NewPrometheus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	e.prom = p
	mp := p.MeterProvider
	if e.st, err = meta.Open(ctx, ":memory:", meta.WithMeterProvider(mp)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.fd = faultblob.New(memblob.New())
	bucket := blob.NewBucket(e.fd, blob.WithMeterProvider(mp))
	if e.engine, err = backup.New(e.st, bucket, backup.WithMeterProvider(mp), backup.WithLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	e.graphs = &graph.Registry{}
	checks := []health.Checker{
		health.NewStoreCheck(e.st),
		health.NewBucketCheck("data", bucket),
		health.NewSnapshotFreshnessCheck(e.engine, e.graphs, health.FreshnessPolicy{WarnAfter: time.Hour}),
	}
	if e.health, err = health.New(e.st, checks, health.WithMeterProvider(mp),
		health.WithLogger(quiet), health.WithCheckTimeout(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if e.col, err = NewCollector(e.st, WithMeterProvider(mp), WithLogger(quiet), WithClock(e.clock)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.col.Close(context.Background()) })
	// The handler's clock is the collector's.
	e.handler = NewHandler(e.st, Parts{Prometheus: p, Collector: e.col, Health: e.health}, api.Options{Logger: quiet})
	return e
}

// setNow sets the clock, at the store's microsecond precision.
func (e *env) setNow(t time.Time) { t = t.Truncate(time.Microsecond); e.now.Store(&t) }
func (e *env) clock() time.Time   { return *e.now.Load() }

// addGraph registers a graph of n people, each knowing the next.
func (e *env) addGraph(id string, n int) *memgraph.Graph {
	g := e.newGraph(id, n)
	e.graphs.Register(id, g)
	return g
}

// newGraph returns a graph of n people, each knowing the next.
func (e *env) newGraph(id string, n int) *memgraph.Graph {
	e.t.Helper()
	g := memgraph.New()
	var ops []graph.Op
	for i := range n {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{
			ID: id + "-p" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Labels: []string{"person"},
			Props: map[string]any{"rank": i},
		}})
	}
	for i := 1; i < n; i++ {
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{
			Source: ops[i-1].Node.ID, Target: ops[i].Node.ID, Type: "knows",
		}})
	}
	if err := g.Apply(e.ctx, ops); err != nil {
		e.t.Fatal(err)
	}
	return g
}

// work does what a running server does: snapshots (full and incremental), a
// restore, verifications, a prune, a GC, a checkpoint, a replication target with
// events, health checks and a collection.
func (e *env) work() {
	t, ctx := e.t, e.ctx
	t.Helper()
	g1 := e.addGraph("g1", 40)
	e.addGraph("g2", 10)
	snap := func(id string, g graph.Reader, kind backup.Kind) *meta.Snapshot {
		t.Helper()
		row, err := e.engine.Snapshot(ctx, id, g, backup.SnapshotOptions{Kind: kind})
		if err != nil {
			t.Fatalf("snapshot %s: %v", id, err)
		}
		return row
	}
	first := snap("g1", g1, backup.KindFull)
	if err := g1.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "late", Labels: []string{"person"}}}}); err != nil {
		t.Fatal(err)
	}
	latest := snap("g1", g1, backup.KindAuto)
	g2, _ := e.graphs.Graph(ctx, "g2")
	snap("g2", g2, backup.KindFull)

	// A snapshot that fails: the bucket refuses writes.
	remove := e.fd.Inject(faultblob.Rule{Ops: faultblob.OpWrite, Err: errors.New("bucket offline")})
	if _, err := e.engine.Snapshot(ctx, "g2", g2, backup.SnapshotOptions{Kind: backup.KindFull}); err == nil {
		t.Fatal("snapshot with a bucket refusing writes succeeded")
	}
	remove()

	if _, err := e.engine.Restore(ctx, latest.ID, memgraph.New(), backup.RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, full := range []bool{false, true} {
		rep, err := e.engine.Verify(ctx, latest.ID, full)
		if err != nil || !rep.OK {
			t.Fatalf("verify full=%v: %v %+v", full, err, rep)
		}
	}
	if _, err := e.engine.Prune(ctx, "g1", backup.Retention{KeepLast: 1}, false); err != nil {
		t.Fatalf("prune: %v", err)
	}
	// A snapshot deleted leaves objects no manifest references: GC removes them.
	tmp := snap("tmp", e.newGraph("tmp", 5), backup.KindFull)
	if err := e.engine.Delete(ctx, tmp.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := e.engine.GC(ctx, backup.GCOptions{Grace: -1}); err != nil || res.Deleted == 0 {
		t.Fatalf("gc = %+v, %v; want objects deleted", res, err)
	}
	if rows, _, err := e.st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: "g1"}); err != nil || len(rows) != 1 || rows[0].ID == first.ID {
		t.Fatalf("after prune g1 has %+v, %v; want only the newest", rows, err)
	}
	e.setNow(time.Now())

	cp := &meta.Checkpoint{Description: "nightly", CreatedBy: "test", Validated: true, ValidatedAt: time.Now(),
		Graphs: []meta.CheckpointGraph{{GraphID: "g1", SnapshotID: latest.ID}}}
	if err := e.st.CreateCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	tgt := &meta.Target{Name: "offsite", Kind: meta.TargetS3, Enabled: true, Health: "healthy",
		Config: map[string]string{"endpoint": "s3.example.com", "access_key": "AKIAEXAMPLE"}, Secret: "s3cr3t-value"}
	if err := e.st.CreateTarget(ctx, tgt); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []meta.ReplicationEvent{
		{TargetID: tgt.ID, GraphID: "g1", SnapshotID: latest.ID, Kind: meta.EventSnapshot, Status: meta.EventOK,
			Bytes: 1234, StartedAt: e.clock().Add(-2 * time.Minute), DurationSeconds: 60},
		{TargetID: tgt.ID, GraphID: "g1", Kind: meta.EventSnapshot, Status: meta.EventFailed,
			StartedAt: e.clock().Add(-30 * time.Second), Error: "connection refused"},
	} {
		if err := e.st.AddReplicationEvent(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	if rep := e.health.Run(ctx); rep.Status != health.Pass {
		t.Fatalf("health after work = %s %q", rep.Status, rep.Reasons)
	}
	if _, err := e.col.Collect(ctx); err != nil {
		t.Fatalf("collect: %v", err)
	}
}

// do serves one request and returns the response.
func (e *env) do(method, target string, body io.Reader, header ...string) *http.Response {
	e.t.Helper()
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec.Result()
}

// getJSON GETs target, checks status and content type, and decodes the body.
func (e *env) getJSON(target string, wantStatus int, v any) {
	e.t.Helper()
	resp := e.do(http.MethodGet, target, nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("GET %s: status %d, want %d: %s", target, resp.StatusCode, wantStatus, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		e.t.Fatalf("GET %s: content type %q", target, ct)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e.t.Fatalf("GET %s: decoding %s: %v", target, b, err)
	}
}

// nonZero reports whether a family has a series with a non-zero value (for a
// histogram or summary, a non-zero count).
func nonZero(mf *dto.MetricFamily) bool {
	for _, m := range mf.GetMetric() {
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if m.GetCounter().GetValue() != 0 {
				return true
			}
		case dto.MetricType_GAUGE:
			if m.GetGauge().GetValue() != 0 {
				return true
			}
		case dto.MetricType_HISTOGRAM:
			if m.GetHistogram().GetSampleCount() != 0 {
				return true
			}
		case dto.MetricType_SUMMARY:
			if m.GetSummary().GetSampleCount() != 0 {
				return true
			}
		case dto.MetricType_UNTYPED:
			if m.GetUntyped().GetValue() != 0 {
				return true
			}
		}
	}
	return false
}

func TestPrometheusExpositionAfterRealWork(t *testing.T) {
	e := newEnv(t)
	e.work()

	resp := e.do(http.MethodGet, "/metrics/prometheus", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q, want text/plain", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	var names []string
	for name, mf := range fams {
		if !strings.HasPrefix(name, MetricPrefix) {
			continue
		}
		names = append(names, name)
		// Counters are listed at zero before their first event; this work does
		// not use the live cache.
		if !nonZero(mf) && name != "graphvault_backup_live_cache_lookups_total" {
			t.Errorf("family %s has no non-zero value", name)
		}
	}
	sort.Strings(names)
	t.Logf("%d graphvault families:\n%s", len(names), strings.Join(names, "\n"))
	if len(names) < 20 {
		t.Errorf("got %d graphvault_ families, want at least 20", len(names))
	}
	for _, want := range []string{
		"graphvault_backup_snapshots_total",
		"graphvault_backup_snapshot_duration_seconds",
		"graphvault_backup_written_bytes_total",
		"graphvault_backup_restores_total",
		"graphvault_backup_restore_duration_seconds",
		"graphvault_backup_verifications_total",
		"graphvault_backup_verify_duration_seconds",
		"graphvault_stats_snapshot_nodes",
		"graphvault_stats_snapshot_edges",
		"graphvault_store_operations_total",
		"graphvault_blob_operations_total",
		"graphvault_health_status",
		"graphvault_health_checks_total",
		"graphvault_health_check_duration_seconds",
		"graphvault_stats_snapshots",
		"graphvault_stats_stored_bytes",
		"graphvault_stats_snapshot_age_seconds",
		"graphvault_stats_snapshot_size_bytes",
		"graphvault_stats_checkpoints",
		"graphvault_stats_replication_targets",
		"graphvault_stats_replication_lag_seconds",
	} {
		if _, ok := fams[want]; !ok {
			t.Errorf("family %s missing", want)
		}
	}

	// Values are the real ones: the store gauges match the meta.
	snaps := fams["graphvault_stats_snapshots"]
	got := map[string]float64{}
	for _, m := range snaps.GetMetric() {
		var graph, status string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "graph":
				graph = l.GetValue()
			case "status":
				status = l.GetValue()
			}
		}
		got[graph+"/"+status] = m.GetGauge().GetValue()
	}
	for key, want := range map[string]float64{"g1/completed": 1, "g2/completed": 1, "g2/failed": 1} {
		if got[key] != want {
			t.Errorf("graphvault_stats_snapshots{%s} = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
	lag := fams["graphvault_stats_replication_lag_seconds"].GetMetric()
	if len(lag) != 1 || lag[0].GetGauge().GetValue() != 60 {
		t.Errorf("replication lag = %v, want one series of 60s", lag)
	}

	// The JSON endpoint reports the same families.
	var mr MetricsResponse
	e.getJSON("/metrics", http.StatusOK, &mr)
	var jsonNames []string
	for name := range mr.Metrics {
		jsonNames = append(jsonNames, name)
	}
	sort.Strings(jsonNames)
	if strings.Join(jsonNames, ",") != strings.Join(names, ",") {
		t.Errorf("JSON families differ from the exposition:\n got %v\nwant %v", jsonNames, names)
	}
	restores := mr.Metrics["graphvault_backup_restores_total"]
	byResult := map[string]float64{}
	for _, sr := range restores.Series {
		if sr.Value != nil {
			byResult[sr.Labels["result"]] = *sr.Value
		}
	}
	if restores.Type != "counter" || len(byResult) != 2 || byResult["ok"] != 1 || byResult["failed"] != 0 {
		t.Errorf("restores in JSON = %+v, want one ok restore and none failed", byResult)
	}
	hist := mr.Metrics["graphvault_backup_snapshot_duration_seconds"]
	if hist.Type != "histogram" || len(hist.Series) == 0 || hist.Series[0].Count == nil ||
		len(hist.Series[0].Buckets) == 0 || hist.Series[0].Buckets[len(hist.Series[0].Buckets)-1].LE != "+Inf" {
		t.Errorf("snapshot duration in JSON = %+v, want a histogram ending with +Inf", hist)
	}
	for _, s := range hist.Series {
		for k := range s.Labels {
			if strings.HasPrefix(k, "otel_scope") {
				t.Errorf("scope label %s in JSON", k)
			}
		}
	}
}

func TestStatsEndpoints(t *testing.T) {
	e := newEnv(t)
	e.work()

	var sum Summary
	e.getJSON("/metrics/summary", http.StatusOK, &sum)
	if sum.Health.Status != "pass" || sum.Totals.Graphs != 2 || sum.Totals.Checkpoints != 1 || sum.Totals.Targets != 1 ||
		sum.Totals.Failed != 1 || len(sum.Graphs) != 2 || sum.Graphs[0].LastSnapshot == nil || sum.Graphs[0].LastSnapshot.Nodes != 41 {
		t.Errorf("summary = %+v", sum)
	}

	var bs BackupStats
	e.getJSON("/stats/backups", http.StatusOK, &bs)
	if len(bs.Graphs) != 2 {
		t.Fatalf("backup stats graphs = %d, want 2", len(bs.Graphs))
	}
	g1, g2 := bs.Graphs[0], bs.Graphs[1]
	if g1.GraphID != "g1" || g1.Counts.Completed != 1 || g1.Counts.Total != 1 || g1.NewestCompleted == nil ||
		g1.AveragedOver != 1 || g1.AverageDurationSeconds <= 0 || g1.BytesNew <= 0 {
		t.Errorf("g1 stats = %+v", g1)
	}
	if g2.Counts.Failed != 1 || g2.LastFailure == nil || !strings.Contains(g2.LastFailure.Error, "bucket offline") ||
		g2.NewestSnapshot == nil || g2.NewestSnapshot.Status != meta.SnapshotFailed {
		t.Errorf("g2 stats = %+v", g2)
	}

	var rs RecoveryStats
	e.getJSON("/stats/recovery", http.StatusOK, &rs)
	if rs.Checkpoints.Count != 1 || rs.Checkpoints.Validated != 1 || rs.Checkpoints.NewestValidated == nil {
		t.Errorf("checkpoint stats = %+v", rs.Checkpoints)
	}
	verified := map[string]*VerifiedSnapshot{}
	for _, g := range rs.Graphs {
		verified[g.GraphID] = g.NewestVerifiedSnapshot
	}
	// g1: both the checkpoint and the health check name its newest snapshot; g2:
	// only the health check verified it.
	if v := verified["g1"]; v == nil || v.ID != g1.NewestCompleted.ID {
		t.Errorf("g1 newest verified = %+v, want %s", v, g1.NewestCompleted.ID)
	}
	if v := verified["g2"]; v == nil || v.Source != "health" || v.ID != g2.NewestCompleted.ID {
		t.Errorf("g2 newest verified = %+v, want %s from health", v, g2.NewestCompleted.ID)
	}

	resp := e.do(http.MethodGet, "/stats/replication", nil)
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats/replication: %d %s", resp.StatusCode, raw)
	}
	for _, secret := range []string{"s3cr3t-value", "AKIAEXAMPLE"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("stats/replication leaks %q: %s", secret, raw)
		}
	}
	var rep ReplicationStats
	e.getJSON("/stats/replication", http.StatusOK, &rep)
	if len(rep.Targets) != 1 {
		t.Fatalf("targets = %+v", rep.Targets)
	}
	tg := rep.Targets[0]
	if tg.Name != "offsite" || tg.Health != "healthy" || tg.LagSeconds == nil || *tg.LagSeconds != 60 ||
		tg.Config["endpoint"] != "s3.example.com" || tg.Config["access_key"] != redacted ||
		tg.RecentEvents != 2 || tg.RecentFailure != 1 {
		t.Errorf("target = %+v", tg)
	}
	if rep.Events.Considered != 2 || rep.Events.OK != 1 || rep.Events.Failed != 1 || rep.Events.Bytes != 1234 ||
		rep.Events.LastFailure == nil || rep.Events.LastFailure.Error != "connection refused" {
		t.Errorf("events = %+v", rep.Events)
	}
}

func TestCollectAndHistory(t *testing.T) {
	e := newEnv(t)
	e.work()
	e.setNow(e.clock().Add(time.Minute))

	resp := e.do(http.MethodPost, "/metrics/collect", nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("collect: %d %s", resp.StatusCode, b)
	}
	var res CollectResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range res.Samples {
		got[s.Name+"{"+s.Labels+"}"] = s.Value
	}
	for key, want := range map[string]float64{
		SampleSnapshotNodes + "{graph=g1}":                      41,
		SampleSnapshotEdges + "{graph=g2}":                      9,
		SampleSnapshots + "{graph=g2,status=failed}":            1,
		SampleReplicationLag + "{target=offsite}":               120,
		SampleHealthStatus + "{check=database,component=store}": 1,
		SampleHealthOverall + "{}":                              1,
		SampleCheckpoints + "{validation=valid}":                1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("sample %s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	for _, name := range []string{SampleSnapshotBytes, SampleSnapshotDuration, SampleSnapshotAge, SampleGraphStored} {
		if got[name+"{graph=g1}"] <= 0 {
			t.Errorf("sample %s{graph=g1} = %v, want > 0", name, got[name+"{graph=g1}"])
		}
	}

	// Two collections (work and this one): two points per series.
	var hist HistoryResponse
	e.getJSON("/metrics/history?name="+SampleSnapshotNodes+"&since=1h", http.StatusOK, &hist)
	if len(hist.Series) != 2 || hist.Series[0].Labels != "graph=g1" || len(hist.Series[0].Points) != 2 ||
		hist.Series[0].Points[1].Value != 41 {
		t.Errorf("history = %+v", hist)
	}
	e.getJSON("/metrics/history?name="+SampleSnapshotNodes+"&since="+e.clock().Add(time.Second).UTC().Format(time.RFC3339)+"&limit=5",
		http.StatusBadRequest, new(map[string]any))

	// Retention: a sample older than seven days is pruned by the next collection.
	old := []meta.MetricSample{{Name: SampleSnapshotNodes, Labels: "graph=g1", Value: 1, At: e.clock().Add(-8 * 24 * time.Hour)}}
	if err := e.st.AddMetricSamples(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	r2, err := e.col.Collect(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Pruned != 1 {
		t.Errorf("pruned = %d, want 1", r2.Pruned)
	}
}

func TestHealthEndpoint(t *testing.T) {
	e := newEnv(t)
	e.work()

	get := func(target string) (int, HealthResponse) {
		t.Helper()
		resp := e.do(http.MethodGet, target, nil)
		if ct := resp.Header.Get("Content-Type"); ct != ContentTypeHealth {
			t.Fatalf("content type %q, want %s", ct, ContentTypeHealth)
		}
		var hr HealthResponse
		if err := json.NewDecoder(resp.Body).Decode(&hr); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, hr
	}
	code, hr := get("/health")
	if code != http.StatusOK || hr.Status != "pass" || len(hr.Checks) != 3 || hr.Checks["store:database"][0].Status != "pass" {
		t.Fatalf("healthy: %d %+v", code, hr)
	}

	// The bucket refuses writes: fail, 503, the reason in the output.
	remove := e.fd.Inject(faultblob.Rule{Ops: faultblob.OpWrite, Prefix: health.ProbePrefix, Err: errors.New("read-only file system")})
	code, hr = get("/health?fresh=true")
	if code != http.StatusServiceUnavailable || hr.Status != "fail" {
		t.Fatalf("failing bucket: %d %+v", code, hr)
	}
	bc := hr.Checks["bucket:data"]
	if len(bc) != 1 || bc[0].Status != "fail" || !strings.Contains(bc[0].Output, "read-only file system") ||
		!strings.Contains(hr.Output, "bucket:data") {
		t.Errorf("bucket check = %+v, output %q", bc, hr.Output)
	}
	// Without fresh, the cached report answers while it is young.
	remove()
	if code, _ := get("/health"); code != http.StatusServiceUnavailable {
		t.Errorf("cached: %d, want the cached 503", code)
	}
	// Once it is old, the checks run again: repaired.
	e.setNow(e.clock().Add(time.Minute))
	if code, hr := get("/health"); code != http.StatusOK || hr.Status != "pass" {
		t.Errorf("repaired: %d %+v", code, hr)
	}

	// Without a Health, the newest stored events answer; the failure is in the past.
	bare := NewHandler(e.st, Parts{}, api.Options{Logger: quiet})
	rec := httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"bucket:data"`) {
		t.Errorf("from the store: %d %s", rec.Code, rec.Body)
	}
	if _, err := e.st.LatestHealth(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.st.Close()
	rec = httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("closed store: %d %s", rec.Code, rec.Body)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, target, body, contentType string
		want                              int
		field                             string // the parameter the problem names
	}{
		{"GET", "/metrics/history", "", "", 400, "name"},
		{"GET", "/metrics/history?name=bad%20name", "", "", 400, "name"},
		{"GET", "/metrics/history?name=a&name=b", "", "", 400, "name"},
		{"GET", "/metrics/history?name=" + strings.Repeat("n", 201), "", "", 400, "name"},
		{"GET", "/metrics/history?name=x&since=yesterday", "", "", 400, "since"},
		{"GET", "/metrics/history?name=x&since=-1h", "", "", 400, "since"},
		{"GET", "/metrics/history?name=x&since=2999-01-01T00:00:00Z", "", "", 400, "since"},
		{"GET", "/metrics/history?name=x&limit=0", "", "", 400, "limit"},
		{"GET", "/metrics/history?name=x&limit=ten", "", "", 400, "limit"},
		{"GET", "/metrics/history?name=x&color=red", "", "", 400, "color"},
		{"GET", "/health?fresh=maybe", "", "", 400, "fresh"},
		{"GET", "/stats/replication?limit=5000", "", "", 400, "limit"},
		{"GET", "/stats/backups?graph=../x", "", "", 400, "graph"},
		{"GET", "/metrics?format=xml", "", "", 400, "format"},
		{"POST", "/metrics/collect", `{"now":true}`, "application/json", 400, "now"},
		{"POST", "/metrics/collect", `{`, "application/json", 400, ""},
		{"POST", "/metrics/collect", `{}`, "text/plain", 415, ""},
		{"POST", "/metrics/collect", `{"x":"` + strings.Repeat("a", 2000) + `"}`, "application/json", 413, ""},
		{"GET", "/nothing", "", "", 404, ""},
		{"DELETE", "/health", "", "", 405, ""},
		{"GET", "/dashboard", "", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target[:min(len(tt.target), 60)], func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			before, err := e.st.ListMetricSamples(e.ctx, SampleHealthOverall, time.Time{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			resp := e.do(tt.method, tt.target, body, "Content-Type", tt.contentType)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q, want problem+json", ct)
			}
			var p struct {
				Status int `json:"status"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.want {
				t.Errorf("problem status %d, want %d", p.Status, tt.want)
			}
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Errorf("problem fields %+v, want %s", p.Errors, tt.field)
			}
			after, err := e.st.ListMetricSamples(e.ctx, SampleHealthOverall, time.Time{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("a rejected request wrote samples")
			}
		})
	}
}

func TestHandlerParts(t *testing.T) {
	st, err := meta.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>dashboard "+r.URL.Path+"</html>")
	})
	tokens := api.Options{Authorizer: api.BearerToken(api.Tokens{Write: "t0ken", Read: "r3ad"})}
	tests := []struct {
		name   string
		parts  Parts
		opts   api.Options
		method string // default GET
		target string
		token  string
		want   int
		body   string
	}{
		{"no registry: metrics", Parts{}, api.Options{}, "", "/metrics", "", 404, "Prometheus"},
		{"no registry: exposition", Parts{}, api.Options{}, "", "/metrics/prometheus", "", 404, "Prometheus"},
		{"no collector", Parts{}, api.Options{}, "POST", "/metrics/collect", "", 404, "collector"},
		{"no dashboard", Parts{}, api.Options{}, "", "/dashboard", "", 404, "dashboard"},
		{"no dashboard asset", Parts{}, api.Options{}, "", "/dashboard/app.js", "", 404, "dashboard"},
		{"dashboard", Parts{Dashboard: dash}, api.Options{}, "", "/dashboard", "", 200, "<html>dashboard /dashboard</html>"},
		{"dashboard asset", Parts{Dashboard: dash}, api.Options{}, "", "/dashboard/app.js", "", 200, "/dashboard/app.js"},
		{"empty store summary", Parts{}, api.Options{}, "", "/metrics/summary", "", 200, `"graphs":[]`},
		{"empty store health", Parts{}, api.Options{}, "", "/health", "", 200, `"checks":{}`},
		{"empty store recovery", Parts{}, api.Options{}, "", "/stats/recovery", "", 200, `"graphs":[]`},
		{"empty store replication", Parts{}, api.Options{}, "", "/stats/replication", "", 200, `"targets":[]`},
		{"collect needs a token", Parts{}, tokens, "POST", "/metrics/collect", "", 401, "credentials"},
		{"collect needs the write token", Parts{}, tokens, "POST", "/metrics/collect", "r3ad", 403, "forbidden"},
		{"collect with the write token", Parts{}, tokens, "POST", "/metrics/collect", "t0ken", 404, "collector"},
		{"health is open", Parts{}, tokens, "", "/health", "", 200, `"status":"pass"`},
		{"stats are open", Parts{}, tokens, "", "/stats/backups", "", 200, `"graphs":[]`},
		{"the dashboard is open", Parts{Dashboard: dash}, tokens, "", "/dashboard", "", 200, "<html>dashboard"},
		{"unknown paths answer 404 before the token", Parts{}, tokens, "", "/nothing", "", 404, "no such resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = quiet
			h := NewHandler(st, tt.parts, tt.opts)
			method := cmp.Or(tt.method, http.MethodGet)
			req := httptest.NewRequest(method, tt.target, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("%s %s: got %d %s, want %d containing %q", method, tt.target, rec.Code, rec.Body, tt.want, tt.body)
			}
		})
	}
}

func TestCollectorStartClose(t *testing.T) {
	st, err := meta.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddHealthEvent(context.Background(), &meta.HealthEvent{Component: "a", Check: "b", Status: meta.HealthWarn}); err != nil {
		t.Fatal(err)
	}
	col, err := NewCollector(st, WithInterval(time.Hour), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := col.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := col.Start(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("second Start: %v, want ErrBusy", err)
	}
	for i := range 2 {
		if err := col.Close(ctx); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
	}
	// Start collects at once, and Close waited for it.
	got, err := st.ListMetricSamples(ctx, SampleHealthOverall, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Value != 0.5 {
		t.Errorf("overall samples = %+v, want one of 0.5", got)
	}
	if err := col.Start(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("Start after Close: %v, want ErrBusy", err)
	}
}

func TestNewCollectorRejects(t *testing.T) {
	st, err := meta.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tests := []struct {
		name string
		st   *meta.Store
		opts []CollectorOption
	}{
		{"nil store", nil, nil},
		{"zero retention", st, []CollectorOption{WithRetention(0)}},
		{"negative interval", st, []CollectorOption{WithInterval(-time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCollector(tt.st, tt.opts...); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestAnswersSeeWritesAtOnce reads every kept answer, takes one more snapshot and
// reads them again at once: each shows it.
func TestAnswersSeeWritesAtOnce(t *testing.T) {
	e := newEnv(t)
	e.work()
	type counts struct{ summary, backups, metrics, exposition float64 }
	read := func() counts {
		t.Helper()
		var c counts
		var sum Summary
		e.getJSON("/metrics/summary", http.StatusOK, &sum)
		c.summary = float64(sum.Totals.Completed)
		var bs BackupStats
		e.getJSON("/stats/backups", http.StatusOK, &bs)
		for _, g := range bs.Graphs {
			c.backups += float64(g.Counts.Completed)
		}
		var mr MetricsResponse
		e.getJSON("/metrics", http.StatusOK, &mr)
		for _, s := range mr.Metrics["graphvault_stats_snapshots"].Series {
			if s.Labels["status"] == meta.SnapshotCompleted && s.Value != nil {
				c.metrics += *s.Value
			}
		}
		resp := e.do(http.MethodGet, "/metrics/prometheus", nil)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fams["graphvault_stats_snapshots"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == meta.SnapshotCompleted {
					c.exposition += m.GetGauge().GetValue()
				}
			}
		}
		return c
	}
	before := read()
	if before.summary == 0 || before != read() {
		t.Fatalf("before: %+v, then %+v; want the same non-zero counts", before, read())
	}
	g1, _ := e.graphs.Graph(e.ctx, "g1")
	if _, err := e.engine.Snapshot(e.ctx, "g1", g1, backup.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	after := read()
	want := counts{before.summary + 1, before.backups + 1, before.metrics + 1, before.exposition + 1}
	if after != want {
		t.Errorf("after a snapshot: %+v, want %+v", after, want)
	}
}

// TestSharedGivesOlderAnswerWhileOneComputes checks the answer kept by shared: of
// its version only, while young, and past its ttl given to the others while one
// caller computes the next.
func TestSharedGivesOlderAnswerWhileOneComputes(t *testing.T) {
	c := shared[string]{ttl: 50 * time.Millisecond}
	computed := 0
	get := func(ver any, v string) (string, uint64) {
		t.Helper()
		got, seq, err := c.getAt(ver, func() (string, error) { computed++; return v, nil })
		if err != nil {
			t.Fatal(err)
		}
		return got, seq
	}
	if v, seq := get(1, "a"); v != "a" || seq != 1 || computed != 1 {
		t.Fatalf("first: %q #%d after %d computations", v, seq, computed)
	}
	if v, seq := get(1, "b"); v != "a" || seq != 1 || computed != 1 {
		t.Fatalf("young: %q #%d after %d computations, want the kept a", v, seq, computed)
	}
	if v, seq := get(2, "c"); v != "c" || seq != 2 || computed != 2 {
		t.Fatalf("new version: %q #%d after %d computations, want c computed", v, seq, computed)
	}
	if _, _, err := c.getAt(2, func() (string, error) { return "", errors.New("boom") }); err != nil {
		t.Fatalf("a young answer was computed again: %v", err)
	}

	time.Sleep(60 * time.Millisecond)
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan string)
	go func() {
		v, _, _ := c.getAt(2, func() (string, error) { close(started); <-release; return "d", nil })
		done <- v
	}()
	<-started
	if v, _ := get(2, "x"); v != "c" || computed != 2 {
		t.Errorf("old while another computes: %q after %d computations, want the kept c", v, computed)
	}
	close(release)
	if v := <-done; v != "d" {
		t.Errorf("the computing caller got %q", v)
	}
	if v, seq := get(2, "x"); v != "d" || seq != 3 {
		t.Errorf("after the computation: %q #%d, want d #3", v, seq)
	}
}

// TestCollectorGaugesBeforeSnapshots checks that with WithCatalog the per-graph
// gauges list a served graph before its first snapshot, and that the targets gauge
// lists every health at zero before any target exists.
func TestCollectorGaugesBeforeSnapshots(t *testing.T) {
	st, err := meta.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	var reg graph.Registry
	reg.Register("served", memgraph.New())
	col, err := NewCollector(st, WithMeterProvider(mp), WithLogger(quiet), WithCatalog(&reg))
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close(context.Background())
	snaps := metrictest.Ints(t, reader, "graphvault.stats.snapshots", "graph", "status")
	if len(snaps) != 4 || snaps["served/completed"] != 0 {
		t.Errorf("graphvault.stats.snapshots = %v, want the served graph at 0 in 4 statuses", snaps)
	}
	if got := metrictest.Ints(t, reader, "graphvault.stats.stored", "graph"); len(got) != 1 || got["served"] != 0 {
		t.Errorf("graphvault.stats.stored = %v, want served at 0", got)
	}
	targets := metrictest.Ints(t, reader, "graphvault.stats.replication.targets", "health")
	if len(targets) != 4 || targets["unknown"] != 0 || targets["healthy"] != 0 {
		t.Errorf("graphvault.stats.replication.targets = %v, want 4 healths at 0", targets)
	}
}
