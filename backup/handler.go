package backup

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
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

type handler struct {
	e       *Engine
	graphs  graph.Catalog
	opts    api.Options
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

// errorStatuses maps this package's errors, and the store and graph errors that
// reach the handler through it, to the statuses they answer with.
var errorStatuses = api.ErrorMap{
	{Err: ErrNotFound, Status: http.StatusNotFound},
	{Err: ErrInvalid, Status: http.StatusBadRequest},
	{Err: ErrBusy, Status: http.StatusConflict},
	{Err: ErrCorrupt, Status: http.StatusUnprocessableEntity},
	{Err: ErrWrongKey, Status: http.StatusUnprocessableEntity},
	{Err: ErrEmptySelection, Status: http.StatusUnprocessableEntity},
	{Err: graph.ErrNotFound, Status: http.StatusNotFound},
	{Err: graph.ErrExists, Status: http.StatusConflict},
	{Err: meta.ErrNotFound, Status: http.StatusNotFound},
	{Err: meta.ErrInvalid, Status: http.StatusBadRequest},
	{Err: meta.ErrConflict, Status: http.StatusConflict},
	{Err: meta.ErrClosed, Status: http.StatusServiceUnavailable},
}

// NewHandler returns the HTTP API of the engine: snapshots of the graphs in
// graphs, restores into them, verification, diffs, retention and garbage
// collection. It serves JSON with paths relative to its root, so a host mounts it
// under any prefix with http.StripPrefix. openapi.yaml (see [OpenAPI]) describes
// every route. Zero fields of opts are filled by [api.Options.WithDefaults] with the
// engine's logger.
//
// Requests are authorized first, then their ids and bodies are validated, all before
// any work: a rejected request changes nothing. The authorizer is asked for
// [api.ScopeStatus] by the lists and stats (GET /graphs, GET /graphs/{id}/snapshots,
// GET /snapshots/{sid}, GET /stats), for [api.ScopeRead] by what shows graph content
// (GET /snapshots/{sid}/manifest, both diffs, GET /operations/{id}), and for
// [api.ScopeWrite] by every POST and DELETE.
//
// Errors are RFC 9457 problem+json: ErrInvalid and malformed requests 400,
// ErrNotFound (also an unknown graph) 404, ErrBusy 409, ErrCorrupt and ErrWrongKey
// 422 (the request is well formed but the stored snapshot cannot serve it; the
// detail names the object), ErrEmptySelection 422, a closed store 503, a deadline
// 504, anything else 500 with the error logged and not shown.
//
// A restore into a graph id the catalog does not hold creates the graph when the
// catalog implements [graph.Creator] (see [Engine.RestoreGraph]), and is 404
// otherwise. A partial restore merges into the target unless its body says
// "replace": true; a whole restore replaces.
//
// Work that may take long (a snapshot, a restore, a full verify, a GC) answers 202
// Accepted with the operation's state and a Location of GET /operations/{id} to
// poll; with ?wait=true (or "wait": true in a snapshot body) it runs within the
// request and answers with the result. A snapshot can be requested without a body;
// its 202 answer also names the snapshot (see [SnapshotAccepted]), whose row GET
// /snapshots/{sid} shows at once.
//
// NewHandler panics if e or graphs is nil.
func NewHandler(e *Engine, graphs graph.Catalog, opts api.Options) http.Handler {
	if e == nil || graphs == nil {
		panic("backup: NewHandler needs an engine and a catalog")
	}
	opts = opts.WithDefaults(e.log)
	h := &handler{e: e, graphs: graphs, opts: opts, answers: api.NewCache(answerTTL, answerBudgetBytes)}
	m := api.NewMux(opts, errorStatuses)
	m.Handle("GET /graphs", api.ScopeStatus, h.listGraphs)
	m.Handle("POST /graphs/{id}/snapshots", api.ScopeWrite, h.createSnapshot)
	m.Handle("GET /graphs/{id}/snapshots", api.ScopeStatus, h.listSnapshots)
	m.Handle("POST /graphs/{id}/prune", api.ScopeWrite, h.prune)
	m.Handle("GET /snapshots/{sid}", api.ScopeStatus, h.getSnapshot)
	m.Handle("DELETE /snapshots/{sid}", api.ScopeWrite, h.deleteSnapshot)
	m.Handle("GET /snapshots/{sid}/manifest", api.ScopeRead, h.manifest)
	m.Handle("POST /snapshots/{sid}/restore", api.ScopeWrite, h.restore)
	m.Handle("POST /snapshots/{sid}/verify", api.ScopeWrite, h.verify)
	m.Handle("GET /snapshots/{sid}/diff/{other}", api.ScopeRead, h.diff)
	m.Handle("GET /diff", api.ScopeRead, h.diff)
	m.Handle("POST /gc", api.ScopeWrite, h.gc)
	m.Handle("GET /stats", api.ScopeStatus, h.stats)
	m.HandleHTTP("GET /operations/{id}", api.ScopeRead, opts.Operations)
	return m
}

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
func (h *handler) listGraphs(w http.ResponseWriter, r *http.Request) error {
	ids, err := h.graphs.GraphIDs(r.Context())
	if err != nil {
		return err
	}
	stats, err := h.e.Store().SnapshotStats(r.Context())
	if err != nil {
		return err
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
	return nil
}

// SnapshotRequest is the optional body of POST /graphs/{id}/snapshots.
type SnapshotRequest struct {
	Kind   Kind              `json:"kind,omitempty"` // "", "auto", "full" or "incremental"
	Labels map[string]string `json:"labels,omitempty"`
	Wait   bool              `json:"wait,omitempty"` // like ?wait=true
}

// SnapshotAccepted is the 202 answer of POST /graphs/{id}/snapshots: the
// operation taking the snapshot, whose result is the completed row, and the id of
// the snapshot it takes. The row exists when the answer is sent: GET
// /snapshots/{sid} shows it pending, running, then completed or failed.
type SnapshotAccepted struct {
	api.OperationStatus
	SnapshotID string `json:"snapshot_id"`
}

// POST /graphs/{id}/snapshots → 202 SnapshotAccepted, or with wait 201
// meta.Snapshot.
func (h *handler) createSnapshot(w http.ResponseWriter, r *http.Request) error {
	id, err := graphID(r)
	if err != nil {
		return err
	}
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		return err
	}
	var req SnapshotRequest
	if _, err := api.DecodeOptional(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	g, err := h.graphs.Graph(r.Context(), id)
	if err != nil {
		return err
	}
	opts := SnapshotOptions{Kind: req.Kind, Labels: req.Labels}
	if wait || req.Wait {
		row, err := h.e.Snapshot(r.Context(), id, g, opts)
		if err != nil {
			return err
		}
		w.Header().Set("Location", api.Location(r, "/snapshots/"+row.ID))
		api.WriteJSON(w, http.StatusCreated, row)
		return nil
	}
	return h.startSnapshot(w, r, id, g, opts)
}

// startSnapshot records the pending row of a snapshot of g, then takes it as an
// operation and answers 202 with the operation and the row's id.
func (h *handler) startSnapshot(w http.ResponseWriter, r *http.Request, id string, g graph.Reader, opts SnapshotOptions) error {
	row, err := h.e.prepareSnapshot(r.Context(), id, g, opts)
	if err != nil {
		return err
	}
	sid := row.ID // row is the operation's from here on
	op, err := h.opts.Operations.Start(r.Context(), "snapshot", func(ctx context.Context, report func(any)) (any, error) {
		opts.Progress = func(p Progress) { report(p) }
		done, err := h.e.takeSnapshot(ctx, row, g, opts)
		if err == nil {
			// The last phase the engine reports is the manifest's, without counts: a
			// finished operation shows what the snapshot holds instead.
			report(Progress{Phase: "done", Records: done.Records, Bytes: done.BytesRaw})
		}
		return done, err
	})
	if err != nil {
		return h.e.failSnapshot(r.Context(), row, err)
	}
	w.Header().Set("Location", api.Location(r, "/operations/"+op.ID()))
	api.WriteJSON(w, http.StatusAccepted, SnapshotAccepted{OperationStatus: op.Status(), SnapshotID: sid})
	return nil
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
func (h *handler) start(w http.ResponseWriter, r *http.Request, kind string, fn api.OperationFunc) error {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		return err
	}
	return h.opts.Operations.Run(w, r, wait, kind, fn)
}

var (
	snapshotStatuses = []string{meta.SnapshotPending, meta.SnapshotRunning, meta.SnapshotCompleted, meta.SnapshotFailed}
	snapshotKinds    = []string{meta.SnapshotFull, meta.SnapshotIncremental, meta.SnapshotSynthetic}
)

// GET /graphs/{id}/snapshots?status=&kind=&limit=&cursor= → 200 Page[meta.Snapshot],
// newest first. A graph without snapshots has an empty list.
func (h *handler) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	id, err := graphID(r)
	if err != nil {
		return err
	}
	p, err := api.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := meta.SnapshotFilter{GraphID: id, Status: q.Get("status"), Kind: q.Get("kind"), Cursor: p.Cursor, Limit: p.Limit}
	if f.Status != "" && !slices.Contains(snapshotStatuses, f.Status) {
		return api.FieldErrorf("status", "must be one of %v", snapshotStatuses)
	}
	if f.Kind != "" && !slices.Contains(snapshotKinds, f.Kind) {
		return api.FieldErrorf("kind", "must be one of %v", snapshotKinds)
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
		return err
	}
	resp.Write(w)
	return nil
}

// GET /snapshots/{sid} → 200 meta.Snapshot, whatever its status.
func (h *handler) getSnapshot(w http.ResponseWriter, r *http.Request) error {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		return err
	}
	row, err := h.e.Store().GetSnapshot(r.Context(), sid)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, row)
	return nil
}

