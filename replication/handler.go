package replication

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/meta"
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

// WithHandlerLogger logs server-side failures through l. Nil means the service's
// logger.
func WithHandlerLogger(l *slog.Logger) HandlerOption {
	return func(c *handlerConfig) { c.logger = l }
}

// WithOperations runs replications started without ?wait=true in ops, so that
// several handlers share one registry and the host can Close it on shutdown.
func WithOperations(ops *api.Operations) HandlerOption {
	return func(c *handlerConfig) { c.ops = ops }
}

type handler struct {
	svc    *Service
	cfg    handlerConfig
	routes http.Handler
}

// NewHandler returns the HTTP API of svc, on a private ServeMux with paths relative
// to its root (a host mounts it with http.StripPrefix):
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
// Requests are authorized, then their ids and bodies validated, before any work.
// Errors are problem+json: ErrInvalid and malformed requests 400, ErrNotFound 404,
// ErrConflict 409, ErrUnreachable and ErrCorrupt 422, a replication that failed at
// some target 502 (the detail names the targets and their errors), ErrClosed 503.
//
// NewHandler panics if svc is nil.
func NewHandler(svc *Service, opts ...HandlerOption) http.Handler {
	if svc == nil {
		panic("replication: NewHandler needs a service")
	}
	c := handlerConfig{maxBody: api.DefaultMaxBodyBytes}
	for _, o := range opts {
		o(&c)
	}
	if c.maxBody <= 0 {
		c.maxBody = api.DefaultMaxBodyBytes
	}
	if c.logger == nil {
		c.logger = svc.log
	}
	if c.ops == nil {
		c.ops = api.NewOperations(api.WithOperationsLogger(c.logger))
	}
	mapErrors()
	h := &handler{svc: svc, cfg: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /targets", h.listTargets)
	mux.HandleFunc("POST /targets", h.createTarget)
	mux.HandleFunc("GET /targets/{id}", h.getTarget)
	mux.HandleFunc("PATCH /targets/{id}", h.updateTarget)
	mux.HandleFunc("DELETE /targets/{id}", h.deleteTarget)
	mux.HandleFunc("POST /targets/{id}/check", h.check)
	mux.HandleFunc("POST /replicate", h.replicate)
	mux.HandleFunc("GET /status", h.status)
	mux.HandleFunc("GET /events", h.events)
	mux.Handle("GET /operations/{id}", c.ops)
	h.failoverRoutes(mux) // POST /failover, failover_handler.go
	h.routes = api.Authorize(c.auth, nil, api.Routes(mux))
	return h
}

// mapErrors registers the status of this package's errors and of the store and
// blob errors that reach the handlers through it.
func mapErrors() {
	_ = api.ErrorStatus{ErrInvalid, http.StatusBadRequest}
	_ = api.ErrorStatus{ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{ErrConflict, http.StatusConflict}
	_ = api.ErrorStatus{ErrUnreachable, http.StatusUnprocessableEntity}
	_ = api.ErrorStatus{ErrCorrupt, http.StatusUnprocessableEntity}
	_ = api.ErrorStatus{ErrClosed, http.StatusServiceUnavailable}
	_ = api.ErrorStatus{meta.ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{meta.ErrInvalid, http.StatusBadRequest}
	_ = api.ErrorStatus{meta.ErrConflict, http.StatusConflict}
	_ = api.ErrorStatus{meta.ErrClosed, http.StatusServiceUnavailable}
	_ = api.ErrorStatus{blob.ErrNotFound, http.StatusNotFound}
	_ = api.ErrorStatus{blob.ErrInvalidKey, http.StatusBadRequest}
	_ = api.ErrorStatus{blob.ErrExists, http.StatusConflict}
	_ = api.ErrorStatus{blob.ErrClosed, http.StatusServiceUnavailable}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(api.WithLogger(r.Context(), h.cfg.logger))
	h.routes.ServeHTTP(w, r)
}

func fail(w http.ResponseWriter, r *http.Request, err error) { api.WriteError(w, r, err) }

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
func (h *handler) listTargets(w http.ResponseWriter, r *http.Request) {
	ts, err := h.svc.List(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(ts, ""))
}

// POST /targets → 201 meta.Target.
func (h *handler) createTarget(w http.ResponseWriter, r *http.Request) {
	verify, err := api.QueryBool(r, "verify")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req TargetRequest
	if err := api.Decode(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	cfg, secret, err := req.config()
	if err != nil {
		fail(w, r, err)
		return
	}
	spec := TargetSpec{Config: cfg, Verify: verify || req.Verify}
	if req.Name == nil {
		fail(w, r, api.FieldErrorf("name", "is required"))
		return
	}
	spec.Name = *req.Name
	switch {
	case req.Kind != nil:
		spec.Kind = *req.Kind
	case cfg["base_url"] != "":
		spec.Kind = KindHTTP
	default:
		fail(w, r, api.FieldErrorf("kind", "is required: file, s3 or http"))
		return
	}
	if secret != nil {
		spec.Secret = *secret
	}
	if err := secretFits(spec.Kind, &req); err != nil {
		fail(w, r, err)
		return
	}
	if req.Enabled != nil {
		spec.Disabled = !*req.Enabled
	}
	t, err := h.svc.Register(r.Context(), spec)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", api.Location(r, "/targets/"+t.ID))
	api.WriteJSON(w, http.StatusCreated, t)
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
func (h *handler) getTarget(w http.ResponseWriter, r *http.Request) {
	id, err := targetID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	t, err := h.svc.Get(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, t)
}

// PATCH /targets/{id} → 200 meta.Target.
func (h *handler) updateTarget(w http.ResponseWriter, r *http.Request) {
	id, err := targetID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	verify, err := api.QueryBool(r, "verify")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req TargetRequest
	if err := api.Decode(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	cfg, secret, err := req.config()
	if err != nil {
		fail(w, r, err)
		return
	}
	cur, err := h.svc.Get(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	if req.Kind != nil && *req.Kind != cur.Kind {
		fail(w, r, api.FieldErrorf("kind", "cannot change; remove the target and register a new one"))
		return
	}
	if err := secretFits(cur.Kind, &req); err != nil {
		fail(w, r, err)
		return
	}
	t, err := h.svc.Update(r.Context(), id, TargetPatch{Name: req.Name, Enabled: req.Enabled, Config: cfg, Secret: secret, Verify: verify || req.Verify})
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, t)
}

// DELETE /targets/{id} → 204.
func (h *handler) deleteTarget(w http.ResponseWriter, r *http.Request) {
	id, err := targetID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := h.svc.Remove(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /targets/{id}/check → 200 CheckResult.
func (h *handler) check(w http.ResponseWriter, r *http.Request) {
	id, err := targetID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	res, err := h.svc.Check(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, res)
}

// ReplicateRequest is the body of POST /replicate.
type ReplicateRequest struct {
	SnapshotID    string `json:"snapshot_id"`
	TargetID      string `json:"target_id,omitempty"` // empty: every enabled target
	VerifyContent bool   `json:"verify_content,omitempty"`
}

// POST /replicate → 202 operation, or with ?wait=true 200 Page[Result].
func (h *handler) replicate(w http.ResponseWriter, r *http.Request) {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req ReplicateRequest
	if err := api.Decode(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	if err := api.CheckID("snapshot_id", req.SnapshotID, meta.ValidID); err != nil {
		fail(w, r, err)
		return
	}
	if req.TargetID != "" {
		if err := api.CheckID("target_id", req.TargetID, meta.ValidID); err != nil {
			fail(w, r, err)
			return
		}
		if _, err := h.svc.Get(r.Context(), req.TargetID); err != nil {
			fail(w, r, err)
			return
		}
	}
	if _, err := h.svc.store.GetSnapshot(r.Context(), req.SnapshotID); err != nil {
		fail(w, r, storeErr(err))
		return
	}
	opts := ReplicateOptions{TargetID: req.TargetID, VerifyContent: req.VerifyContent}
	run := func(ctx context.Context, _ func(any)) (any, error) {
		res, err := h.svc.Replicate(ctx, req.SnapshotID, opts)
		if err != nil && res != nil {
			// Some targets failed: the request was fine, the places were not.
			return nil, &api.Error{Status: http.StatusBadGateway, Detail: err.Error(), Err: err}
		}
		if err != nil {
			return nil, err
		}
		return api.NewPage(res, ""), nil
	}
	if wait {
		res, err := run(r.Context(), nil)
		if err != nil {
			fail(w, r, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
		return
	}
	op, err := h.cfg.ops.Start(r.Context(), "replicate", run)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.Accepted(w, r, op)
}

// GET /status → 200 Page[Status].
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.Status(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(st, ""))
}

var (
	eventKinds    = []string{meta.EventSnapshot, meta.EventJournal, meta.EventCheck}
	eventStatuses = []string{meta.EventOK, meta.EventFailed}
)

// GET /events → 200 Page[meta.ReplicationEvent], newest first.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	p, err := api.ParsePage(r)
	if err != nil {
		fail(w, r, err)
		return
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
	if err != nil {
		fail(w, r, err)
		return
	}
	evs, next, err := h.svc.store.ListReplicationEvents(r.Context(), f)
	if err != nil {
		if errors.Is(err, meta.ErrInvalid) { // a cursor the store does not accept
			err = api.FieldErrorf("cursor", "must be a next_cursor value from a previous page")
		}
		fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(evs, next))
}
