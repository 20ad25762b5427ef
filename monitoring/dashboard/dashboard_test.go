package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/monitoring/dashboard"
)

// mounted serves h as a host would: under /api/monitoring/dashboard with the prefix
// stripped, as the monitoring handler passes it on.
func mounted(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/monitoring/", http.StripPrefix("/api/monitoring", h))
	return mux
}

func do(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutes(t *testing.T) {
	h := mounted(dashboard.Handler())
	tests := []struct {
		method, target string
		status         int
		contentType    string // prefix
		location       string
	}{
		{"GET", "/api/monitoring/dashboard", 200, "text/html", ""},
		{"HEAD", "/api/monitoring/dashboard", 200, "text/html", ""},
		{"GET", "/api/monitoring/dashboard/", 301, "", "../dashboard"},
		{"GET", "/api/monitoring/dashboard/assets/app.js", 200, "text/javascript", ""},
		{"GET", "/api/monitoring/dashboard/assets/app.css", 200, "text/css", ""},
		{"GET", "/api/monitoring/dashboard/assets/icon.svg", 200, "image/svg+xml", ""},
		{"GET", "/api/monitoring/dashboard/assets/index.html", 404, "application/problem+json", ""},
		{"GET", "/api/monitoring/dashboard/assets/nope.js", 404, "application/problem+json", ""},
		{"GET", "/api/monitoring/dashboard/assets/", 404, "application/problem+json", ""},
		{"GET", "/api/monitoring/dashboard/other", 404, "application/problem+json", ""},
		{"GET", "/api/monitoring/dashboard/a/assets/app.js", 404, "application/problem+json", ""},
		{"POST", "/api/monitoring/dashboard", 405, "application/problem+json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res := do(t, h, tt.method, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("Content-Type: got %q, want prefix %q", got, tt.contentType)
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Errorf("Location: got %q, want %q", got, tt.location)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != dashboard.ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy: got %q, want %q", got, dashboard.ContentSecurityPolicy)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			if tt.status == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow: got %q, want GET, HEAD", res.Header.Get("Allow"))
			}
		})
	}
}

func TestPolicyAllowsOnlySelf(t *testing.T) {
	for _, directive := range strings.Split(dashboard.ContentSecurityPolicy, ";") {
		fields := strings.Fields(directive)
		for _, source := range fields[1:] {
			if source != "'self'" && source != "'none'" {
				t.Errorf("directive %q allows %s", directive, source)
			}
		}
	}
}

var (
	linkRE   = regexp.MustCompile(`(?:href|src)="([^"]+)"`)
	inlineRE = regexp.MustCompile(`<script>|<style|\sstyle=|\son[a-z]+=`)
)

// TestPageLinks follows every link of the page from where a browser has it, under
// two mount points: each resolves to a file the handler serves with the
// immutable cache, and the page has no inline script or style for the policy to
// block.
func TestPageLinks(t *testing.T) {
	mounts := []struct {
		page string
		h    http.Handler
	}{
		{"/api/monitoring/dashboard", mounted(dashboard.Handler())},
		{"/ops/dash", func() http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/ops/", http.StripPrefix("/ops", dashboard.Handler()))
			return mux
		}()},
	}
	for _, m := range mounts {
		t.Run(m.page, func(t *testing.T) {
			page := readBody(t, do(t, m.h, "GET", m.page))
			if loc := inlineRE.FindString(page); loc != "" {
				t.Errorf("page has inline code the policy blocks: %q", loc)
			}
			links := linkRE.FindAllStringSubmatch(page, -1)
			if len(links) < 3 {
				t.Fatalf("page links: got %d, want at least the icon, style sheet and script", len(links))
			}
			base, _ := url.Parse("http://example.test" + m.page)
			assets := 0
			for _, l := range links {
				u, err := base.Parse(l[1])
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(u.Path, "/assets/") {
					continue // the API links of the noscript message
				}
				assets++
				res := do(t, m.h, "GET", u.RequestURI())
				if res.StatusCode != 200 {
					t.Errorf("GET %s: got %d, want 200", u.RequestURI(), res.StatusCode)
				}
				if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
					t.Errorf("GET %s: Cache-Control %q, want immutable for a versioned link", u.RequestURI(), got)
				}
			}
			if assets != 3 {
				t.Errorf("asset links: got %d, want 3", assets)
			}
		})
	}
}

func TestAssetRevalidation(t *testing.T) {
	h := mounted(dashboard.Handler())
	res := do(t, h, "GET", "/api/monitoring/dashboard/assets/app.js")
	etag := res.Header.Get("ETag")
	if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("unversioned asset: ETag %q, Cache-Control %q; want an ETag and no-cache", etag, res.Header.Get("Cache-Control"))
	}
	req := httptest.NewRequest("GET", "/api/monitoring/dashboard/assets/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: got %d, want 304", rec.Code)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []dashboard.Option
		want []string
	}{
		{"defaults", nil, []string{`data-refresh="10"`, `data-window="6h0m0s"`, `<h1>graphvault</h1>`}},
		{"title is escaped", []dashboard.Option{dashboard.WithTitle(`prod <1>`)}, []string{`<h1>prod &lt;1&gt;</h1>`}},
		{"refresh", []dashboard.Option{dashboard.WithRefresh(30 * time.Second)}, []string{`data-refresh="30"`}},
		{"refresh under a second", []dashboard.Option{dashboard.WithRefresh(time.Millisecond)}, []string{`data-refresh="1"`}},
		{"refresh off", []dashboard.Option{dashboard.WithRefresh(0)}, []string{`data-refresh="0"`, `aria-pressed="false" hidden`}},
		{"window", []dashboard.Option{dashboard.WithWindow(90 * time.Minute)}, []string{`data-window="1h30m0s"`}},
		{"bad window", []dashboard.Option{dashboard.WithWindow(-time.Hour)}, []string{`data-window="6h0m0s"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := readBody(t, do(t, mounted(dashboard.Handler(tt.opts...)), "GET", "/api/monitoring/dashboard"))
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %s", w)
				}
			}
		})
	}
}

// TestAssetErrorsAreProblems: what http.ServeContent would answer in plain text,
// a range past the end (416, with its Content-Range) and a failed If-Match (412),
// is a problem; a range that fits is served.
func TestAssetErrorsAreProblems(t *testing.T) {
	h := mounted(dashboard.Handler())
	tests := []struct {
		name, header, value string
		status              int
		contentRange        string // prefix
	}{
		{"range past the end", "Range", "bytes=99999999-", http.StatusRequestedRangeNotSatisfiable, "bytes */"},
		{"if-match fails", "If-Match", `"not-the-etag"`, http.StatusPreconditionFailed, ""},
		{"range that fits", "Range", "bytes=0-9", http.StatusPartialContent, "bytes 0-9/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/monitoring/dashboard/assets/app.js", nil)
			req.Header.Set(tt.header, tt.value)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Content-Range"); !strings.HasPrefix(got, tt.contentRange) {
				t.Errorf("Content-Range %q, want %q…", got, tt.contentRange)
			}
			if tt.status < 400 {
				if rec.Body.Len() != 10 {
					t.Errorf("body %q, want 10 bytes", rec.Body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json: %s", ct, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), `"status":`+strconv.Itoa(tt.status)) {
				t.Errorf("body %s is not the problem", rec.Body)
			}
		})
	}
}
