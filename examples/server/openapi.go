package main

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3 document of every route the server serves, with the
// paths under which it mounts each handler.
//
//go:embed openapi.yaml
var openAPI []byte

// contentTypeOpenAPI is the media type openAPI is served with.
const contentTypeOpenAPI = "application/yaml"

// serveOpenAPI answers GET /api/openapi.yaml with the document.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", contentTypeOpenAPI)
	h.Set("Content-Length", strconv.Itoa(len(openAPI)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(openAPI) //nolint:errcheck // the client is gone; nothing to do
	}
}
