package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/meta"
)

// ContentTypeHealth is the media type of the health answer
// (draft-inadarei-api-health-check).
const ContentTypeHealth = "application/health+json"

// Parts are what a monitoring handler serves besides the store. Every field may be
// left zero: the routes of a missing part answer 404 problem+json
// ([ErrNotConfigured]), except GET health, which then answers from the store.
type Parts struct {
	// Prometheus is served at metrics (JSON) and metrics/prometheus.
	Prometheus *Prometheus
	// Collector runs for POST metrics/collect. Its clock (see [WithClock]) is the
	// handler's too, for ages, lags and "since" parameters, so that the answers
	// agree with the samples it writes; without a collector the handler uses
	// time.Now.
	Collector *Collector
	// Health answers GET health and the health in metrics/summary. Without it the
	// answer is made of the newest health event of every check in the store.
	Health *health.Runner
	// HealthMaxAge is how old Health's last report may be before GET health runs
	// the checks again; zero or less means 30s.
	HealthMaxAge time.Duration
	// Dashboard is served at GET dashboard and below it (GET dashboard/...), such
	// as dashboard.Handler().
	Dashboard http.Handler
}

// defaultHealthMaxAge is the HealthMaxAge of zero Parts.
const defaultHealthMaxAge = 30 * time.Second

// errorTable maps the errors the routes return to their statuses; see the package
// doc. Store errors arrive wrapped and are matched with errors.Is.
var errorTable = api.ErrorMap{
	{Err: ErrInvalid, Status: http.StatusBadRequest},
	{Err: ErrNotConfigured, Status: http.StatusNotFound},
	{Err: meta.ErrInvalid, Status: http.StatusBadRequest},
	{Err: meta.ErrNotFound, Status: http.StatusNotFound},
	{Err: meta.ErrClosed, Status: http.StatusServiceUnavailable},
}

// notConfigured is the error of a route whose part was not given.
func notConfigured(what string) error {
	return fmt.Errorf("%w: no %s is configured", ErrNotConfigured, what)
}

type handler struct {
	st           *meta.Store
	parts        Parts
	now          func() time.Time
	healthMaxAge time.Duration
	state        *stateCache
	answers      *api.Cache // encoded answers of the endpoints dashboards and scrapers poll

	healthMu sync.Mutex // one run of the checks at a time for answers that found the report old
}

// Cached answers (metrics, exposition, summary, backup stats) are fresh for
// answerTTL (see api.Cache), and are computed again at once when what they are
// made of changes: the store's generation, the registry's gathering, the health
// report.
const (
	answerTTL         = time.Second
	answerBudgetBytes = 8 << 20
)

// collectBodyBytes bounds the body of POST metrics/collect, which is empty or {}.
const collectBodyBytes = 1 << 10

