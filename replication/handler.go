package replication

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/meta"
)

// errorStatuses is the status of this package's errors and of the store and blob
// errors that reach the handler and the receiver through it.
var errorStatuses = api.ErrorMap{
	{Err: ErrInvalid, Status: http.StatusBadRequest},
	{Err: ErrNotFound, Status: http.StatusNotFound},
	{Err: ErrConflict, Status: http.StatusConflict},
	{Err: ErrNotAllowed, Status: http.StatusUnprocessableEntity},
	{Err: ErrUnreachable, Status: http.StatusUnprocessableEntity},
	{Err: ErrCorrupt, Status: http.StatusUnprocessableEntity},
	{Err: ErrClosed, Status: http.StatusServiceUnavailable},
	{Err: meta.ErrNotFound, Status: http.StatusNotFound},
	{Err: meta.ErrInvalid, Status: http.StatusBadRequest},
	{Err: meta.ErrConflict, Status: http.StatusConflict},
	{Err: meta.ErrClosed, Status: http.StatusServiceUnavailable},
	{Err: blob.ErrNotFound, Status: http.StatusNotFound},
	{Err: blob.ErrInvalidKey, Status: http.StatusBadRequest},
	{Err: blob.ErrExists, Status: http.StatusConflict},
	{Err: blob.ErrClosed, Status: http.StatusServiceUnavailable},
}

type handler struct {
	svc  *Service
	opts api.Options
}

// NewHandler returns the HTTP API of svc, on a private mux with paths relative to
// its root (a host mounts it with http.StripPrefix):
//
//	GET    /targets                 Page[meta.Target]; secrets are never shown
//	POST   /targets[?verify=true]   TargetRequest → 201 meta.Target
//	GET    /targets/{id}            meta.Target
//	PATCH  /targets/{id}            TargetRequest (fields to change) → meta.Target
//	DELETE /targets/{id}            204
//	POST   /targets/{id}/check      CheckResult
//	POST   /replicate[?wait=true]   ReplicateRequest → 202 operation, or 200 Page[Result]
//	GET    /status                  Page[Status]
//	GET    /events?target_id=&graph_id=&kind=&status=&limit=&cursor=   Page[meta.ReplicationEvent]
//	GET    /operations/{id}         an operation's state
//	POST   /failover[?wait=true]    FailoverRequest → 202 operation, or 200 FailoverResult
//
// Requests are authorized (opts.Authorizer), then their ids and bodies validated,
// before any work. Targets, their status and the events are api.ScopeStatus, an
// operation's state api.ScopeRead, and every POST, PATCH and DELETE api.ScopeWrite.
// Replications and failovers started without ?wait=true run in opts.Operations.
// Errors are problem+json: ErrInvalid and malformed requests 400, ErrNotFound 404,
// ErrConflict 409, ErrNotAllowed, ErrUnreachable and ErrCorrupt 422, a replication that failed at
// some target 502 (the detail names the targets and their errors), ErrClosed 503.
//
// NewHandler panics if svc is nil.
func NewHandler(svc *Service, opts api.Options) http.Handler {
	if svc == nil {
		panic("replication: NewHandler needs a service")
	}
	h := &handler{svc: svc, opts: opts.WithDefaults(svc.log)}
	m := api.NewMux(h.opts, errorStatuses)
	m.Handle("GET /targets", api.ScopeStatus, h.listTargets)
	m.Handle("POST /targets", api.ScopeWrite, h.createTarget)
	m.Handle("GET /targets/{id}", api.ScopeStatus, h.getTarget)
	m.Handle("PATCH /targets/{id}", api.ScopeWrite, h.updateTarget)
	m.Handle("DELETE /targets/{id}", api.ScopeWrite, h.deleteTarget)
	m.Handle("POST /targets/{id}/check", api.ScopeWrite, h.check)
	m.Handle("POST /replicate", api.ScopeWrite, h.replicate)
	m.Handle("GET /status", api.ScopeStatus, h.status)
	m.Handle("GET /events", api.ScopeStatus, h.events)
	m.HandleHTTP("GET /operations/{id}", api.ScopeRead, h.opts.Operations)
	h.failoverRoutes(m) // POST /failover, failover_handler.go
	return m
}

func targetID(r *http.Request) (string, error) { return api.PathID(r, "id", meta.ValidID) }

