package recovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// ContentTypeHealth is the media type of the GET /health answer
// (draft-inadarei-api-health-check).
const ContentTypeHealth = "application/health+json"

// Bounds of request fields checked before any work.
const (
	maxMetadataKeys = 64
	maxTargets      = maxCheckpointGraphs
)

type handler struct {
	s      *Service
	health *health.Runner
	opts   api.Options
}

// NewHandler returns the HTTP API of the service and of the health runner h, on
// an [api.Mux] with paths relative to its root, so that a host mounts it under any
// prefix with http.StripPrefix. The scope each route asks the authorizer for is
// in brackets:
//
//	POST   /checkpoints                 [write]  {"graph_ids": [...], "description", "created_by", "metadata", "snapshots"} → 201 meta.Checkpoint
//	GET    /checkpoints?limit=&cursor=  [status] → 200 page of meta.Checkpoint, newest first
//	GET    /checkpoints/{id}            [status] → 200 meta.Checkpoint
//	DELETE /checkpoints/{id}            [write]  → 204
//	POST   /checkpoints/{id}/validate   [write]  → 200 Validation (ok false is still 200)
//	POST   /plan                        [read]   RestoreRequest → 200 Plan, a dry run
//	POST   /restore?wait=               [write]  RestoreRequest → 202 operation, or 200 RestoreResult with wait
//	GET    /operations/{id}             [read]   → 200 the operation's state
//	GET    /health?fresh=               [status] → 200 or 503 (fail), application/health+json
//	GET    /status                      [status] → 200 StatusReport
//
// POST /plan changes nothing and answers graph content, so it is a read although
// it is a POST. opts.Operations runs the restores (see [api.Options]); its
// Logger defaults to the service's.
//
// Requests are authorized first, then their ids and bodies validated (unknown
// fields and oversize bodies are rejected), all before any work: a rejected request
// changes nothing. A restore whose plan is not executable is refused before it
// starts. Errors are RFC 9457 problem+json: malformed requests, [ErrInvalid] and
// the invalid errors of backup and meta 400; [ErrNotFound] and the not-found
// errors of backup, graph and meta 404; [ErrInexact], [ErrBusy], backup.ErrBusy and
// meta.ErrConflict 409; [ErrCorrupt], backup.ErrCorrupt and backup.ErrWrongKey 422
// (the detail names the object); meta.ErrClosed 503; a deadline 504; anything
// else 500 with the error logged and not shown.
//
// GET /health answers the health runner's last report, or runs the checks when
// there is none yet or ?fresh=true; with a nil h it answers the newest stored
// event of every check. A checkpoint created, deleted or validated, and a restore
// finished, through the handler triggers the runner (see [health.Runner.Trigger]),
// so that its next report follows soon. NewHandler panics if s is nil.
func NewHandler(s *Service, h *health.Runner, opts api.Options) http.Handler {
	if s == nil {
		panic("recovery: NewHandler needs a service")
	}
	hd := &handler{s: s, health: h, opts: opts.WithDefaults(s.log)}
	m := api.NewMux(hd.opts, errorMap)
	m.Handle("POST /checkpoints", api.ScopeWrite, hd.createCheckpoint)
	m.Handle("GET /checkpoints", api.ScopeStatus, hd.listCheckpoints)
	m.Handle("GET /checkpoints/{id}", api.ScopeStatus, hd.getCheckpoint)
	m.Handle("DELETE /checkpoints/{id}", api.ScopeWrite, hd.deleteCheckpoint)
	m.Handle("POST /checkpoints/{id}/validate", api.ScopeWrite, hd.validate)
	m.Handle("POST /plan", api.ScopeRead, hd.plan)
	m.Handle("POST /restore", api.ScopeWrite, hd.restore)
	m.HandleHTTP("GET /operations/{id}", api.ScopeRead, hd.opts.Operations)
	m.Handle("GET /health", api.ScopeStatus, hd.healthCheck)
	m.Handle("GET /status", api.ScopeStatus, hd.status)
	return m
}

