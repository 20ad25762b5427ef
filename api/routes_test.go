package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]string{"id": r.PathValue("id"), "loc": Location(r, "/ops/1")})
	})
	mux.HandleFunc("POST /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	mux.Handle("/tree/", http.NotFoundHandler()) // a subtree, as a host mounts a handler
	mux.HandleFunc("/tree/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("PUT /objects/{key...}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("GET /objects", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h := Routes(mux)
	mounted := http.StripPrefix("/api/v1", h)
	tests := []struct {
		name      string
		handler   http.Handler
		method    string
		target    string
		want      int
		wantAllow string
		wantBody  string
	}{
		{"match", h, "GET", "/things/a", 200, "", `"id":"a"`},
		{"location at root", h, "GET", "/things/a", 200, "", `"loc":"/ops/1"`},
		{"location under prefix", mounted, "GET", "/api/v1/things/a", 200, "", `"loc":"/api/v1/ops/1"`},
		{"escaped id under prefix", mounted, "GET", "/api/v1/things/a%20b", 200, "", `"loc":"/api/v1/ops/1"`},
		{"other method", h, "POST", "/things/a", 201, "", ""},
		{"unknown path", h, "GET", "/nothing", 404, "", "no such resource"},
		{"wrong method", h, "DELETE", "/things/a", 405, "GET, HEAD, POST", "not allowed"},
		{"dot dot", h, "GET", "/things/../things/a", 400, "", "segments"},
		{"encoded dot dot", h, "GET", "/things/..%2Fx", 400, "", "segments"},
		{"double slash", h, "GET", "/things//a", 400, "", "segments"},
		{"dot", h, "GET", "/things/./a", 400, "", "segments"},
		{"trailing dot dot", h, "POST", "/things/a/..", 400, "", "segments"},
		{"double slash under prefix", mounted, "GET", "/api/v1//things/a", 400, "", "segments"},
		{"dot dot under prefix", mounted, "GET", "/api/v1/x/../things/a", 400, "", "segments"},
		{"subtree", h, "GET", "/tree/x", 204, "", ""},
		{"subtree without its slash", h, "GET", "/tree", 404, "", "no such resource"},
		{"subtree without its slash, other method", h, "DELETE", "/tree", 404, "", "no such resource"},
		{"rest wildcard", h, "PUT", "/objects/a/b", 204, "", ""},
		{"rest wildcard, empty", h, "PUT", "/objects/", 204, "", ""},
		{"rest wildcard without its slash", h, "PUT", "/objects", 405, "GET, HEAD", "not allowed"},
		{"path not UTF-8", h, "GET", "/things/%C3%28", 400, "", "UTF-8"},
		{"query not UTF-8", h, "GET", "/things/a?q=%FF", 400, "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if rec.Code >= 400 {
				decodeProblem(t, rec)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if tt.wantBody != "" && !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s does not contain %s", rec.Body, tt.wantBody)
			}
		})
	}
}