// NewHandler returns the monitoring API over st, built on an [api.Mux], with paths
// relative to its root so that a host mounts it under any prefix with
// http.StripPrefix:
//
//	GET  metrics              JSON: every graphvault_ family of the Prometheus registry
//	GET  metrics/prometheus   Prometheus text exposition
//	GET  metrics/summary      totals per graph, last snapshot, health
//	GET  metrics/history      metric samples: ?name= (required), since=, limit=
//	POST metrics/collect      runs the collector now, answers what it wrote
//	GET  health               application/health+json; 503 when failing
//	GET  stats/backups        per graph: counts by status, bytes, newest, durations
//	GET  stats/recovery       checkpoints and the newest verified snapshot per graph
//	GET  stats/replication    targets with health and last error, recent events
//	GET  dashboard            parts.Dashboard, and the files below it
//
// Every route but POST metrics/collect is of scope [api.ScopeStatus]; that one is
// [api.ScopeWrite]. opts gives the authorizer and the logger of server-side
// failures; the handler starts no operations and reads at most 1 KiB of body.
//
// Errors are RFC 9457 problem+json: a bad query parameter 400, a route whose part
// was not given 404, a store that is closed 503, anything else 500 with the error
// logged and not shown. NewHandler panics if st is nil.
func NewHandler(st *meta.Store, parts Parts, opts api.Options) http.Handler {
	if st == nil {
		panic("monitoring: NewHandler needs a store")
	}
	h := &handler{
		st: st, parts: parts, now: time.Now, healthMaxAge: parts.HealthMaxAge,
		state: newStateCache(st), answers: api.NewCache(answerTTL, answerBudgetBytes),
	}
	if parts.Collector != nil {
		h.now = parts.Collector.cfg.now
	}
	if h.healthMaxAge <= 0 {
		h.healthMaxAge = defaultHealthMaxAge
	}
	if p := parts.Prometheus; p != nil {
		if g, ok := p.Gatherer.(*sharedGatherer); ok {
			g.follow(st.Generation)
		}
	}
	m := api.NewMux(opts.WithDefaults(nil), errorTable)
	m.Handle("GET /metrics", api.ScopeStatus, h.metrics)
	m.Handle("GET /metrics/prometheus", api.ScopeStatus, h.prometheus)
	m.Handle("GET /metrics/summary", api.ScopeStatus, h.summary)
	m.Handle("GET /metrics/history", api.ScopeStatus, h.history)
	m.Handle("POST /metrics/collect", api.ScopeWrite, h.collect)
	m.Handle("GET /health", api.ScopeStatus, h.healthCheck)
	m.Handle("GET /stats/backups", api.ScopeStatus, h.statsBackups)
	m.Handle("GET /stats/recovery", api.ScopeStatus, h.statsRecovery)
	m.Handle("GET /stats/replication", api.ScopeStatus, h.statsReplication)
	m.Handle("GET /dashboard", api.ScopeStatus, h.dashboard)
	m.Handle("GET /dashboard/{rest...}", api.ScopeStatus, h.dashboard)
	return m
}

// noQuery answers 400 when the request has query parameters other than allowed.
func noQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return api.FieldErrorf(k, "is not a parameter of this endpoint")
		}
	}
	return nil
}

// MetricsResponse is the answer of GET metrics.
type MetricsResponse struct {
	Time    time.Time         `json:"time"`
	Metrics map[string]Family `json:"metrics"` // by Prometheus family name
}

// GET /metrics → 200 MetricsResponse.
func (h *handler) metrics(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	p := h.parts.Prometheus
	if p == nil {
		return notConfigured("Prometheus registry")
	}
	mfs, seq, shared, err := p.gather()
	if err != nil {
		// Gathering continues past a failing collector; say so without failing.
		api.Logger(r.Context()).WarnContext(r.Context(), "monitoring: gathering metrics", "err", err)
	}
	build := func(context.Context) (*api.Response, error) {
		return api.JSONResponse(http.StatusOK, MetricsResponse{Time: h.now().UTC(), Metrics: convertFamilies(mfs, MetricPrefix)})
	}
	var resp *api.Response
	if shared {
		// One answer per gathering.
		resp, err = h.answers.Get(r.Context(), "metrics", seq, build)
	} else {
		resp, err = build(r.Context())
	}
	if err != nil {
		return err
	}
	resp.Write(w)
	return nil
}

// GET /metrics/prometheus → 200 text exposition.
func (h *handler) prometheus(w http.ResponseWriter, r *http.Request) error {
	p := h.parts.Prometheus
	if p == nil {
		return notConfigured("Prometheus registry")
	}
	_, seq, shared, _ := p.gather()
	accept, encoding := r.Header.Get("Accept"), r.Header.Get("Accept-Encoding")
	if !shared || len(accept)+len(encoding) > maxNegotiationBytes {
		p.Handler.ServeHTTP(w, r)
		return nil
	}
	// One answer per gathering and per format and encoding the request negotiates.
	key := "prometheus\x00" + accept + "\x00" + encoding
	resp, err := h.answers.Get(r.Context(), key, seq, func(context.Context) (*api.Response, error) {
		resp := api.Record(p.Handler, r)
		if resp.Status != http.StatusOK {
			return nil, errNotKept
		}
		return resp, nil
	})
	if err != nil {
		p.Handler.ServeHTTP(w, r) // as it answers, uncached
		return nil
	}
	resp.Write(w)
	return nil
}