// TargetRequest is the body of POST /targets and PATCH /targets/{id}. Config values
// may be given flat (path, endpoint, ...) or in config; the secret is secret_key
// (s3) or token (http). The body of the older API, {"name", "base_url", "api_key"},
// registers an http target. In a PATCH, absent fields are left alone and an empty
// config value removes it.
type TargetRequest struct {
	Name      *string           `json:"name,omitempty"`
	Kind      *string           `json:"kind,omitempty"`
	Enabled   *bool             `json:"enabled,omitempty"`
	Verify    bool              `json:"verify,omitempty"`
	Config    map[string]string `json:"config,omitempty"`
	Path      *string           `json:"path,omitempty"`
	Endpoint  *string           `json:"endpoint,omitempty"`
	Bucket    *string           `json:"bucket,omitempty"`
	Prefix    *string           `json:"prefix,omitempty"`
	AccessKey *string           `json:"access_key,omitempty"`
	SecretKey *string           `json:"secret_key,omitempty"`
	Region    *string           `json:"region,omitempty"`
	Secure    *bool             `json:"secure,omitempty"`
	BaseURL   *string           `json:"base_url,omitempty"`
	Token     *string           `json:"token,omitempty"`
	APIKey    *string           `json:"api_key,omitempty"` // the older API's name of token
}

// config gathers the config values and the secret of a request.
func (q *TargetRequest) config() (map[string]string, *string, error) {
	cfg := map[string]string{}
	for k, v := range q.Config {
		cfg[k] = v
	}
	flat := []struct {
		key string
		v   *string
	}{{"path", q.Path}, {"endpoint", q.Endpoint}, {"bucket", q.Bucket}, {"prefix", q.Prefix},
		{"access_key", q.AccessKey}, {"region", q.Region}, {"base_url", q.BaseURL}}
	if q.Secure != nil {
		s := "false"
		if *q.Secure {
			s = "true"
		}
		flat = append(flat, struct {
			key string
			v   *string
		}{"secure", &s})
	}
	for _, f := range flat {
		if f.v == nil {
			continue
		}
		if old, ok := cfg[f.key]; ok && old != *f.v {
			return nil, nil, api.FieldErrorf(f.key, "differs from config.%s", f.key)
		}
		cfg[f.key] = *f.v
	}
	var secret *string
	for _, s := range []struct {
		field string
		v     *string
	}{{"secret_key", q.SecretKey}, {"token", q.Token}, {"api_key", q.APIKey}} {
		if s.v == nil {
			continue
		}
		if secret != nil && *secret != *s.v {
			return nil, nil, api.FieldErrorf(s.field, "gives a second, different secret")
		}
		secret = s.v
	}
	return cfg, secret, nil
}

// GET /targets → 200 Page[meta.Target].
func (h *handler) listTargets(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.svc.List(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(ts, ""))
	return nil
}

// POST /targets → 201 meta.Target.
func (h *handler) createTarget(w http.ResponseWriter, r *http.Request) error {
	verify, err := api.QueryBool(r, "verify")
	if err != nil {
		return err
	}
	var req TargetRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	spec, err := req.spec(verify)
	if err != nil {
		return err
	}
	t, err := h.svc.Register(r.Context(), spec)
	if err != nil {
		return err
	}
	w.Header().Set("Location", api.Location(r, "/targets/"+t.ID))
	api.WriteJSON(w, http.StatusCreated, t)
	return nil
}

// spec is the TargetSpec a POST /targets asks for.
func (q *TargetRequest) spec(verify bool) (TargetSpec, error) {
	cfg, secret, err := q.config()
	if err != nil {
		return TargetSpec{}, err
	}
	spec := TargetSpec{Config: cfg, Verify: verify || q.Verify}
	if q.Name == nil {
		return TargetSpec{}, api.FieldErrorf("name", "is required")
	}
	spec.Name = *q.Name
	switch {
	case q.Kind != nil:
		spec.Kind = *q.Kind
	case cfg["base_url"] != "":
		spec.Kind = KindHTTP
	default:
		return TargetSpec{}, api.FieldErrorf("kind", "is required: file, s3 or http")
	}
	if secret != nil {
		spec.Secret = *secret
	}
	if err := secretFits(spec.Kind, q); err != nil {
		return TargetSpec{}, err
	}
	if q.Enabled != nil {
		spec.Disabled = !*q.Enabled
	}
	return spec, nil
}

// secretFits refuses a secret field of another kind, so that a token is never
// taken for an S3 key or the other way round.
func secretFits(kind string, q *TargetRequest) error {
	if kind != KindS3 && q.SecretKey != nil {
		return api.FieldErrorf("secret_key", "is for s3 targets only")
	}
	if kind != KindHTTP && (q.Token != nil || q.APIKey != nil) {
		return api.FieldErrorf("token", "is for http targets only")
	}
	return nil
}

// GET /targets/{id} → 200 meta.Target.
func (h *handler) getTarget(w http.ResponseWriter, r *http.Request) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	t, err := h.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, t)
	return nil
}

