package httpx

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Authorizer decides whether a request may proceed. It returns nil to allow it, or
// an error WriteError answers with: ErrUnauthorized (401) when credentials are
// missing or wrong, ErrForbidden (403) when they do not allow the request. Handlers
// call it before any other work; it may be called concurrently.
type Authorizer func(*http.Request) error

// Mutating reports whether the method changes state: POST, PUT, PATCH or DELETE.
func Mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// BearerToken returns an Authorizer that lets reads through and requires
// "Authorization: Bearer <token>" on mutating methods, compared in constant time.
// An empty token rejects every mutating request.
func BearerToken(token string) Authorizer {
	want := []byte(token)
	return func(r *http.Request) error {
		if !Mutating(r.Method) {
			return nil
		}
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || len(want) == 0 {
			return ErrUnauthorized
		}
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			return ErrUnauthorized
		}
		return nil
	}
}

// RequireToken wraps next so that mutating requests need the bearer token; others
// pass. A rejected request is answered 401 problem+json with a WWW-Authenticate
// challenge.
func RequireToken(token string, next http.Handler) http.Handler {
	return Authorize(BearerToken(token), next)
}

// Authorize wraps next so that every request first passes auth. A nil auth allows
// everything.
func Authorize(auth Authorizer, next http.Handler) http.Handler {
	if auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth(r); err != nil {
			WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
