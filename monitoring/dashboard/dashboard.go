// Package dashboard serves graphvault's monitoring dashboard: one HTML page whose
// script, style sheet and icon are embedded in the binary. The page reads the JSON
// endpoints of the monitoring handler and draws them: health per component, the
// last snapshot of every graph, snapshot sizes and durations over time,
// replication lag per target, recent events and failures, and checkpoints. It
// refreshes itself on an interval.
//
// Plug it into the monitoring handler, which serves it at GET dashboard:
//
//	monH := monitoring.NewHandler(st, monitoring.Parts{Prometheus: p, Dashboard: dashboard.Handler()},
//		api.Options{Authorizer: auth})
//	mux.Handle("/api/monitoring/", http.StripPrefix("/api/monitoring", monH))
//
// The page is served at the handler's root (…/dashboard) and its files below it
// (…/dashboard/assets/app.js). It finds the API next to itself: the page at
// /api/monitoring/dashboard fetches /api/monitoring/metrics/summary and so on, so
// the handler works under any prefix. Nothing is loaded from another origin, and
// every answer carries a Content-Security-Policy that allows only the handler's
// own files and the API on the same origin.
//
// # Errors
//
// The handler answers RFC 9457 problem+json: 404 for a path that is neither the
// page nor one of its files, 405 for a method other than GET and HEAD. A request
// for the page with a trailing slash is redirected to the page without it. When an
// endpoint the page reads answers an error or cannot be reached, the page says
// which one and why in a banner and in the section it feeds, and draws the rest.
//
// # Metrics
//
// The handler records none; the page draws those of the monitoring package.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/graphvault/graphvault/api"
)

//go:embed assets
var assetFS embed.FS

// ContentSecurityPolicy is the policy every answer of the handler carries: the
// page may run and style only with the handler's own files, and fetch only from
// its own origin.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Option configures [Handler].
type Option func(*config)

type config struct {
	title   string
	refresh time.Duration
	window  time.Duration
}

// WithTitle sets the heading and title of the page; default "graphvault".
func WithTitle(title string) Option {
	return func(c *config) { c.title = title }
}

// WithRefresh sets how often the page reloads its data; default 10s. Zero or less
// turns the automatic refresh off (the page keeps its "Refresh now" button);
// intervals under one second are taken as one second.
func WithRefresh(d time.Duration) Option {
	return func(c *config) { c.refresh = d }
}

// WithWindow sets how far back the charts go; default 6h. Zero or less means the
// default. The page reads at most 50,000 samples of each metric in the window.
func WithWindow(d time.Duration) Option {
	return func(c *config) { c.window = d }
}

// asset is one embedded file the page loads.
type asset struct {
	body        []byte
	contentType string
	etag        string
	version     string // short content hash, the ?v= of the page's links
}

type handler struct {
	page   *template.Template
	assets map[string]asset
	data   pageData
}

// pageData is what the page template is executed with.
type pageData struct {
	Title   string
	Refresh int    // seconds; 0 is off
	Window  string // a Go duration, the since= of the history requests
	Assets  string // the relative URL of the assets folder, set per request
	Version map[string]string
}

// Handler returns the dashboard. It serves the page at its root, whatever path that
// is after the host has stripped its prefix ("/", "" or one segment such as
// "/dashboard"), and the page's files under assets/ below it. It is safe for
// concurrent use.
func Handler(opts ...Option) http.Handler {
	c := config{title: "graphvault", refresh: 10 * time.Second, window: 6 * time.Hour}
	for _, o := range opts {
		o(&c)
	}
	if c.window <= 0 {
		c.window = 6 * time.Hour
	}
	refresh := 0
	if c.refresh > 0 {
		refresh = max(1, int(c.refresh.Round(time.Second)/time.Second))
	}
	h := &handler{
		page:   template.Must(template.ParseFS(assetFS, "assets/index.html")),
		assets: map[string]asset{},
		data: pageData{Title: c.title, Refresh: refresh, Window: c.window.String(),
			Version: map[string]string{}},
	}
	files, err := fs.Glob(assetFS, "assets/*")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	for _, name := range files {
		base := path.Base(name)
		if base == "index.html" {
			continue
		}
		body, err := assetFS.ReadFile(name)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		sum := sha256.Sum256(body)
		v := hex.EncodeToString(sum[:])[:12]
		ct := mime.TypeByExtension(path.Ext(base))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[base] = asset{body: body, contentType: ct, etag: `"` + v + `"`, version: v}
		h.data.Version[base] = v
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		api.WriteProblem(w, r, http.StatusMethodNotAllowed, "the dashboard is read with GET")
		return
	}
	segs := segments(r.URL.Path)
	switch {
	case len(segs) <= 1:
		h.servePage(w, r)
	case len(segs) == 3 && segs[1] == "assets", len(segs) == 2 && segs[0] == "assets":
		h.serveAsset(w, r, segs[len(segs)-1])
	default:
		api.WriteProblem(w, r, http.StatusNotFound, "the dashboard has no such page")
	}
}

// segments splits p into its non-empty segments.
func segments(p string) []string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// browserPath is the path the client asked for, before any prefix was stripped.
func browserPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	p := browserPath(r)
	last := path.Base(p) // "/" when p is "/"
	if strings.HasSuffix(p, "/") && p != "/" {
		// The page finds its files and the API relative to its own URL, which must
		// then not end in a slash. A relative Location keeps the host's prefix.
		w.Header().Set("Location", "../"+url.PathEscape(last))
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	d := h.data
	d.Assets = "assets/"
	if last != "/" {
		d.Assets = url.PathEscape(last) + "/assets/"
	}
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, d); err != nil {
		api.WriteError(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes()) //nolint:errcheck // the client is gone; nothing to do
	}
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.assets[name]
	if !ok {
		api.WriteProblem(w, r, http.StatusNotFound, "the dashboard has no such file")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	if r.URL.Query().Get("v") == a.version {
		// The page links each file with its content hash: that URL never changes
		// content.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(&problemWriter{ResponseWriter: w, r: r}, r, name, time.Time{}, bytes.NewReader(a.body))
}

// problemWriter turns the errors http.ServeContent answers in plain text (a
// precondition that failed, 412; a range that cannot be satisfied, 416) into
// problems, keeping their headers (Content-Range).
type problemWriter struct {
	http.ResponseWriter
	r       *http.Request
	problem bool // an error was answered; what ServeContent writes after it is dropped
}

func (w *problemWriter) WriteHeader(status int) {
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.problem = true
	detail := "a precondition of the request failed"
	if status == http.StatusRequestedRangeNotSatisfiable {
		detail = "the range cannot be satisfied"
	}
	api.WriteProblem(w.ResponseWriter, w.r, status, detail)
}

func (w *problemWriter) Write(b []byte) (int, error) {
	if w.problem {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
