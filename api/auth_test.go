package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name   string
		token  string
		method string
		header string
		want   int
	}{
		{"get needs nothing", "s3cret", "GET", "", 204},
		{"head needs nothing", "s3cret", "HEAD", "", 204},
		{"post without token", "s3cret", "POST", "", 401},
		{"post with token", "s3cret", "POST", "Bearer s3cret", 204},
		{"scheme is case-insensitive", "s3cret", "PUT", "bearer s3cret", 204},
		{"wrong token", "s3cret", "DELETE", "Bearer s3cre", 401},
		{"longer token", "s3cret", "PATCH", "Bearer s3cret2", 401},
		{"basic scheme", "s3cret", "POST", "Basic s3cret", 401},
		{"no scheme", "s3cret", "POST", "s3cret", 401},
		{"empty configured token rejects", "", "POST", "Bearer ", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/x", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			Authorize(BearerToken(Tokens{Write: tt.token}), nil, ok).ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 401 {
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate challenge")
				}
				decodeProblem(t, rec)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name string
		auth Authorizer
		want int
	}{
		{"nil allows", nil, 204},
		{"forbidden", func(*http.Request, Scope) error { return ErrForbidden }, 403},
		{"allowed", func(*http.Request, Scope) error { return nil }, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Authorize(tt.auth, nil, ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

func TestBearerTokenScopes(t *testing.T) {
	auth := BearerToken(Tokens{Write: "w", Read: "r"})
	tests := []struct {
		scope  Scope
		header string
		want   error
	}{
		{ScopeStatus, "", nil},
		{ScopeRead, "", ErrUnauthorized},
		{ScopeRead, "Bearer r", nil},
		{ScopeRead, "Bearer w", nil},
		{ScopeRead, "Bearer x", ErrUnauthorized},
		{ScopeWrite, "Bearer r", ErrForbidden},
		{ScopeWrite, "Bearer w", nil},
		{ScopeWrite, "", ErrUnauthorized},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		if got := auth(r, tt.scope); got != tt.want {
			t.Errorf("%v with %q: got %v, want %v", tt.scope, tt.header, got, tt.want)
		}
	}
	open := BearerToken(Tokens{Write: "w", OpenContent: true})
	if err := open(httptest.NewRequest("GET", "/", nil), ScopeRead); err != nil {
		t.Errorf("OpenContent: content read refused: %v", err)
	}
	closed := BearerToken(Tokens{Write: "w", Read: "r", CloseStatus: true})
	for header, want := range map[string]error{"": ErrUnauthorized, "Bearer x": ErrUnauthorized, "Bearer r": nil, "Bearer w": nil} {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if got := closed(r, ScopeStatus); got != want {
			t.Errorf("CloseStatus: status with %q: got %v, want %v", header, got, want)
		}
	}
}

func TestMuxScopesAndErrors(t *testing.T) {
	errGone := errors.New("gone")
	var seen []Scope
	auth := func(r *http.Request, s Scope) error { seen = append(seen, s); return nil }
	m := NewMux(Options{Authorizer: auth}.WithDefaults(nil), ErrorMap{{errGone, http.StatusGone}})
	m.Handle("GET /content", ScopeRead, func(w http.ResponseWriter, r *http.Request) error { return errGone })
	m.Handle("POST /change", ScopeWrite, func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]int{"ok": 1})
		return nil
	})
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/content", nil))
	if rec.Code != http.StatusGone || rec.Header().Get("Content-Type") != ContentTypeProblem {
		t.Fatalf("GET /content = %d %s, want 410 problem", rec.Code, rec.Header().Get("Content-Type"))
	}
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("POST", "/change", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /change = %d", rec.Code)
	}
	if len(seen) != 2 || seen[0] != ScopeRead || seen[1] != ScopeWrite {
		t.Fatalf("scopes asked = %v, want [read write]", seen)
	}
	// Another mux's table does not leak into this one.
	other := NewMux(Options{}.WithDefaults(nil), nil)
	other.Handle("GET /x", ScopeStatus, func(w http.ResponseWriter, r *http.Request) error { return errGone })
	rec = httptest.NewRecorder()
	other.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("unmapped error = %d, want 500", rec.Code)
	}
}
