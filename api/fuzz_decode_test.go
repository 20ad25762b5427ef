package api

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fuzzRequest has the shapes of the API's request bodies: strings, enums, maps,
// lists, numbers, booleans, a nested object and a type with its own UnmarshalJSON.
type fuzzRequest struct {
	Kind        string            `json:"kind,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Wait        bool              `json:"wait,omitempty"`
	TargetGraph string            `json:"target_graph,omitempty"`
	NodeIDs     []string          `json:"node_ids,omitempty"`
	Hops        int               `json:"hops,omitempty"`
	KeepLast    int               `json:"keep_last,omitempty"`
	KeepWithin  Duration          `json:"keep_within,omitempty"`
	Weight      float64           `json:"weight,omitempty"`
	Position    uint64            `json:"position,omitempty"`
	Target      *struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"target,omitempty"`
}

// FuzzDecode: Decode never panics on any body and Content-Type, and every failure
// is an *Error with a 4xx status.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"full","labels":{"a":"b"}}`), ContentTypeJSON, int16(0))
	f.Add([]byte(`{"keep_within":"72h","hops":2}`), "application/json; charset=utf-8", int16(16))
	f.Add([]byte(`{"unknown":1}`), "text/plain", int16(-1))
	f.Fuzz(func(t *testing.T, body []byte, contentType string, maxBytes int16) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		var v fuzzRequest
		err := Decode(httptest.NewRecorder(), r, &v, int64(maxBytes))
		if err == nil {
			if len(bytes.TrimSpace(body)) == 0 {
				t.Fatal("an empty body decoded")
			}
			return
		}
		var he *Error
		if !errors.As(err, &he) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if he.Status < 400 || he.Status > 499 {
			t.Fatalf("status %d for %v, want 4xx", he.Status, err)
		}
	})
}
