package backup

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// OpenAPI is the OpenAPI 3 description of the routes NewHandler serves, relative to
// the prefix the handler is mounted under.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Request bounds checked before any work.
const (
	maxLabels     = 64
	maxLabelBytes = 1024
	maxHops       = 16
	maxDiffLimit  = 100000
)

// HandlerOption configures NewHandler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	auth    api.Authorizer
	maxBody int64
	logger  *slog.Logger
	ops     *api.Operations
}

// WithAuthorizer makes every request pass auth before any other work; see
// api.BearerToken for the usual token check on mutating methods.
func WithAuthorizer(auth api.Authorizer) HandlerOption {
	return func(c *handlerConfig) { c.auth = auth }
}

// WithMaxBodyBytes limits request bodies to n bytes (default 1 MiB); larger ones are
// answered 413.
func WithMaxBodyBytes(n int64) HandlerOption { return func(c *handlerConfig) { c.maxBody = n } }

// WithHandlerLogger logs server-side failures through l. Nil (the default) means the
// engine's logger.
func WithHandlerLogger(l *slog.Logger) HandlerOption {
	return func(c *handlerConfig) { c.logger = l }
}

// WithOperations runs long requests in ops, so that several handlers share one
// registry and the host can Close it on shutdown. Without it the handler keeps a
// registry of its own, whose operations run to completion.
func WithOperations(ops *api.Operations) HandlerOption {
	return func(c *handlerConfig) { c.ops = ops }
}

type handler struct {
	e       *Engine
	graphs  graph.Catalog
	cfg     handlerConfig
	routes  http.Handler
	answers *api.Cache // encoded answers of the snapshot lists and stats
}

// Cached answers of the read endpoints that clients poll (snapshot lists, stats):
// served while the store's generation is the one they were computed at, so a
// write through this process shows at once, and fresh for answerTTL, so that a
// write by another process sharing the store shows within two of them (see
// api.Cache).
const (
	answerTTL         = 2 * time.Second
	answerBudgetBytes = 32 << 20
)

