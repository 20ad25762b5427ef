package api

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestInvalidText: a request whose body, path or query is not valid UTF-8 (or
// whose JSON escapes a lone surrogate, which decoding would turn into U+FFFD)
// answers 400 problem+json, and the handler never runs.
func TestInvalidText(t *testing.T) {
	type body struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	}
	served := 0
	m := NewMux(Options{}.WithDefaults(slog.New(slog.DiscardHandler)), nil)
	m.Handle("POST /things/{id}", ScopeWrite, func(w http.ResponseWriter, r *http.Request) error {
		var b body
		if err := Decode(w, r, &b, 0); err != nil {
			return err
		}
		served++
		WriteJSON(w, http.StatusOK, b)
		return nil
	})
	tests := []struct {
		name       string
		target     string
		body       string
		wantStatus int
		wantDetail string
	}{
		{"valid", "/things/a?x=é", `{"name":"grün \ud83d\ude00 \\ud800","labels":{"k":"\ufffd"}}`, 200, ""},
		{"raw invalid byte in a value", "/things/a", "{\"name\":\"a\xffb\"}", 400, "not valid UTF-8 at line 1, column 11"},
		{"raw invalid byte in a key", "/things/a", "{\"labels\":{\"k\xfe\":\"v\"}}", 400, "not valid UTF-8"},
		{"truncated sequence on line 2", "/things/a", "{\n\"name\":\"\xe2\x82\"}", 400, "line 2, column 9"},
		{"overlong encoding", "/things/a", "{\"name\":\"\xc0\xaf\"}", 400, "not valid UTF-8"},
		{"encoded surrogate", "/things/a", "{\"name\":\"\xed\xa0\x80\"}", 400, "not valid UTF-8"},
		{"lone high surrogate escape", "/things/a", `{"name":"a\ud800"}`, 400, "surrogate"},
		{"lone low surrogate escape", "/things/a", `{"name":"\uDC00b"}`, 400, "surrogate"},
		{"high surrogate then not a low one", "/things/a", `{"labels":{"k":"\ud800\u0041"}}`, 400, "surrogate"},
		{"high surrogate at the end", "/things/a", `{"name":"\ud83d`, 400, "surrogate"},
		{"invalid UTF-8 in the path", "/things/a%FFb", `{"name":"a"}`, 400, "path is not valid UTF-8"},
		{"invalid UTF-8 in a query value", "/things/a?x=%C3%28", `{"name":"a"}`, 400, "x is not valid UTF-8"},
		{"invalid UTF-8 in a query name", "/things/a?%FF=1", `{"name":"a"}`, 400, "not valid UTF-8"},
		{"malformed query", "/things/a?x=%zz", `{"name":"a"}`, 400, "query is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := served
			r := httptest.NewRequest("POST", tt.target, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", ContentTypeJSON)
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == 200 {
				if !bytes.Contains(rec.Body.Bytes(), []byte("grün 😀 \\\\ud800")) {
					t.Errorf("answer %s does not hold the text as sent", rec.Body)
				}
				return
			}
			if p := decodeProblem(t, rec); !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
			if served != before {
				t.Error("the handler ran")
			}
		})
	}
}

// TestCheckJSONTextLeavesTheTargetAlone: Decode refuses invalid text before it
// decodes anything into the target.
func TestCheckJSONTextLeavesTheTargetAlone(t *testing.T) {
	v := struct {
		Name string `json:"name"`
		Note string `json:"note"`
	}{Name: "before", Note: "before"}
	r := httptest.NewRequest("POST", "/", strings.NewReader("{\"name\":\"after\",\"note\":\"\xff\"}"))
	r.Header.Set("Content-Type", ContentTypeJSON)
	err := Decode(httptest.NewRecorder(), r, &v, 0)
	if got := ErrorMap(nil).StatusOf(err); got != http.StatusBadRequest {
		t.Fatalf("status %d (%v), want 400", got, err)
	}
	if v.Name != "before" || v.Note != "before" {
		t.Errorf("the target changed: %+v", v)
	}
}

// TestStorageErrors: operating-system errors that say the storage cannot keep
// anything answer 507 (full) and 503 (read-only, refused), with a detail naming
// the cause and not the file; a handler's own table still decides first.
func TestStorageErrors(t *testing.T) {
	errMapped := fmt.Errorf("mapped")
	errs := ErrorMap{{errMapped, http.StatusConflict}}
	secret := "/srv/data/bucket/data/ab/secret-object"
	pathErr := func(op string, errno syscall.Errno) error {
		return fmt.Errorf("snapshot graph1: write segment: %w", &fs.PathError{Op: op, Path: secret, Err: errno})
	}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
	}{
		{"disk full", pathErr("write", syscall.ENOSPC), http.StatusInsufficientStorage, "the storage is full"},
		{"quota", pathErr("write", syscall.EDQUOT), http.StatusInsufficientStorage, "quota"},
		{"read-only file system", pathErr("open", syscall.EROFS), http.StatusServiceUnavailable, "read-only"},
		{"permission denied", pathErr("open", syscall.EACCES), http.StatusServiceUnavailable, "permission denied"},
		{"not permitted", pathErr("rename", syscall.EPERM), http.StatusServiceUnavailable, "not permitted"},
		{"link error", fmt.Errorf("commit: %w", &os.LinkError{Op: "rename", Old: secret, New: secret + "2", Err: syscall.ENOSPC}), http.StatusInsufficientStorage, "full"},
		{"bare errno", syscall.EROFS, http.StatusServiceUnavailable, "read-only"},
		{"the handler's table first", fmt.Errorf("%w: %w", errMapped, syscall.ENOSPC), http.StatusConflict, "mapped"},
		{"an explicit status first", &Error{Status: http.StatusBadRequest, Detail: "bad", Err: syscall.EACCES}, http.StatusBadRequest, "bad"},
		{"other errnos stay 500", pathErr("read", syscall.EIO), http.StatusInternalServerError, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := httptest.NewRequest("POST", "/graphs/graph1/snapshots", nil)
			r = r.WithContext(WithErrorMap(WithLogger(r.Context(), slog.New(slog.NewTextHandler(&logs, nil))), errs))
			rec := httptest.NewRecorder()
			WriteError(rec, r, tt.err)
			p := decodeProblem(t, rec)
			if rec.Code != tt.wantStatus || p.Status != tt.wantStatus {
				t.Fatalf("status = %d (body %d), want %d: %s", rec.Code, p.Status, tt.wantStatus, rec.Body)
			}
			if !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
			if strings.Contains(rec.Body.String(), "/srv/") {
				t.Errorf("the answer names a path: %s", rec.Body)
			}
			if tt.wantStatus >= 500 && strings.Contains(tt.err.Error(), secret) && !strings.Contains(logs.String(), secret) {
				t.Errorf("the log does not have the whole error: %s", logs.String())
			}
			op, _ := ProblemOf(errs, tt.err, "")
			if op.Status != p.Status || op.Detail != p.Detail {
				t.Errorf("ProblemOf (an operation's result) = %+v, the answer %+v", op, p)
			}
		})
	}
}