// maxNegotiationBytes bounds the Accept and Accept-Encoding headers whose
// exposition answers are kept.
const maxNegotiationBytes = 512

// errNotKept is an answer the cache must not keep.
var errNotKept = errors.New("monitoring: answer not kept")

// POST /metrics/collect → 200 CollectResult. The body may be absent or {}.
func (h *handler) collect(w http.ResponseWriter, r *http.Request) error {
	var body struct{}
	if _, err := api.DecodeOptional(w, r, &body, collectBodyBytes); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if h.parts.Collector == nil {
		return notConfigured("collector")
	}
	res, err := h.parts.Collector.Collect(r.Context())
	if err != nil {
		return err
	}
	if res.Samples == nil {
		res.Samples = []meta.MetricSample{}
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// HistoryResponse is the answer of GET metrics/history: the samples of one metric
// grouped by labels, each series oldest first.
type HistoryResponse struct {
	Name   string          `json:"name"`
	Since  time.Time       `json:"since"`
	Series []HistorySeries `json:"series"`
}

// HistorySeries is the samples of one label set.
type HistorySeries struct {
	Labels string         `json:"labels"` // meta.CanonicalLabels form, "" for none
	Points []HistoryPoint `json:"points"`
}

// HistoryPoint is one sample.
type HistoryPoint struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

var sampleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:]{0,199}$`)

// GET /metrics/history?name=&since=&limit= → 200 HistoryResponse. since is an
// RFC 3339 time or a duration back from now ("6h"); default 24h.
func (h *handler) history(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r, "name", "since", "limit"); err != nil {
		return err
	}
	q := r.URL.Query()
	name := q.Get("name")
	if len(q["name"]) != 1 || !sampleName.MatchString(name) {
		return api.FieldErrorf("name", "must be one metric name such as %s", SampleSnapshotBytes)
	}
	now := h.now().UTC()
	since := now.Add(-24 * time.Hour)
	if vs, ok := q["since"]; ok {
		t, err := parseSince(vs, now)
		if err != nil {
			return err
		}
		since = t
	}
	limit, err := api.QueryInt(r, "limit", 1000, 1, 10000)
	if err != nil {
		return err
	}
	samples, err := h.st.ListMetricSamples(r.Context(), name, since, limit)
	if err != nil {
		return err
	}
	resp := HistoryResponse{Name: name, Since: since, Series: []HistorySeries{}}
	index := map[string]int{}
	for _, s := range samples {
		i, ok := index[s.Labels]
		if !ok {
			i = len(resp.Series)
			index[s.Labels] = i
			resp.Series = append(resp.Series, HistorySeries{Labels: s.Labels})
		}
		resp.Series[i].Points = append(resp.Series[i].Points, HistoryPoint{At: s.At, Value: s.Value})
	}
	api.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func parseSince(vs []string, now time.Time) (time.Time, error) {
	bad := api.FieldErrorf("since", "must be one RFC 3339 time or a positive duration such as 6h")
	if len(vs) != 1 {
		return time.Time{}, bad
	}
	if t, err := time.Parse(time.RFC3339Nano, vs[0]); err == nil {
		if t.After(now) {
			return time.Time{}, api.FieldErrorf("since", "is in the future")
		}
		return t, nil
	}
	d, err := time.ParseDuration(vs[0])
	if err != nil || d <= 0 {
		return time.Time{}, bad
	}
	return now.Add(-d), nil
}

// healthReport returns the report the health answers come from: the runner's, run
// again when older than the max age or when fresh is asked (if mayRun), or else
// one made of the newest stored event of every check.
func (h *handler) healthReport(ctx context.Context, fresh, mayRun bool) (health.Report, error) {
	if hc := h.parts.Health; hc != nil {
		last, ok := hc.Last()
		if mayRun && fresh {
			return hc.Run(ctx), nil
		}
		if mayRun && (!ok || h.old(last)) {
			// Requests that find the report old share one run: the first runs the
			// checks, the others wait and then find its report young.
			h.healthMu.Lock()
			defer h.healthMu.Unlock()
			if last, ok := hc.Last(); ok && !h.old(last) {
				return last, nil
			}
			return hc.Run(ctx), nil
		}
		if ok {
			return last, nil
		}
	}
	return storedHealth(ctx, h.st)
}

// storedHealth makes a report of the newest stored event of every check.
func storedHealth(ctx context.Context, st *meta.Store) (health.Report, error) {
	events, err := st.LatestHealth(ctx)
	if err != nil {
		return health.Report{}, err
	}
	rep := health.Report{Status: health.Pass, Checks: []health.CheckResult{}}
	for _, e := range events {
		s := health.Status(e.Status)
		rep.Status = rep.Status.Worse(s)
		cr := health.CheckResult{Component: e.Component, Check: e.Check, Time: e.CreatedAt,
			Result: health.Result{Status: s, Message: e.Message, Details: e.Details}}
		if s != health.Pass {
			rep.Reasons = append(rep.Reasons, cr.Key()+": "+e.Message)
		}
		if e.CreatedAt.After(rep.Time) {
			rep.Time = e.CreatedAt
		}
		rep.Checks = append(rep.Checks, cr)
	}
	return rep, nil
}

// old reports whether rep is older than the health's max age.
func (h *handler) old(rep health.Report) bool {
	return h.now().Sub(rep.Time) > h.healthMaxAge
}

// HealthResponse is the answer of GET health, per draft-inadarei-api-health-check.
type HealthResponse struct {
	Status      string                   `json:"status"` // "pass", "warn" or "fail"
	Description string                   `json:"description,omitempty"`
	Output      string                   `json:"output,omitempty"` // the reasons, when not passing
	Checks      map[string][]HealthCheck `json:"checks"`           // by "component:check"
}

// HealthCheck is one check in a HealthResponse.
type HealthCheck struct {
	ComponentType string    `json:"componentType,omitempty"`
	Status        string    `json:"status"`
	Output        string    `json:"output,omitempty"`
	Time          time.Time `json:"time"`
	ObservedValue float64   `json:"observedValue"`         // seconds the check took
	ObservedUnit  string    `json:"observedUnit,omitzero"` // "s"
}

// GET /health?fresh= → 200 (pass, warn) or 503 (fail) HealthResponse.
func (h *handler) healthCheck(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r, "fresh"); err != nil {
		return err
	}
	fresh, err := api.QueryBool(r, "fresh")
	if err != nil {
		return err
	}
	rep, err := h.healthReport(r.Context(), fresh, true)
	if err != nil {
		return err
	}
	b, err := json.Marshal(healthResponse(rep))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if rep.Status == health.Fail {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", ContentTypeHealth)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client is gone; nothing to do
	return nil
}

// healthResponse renders rep as the health answer.
func healthResponse(rep health.Report) HealthResponse {
	resp := HealthResponse{Status: string(rep.Status), Description: "graphvault", Checks: map[string][]HealthCheck{}}
	if len(rep.Reasons) > 0 {
		resp.Output = strings.Join(rep.Reasons, "; ")
	}
	for _, c := range rep.Checks {
		hc := HealthCheck{ComponentType: c.Component, Status: string(c.Status), Time: c.Time,
			ObservedValue: c.Duration.Seconds(), ObservedUnit: "s"}
		if c.Status != health.Pass {
			hc.Output = c.Message
		}
		resp.Checks[c.Key()] = append(resp.Checks[c.Key()], hc)
	}
	return resp
}

// GET /dashboard and GET /dashboard/... → the dashboard part.
func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) error {
	if h.parts.Dashboard == nil {
		return notConfigured("dashboard")
	}
	h.parts.Dashboard.ServeHTTP(w, r)
	return nil
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