// PATCH /targets/{id} → 200 meta.Target.
func (h *handler) updateTarget(w http.ResponseWriter, r *http.Request) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	verify, err := api.QueryBool(r, "verify")
	if err != nil {
		return err
	}
	var req TargetRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	cfg, secret, err := req.config()
	if err != nil {
		return err
	}
	cur, err := h.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if req.Kind != nil && *req.Kind != cur.Kind {
		return api.FieldErrorf("kind", "cannot change; remove the target and register a new one")
	}
	if err := secretFits(cur.Kind, &req); err != nil {
		return err
	}
	t, err := h.svc.Update(r.Context(), id, TargetPatch{Name: req.Name, Enabled: req.Enabled, Config: cfg, Secret: secret, Verify: verify || req.Verify})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, t)
	return nil
}

// DELETE /targets/{id} → 204.
func (h *handler) deleteTarget(w http.ResponseWriter, r *http.Request) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	if err := h.svc.Remove(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /targets/{id}/check → 200 CheckResult.
func (h *handler) check(w http.ResponseWriter, r *http.Request) error {
	id, err := targetID(r)
	if err != nil {
		return err
	}
	res, err := h.svc.Check(r.Context(), id)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// ReplicateRequest is the body of POST /replicate.
type ReplicateRequest struct {
	SnapshotID    string `json:"snapshot_id"`
	TargetID      string `json:"target_id,omitempty"` // empty: every enabled target
	VerifyContent bool   `json:"verify_content,omitempty"`
}

// POST /replicate → 202 operation, or with ?wait=true 200 Page[Result].
func (h *handler) replicate(w http.ResponseWriter, r *http.Request) error {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		return err
	}
	var req ReplicateRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if err := api.CheckID("snapshot_id", req.SnapshotID, meta.ValidID); err != nil {
		return err
	}
	if req.TargetID != "" {
		if err := api.CheckID("target_id", req.TargetID, meta.ValidID); err != nil {
			return err
		}
		if _, err := h.svc.Get(r.Context(), req.TargetID); err != nil {
			return err
		}
	}
	if _, err := h.svc.store.GetSnapshot(r.Context(), req.SnapshotID); err != nil {
		return storeErr(err)
	}
	opts := ReplicateOptions{TargetID: req.TargetID, VerifyContent: req.VerifyContent}
	return h.opts.Operations.Run(w, r, wait, "replicate", func(ctx context.Context, _ func(any)) (any, error) {
		res, err := h.svc.Replicate(ctx, req.SnapshotID, opts)
		if err != nil && res != nil {
			// Some targets failed: the request was fine, the places were not.
			return nil, &api.Error{Status: http.StatusBadGateway, Detail: err.Error(), Err: err}
		}
		if err != nil {
			return nil, err
		}
		return api.NewPage(res, ""), nil
	})
}

// GET /status → 200 Page[Status].
func (h *handler) status(w http.ResponseWriter, r *http.Request) error {
	st, err := h.svc.Status(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(st, ""))
	return nil
}

var (
	eventKinds    = []string{meta.EventSnapshot, meta.EventJournal, meta.EventCheck}
	eventStatuses = []string{meta.EventOK, meta.EventFailed}
)

// GET /events → 200 Page[meta.ReplicationEvent], newest first.
func (h *handler) events(w http.ResponseWriter, r *http.Request) error {
	f, err := eventFilter(r)
	if err != nil {
		return err
	}
	evs, next, err := h.svc.store.ListReplicationEvents(r.Context(), f)
	if errors.Is(err, meta.ErrInvalid) { // a cursor the store does not accept
		return api.FieldErrorf("cursor", "must be a next_cursor value from a previous page")
	}
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(evs, next))
	return nil
}

// eventFilter reads and checks the query of GET /events.
func eventFilter(r *http.Request) (meta.EventFilter, error) {
	p, err := api.ParsePage(r)
	if err != nil {
		return meta.EventFilter{}, err
	}
	q := r.URL.Query()
	f := meta.EventFilter{TargetID: q.Get("target_id"), GraphID: q.Get("graph_id"), Kind: q.Get("kind"),
		Status: q.Get("status"), Cursor: p.Cursor, Limit: p.Limit}
	switch {
	case f.TargetID != "" && !meta.ValidID(f.TargetID):
		err = api.CheckID("target_id", f.TargetID, meta.ValidID)
	case f.GraphID != "" && !backup.ValidGraphID(f.GraphID):
		err = api.CheckID("graph_id", f.GraphID, backup.ValidGraphID)
	case f.Kind != "" && !slices.Contains(eventKinds, f.Kind):
		err = api.FieldErrorf("kind", "must be one of %v", eventKinds)
	case f.Status != "" && !slices.Contains(eventStatuses, f.Status):
		err = api.FieldErrorf("status", "must be one of %v", eventStatuses)
	}
	return f, err
}