// errorMap is the status of this package's errors and of the backup, store and
// graph errors that reach the handler through it.
var errorMap = api.ErrorMap{
	{Err: ErrInvalid, Status: http.StatusBadRequest},
	{Err: ErrNotFound, Status: http.StatusNotFound},
	{Err: ErrInexact, Status: http.StatusConflict},
	{Err: ErrBusy, Status: http.StatusConflict},
	{Err: ErrCorrupt, Status: http.StatusUnprocessableEntity},
	{Err: backup.ErrNotFound, Status: http.StatusNotFound},
	{Err: backup.ErrInvalid, Status: http.StatusBadRequest},
	{Err: backup.ErrBusy, Status: http.StatusConflict},
	{Err: backup.ErrCorrupt, Status: http.StatusUnprocessableEntity},
	{Err: backup.ErrWrongKey, Status: http.StatusUnprocessableEntity},
	{Err: graph.ErrNotFound, Status: http.StatusNotFound},
	{Err: meta.ErrNotFound, Status: http.StatusNotFound},
	{Err: meta.ErrInvalid, Status: http.StatusBadRequest},
	{Err: meta.ErrConflict, Status: http.StatusConflict},
	{Err: meta.ErrClosed, Status: http.StatusServiceUnavailable},
}

// changed tells the health runner, if any, that what its checks look at changed.
func (h *handler) changed() {
	if h.health != nil {
		h.health.Trigger()
	}
}

func checkpointID(r *http.Request) (string, error) { return api.PathID(r, "id", meta.ValidID) }

// CheckpointRequest is the body of POST /checkpoints. The field names are those of
// the earlier API: {"graph_ids": ["a", "b"], "description": "before the import"}.
type CheckpointRequest struct {
	GraphIDs    []string          `json:"graph_ids"`
	Description string            `json:"description,omitempty"`
	CreatedBy   string            `json:"created_by,omitempty"`
	Metadata    map[string]any    `json:"metadata,omitempty"`
	Snapshots   map[string]string `json:"snapshots,omitempty"` // graph id → existing snapshot id
}

func (q *CheckpointRequest) validate() error {
	if len(q.GraphIDs) == 0 {
		return api.FieldErrorf("graph_ids", "must name at least one graph")
	}
	if len(q.GraphIDs) > maxCheckpointGraphs {
		return api.FieldErrorf("graph_ids", "must name at most %d graphs", maxCheckpointGraphs)
	}
	seen := map[string]bool{}
	for i, id := range q.GraphIDs {
		field := fmt.Sprintf("graph_ids[%d]", i)
		if err := api.CheckID(field, id, backup.ValidGraphID); err != nil {
			return err
		}
		if seen[id] {
			return api.FieldErrorf(field, "names graph %q twice", id)
		}
		seen[id] = true
	}
	if len(q.Description) > maxDescription {
		return api.FieldErrorf("description", "must be at most %d bytes", maxDescription)
	}
	if len(q.CreatedBy) > maxCreatedBy {
		return api.FieldErrorf("created_by", "must be at most %d bytes", maxCreatedBy)
	}
	if len(q.Metadata) > maxMetadataKeys {
		return api.FieldErrorf("metadata", "must hold at most %d keys", maxMetadataKeys)
	}
	for _, gid := range sortedKeys(q.Snapshots) {
		field := "snapshots." + gid
		if !seen[gid] {
			return api.FieldErrorf(field, "names a graph that is not in graph_ids")
		}
		if err := api.CheckID(field, q.Snapshots[gid], meta.ValidID); err != nil {
			return err
		}
	}
	return nil
}

// POST /checkpoints → 201 meta.Checkpoint with its Location.
func (h *handler) createCheckpoint(w http.ResponseWriter, r *http.Request) error {
	var req CheckpointRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	cp, err := h.s.Create(r.Context(), CreateRequest{
		GraphIDs: req.GraphIDs, Description: req.Description, CreatedBy: req.CreatedBy,
		Metadata: req.Metadata, Snapshots: req.Snapshots,
	})
	if err != nil {
		return err
	}
	h.changed()
	w.Header().Set("Location", api.Location(r, "/checkpoints/"+cp.ID))
	api.WriteJSON(w, http.StatusCreated, cp)
	return nil
}

