package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// ContentTypeProblem is the media type of a problem answer.
const ContentTypeProblem = "application/problem+json"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// FieldError names one request field at fault.
type FieldError struct {
	Field  string `json:"field"` // dotted JSON path or query parameter name
	Detail string `json:"detail"`
}

// Error is an error that carries the HTTP status it answers with. Handlers return it
// for request problems found before any work; Detail is shown to the client even
// for a 5xx status, Err never is.
type Error struct {
	Status int
	Detail string
	Errors []FieldError
	Err    error // the cause, if any; logged, not shown
}

// Errorf returns an *Error with status and a detail formatted from format and args.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("http %d: %s: %v", e.Status, e.Detail, e.Err)
	}
	return fmt.Sprintf("http %d: %s", e.Status, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus returns e.Status.
func (e *Error) HTTPStatus() int { return e.Status }

// Sentinels that authorizers return. Both are mapped: 401 (with a WWW-Authenticate
// challenge) and 403.
var (
	ErrUnauthorized = errors.New("missing or invalid credentials")
	ErrForbidden    = errors.New("forbidden")
)

type mapping struct {
	target error
	status int
}

var registry = struct {
	sync.RWMutex
	rules []mapping
}{rules: []mapping{{ErrUnauthorized, http.StatusUnauthorized}, {ErrForbidden, http.StatusForbidden}}}

// Map makes WriteError answer errors matching target (errors.Is) with status.
// Rules are tried in the order they were first registered; mapping a target again
// replaces its status. Packages call it when they build their handler; it is safe
// for concurrent use.
func Map(target error, status int) {
	if target == nil || status < 400 || status > 599 {
		panic(fmt.Sprintf("httpx: bad mapping %v → %d", target, status))
	}
	registry.Lock()
	defer registry.Unlock()
	for i, m := range registry.rules {
		if m.target == target {
			registry.rules[i].status = status
			return
		}
	}
	registry.rules = append(registry.rules, mapping{target, status})
}

// StatusOf returns the status WriteError would answer err with.
func StatusOf(err error) int {
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		if s := hs.HTTPStatus(); s >= 400 && s <= 599 {
			return s
		}
	}
	registry.RLock()
	defer registry.RUnlock()
	for _, m := range registry.rules {
		if errors.Is(err, m.target) {
			return m.status
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ProblemOf returns the problem WriteError would answer err with, and whether the
// error's text was withheld (a 5xx answer) so that the caller should log it.
// instance may be empty.
func ProblemOf(err error, instance string) (p Problem, withheld bool) {
	status := StatusOf(err)
	p = Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Instance: instance}
	var he *Error
	switch {
	case errors.As(err, &he) && he.Status == status:
		p.Detail, p.Errors = he.Detail, he.Errors
		withheld = status >= 500 && he.Err != nil
	case status == http.StatusGatewayTimeout:
		p.Detail = "the operation did not finish in time"
	case status == http.StatusServiceUnavailable && errors.Is(err, context.Canceled):
		p.Detail = "the operation was cancelled"
	case status >= 500:
		p.Detail = "internal error"
		withheld = true
	default:
		p.Detail = err.Error()
	}
	return p, withheld
}

// WriteError answers r with the problem err maps to (see the package doc). A
// withheld 5xx error is logged through the request's logger.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p, withheld := ProblemOf(err, instance(r))
	if withheld {
		Logger(r.Context()).LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", p.Status), slog.Any("error", err))
	}
	writeProblem(w, p)
}

// WriteProblem answers r with a problem of the given status and detail.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	writeProblem(w, Problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: detail, Instance: instance(r),
	})
}

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="graphvault"`)
	}
	writeJSON(w, ContentTypeProblem, p.Status, p)
}

// instance is the request's path as the client sent it, before any prefix was
// stripped, without the query.
func instance(r *http.Request) string {
	if r == nil {
		return ""
	}
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
}

type loggerKey struct{}

// WithLogger returns ctx carrying l, the logger WriteError logs 5xx errors through.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger ctx carries, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}
