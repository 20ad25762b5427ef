package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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

// statusError is a sentinel that carries its own status.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string   { return e.msg }
func (e *statusError) HTTPStatus() int { return e.status }

// Sentinels that authorizers return: 401 (with a WWW-Authenticate challenge) and
// 403.
var (
	ErrUnauthorized error = &statusError{http.StatusUnauthorized, "missing or invalid credentials"}
	ErrForbidden    error = &statusError{http.StatusForbidden, "forbidden"}
)

// ErrorStatus says that errors matching Err (errors.Is) answer with Status.
type ErrorStatus struct {
	Err    error
	Status int
}

// ErrorMap is a handler's table of errors and their statuses; the first entry
// that matches decides.
type ErrorMap []ErrorStatus

// StatusOf returns the status err answers with: the status of an error in its
// chain with an HTTPStatus() int method, else of the first entry of m it matches,
// else 507 for full storage and 503 for storage that refuses writes (an
// operating-system error in its chain: ENOSPC, EDQUOT; EROFS, EACCES, EPERM), else
// 504 for a deadline, 503 for a cancellation and 500 for anything else.
func (m ErrorMap) StatusOf(err error) int {
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		if s := hs.HTTPStatus(); s >= 400 && s <= 599 {
			return s
		}
	}
	for _, e := range m {
		if errors.Is(err, e.Err) {
			return e.Status
		}
	}
	if s, _, ok := storageFailure(err); ok {
		return s
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

type errorMapKey struct{}

// WithErrorMap returns ctx carrying m, the table WriteError maps errors with. A
// [Mux] puts its table in every request's context.
func WithErrorMap(ctx context.Context, m ErrorMap) context.Context {
	return context.WithValue(ctx, errorMapKey{}, m)
}

func errorMapOf(ctx context.Context) ErrorMap {
	if ctx == nil {
		return nil
	}
	m, _ := ctx.Value(errorMapKey{}).(ErrorMap)
	return m
}

// StatusOf returns the status WriteError answers err with for a request whose
// context carries m (see [WithErrorMap]).
func StatusOf(ctx context.Context, err error) int { return errorMapOf(ctx).StatusOf(err) }

// ProblemOf returns the problem WriteError would answer err with, and whether the
// error's text was withheld (a 5xx answer) so that the caller should log it.
// instance may be empty.
func ProblemOf(m ErrorMap, err error, instance string) (p Problem, withheld bool) {
	status := m.StatusOf(err)
	p = Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Instance: instance}
	var he *Error
	switch {
	case errors.As(err, &he) && he.Status == status:
		p.Detail, p.Errors = he.Detail, he.Errors
		withheld = status >= 500 && he.Err != nil
	case status == http.StatusGatewayTimeout:
		p.Detail = "the operation did not finish in time"
	case storageDetail(err, status) != "":
		// The cause, without the error's text, which names files.
		p.Detail = storageDetail(err, status)
		withheld = true
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
	p, withheld := ProblemOf(errorMapOf(r.Context()), err, instance(r))
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