// NewHandler returns the HTTP API of the engine: snapshots of the graphs in
// graphs, restores into them, verification, diffs, retention and garbage
// collection. It serves JSON on a private ServeMux with paths relative to its root,
// so a host mounts it under any prefix with http.StripPrefix. openapi.yaml (see
// [OpenAPI]) describes every route.
//
// Requests are authorized first, then their ids and bodies are validated, all before
// any work: a rejected request changes nothing. Errors are RFC 9457 problem+json:
// ErrInvalid and malformed requests 400, ErrNotFound (also an unknown graph) 404,
// ErrBusy 409, ErrCorrupt and ErrWrongKey 422 (the request is well formed but the
// stored snapshot cannot serve it; the detail names the object), a deadline 504,
// anything else 500 with the error logged and not shown.
//
// Work that may take long (a snapshot, a restore, a full verify, a GC) answers 202
// Accepted with the operation's state and a Location of GET /operations/{id} to
// poll; with ?wait=true (or "wait": true in a snapshot body) it runs within the
// request and answers with the result. A snapshot can be requested without a body.
//
// NewHandler panics if e or graphs is nil.
func NewHandler(e *Engine, graphs graph.Catalog, opts ...HandlerOption) http.Handler {
	if e == nil || graphs == nil {
		panic("backup: NewHandler needs an engine and a catalog")
	}
	c := handlerConfig{maxBody: api.DefaultMaxBodyBytes}
	for _, o := range opts {
		o(&c)
	}
	if c.maxBody <= 0 {
		c.maxBody = api.DefaultMaxBodyBytes
	}
	if c.logger == nil {
		c.logger = e.log
	}
	if c.ops == nil {
		c.ops = api.NewOperations(api.WithOperationsLogger(c.logger))
	}
	mapErrors()
	h := &handler{e: e, graphs: graphs, cfg: c, answers: api.NewCache(answerTTL, answerBudgetBytes)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /graphs", h.listGraphs)
	mux.HandleFunc("POST /graphs/{id}/snapshots", h.createSnapshot)
	mux.HandleFunc("GET /graphs/{id}/snapshots", h.listSnapshots)
	mux.HandleFunc("POST /graphs/{id}/prune", h.prune)
	mux.HandleFunc("GET /snapshots/{sid}", h.getSnapshot)
	mux.HandleFunc("DELETE /snapshots/{sid}", h.deleteSnapshot)
	mux.HandleFunc("GET /snapshots/{sid}/manifest", h.manifest)
	mux.HandleFunc("POST /snapshots/{sid}/restore", h.restore)
	mux.HandleFunc("POST /snapshots/{sid}/verify", h.verify)
	mux.HandleFunc("GET /snapshots/{sid}/diff/{other}", h.diff)
	mux.HandleFunc("GET /diff", h.diff)
	mux.HandleFunc("POST /gc", h.gc)
	mux.HandleFunc("GET /stats", h.stats)
	mux.Handle("GET /operations/{id}", c.ops)
	h.routes = api.Authorize(c.auth, nil, api.Routes(mux))
	return h
}

// mapErrors registers the status of this package's errors, and of the store and
// graph errors that reach the handler through it.
func mapErrors() {
	_ = api.ErrorStatus{ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{ErrInvalid, http.StatusBadRequest}
	_ = api.ErrorStatus{ErrBusy, http.StatusConflict}
	_ = api.ErrorStatus{ErrCorrupt, http.StatusUnprocessableEntity}
	_ = api.ErrorStatus{ErrWrongKey, http.StatusUnprocessableEntity}
	_ = api.ErrorStatus{graph.ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{meta.ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{meta.ErrInvalid, http.StatusBadRequest}
	_ = api.ErrorStatus{meta.ErrConflict, http.StatusConflict}
	_ = api.ErrorStatus{meta.ErrClosed, http.StatusServiceUnavailable}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(api.WithLogger(r.Context(), h.cfg.logger))
	h.routes.ServeHTTP(w, r)
}

// fail answers with err's problem.
func fail(w http.ResponseWriter, r *http.Request, err error) { api.WriteError(w, r, err) }

func graphID(r *http.Request) (string, error) { return api.PathID(r, "id", ValidGraphID) }

func snapshotID(r *http.Request, name string) (string, error) {
	return api.PathID(r, name, meta.ValidID)
}

// GraphInfo describes one graph: registered in the catalog, holding snapshots, or
// both.
type GraphInfo struct {
	ID         string           `json:"id"`
	Registered bool             `json:"registered"`      // the catalog knows it
	Stats      *meta.GraphStats `json:"stats,omitempty"` // absent without snapshots
}

// GET /graphs → 200 Page[GraphInfo], every graph in one page.
func (h *handler) listGraphs(w http.ResponseWriter, r *http.Request) {
	ids, err := h.graphs.GraphIDs(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	stats, err := h.e.Store().SnapshotStats(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	byID := map[string]*GraphInfo{}
	for _, id := range ids {
		byID[id] = &GraphInfo{ID: id, Registered: true}
	}
	for i := range stats {
		gi := byID[stats[i].GraphID]
		if gi == nil {
			gi = &GraphInfo{ID: stats[i].GraphID}
			byID[gi.ID] = gi
		}
		gi.Stats = &stats[i]
	}
	out := make([]GraphInfo, 0, len(byID))
	for _, gi := range byID {
		out = append(out, *gi)
	}
	slices.SortFunc(out, func(a, b GraphInfo) int { return strings.Compare(a.ID, b.ID) })
	api.WriteJSON(w, http.StatusOK, api.NewPage(out, ""))
}

// SnapshotRequest is the optional body of POST /graphs/{id}/snapshots.
type SnapshotRequest struct {
	Kind   Kind              `json:"kind,omitempty"` // "", "auto", "full" or "incremental"
	Labels map[string]string `json:"labels,omitempty"`
	Wait   bool              `json:"wait,omitempty"` // like ?wait=true
}

// POST /graphs/{id}/snapshots → 202 operation, or with wait 201 meta.Snapshot.
func (h *handler) createSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := graphID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req SnapshotRequest
	if _, err := api.DecodeOptional(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		fail(w, r, err)
		return
	}
	g, err := h.graphs.Graph(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	opts := SnapshotOptions{Kind: req.Kind, Labels: req.Labels}
	if wait || req.Wait {
		row, err := h.e.Snapshot(r.Context(), id, g, opts)
		if err != nil {
			fail(w, r, err)
			return
		}
		w.Header().Set("Location", api.Location(r, "/snapshots/"+row.ID))
		api.WriteJSON(w, http.StatusCreated, row)
		return
	}
	h.start(w, r, "snapshot", func(ctx context.Context, report func(any)) (any, error) {
		opts.Progress = func(p Progress) { report(p) }
		return h.e.Snapshot(ctx, id, g, opts)
	})
}

func (q *SnapshotRequest) validate() error {
	switch q.Kind {
	case "auto":
		q.Kind = KindAuto
	case KindAuto, KindFull, KindIncremental:
	default:
		return api.FieldErrorf("kind", "must be auto, full or incremental, not %q", q.Kind)
	}
	if len(q.Labels) > maxLabels {
		return api.FieldErrorf("labels", "must hold at most %d entries", maxLabels)
	}
	for k, v := range q.Labels {
		if k == "" || len(k)+len(v) > maxLabelBytes {
			return api.FieldErrorf("labels", "keys must be non-empty and each entry at most %d bytes", maxLabelBytes)
		}
	}
	return nil
}

// start runs fn as an operation and answers 202, or runs it within the request and
// answers 200 with its result when ?wait=true.
func (h *handler) start(w http.ResponseWriter, r *http.Request, kind string, fn api.OperationFunc) {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		fail(w, r, err)
		return
	}
	if wait {
		res, err := fn(r.Context(), func(any) {})
		if err != nil {
			fail(w, r, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
		return
	}
	op, err := h.cfg.ops.Start(r.Context(), kind, fn)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.Accepted(w, r, op)
}

var (
	snapshotStatuses = []string{meta.SnapshotPending, meta.SnapshotRunning, meta.SnapshotCompleted, meta.SnapshotFailed}
	snapshotKinds    = []string{meta.SnapshotFull, meta.SnapshotIncremental, meta.SnapshotSynthetic}
)

// GET /graphs/{id}/snapshots?status=&kind=&limit=&cursor= → 200 Page[meta.Snapshot],
// newest first. A graph without snapshots has an empty list.
func (h *handler) listSnapshots(w http.ResponseWriter, r *http.Request) {
	id, err := graphID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	p, err := api.ParsePage(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := meta.SnapshotFilter{GraphID: id, Status: q.Get("status"), Kind: q.Get("kind"), Cursor: p.Cursor, Limit: p.Limit}
	if f.Status != "" && !slices.Contains(snapshotStatuses, f.Status) {
		fail(w, r, api.FieldErrorf("status", "must be one of %v", snapshotStatuses))
		return
	}
	if f.Kind != "" && !slices.Contains(snapshotKinds, f.Kind) {
		fail(w, r, api.FieldErrorf("kind", "must be one of %v", snapshotKinds))
		return
	}
	key := strings.Join([]string{"snapshots", id, f.Status, f.Kind, f.Cursor, strconv.Itoa(f.Limit)}, "\x00")
	st := h.e.Store()
	resp, err := h.answers.Get(r.Context(), key, st.Generation(), func(ctx context.Context) (*api.Response, error) {
		rows, next, err := st.ListSnapshots(ctx, f)
		if err != nil {
			return nil, err
		}
		return api.JSONResponse(http.StatusOK, api.NewPage(rows, next))
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	resp.Write(w)
}

// GET /snapshots/{sid} → 200 meta.Snapshot, whatever its status.
func (h *handler) getSnapshot(w http.ResponseWriter, r *http.Request) {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		fail(w, r, err)
		return
	}
	row, err := h.e.Store().GetSnapshot(r.Context(), sid)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, row)
}

// DELETE /snapshots/{sid} → 204.
func (h *handler) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := h.e.Delete(r.Context(), sid); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// GET /snapshots/{sid}/manifest → 200 Manifest.
func (h *handler) manifest(w http.ResponseWriter, r *http.Request) {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		fail(w, r, err)
		return
	}
	m, err := h.e.Manifest(r.Context(), sid)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, m)
}

// RestoreRequest is the optional body of POST /snapshots/{sid}/restore. Without
// one, the whole snapshot is restored into the graph it was taken of.
type RestoreRequest struct {
	TargetGraph string   `json:"target_graph,omitempty"`
	NodeIDs     []string `json:"node_ids,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	Hops        int      `json:"hops,omitempty"`
	DryRun      bool     `json:"dry_run,omitempty"`
}

func (q *RestoreRequest) validate() error {
	if q.TargetGraph != "" && !ValidGraphID(q.TargetGraph) {
		return api.CheckID("target_graph", q.TargetGraph, ValidGraphID)
	}
	for i, id := range q.NodeIDs {
		if err := graph.ValidateID(id); err != nil {
			return api.FieldErrorf(fmt.Sprintf("node_ids[%d]", i), "is not a valid node id")
		}
	}
	for i, l := range q.Labels {
		if l == "" {
			return api.FieldErrorf(fmt.Sprintf("labels[%d]", i), "must not be empty")
		}
	}
	if q.Hops < 0 || q.Hops > maxHops {
		return api.FieldErrorf("hops", "must be from 0 to %d", maxHops)
	}
	if q.Hops > 0 && len(q.NodeIDs) == 0 && len(q.Labels) == 0 {
		return api.FieldErrorf("hops", "needs node_ids or labels to start from")
	}
	return nil
}

// RestorePlan is what a dry-run restore answers: what the snapshot holds and
// whether its objects are all present, without writing anything. For a partial
// restore Nodes and Edges are the snapshot's totals, an upper bound of what would
// be written.
type RestorePlan struct {
	SnapshotID  string    `json:"snapshot_id"`
	SourceGraph string    `json:"source_graph"`
	TargetGraph string    `json:"target_graph"`
	Partial     bool      `json:"partial"`
	Nodes       int64     `json:"nodes"`
	Edges       int64     `json:"edges"`
	Layers      int       `json:"layers"`
	Objects     int       `json:"objects"`
	Bytes       int64     `json:"bytes"`     // stored bytes to read
	BytesRaw    int64     `json:"bytes_raw"` // before compression
	Encrypted   bool      `json:"encrypted"`
	Restorable  bool      `json:"restorable"` // every object is present with its size
	Problems    []Problem `json:"problems,omitempty"`
	DryRun      bool      `json:"dry_run"`
}

// POST /snapshots/{sid}/restore → 200 RestorePlan (dry_run), 202 operation, or with
// ?wait=true 200 RestoreResult.
func (h *handler) restore(w http.ResponseWriter, r *http.Request) {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req RestoreRequest
	if _, err := api.DecodeOptional(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		fail(w, r, err)
		return
	}
	m, err := h.e.Manifest(r.Context(), sid)
	if err != nil {
		fail(w, r, err)
		return
	}
	target := req.TargetGraph
	if target == "" {
		target = m.GraphID
	}
	g, err := h.graphs.Graph(r.Context(), target)
	if err != nil {
		fail(w, r, err)
		return
	}
	opts := RestoreOptions{NodeIDs: req.NodeIDs, Labels: req.Labels, Hops: req.Hops}
	if req.DryRun {
		rep, err := h.e.Verify(r.Context(), sid, false)
		if err != nil {
			fail(w, r, err)
			return
		}
		plan := RestorePlan{
			SnapshotID: sid, SourceGraph: m.GraphID, TargetGraph: target, Partial: opts.partial(),
			Nodes: m.Nodes, Edges: m.Edges, Layers: len(m.Layers), Objects: rep.Objects,
			Bytes: rep.Bytes, BytesRaw: m.BytesRaw, Encrypted: m.Encrypted,
			Restorable: rep.OK, Problems: rep.Problems, DryRun: true,
		}
		api.WriteJSON(w, http.StatusOK, plan)
		return
	}
	h.start(w, r, "restore", func(ctx context.Context, report func(any)) (any, error) {
		opts.Progress = func(p Progress) { report(p) }
		return h.e.Restore(ctx, sid, g, opts)
	})
}

// VerifyRequest is the optional body of POST /snapshots/{sid}/verify.
type VerifyRequest struct {
	Full bool `json:"full"`
}

// POST /snapshots/{sid}/verify → 200 VerifyReport (quick, or full with ?wait=true),
// or 202 operation (full). A report with ok false is still 200: the verification
// ran and found problems.
func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req VerifyRequest
	if _, err := api.DecodeOptional(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	if !req.Full {
		rep, err := h.e.Verify(r.Context(), sid, false)
		if err != nil {
			fail(w, r, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, rep)
		return
	}
	if err := h.checkCompleted(r.Context(), sid); err != nil {
		fail(w, r, err)
		return
	}
	h.start(w, r, "verify", func(ctx context.Context, _ func(any)) (any, error) {
		return h.e.Verify(ctx, sid, true)
	})
}

// checkCompleted returns ErrNotFound unless sid names a completed snapshot.
func (h *handler) checkCompleted(ctx context.Context, sid string) error {
	row, err := h.e.Store().GetSnapshot(ctx, sid)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("%w: snapshot %s", ErrNotFound, sid)
		}
		return err
	}
	if row.Status != meta.SnapshotCompleted {
		return fmt.Errorf("%w: snapshot %s is %s", ErrNotFound, sid, row.Status)
	}
	return nil
}

// GET /diff?from=&to=&limit= or GET /snapshots/{sid}/diff/{other}?limit= → 200 Diff.
func (h *handler) diff(w http.ResponseWriter, r *http.Request) {
	from, to := r.PathValue("sid"), r.PathValue("other")
	fromField, toField := "sid", "other"
	if from == "" && to == "" {
		q := r.URL.Query()
		from, to = q.Get("from"), q.Get("to")
		fromField, toField = "from", "to"
	}
	if err := api.CheckID(fromField, from, meta.ValidID); err != nil {
		fail(w, r, err)
		return
	}
	if err := api.CheckID(toField, to, meta.ValidID); err != nil {
		fail(w, r, err)
		return
	}
	limit, err := api.QueryInt(r, "limit", 1000, 1, maxDiffLimit)
	if err != nil {
		fail(w, r, err)
		return
	}
	d, err := h.e.Diff(r.Context(), from, to, DiffOptions{Limit: limit})
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, d)
}

// PruneRequest is the body of POST /graphs/{id}/prune: a Retention, with
// keep_within as a duration string, and dry_run.
type PruneRequest struct {
	KeepLast    int          `json:"keep_last,omitempty"`
	KeepHourly  int          `json:"keep_hourly,omitempty"`
	KeepDaily   int          `json:"keep_daily,omitempty"`
	KeepWeekly  int          `json:"keep_weekly,omitempty"`
	KeepMonthly int          `json:"keep_monthly,omitempty"`
	KeepWithin  api.Duration `json:"keep_within,omitempty"`
	DryRun      bool         `json:"dry_run,omitempty"`
}

// Retention returns the policy the request states.
func (q PruneRequest) Retention() Retention {
	return Retention{
		KeepLast: q.KeepLast, KeepHourly: q.KeepHourly, KeepDaily: q.KeepDaily,
		KeepWeekly: q.KeepWeekly, KeepMonthly: q.KeepMonthly, KeepWithin: time.Duration(q.KeepWithin),
	}
}

// POST /graphs/{id}/prune → 200 PruneResult. The body is required; {} keeps
// everything.
func (h *handler) prune(w http.ResponseWriter, r *http.Request) {
	id, err := graphID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var req PruneRequest
	if err := api.Decode(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	ret := req.Retention()
	if err := ret.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	res, err := h.e.Prune(r.Context(), id, ret, req.DryRun)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, res)
}

// GCRequest is the optional body of POST /gc.
type GCRequest struct {
	Grace  *api.Duration `json:"grace,omitempty"` // default 1h
	DryRun bool          `json:"dry_run,omitempty"`
}

// POST /gc → 202 operation, or with ?wait=true 200 GCResult.
func (h *handler) gc(w http.ResponseWriter, r *http.Request) {
	var req GCRequest
	if _, err := api.DecodeOptional(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	opts := GCOptions{DryRun: req.DryRun}
	if req.Grace != nil {
		if *req.Grace < 0 {
			fail(w, r, api.FieldErrorf("grace", "must not be negative"))
			return
		}
		// GCOptions reads 0 as the default; a grace of 0 asked for is the smallest
		// positive one.
		opts.Grace = max(time.Duration(*req.Grace), 1)
	}
	h.start(w, r, "gc", func(ctx context.Context, _ func(any)) (any, error) {
		return h.e.GC(ctx, opts)
	})
}

// GET /stats → 200 Page[meta.GraphStats], one item per graph with snapshots.
func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	st := h.e.Store()
	resp, err := h.answers.Get(r.Context(), "stats", st.Generation(), func(ctx context.Context) (*api.Response, error) {
		stats, err := st.SnapshotStats(ctx)
		if err != nil {
			return nil, err
		}
		return api.JSONResponse(http.StatusOK, api.NewPage(stats, ""))
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	resp.Write(w)
}
