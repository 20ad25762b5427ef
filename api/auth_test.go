package api

import (
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
			RequireToken(tt.token, ok).ServeHTTP(rec, r)
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
		{"forbidden", func(*http.Request) error { return ErrForbidden }, 403},
		{"allowed", func(*http.Request) error { return nil }, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Authorize(tt.auth, ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}
