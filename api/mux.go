package api

import (
	"log/slog"
	"net/http"
)

// Options configure every graphvault handler (backup, recovery, replication,
// monitoring). The zero value serves everything to everyone, with 1 MiB bodies,
// the package's logger and operations of the handler's own.
type Options struct {
	// Authorizer is asked before any work; nil allows everything. See BearerToken.
	Authorizer Authorizer
	// Operations runs long requests, so that several handlers share one registry
	// and the host can Close it on shutdown. Nil: the handler keeps its own, whose
	// operations run to completion.
	Operations *Operations
	// Logger logs server-side failures. Nil: the service's logger.
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies (default 1 MiB); larger ones are 413.
	MaxBodyBytes int64
}

// WithDefaults returns o with its zero fields filled in: log for the logger
// (slog.Default() if nil too), a new registry for operations, DefaultMaxBodyBytes.
func (o Options) WithDefaults(log *slog.Logger) Options {
	if o.Logger == nil {
		o.Logger = log
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Operations == nil {
		o.Operations = NewOperations(WithOperationsLogger(o.Logger))
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return o
}

// HandlerFunc is a route's handler: it writes a successful answer itself and
// returns an error for anything else, which the [Mux] answers as problem+json.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Mux is the router every graphvault handler is built on: a private ServeMux with
// method and path patterns, problem+json for unknown paths and methods, an
// authorizer asked with each route's scope, and one error table.
type Mux struct {
	opts   Options
	errs   ErrorMap
	mux    *http.ServeMux
	scopes map[string]Scope // by pattern
	routes http.Handler
}

// NewMux returns an empty Mux whose routes answer errors through errs. opts
// should have had WithDefaults applied.
func NewMux(opts Options, errs ErrorMap) *Mux {
	m := &Mux{opts: opts, errs: errs, mux: http.NewServeMux(), scopes: map[string]Scope{}}
	m.routes = Routes(m.mux)
	return m
}

// Handle registers h for pattern ("GET /graphs/{id}") with the scope the
// authorizer is asked for.
func (m *Mux) Handle(pattern string, scope Scope, h HandlerFunc) {
	m.scopes[pattern] = scope
	m.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	}))
}

// HandleHTTP registers a plain http.Handler, such as an [Operations] registry.
func (m *Mux) HandleHTTP(pattern string, scope Scope, h http.Handler) {
	m.scopes[pattern] = scope
	m.mux.Handle(pattern, h)
}

// Options returns the options the Mux was made with.
func (m *Mux) Options() Options { return m.opts }

// ServeHTTP authorizes r with its route's scope and serves it.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := WithErrorMap(WithLogger(r.Context(), m.opts.Logger), m.errs)
	r = r.WithContext(ctx)
	if auth := m.opts.Authorizer; auth != nil {
		scope := MethodScope(r)
		if _, pattern := m.mux.Handler(r); pattern != "" {
			if s, ok := m.scopes[pattern]; ok {
				scope = s
			}
		}
		if err := auth(r, scope); err != nil {
			WriteError(w, r, err)
			return
		}
	}
	m.routes.ServeHTTP(w, r)
}
