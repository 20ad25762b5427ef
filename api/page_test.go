package api

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestParsePage(t *testing.T) {
	tests := []struct {
		query     string
		want      PageRequest
		wantField string // "": no error
	}{
		{"", PageRequest{Limit: 50}, ""},
		{"limit=1", PageRequest{Limit: 1}, ""},
		{"limit=1000&cursor=AZ09-_.~=", PageRequest{Limit: 1000, Cursor: "AZ09-_.~="}, ""},
		{"limit=0", PageRequest{}, "limit"},
		{"limit=1001", PageRequest{}, "limit"},
		{"limit=-3", PageRequest{}, "limit"},
		{"limit=ten", PageRequest{}, "limit"},
		{"limit=1&limit=2", PageRequest{}, "limit"},
		{"cursor=", PageRequest{}, "cursor"},
		{"cursor=a%20b", PageRequest{}, "cursor"},
		{"cursor=" + strings.Repeat("a", 513), PageRequest{}, "cursor"},
		{"cursor=a&cursor=b", PageRequest{}, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := ParsePage(httptest.NewRequest("GET", "/x?"+tt.query, nil))
			if tt.wantField == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			p, _ := ProblemOf(nil, err, "")
			if p.Status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField {
				t.Fatalf("got %+v, want 400 about %s", p, tt.wantField)
			}
		})
	}
}

func TestNewPage(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, 200, NewPage[int](nil, ""))
	if got, want := rec.Body.String(), "{\"items\":[]}\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, 200, NewPage([]int{1}, "next"))
	if got, want := rec.Body.String(), "{\"items\":[1],\"next_cursor\":\"next\"}\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestQueryParams(t *testing.T) {
	boolTests := []struct {
		query   string
		want    bool
		wantErr bool
	}{
		{"", false, false}, {"wait=", false, false}, {"wait=true", true, false}, {"wait=1", true, false},
		{"wait=false", false, false}, {"wait=0", false, false}, {"wait=yes", false, true}, {"wait=1&wait=1", false, true},
	}
	for _, tt := range boolTests {
		got, err := QueryBool(httptest.NewRequest("GET", "/x?"+tt.query, nil), "wait")
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("QueryBool(%q) = %v, %v; want %v, error %v", tt.query, got, err, tt.want, tt.wantErr)
		}
	}
	intTests := []struct {
		query   string
		want    int
		wantErr bool
	}{
		{"", 7, false}, {"n=1", 1, false}, {"n=10", 10, false}, {"n=0", 7, true}, {"n=11", 7, true}, {"n=x", 7, true}, {"n=2&n=3", 7, true},
	}
	for _, tt := range intTests {
		got, err := QueryInt(httptest.NewRequest("GET", "/x?"+tt.query, nil), "n", 7, 1, 10)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("QueryInt(%q) = %v, %v; want %v, error %v", tt.query, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckID(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]{1,8}$`).MatchString
	tests := []struct {
		id         string
		wantErr    bool
		wantDetail string
	}{
		{"abc", false, ""},
		{"", true, "id is required"},
		{"../x", true, `"../x" is not a valid id`},
		{strings.Repeat("é", 300), true, "…"},
	}
	for _, tt := range tests {
		err := CheckID("id", tt.id, valid)
		if (err != nil) != tt.wantErr {
			t.Fatalf("CheckID(%q) = %v, want error %v", tt.id, err, tt.wantErr)
		}
		if err == nil {
			continue
		}
		p, _ := ProblemOf(nil, err, "")
		if p.Status != 400 || !strings.Contains(p.Detail, tt.wantDetail) || len(p.Detail) > 200 {
			t.Errorf("CheckID(%q): problem %+v, want 400 with %q, short", tt.id, p, tt.wantDetail)
		}
	}
	mux := http.NewServeMux()
	var got string
	var gotErr error
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { got, gotErr = PathID(r, "id", valid) })
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/things/ab1", nil))
	if got != "ab1" || gotErr != nil {
		t.Fatalf("PathID = %q, %v; want ab1, nil", got, gotErr)
	}
}