// DELETE /snapshots/{sid} → 204.
func (h *handler) deleteSnapshot(w http.ResponseWriter, r *http.Request) error {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		return err
	}
	if err := h.e.Delete(r.Context(), sid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /snapshots/{sid}/manifest → 200 Manifest.
func (h *handler) manifest(w http.ResponseWriter, r *http.Request) error {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		return err
	}
	m, err := h.e.Manifest(r.Context(), sid)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, m)
	return nil
}

// RestoreRequest is the optional body of POST /snapshots/{sid}/restore. Without
// one, the whole snapshot is restored into the graph it was taken of. With
// node_ids or labels (and hops) only the selected nodes and the edges among them
// are restored: merged into the target, or with replace the target's whole
// content.
type RestoreRequest struct {
	TargetGraph string   `json:"target_graph,omitempty"`
	NodeIDs     []string `json:"node_ids,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	Hops        int      `json:"hops,omitempty"`
	Replace     bool     `json:"replace,omitempty"`
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
// be written. Mode is "merge" or "replace"; CreatesGraph says the target does
// not exist yet and the restore would create it.
type RestorePlan struct {
	SnapshotID   string    `json:"snapshot_id"`
	SourceGraph  string    `json:"source_graph"`
	TargetGraph  string    `json:"target_graph"`
	Partial      bool      `json:"partial"`
	Mode         string    `json:"mode"`
	CreatesGraph bool      `json:"creates_graph,omitempty"`
	Nodes        int64     `json:"nodes"`
	Edges        int64     `json:"edges"`
	Layers       int       `json:"layers"`
	Objects      int       `json:"objects"`
	Bytes        int64     `json:"bytes"`     // stored bytes to read
	BytesRaw     int64     `json:"bytes_raw"` // before compression
	Encrypted    bool      `json:"encrypted"`
	Restorable   bool      `json:"restorable"` // every object is present with its size
	Problems     []Problem `json:"problems,omitempty"`
	DryRun       bool      `json:"dry_run"`
}

// POST /snapshots/{sid}/restore → 200 RestorePlan (dry_run), 202 operation, or with
// ?wait=true 200 RestoreResult.
func (h *handler) restore(w http.ResponseWriter, r *http.Request) error {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		return err
	}
	var req RestoreRequest
	if _, err := api.DecodeOptional(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	m, err := h.e.Manifest(r.Context(), sid)
	if err != nil {
		return err
	}
	target := req.TargetGraph
	if target == "" {
		target = m.GraphID
	}
	creates, err := h.resolveTarget(r.Context(), target)
	if err != nil {
		return err
	}
	opts := RestoreOptions{NodeIDs: req.NodeIDs, Labels: req.Labels, Hops: req.Hops, Replace: req.Replace}
	if req.DryRun {
		rep, err := h.e.Verify(r.Context(), sid, false)
		if err != nil {
			return err
		}
		plan := RestorePlan{
			SnapshotID: sid, SourceGraph: m.GraphID, TargetGraph: target, Partial: opts.partial(),
			Mode: "replace", CreatesGraph: creates,
			Nodes: m.Nodes, Edges: m.Edges, Layers: len(m.Layers), Objects: rep.Objects,
			Bytes: rep.Bytes, BytesRaw: m.BytesRaw, Encrypted: m.Encrypted,
			Restorable: rep.OK, Problems: rep.Problems, DryRun: true,
		}
		if opts.merges() {
			plan.Mode = "merge"
		}
		api.WriteJSON(w, http.StatusOK, plan)
		return nil
	}
	return h.start(w, r, "restore", func(ctx context.Context, report func(any)) (any, error) {
		opts.Progress = func(p Progress) { report(p) }
		return h.e.RestoreGraph(ctx, sid, h.graphs, target, opts)
	})
}

// resolveTarget checks that a restore can write to the graph id: the catalog
// holds it, or can create it (creates is then true). Otherwise it is ErrNotFound.
func (h *handler) resolveTarget(ctx context.Context, id string) (creates bool, err error) {
	_, err = h.graphs.Graph(ctx, id)
	if err == nil {
		return false, nil
	}
	if _, ok := h.graphs.(graph.Creator); ok && errors.Is(err, graph.ErrNotFound) {
		return true, nil
	}
	return false, targetError(id, err)
}

// VerifyRequest is the optional body of POST /snapshots/{sid}/verify.
type VerifyRequest struct {
	Full bool `json:"full"`
}

// POST /snapshots/{sid}/verify → 200 VerifyReport (quick, or full with ?wait=true),
// or 202 operation (full). A report with ok false is still 200: the verification
// ran and found problems.
func (h *handler) verify(w http.ResponseWriter, r *http.Request) error {
	sid, err := snapshotID(r, "sid")
	if err != nil {
		return err
	}
	var req VerifyRequest
	if _, err := api.DecodeOptional(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if !req.Full {
		rep, err := h.e.Verify(r.Context(), sid, false)
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, rep)
		return nil
	}
	if err := h.checkCompleted(r.Context(), sid); err != nil {
		return err
	}
	return h.start(w, r, "verify", func(ctx context.Context, _ func(any)) (any, error) {
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
func (h *handler) diff(w http.ResponseWriter, r *http.Request) error {
	from, to := r.PathValue("sid"), r.PathValue("other")
	fromField, toField := "sid", "other"
	if from == "" && to == "" {
		q := r.URL.Query()
		from, to = q.Get("from"), q.Get("to")
		fromField, toField = "from", "to"
	}
	if err := api.CheckID(fromField, from, meta.ValidID); err != nil {
		return err
	}
	if err := api.CheckID(toField, to, meta.ValidID); err != nil {
		return err
	}
	limit, err := api.QueryInt(r, "limit", 1000, 1, maxDiffLimit)
	if err != nil {
		return err
	}
	d, err := h.e.Diff(r.Context(), from, to, DiffOptions{Limit: limit})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, d)
	return nil
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
func (h *handler) prune(w http.ResponseWriter, r *http.Request) error {
	id, err := graphID(r)
	if err != nil {
		return err
	}
	var req PruneRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	ret := req.Retention()
	if err := ret.Validate(); err != nil {
		return err
	}
	res, err := h.e.Prune(r.Context(), id, ret, req.DryRun)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// GCRequest is the optional body of POST /gc.
type GCRequest struct {
	Grace  *api.Duration `json:"grace,omitempty"` // default 1h
	DryRun bool          `json:"dry_run,omitempty"`
}

// POST /gc → 202 operation, or with ?wait=true 200 GCResult.
func (h *handler) gc(w http.ResponseWriter, r *http.Request) error {
	var req GCRequest
	if _, err := api.DecodeOptional(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	opts := GCOptions{DryRun: req.DryRun}
	if req.Grace != nil {
		if *req.Grace < 0 {
			return api.FieldErrorf("grace", "must not be negative")
		}
		// GCOptions reads 0 as the default; a grace of 0 asked for is the smallest
		// positive one.
		opts.Grace = max(time.Duration(*req.Grace), 1)
	}
	return h.start(w, r, "gc", func(ctx context.Context, _ func(any)) (any, error) {
		return h.e.GC(ctx, opts)
	})
}

// GET /stats → 200 Page[meta.GraphStats], one item per graph with snapshots.
func (h *handler) stats(w http.ResponseWriter, r *http.Request) error {
	st := h.e.Store()
	resp, err := h.answers.Get(r.Context(), "stats", st.Generation(), func(ctx context.Context) (*api.Response, error) {
		stats, err := st.SnapshotStats(ctx)
		if err != nil {
			return nil, err
		}
		return api.JSONResponse(http.StatusOK, api.NewPage(stats, ""))
	})
	if err != nil {
		return err
	}
	resp.Write(w)
	return nil
}