// GET /checkpoints?limit=&cursor= → 200 Page[meta.Checkpoint].
func (h *handler) listCheckpoints(w http.ResponseWriter, r *http.Request) error {
	p, err := api.ParsePage(r)
	if err != nil {
		return err
	}
	cps, next, err := h.s.List(r.Context(), p.Cursor, p.Limit)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(cps, next))
	return nil
}

// GET /checkpoints/{id} → 200 meta.Checkpoint.
func (h *handler) getCheckpoint(w http.ResponseWriter, r *http.Request) error {
	id, err := checkpointID(r)
	if err != nil {
		return err
	}
	cp, err := h.s.Get(r.Context(), id)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, cp)
	return nil
}

// DELETE /checkpoints/{id} → 204.
func (h *handler) deleteCheckpoint(w http.ResponseWriter, r *http.Request) error {
	id, err := checkpointID(r)
	if err != nil {
		return err
	}
	if err := h.s.Delete(r.Context(), id); err != nil {
		return err
	}
	h.changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /checkpoints/{id}/validate → 200 Validation.
func (h *handler) validate(w http.ResponseWriter, r *http.Request) error {
	id, err := checkpointID(r)
	if err != nil {
		return err
	}
	if _, err := api.DecodeOptional(w, r, &struct{}{}, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	v, err := h.s.Validate(r.Context(), id)
	if err != nil {
		return err
	}
	h.changed()
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

// RestoreRequest is the body of POST /plan and POST /restore: a checkpoint, or a
// graph at a point in time (RFC 3339; absent means now).
type RestoreRequest struct {
	CheckpointID string            `json:"checkpoint_id,omitempty"`
	GraphID      string            `json:"graph_id,omitempty"`
	At           time.Time         `json:"at,omitzero"`
	AllowEarlier bool              `json:"allow_earlier,omitempty"`
	Targets      map[string]string `json:"targets,omitempty"` // source graph id → target graph id
	FullVerify   bool              `json:"full_verify,omitempty"`
}

func (q *RestoreRequest) validate() error {
	switch {
	case q.CheckpointID == "" && q.GraphID == "":
		return api.FieldErrorf("checkpoint_id", "or graph_id is required")
	case q.CheckpointID != "" && q.GraphID != "":
		return api.FieldErrorf("graph_id", "must not be given with checkpoint_id")
	case q.CheckpointID != "":
		if err := api.CheckID("checkpoint_id", q.CheckpointID, meta.ValidID); err != nil {
			return err
		}
		if !q.At.IsZero() {
			return api.FieldErrorf("at", "goes with graph_id, not checkpoint_id")
		}
	default:
		if err := api.CheckID("graph_id", q.GraphID, backup.ValidGraphID); err != nil {
			return err
		}
	}
	if len(q.Targets) > maxTargets {
		return api.FieldErrorf("targets", "must hold at most %d entries", maxTargets)
	}
	for _, src := range sortedKeys(q.Targets) {
		field := "targets." + src
		if !backup.ValidGraphID(src) {
			return api.FieldErrorf("targets", "%q is not a valid graph id", src)
		}
		if err := api.CheckID(field, q.Targets[src], backup.ValidGraphID); err != nil {
			return err
		}
	}
	return nil
}

func (q *RestoreRequest) plan() PlanRequest {
	return PlanRequest{
		CheckpointID: q.CheckpointID, GraphID: q.GraphID, At: q.At,
		AllowEarlier: q.AllowEarlier, Targets: q.Targets, FullVerify: q.FullVerify,
	}
}

// decodeRestore reads and validates a RestoreRequest and builds its plan.
func (h *handler) decodeRestore(w http.ResponseWriter, r *http.Request) (*Plan, error) {
	var req RestoreRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	return h.s.Plan(r.Context(), req.plan())
}

// POST /plan → 200 Plan.
func (h *handler) plan(w http.ResponseWriter, r *http.Request) error {
	p, err := h.decodeRestore(w, r)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, p)
	return nil
}

// POST /restore?wait= → 202 operation, or with wait 200 RestoreResult.
func (h *handler) restore(w http.ResponseWriter, r *http.Request) error {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		return err
	}
	p, err := h.decodeRestore(w, r)
	if err != nil {
		return err
	}
	if !p.Executable {
		return fmt.Errorf("%w: %s", ErrInexact, p.Reason)
	}
	if wait {
		res, err := h.execute(r.Context(), p)
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, res)
		return nil
	}
	op, err := h.opts.Operations.Start(r.Context(), "restore", func(ctx context.Context, report func(any)) (any, error) {
		report(map[string]any{"phase": "restore", "plan": p})
		return h.execute(ctx, p)
	})
	if err != nil {
		return err
	}
	api.Accepted(w, r, op)
	return nil
}

