package graphvault

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMutationLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	m := newMutationLimiter(2, 3)
	m.now = func() time.Time { return now }
	h := m.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	do := func(method, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/x", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := do("POST", "10.0.0.1:5000"); w.Code != http.StatusNoContent {
			t.Fatalf("call %d within the burst: %d", i, w.Code)
		}
	}
	w := do("POST", "10.0.0.1:5001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("over the burst: %d %v", w.Code, w.Header())
	}
	if w := do("POST", "10.0.0.2:5000"); w.Code != http.StatusNoContent {
		t.Fatalf("another address is limited separately: %d", w.Code)
	}
	for range 50 {
		if w := do("GET", "10.0.0.1:5000"); w.Code != http.StatusNoContent {
			t.Fatalf("reads are never limited: %d", w.Code)
		}
	}
	now = now.Add(time.Second) // two more tokens
	if w := do("DELETE", "10.0.0.1:5000"); w.Code != http.StatusNoContent {
		t.Fatalf("after refill: %d", w.Code)
	}
	now = now.Add(time.Hour)
	do("POST", "10.0.0.3:1")
	if _, ok := m.clients["10.0.0.1"]; ok {
		t.Fatal("an idle client was not forgotten")
	}
}
