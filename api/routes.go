package api

import (
	"net/http"
	"path"
	"reflect"
	"strings"
)

var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Routes serves mux with problem+json answers where a bare ServeMux would answer in
// plain text or redirect: a path with empty, "." or ".." segments (even
// percent-encoded ones) is 400, and so is a path or a query that is not valid
// UTF-8 once decoded, or a malformed query; an unknown path is 404 (a path that
// names a subtree without its final slash too: no redirect to it), a known path
// with another method 405 with an Allow header. A handler the mux holds that is
// an http.RedirectHandler serves only paths that end in a slash. A host that composes several handlers under one
// ServeMux wraps that mux with Routes as well.
func Routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || !strings.HasPrefix(p, "/") || cleanPath(p) != p {
			WriteProblem(w, r, http.StatusBadRequest, "the path must not hold empty, '.' or '..' segments")
			return
		}
		if err := checkRequestText(r); err != nil {
			WriteError(w, r, err)
			return
		}
		if route(mux, r) == "" {
			var allow []string
			for _, m := range probeMethods {
				probe := r.Clone(r.Context())
				probe.Method = m
				if route(mux, probe) != "" {
					allow = append(allow, m)
				}
			}
			if len(allow) == 0 {
				WriteProblem(w, r, http.StatusNotFound, "no such resource")
				return
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteProblem(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed here")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// muxRedirect is the type of the handler a ServeMux answers with when it
// redirects instead of serving.
var muxRedirect = reflect.TypeOf(http.RedirectHandler("/", http.StatusTemporaryRedirect))

// route returns the pattern of mux that serves r, or "" if none does. The path is
// clean (Routes checked it), so the only redirect mux could still answer with is
// the one to the path with a final slash ("/a" to "/a/", "/objects" to a
// "/objects/{key...}" route): that is no route of the path asked for.
func route(mux *http.ServeMux, r *http.Request) string {
	h, pattern := mux.Handler(r)
	if pattern != "" && !strings.HasSuffix(r.URL.Path, "/") && reflect.TypeOf(h) == muxRedirect {
		return ""
	}
	return pattern
}

func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// Location returns the absolute path of p (a path under the handler's root, such
// as "/operations/ID") as the client sees it: r's request path with the part the
// handler serves (r.URL's path, after any http.StripPrefix) replaced by p. Handlers
// use it for Location headers so that they work under any mount prefix.
func Location(r *http.Request, p string) string {
	orig := instance(r)
	if served := r.URL.EscapedPath(); served != "" && strings.HasSuffix(orig, served) {
		return strings.TrimSuffix(orig, served) + p
	}
	return p
}