// execute runs the plan, then triggers the health runner whether the restore
// succeeded or not: either way the graphs it wrote to have changed.
func (h *handler) execute(ctx context.Context, p *Plan) (*RestoreResult, error) {
	defer h.changed()
	return h.s.Execute(ctx, p)
}

// GET /status → 200 StatusReport.
func (h *handler) status(w http.ResponseWriter, r *http.Request) error {
	rep, err := h.s.Status(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, rep)
	return nil
}

// healthAnswer is the GET /health answer, per draft-inadarei-api-health-check.
type healthAnswer struct {
	Status      string                    `json:"status"`
	Description string                    `json:"description,omitempty"`
	Output      string                    `json:"output,omitempty"`
	Time        time.Time                 `json:"time,omitzero"`
	Checks      map[string][]healthDetail `json:"checks"`
}

type healthDetail struct {
	ComponentType string    `json:"componentType,omitempty"`
	Status        string    `json:"status"`
	Output        string    `json:"output,omitempty"`
	Time          time.Time `json:"time"`
	ObservedValue float64   `json:"observedValue"`
	ObservedUnit  string    `json:"observedUnit,omitempty"`
}

// GET /health?fresh= → 200 (pass, warn) or 503 (fail).
func (h *handler) healthCheck(w http.ResponseWriter, r *http.Request) error {
	fresh, err := api.QueryBool(r, "fresh")
	if err != nil {
		return err
	}
	rep, err := h.healthReport(r.Context(), fresh)
	if err != nil {
		return err
	}
	ans := healthAnswer{Status: string(rep.Status), Description: "graphvault recovery", Time: rep.Time, Checks: map[string][]healthDetail{}}
	ans.Output = strings.Join(rep.Reasons, "; ")
	for _, c := range rep.Checks {
		d := healthDetail{ComponentType: c.Component, Status: string(c.Status), Time: c.Time,
			ObservedValue: c.Duration.Seconds(), ObservedUnit: "s"}
		if c.Status != health.Pass {
			d.Output = c.Message
		}
		ans.Checks[c.Key()] = append(ans.Checks[c.Key()], d)
	}
	status := http.StatusOK
	if rep.Status == health.Fail {
		status = http.StatusServiceUnavailable
	}
	b, err := json.Marshal(ans)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ContentTypeHealth)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client is gone; nothing to do
	return nil
}

// healthReport returns the runner's last report, a fresh run, or a report built from
// the newest stored event of every check when there is no runner.
func (h *handler) healthReport(ctx context.Context, fresh bool) (health.Report, error) {
	if h.health != nil {
		if last, ok := h.health.Last(); ok && !fresh {
			return last, nil
		}
		return h.health.Run(ctx), nil
	}
	events, err := h.s.st.LatestHealth(ctx)
	if err != nil {
		return health.Report{}, err
	}
	rep := health.Report{Status: health.Pass, Checks: []health.CheckResult{}}
	for _, e := range events {
		cr := health.CheckResult{Component: e.Component, Check: e.Check, Time: e.CreatedAt,
			Result: health.Result{Status: health.Status(e.Status), Message: e.Message, Details: e.Details}}
		rep.Status = rep.Status.Worse(cr.Status)
		if cr.Status != health.Pass {
			rep.Reasons = append(rep.Reasons, cr.Key()+": "+cr.Message)
		}
		if cr.Time.After(rep.Time) {
			rep.Time = cr.Time
		}
		rep.Checks = append(rep.Checks, cr)
	}
	return rep, nil
}
