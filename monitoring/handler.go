package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/graphvault/graphvault/recovery/health"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/store/meta"
)

// ContentTypeHealth is the media type of the health answer
// (draft-inadarei-api-health-check).
const ContentTypeHealth = "application/health+json"

// HandlerOption configures [NewHandler].
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	prom         *Prometheus
	collector    *Collector
	health       *health.Runner
	healthMaxAge time.Duration
	dashboard    http.Handler
	auth         api.Authorizer
	logger       *slog.Logger
	now          func() time.Time
}

// WithPrometheus serves p's registry: metrics (JSON) and metrics/prometheus. Without
// it both answer 404.
func WithPrometheus(p *Prometheus) HandlerOption {
	return func(c *handlerConfig) { c.prom = p }
}

// WithCollector runs c for POST metrics/collect. Without it that route answers 404.
func WithCollector(col *Collector) HandlerOption {
	return func(c *handlerConfig) { c.collector = col }
}

// WithHealth answers GET health (and the health in metrics/summary) from h. Without
// it the answer is built from the newest health event of every check in the meta.
func WithHealth(h *health.Runner) HandlerOption {
	return func(c *handlerConfig) { c.health = h }
}

// WithHealthMaxAge sets how old h's last report may be before GET health runs the
// checks again; default 30s.
func WithHealthMaxAge(d time.Duration) HandlerOption {
	return func(c *handlerConfig) { c.healthMaxAge = d }
}

// WithDashboard serves d at GET dashboard (and below it, GET dashboard/...). Without
// it those routes answer 404.
func WithDashboard(d http.Handler) HandlerOption {
	return func(c *handlerConfig) { c.dashboard = d }
}

// WithAuthorizer makes every request pass auth first; see api.BearerToken.
func WithAuthorizer(auth api.Authorizer) HandlerOption {
	return func(c *handlerConfig) { c.auth = auth }
}

// WithHandlerLogger logs server-side failures through l; nil means slog.Default().
func WithHandlerLogger(l *slog.Logger) HandlerOption {
	return func(c *handlerConfig) { c.logger = l }
}

// WithHandlerClock sets the clock for ages and "since" parameters; nil means
// time.Now.
func WithHandlerClock(now func() time.Time) HandlerOption {
	return func(c *handlerConfig) { c.now = now }
}

