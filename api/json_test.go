package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type decodeTarget struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Wait  Duration `json:"wait"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		optional    bool
		wantStatus  int    // 0: success
		wantDetail  string // substring
		wantField   string
		wantPresent bool
		want        decodeTarget
	}{
		{name: "ok", body: `{"name":"a","count":2,"tags":["x"],"wait":"90s"}`, contentType: "application/json", wantPresent: true,
			want: decodeTarget{Name: "a", Count: 2, Tags: []string{"x"}, Wait: Duration(90 * time.Second)}},
		{name: "charset ok", body: `{"name":"a"}`, contentType: "application/json; charset=UTF-8", wantPresent: true, want: decodeTarget{Name: "a"}},
		{name: "trailing space ok", body: "{}\n\n ", contentType: "application/json", wantPresent: true},
		{name: "empty optional", body: "", optional: true},
		{name: "blank optional without content type", body: "  \n", optional: true},
		{name: "empty required", body: "", wantStatus: 400, wantDetail: "body is required"},
		{name: "wrong content type", body: `{}`, contentType: "text/plain", wantStatus: 415, wantDetail: "Content-Type"},
		{name: "missing content type", body: `{}`, wantStatus: 415, wantDetail: "Content-Type"},
		{name: "bad charset", body: `{}`, contentType: "application/json; charset=latin1", wantStatus: 415, wantDetail: "charset"},
		{name: "unknown field", body: `{"name":"a","extra":1}`, contentType: "application/json", wantStatus: 400, wantDetail: `unknown field "extra"`, wantField: "extra"},
		{name: "syntax error", body: "{\n  \"name\": \"a\",\n  oops\n}", contentType: "application/json", wantStatus: 400, wantDetail: "line 3, column 3"},
		{name: "truncated", body: `{"name":`, contentType: "application/json", wantStatus: 400, wantDetail: "unexpected end"},
		{name: "wrong type", body: `{"count":"x"}`, contentType: "application/json", wantStatus: 400, wantDetail: "count", wantField: "count"},
		{name: "wrong top-level type", body: `[1]`, contentType: "application/json", wantStatus: 400, wantDetail: "an object"},
		{name: "two values", body: `{} {}`, contentType: "application/json", wantStatus: 400, wantDetail: "single JSON value"},
		{name: "bad duration", body: `{"wait":"soon"}`, contentType: "application/json", wantStatus: 400, wantDetail: "malformed duration"},
		{name: "numeric duration", body: `{"wait":5}`, contentType: "application/json", wantStatus: 400, wantDetail: "duration must be a string"},
		{name: "too large", body: `{"name":"` + strings.Repeat("x", 200) + `"}`, contentType: "application/json", wantStatus: 413, wantDetail: "larger than 64 bytes"},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: "/chunked"}[chunked], func(t *testing.T) {
				r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
				if chunked {
					r.ContentLength = -1 // size unknown until read
				}
				if tt.contentType != "" {
					r.Header.Set("Content-Type", tt.contentType)
				}
				var got decodeTarget
				var err error
				present := true
				if tt.optional {
					present, err = DecodeOptional(httptest.NewRecorder(), r, &got, 64)
				} else {
					err = Decode(httptest.NewRecorder(), r, &got, 64)
				}
				if tt.wantStatus == 0 {
					if err != nil {
						t.Fatalf("err = %v, want nil", err)
					}
					if present != (tt.wantPresent || !tt.optional) {
						t.Errorf("present = %v", present)
					}
					if got.Name != tt.want.Name || got.Count != tt.want.Count || got.Wait != tt.want.Wait || len(got.Tags) != len(tt.want.Tags) {
						t.Errorf("got %+v, want %+v", got, tt.want)
					}
					return
				}
				if got, want := ErrorMap(nil).StatusOf(err), tt.wantStatus; got != want {
					t.Fatalf("status = %d (%v), want %d", got, err, want)
				}
				p, _ := ProblemOf(nil, err, "")
				if !strings.Contains(p.Detail, tt.wantDetail) {
					t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.wantDetail)
				}
				if tt.wantField != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField) {
					t.Errorf("errors = %+v, want field %q", p.Errors, tt.wantField)
				}
			})
		}
	}
}

func TestDecodeNoBody(t *testing.T) {
	r := httptest.NewRequest("POST", "/x", nil)
	var v decodeTarget
	present, err := DecodeOptional(httptest.NewRecorder(), r, &v, 0)
	if present || err != nil {
		t.Fatalf("got %v, %v; want false, nil", present, err)
	}
	if got := StatusOf(r.Context(), Decode(httptest.NewRecorder(), r, &v, 0)); got != http.StatusBadRequest {
		t.Fatalf("required: status %d, want 400", got)
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := Duration(90 * time.Minute).MarshalJSON()
	if err != nil || string(b) != `"1h30m0s"` {
		t.Fatalf("got %s, %v; want \"1h30m0s\"", b, err)
	}
}

func TestPosition(t *testing.T) {
	body := []byte("ab\ncd\n")
	tests := []struct {
		off       int64
		line, col int
	}{{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {5, 2, 3}, {99, 3, 1}, {-1, 1, 1}}
	for _, tt := range tests {
		if l, c := position(body, tt.off); l != tt.line || c != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, l, c, tt.line, tt.col)
		}
	}
}
