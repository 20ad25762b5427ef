package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestOperationsRun checks the two answers of Run: 200 with the result when the
// request waits, 202 with the operation and its Location otherwise, and that an
// error (of fn, or of a closed registry) is returned with nothing written.
func TestOperationsRun(t *testing.T) {
	ops, _ := newTestOps(t)
	boom := errors.New("boom")
	run := func(wait bool, fn OperationFunc) (*httptest.ResponseRecorder, error) {
		rec := httptest.NewRecorder()
		err := ops.Run(rec, httptest.NewRequest("POST", "/jobs", nil), wait, "job", fn)
		return rec, err
	}
	ok := func(context.Context, func(any)) (any, error) { return map[string]int{"n": 7}, nil }

	rec, err := run(true, ok)
	if err != nil || rec.Code != http.StatusOK || rec.Body.String() != "{\"n\":7}\n" {
		t.Errorf("wait: %v, %d %q; want 200 with the result", err, rec.Code, rec.Body)
	}
	rec, err = run(false, ok)
	var st OperationStatus
	if err != nil || rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &st) != nil ||
		st.Kind != "job" || rec.Header().Get("Location") != "/operations/"+st.ID {
		t.Errorf("start: %v, %d %q Location %q; want 202 with the operation", err, rec.Code, rec.Body, rec.Header().Get("Location"))
	}
	rec, err = run(true, func(context.Context, func(any)) (any, error) { return nil, boom })
	if !errors.Is(err, boom) || rec.Body.Len() != 0 {
		t.Errorf("failing wait: %v, body %q; want boom and nothing written", err, rec.Body)
	}
	if err := ops.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err = run(false, ok)
	if !errors.Is(err, ErrOperationsClosed) || rec.Body.Len() != 0 {
		t.Errorf("after Close: %v, body %q; want ErrOperationsClosed and nothing written", err, rec.Body)
	}
}
