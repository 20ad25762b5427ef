package api

import (
	"net/http"
	"unicode/utf8"
)

// maxShownID bounds how much of a rejected id a problem repeats.
const maxShownID = 64

// PathID returns the path value name of r if valid accepts it, and otherwise a 400
// *Error naming the parameter. Handlers call it before any work.
func PathID(r *http.Request, name string, valid func(string) bool) (string, error) {
	id := r.PathValue(name)
	return id, CheckID(name, id, valid)
}

// CheckID returns nil if valid accepts id, and otherwise a 400 *Error about field.
func CheckID(field, id string, valid func(string) bool) error {
	if valid(id) {
		return nil
	}
	if id == "" {
		return fieldError(field, "is required")
	}
	return fieldError(field, "%q is not a valid id", shorten(id))
}

func shorten(s string) string {
	if len(s) <= maxShownID {
		return s
	}
	cut := maxShownID
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
