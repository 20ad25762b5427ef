package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Scope is what a route gives access to; the authorizer decides by it.
type Scope int

const (
	// ScopeStatus is the state of the system without graph content: health,
	// metrics, stats, lists of snapshots and targets, the dashboard. Open by
	// default.
	ScopeStatus Scope = iota
	// ScopeRead is graph content: diffs, manifests, restore plans, operation
	// results.
	ScopeRead
	// ScopeWrite is every change: POST, PUT, PATCH and DELETE.
	ScopeWrite
)

// String returns "status", "read" or "write".
func (s Scope) String() string {
	switch s {
	case ScopeStatus:
		return "status"
	case ScopeRead:
		return "read"
	}
	return "write"
}

// Authorizer decides whether a request may reach a route of the given scope. It
// returns nil to allow it, or an error the handler answers with:
// [ErrUnauthorized] (401, with a challenge) when credentials are missing or wrong,
// [ErrForbidden] (403) when they do not allow the scope, or any error with an
// HTTPStatus() int method. Handlers call it before any other work; it may be called
// concurrently.
type Authorizer func(r *http.Request, scope Scope) error

// Mutating reports whether the method changes state: POST, PUT, PATCH or DELETE.
func Mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// Tokens are the bearer tokens BearerToken accepts. Write allows every scope;
// Read, if set, allows [ScopeRead] and [ScopeStatus] only.
type Tokens struct {
	Write string
	Read  string
	// OpenContent lets graph content ([ScopeRead]) through without a token, as
	// status is. Off by default: diffs and manifests show every property.
	OpenContent bool
	// CloseStatus makes status routes ([ScopeStatus]: health, metrics, lists,
	// the dashboard) need the read or the write token too. Off by default.
	CloseStatus bool
}

// BearerToken returns an Authorizer that checks "Authorization: Bearer <token>",
// compared in constant time: status routes are open (unless CloseStatus), content
// routes need the read or the write token, changes need the write token. An empty
// write token rejects every change.
func BearerToken(t Tokens) Authorizer {
	write, read := []byte(t.Write), []byte(t.Read)
	return func(r *http.Request, scope Scope) error {
		if scope == ScopeStatus && !t.CloseStatus || scope == ScopeRead && t.OpenContent {
			return nil
		}
		got, ok := bearer(r)
		switch {
		case !ok:
			return ErrUnauthorized
		case len(write) > 0 && subtle.ConstantTimeCompare(got, write) == 1:
			return nil
		case len(read) > 0 && subtle.ConstantTimeCompare(got, read) == 1:
			if scope == ScopeRead || scope == ScopeStatus {
				return nil
			}
			return ErrForbidden
		}
		return ErrUnauthorized
	}
}

func bearer(r *http.Request) ([]byte, bool) {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	got = strings.TrimSpace(got)
	return []byte(got), got != ""
}

// Authorize wraps next so that every request first passes auth with the scope
// scopeOf gives it (nil: [ScopeWrite] for mutating methods, else [ScopeStatus]).
// A nil auth allows everything.
func Authorize(auth Authorizer, scopeOf func(*http.Request) Scope, next http.Handler) http.Handler {
	if auth == nil {
		return next
	}
	if scopeOf == nil {
		scopeOf = MethodScope
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth(r, scopeOf(r)); err != nil {
			WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// MethodScope is [ScopeWrite] for a mutating method and [ScopeStatus] otherwise.
func MethodScope(r *http.Request) Scope {
	if Mutating(r.Method) {
		return ScopeWrite
	}
	return ScopeStatus
}
