package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var (
	errTeapot  = errors.New("teapot")
	errHidden  = errors.New("secret internal detail")
	errGateway = errors.New("upstream down")
)

type statusErr struct{}

func (statusErr) Error() string   { return "custom status" }
func (statusErr) HTTPStatus() int { return http.StatusTooManyRequests }

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ContentTypeProblem {
		t.Fatalf("Content-Type = %q, want %q", ct, ContentTypeProblem)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem does not decode: %v: %s", err, rec.Body)
	}
	return p
}

func TestWriteError(t *testing.T) {
	errs := ErrorMap{
		{errTeapot, http.StatusTeapot},
		{errGateway, http.StatusBadGateway},
		{errGateway, http.StatusBadRequest}, // shadowed: the first entry that matches decides
		{ErrForbidden, http.StatusNotFound}, // ignored: the error's own status wins
	}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string // substring
		wantLogged bool
	}{
		{"mapped sentinel", fmt.Errorf("wrapped: %w", errTeapot), http.StatusTeapot, "wrapped: teapot", false},
		{"mapped 5xx is withheld", errGateway, http.StatusBadGateway, "internal error", true},
		{"unknown is 500 and withheld", errHidden, http.StatusInternalServerError, "internal error", true},
		{"status error", fmt.Errorf("x: %w", Errorf(http.StatusConflict, "busy %d", 7)), http.StatusConflict, "busy 7", false},
		{"status error 5xx with cause", &Error{Status: 503, Detail: "try later", Err: errHidden}, 503, "try later", true},
		{"status interface", statusErr{}, http.StatusTooManyRequests, "custom status", false},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "did not finish in time", false},
		{"canceled", context.Canceled, http.StatusServiceUnavailable, "cancelled", false},
		{"unauthorized", ErrUnauthorized, http.StatusUnauthorized, "credentials", false},
		{"forbidden", ErrForbidden, http.StatusForbidden, "forbidden", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			l := slog.New(slog.NewTextHandler(&logs, nil))
			r := httptest.NewRequest("GET", "/api/x/things/1?y=2", nil)
			r = r.WithContext(WithErrorMap(WithLogger(r.Context(), l), errs))
			rec := httptest.NewRecorder()
			WriteError(rec, r, tt.err)
			p := decodeProblem(t, rec)
			if rec.Code != tt.wantStatus || p.Status != tt.wantStatus {
				t.Fatalf("status = %d (body %d), want %d", rec.Code, p.Status, tt.wantStatus)
			}
			if !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
			if strings.Contains(rec.Body.String(), errHidden.Error()) {
				t.Errorf("body leaks the internal error: %s", rec.Body)
			}
			if got := strings.Contains(logs.String(), "request failed"); got != tt.wantLogged {
				t.Errorf("logged = %v, want %v (%s)", got, tt.wantLogged, logs.String())
			}
			if p.Instance != "/api/x/things/1" || p.Type != "about:blank" || p.Title != http.StatusText(tt.wantStatus) {
				t.Errorf("problem = %+v", p)
			}
			if got := rec.Header().Get("WWW-Authenticate") != ""; got != (tt.wantStatus == 401) {
				t.Errorf("WWW-Authenticate present = %v for status %d", got, tt.wantStatus)
			}
		})
	}
}

func TestErrorMapsPerRequest(t *testing.T) {
	errShared := errors.New("shared sentinel")
	err := fmt.Errorf("wrapped: %w", errShared)
	tests := []struct {
		name string
		errs ErrorMap
		want int
	}{
		{"conflict table", ErrorMap{{errShared, http.StatusConflict}}, http.StatusConflict},
		{"not-found table", ErrorMap{{errTeapot, http.StatusTeapot}, {errShared, http.StatusNotFound}}, http.StatusNotFound},
		{"no table", nil, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			r = r.WithContext(WithErrorMap(WithLogger(r.Context(), slog.New(slog.DiscardHandler)), tt.errs))
			rec := httptest.NewRecorder()
			WriteError(rec, r, err)
			if p := decodeProblem(t, rec); rec.Code != tt.want || p.Status != tt.want {
				t.Fatalf("WriteError status = %d (body %d), want %d", rec.Code, p.Status, tt.want)
			}
			if got := StatusOf(r.Context(), err); got != tt.want {
				t.Errorf("StatusOf = %d, want %d", got, tt.want)
			}
			if got := tt.errs.StatusOf(err); got != tt.want {
				t.Errorf("ErrorMap.StatusOf = %d, want %d", got, tt.want)
			}
			p, withheld := ProblemOf(tt.errs, err, "/x")
			if p.Status != tt.want || withheld != (tt.want >= 500) || p.Instance != "/x" {
				t.Errorf("ProblemOf = %+v, withheld %v; want status %d", p, withheld, tt.want)
			}
		})
	}
}

func TestWriteProblemAndJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteProblem(rec, httptest.NewRequest("GET", "/a", nil), http.StatusNotFound, "no such thing")
	p := decodeProblem(t, rec)
	if got, want := p, (Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: "no such thing", Instance: "/a"}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	tests := []struct {
		name     string
		v        any
		status   int
		wantCode int
		wantBody string
		wantCT   string
	}{
		{"object", map[string]int{"a": 1}, 201, 201, "{\"a\":1}\n", ContentTypeJSON},
		{"nil", nil, 204, 204, "", ""},
		{"unencodable", make(chan int), 200, 500, "response encoding failed", ContentTypeProblem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteJSON(rec, tt.status, tt.v)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) || rec.Header().Get("Content-Type") != tt.wantCT {
				t.Fatalf("got %d %q %q, want %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body, tt.wantCode, tt.wantCT, tt.wantBody)
			}
		})
	}
}

func TestLoggerDefault(t *testing.T) {
	if got := Logger(context.Background()); got != slog.Default() {
		t.Fatalf("got %v, want slog.Default()", got)
	}
}