type handler struct {
	st      *meta.Store
	state   *stateCache
	answers *api.Cache // encoded answers of the endpoints dashboards and scrapers poll
	cfg     handlerConfig
	routes  http.Handler

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

// NewHandler returns the monitoring API over st on a private ServeMux, with paths
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
//	GET  dashboard            the handler given with WithDashboard
//
// Errors are RFC 9457 problem+json: a bad query parameter 400, a route whose part
// was not configured 404, a store that is closed 503, anything else 500 with the
// error logged and not shown. NewHandler panics if st is nil.
func NewHandler(st *meta.Store, opts ...HandlerOption) http.Handler {
	if st == nil {
		panic("monitoring: NewHandler needs a store")
	}
	c := handlerConfig{healthMaxAge: 30 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	_ = api.ErrorStatus{ErrInvalid, http.StatusBadRequest}
	_ = api.ErrorStatus{ErrNotConfigured, http.StatusNotFound}
	_ = api.ErrorStatus{meta.ErrInvalid, http.StatusBadRequest}
	_ = api.ErrorStatus{meta.ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{meta.ErrClosed, http.StatusServiceUnavailable}

	if c.prom != nil {
		if g, ok := c.prom.Gatherer.(*sharedGatherer); ok {
			g.follow(st.Generation)
		}
	}
	h := &handler{st: st, state: newStateCache(st), answers: api.NewCache(answerTTL, answerBudgetBytes), cfg: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", h.metrics)
	mux.HandleFunc("GET /metrics/prometheus", h.prometheus)
	mux.HandleFunc("GET /metrics/summary", h.summary)
	mux.HandleFunc("GET /metrics/history", h.history)
	mux.HandleFunc("POST /metrics/collect", h.collect)
	mux.HandleFunc("GET /health", h.healthCheck)
	mux.HandleFunc("GET /stats/backups", h.statsBackups)
	mux.HandleFunc("GET /stats/recovery", h.statsRecovery)
	mux.HandleFunc("GET /stats/replication", h.statsReplication)
	mux.HandleFunc("GET /dashboard", h.dashboard)
	mux.HandleFunc("GET /dashboard/{rest...}", h.dashboard)
	h.routes = api.Authorize(c.auth, nil, api.Routes(mux))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(api.WithLogger(r.Context(), h.cfg.logger))
	h.routes.ServeHTTP(w, r)
}

func fail(w http.ResponseWriter, r *http.Request, err error) { api.WriteError(w, r, err) }

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
func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r); err != nil {
		fail(w, r, err)
		return
	}
	if h.cfg.prom == nil {
		fail(w, r, api.Errorf(http.StatusNotFound, "no Prometheus registry is configured"))
		return
	}
	mfs, seq, shared, err := h.cfg.prom.gather()
	if err != nil {
		// Gathering continues past a failing collector; say so without failing.
		api.Logger(r.Context()).WarnContext(r.Context(), "monitoring: gathering metrics", "err", err)
	}
	build := func(context.Context) (*api.Response, error) {
		return api.JSONResponse(http.StatusOK, MetricsResponse{Time: h.cfg.now().UTC(), Metrics: convertFamilies(mfs, MetricPrefix)})
	}
	var resp *api.Response
	if shared {
		// One answer per gathering.
		resp, err = h.answers.Get(r.Context(), "metrics", seq, build)
	} else {
		resp, err = build(r.Context())
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	resp.Write(w)
}

// GET /metrics/prometheus → 200 text exposition.
func (h *handler) prometheus(w http.ResponseWriter, r *http.Request) {
	p := h.cfg.prom
	if p == nil {
		fail(w, r, api.Errorf(http.StatusNotFound, "no Prometheus registry is configured"))
		return
	}
	_, seq, shared, _ := p.gather()
	accept, encoding := r.Header.Get("Accept"), r.Header.Get("Accept-Encoding")
	if !shared || len(accept)+len(encoding) > maxNegotiationBytes {
		p.Handler.ServeHTTP(w, r)
		return
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
		return
	}
	resp.Write(w)
}

// maxNegotiationBytes bounds the Accept and Accept-Encoding headers whose
// exposition answers are kept.
const maxNegotiationBytes = 512

// errNotKept is an answer the cache must not keep.
var errNotKept = errors.New("monitoring: answer not kept")

// POST /metrics/collect → 200 CollectResult. The body may be absent or {}.
func (h *handler) collect(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if _, err := api.DecodeOptional(w, r, &body, 1<<10); err != nil {
		fail(w, r, err)
		return
	}
	if err := noQuery(r); err != nil {
		fail(w, r, err)
		return
	}
	if h.cfg.collector == nil {
		fail(w, r, api.Errorf(http.StatusNotFound, "no collector is configured"))
		return
	}
	res, err := h.cfg.collector.Collect(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	if res.Samples == nil {
		res.Samples = []meta.MetricSample{}
	}
	api.WriteJSON(w, http.StatusOK, res)
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
func (h *handler) history(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r, "name", "since", "limit"); err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	name := q.Get("name")
	if len(q["name"]) != 1 || !sampleName.MatchString(name) {
		fail(w, r, api.FieldErrorf("name", "must be one metric name such as %s", SampleSnapshotBytes))
		return
	}
	now := h.cfg.now().UTC()
	since := now.Add(-24 * time.Hour)
	if vs, ok := q["since"]; ok {
		t, err := parseSince(vs, now)
		if err != nil {
			fail(w, r, err)
			return
		}
		since = t
	}
	limit, err := api.QueryInt(r, "limit", 1000, 1, 10000)
	if err != nil {
		fail(w, r, err)
		return
	}
	samples, err := h.st.ListMetricSamples(r.Context(), name, since, limit)
	if err != nil {
		fail(w, r, err)
		return
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

// healthReport returns the report the health answers come from: h's, run again when
// older than the max age or when fresh is asked, or else one made of the newest
// stored event of every check.
func (h *handler) healthReport(ctx context.Context, fresh, mayRun bool) (health.Report, error) {
	if hc := h.cfg.health; hc != nil {
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
	events, err := h.st.LatestHealth(ctx)
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
	return h.cfg.now().Sub(rep.Time) > h.cfg.healthMaxAge
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
func (h *handler) healthCheck(w http.ResponseWriter, r *http.Request) {
	if err := noQuery(r, "fresh"); err != nil {
		fail(w, r, err)
		return
	}
	fresh, err := api.QueryBool(r, "fresh")
	if err != nil {
		fail(w, r, err)
		return
	}
	rep, err := h.healthReport(r.Context(), fresh, true)
	if err != nil {
		fail(w, r, err)
		return
	}
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
	status := http.StatusOK
	if rep.Status == health.Fail {
		status = http.StatusServiceUnavailable
	}
	b, err := json.Marshal(resp)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ContentTypeHealth)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client is gone; nothing to do
}

// GET /dashboard → the dashboard handler.
func (h *handler) dashboard(w http.ResponseWriter, r *http.Request) {
	if h.cfg.dashboard == nil {
		fail(w, r, api.Errorf(http.StatusNotFound, "no dashboard is configured"))
		return
	}
	h.cfg.dashboard.ServeHTTP(w, r)
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
