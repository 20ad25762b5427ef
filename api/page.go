package api

import (
	"net/http"
	"strconv"
)

// Page size bounds for list endpoints.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	maxCursorLen = 512
)

// Page is the answer of a list endpoint. NextCursor, when set, is passed back as the
// cursor query parameter to fetch the next page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewPage returns a page of items; a nil slice becomes an empty one so that items is
// always a JSON array.
func NewPage[T any](items []T, next string) Page[T] {
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, NextCursor: next}
}

// PageRequest is what a client asked of a list: how many items and from where.
type PageRequest struct {
	Limit  int
	Cursor string
}

// ParsePage reads the limit (1 to MaxLimit, default DefaultLimit) and cursor query
// parameters. A cursor is opaque here, so only its shape is checked (URL-safe
// characters, bounded length); the store that made it checks the rest. Bad values
// are a 400 *Error naming the parameter.
func ParsePage(r *http.Request) (PageRequest, error) {
	q := r.URL.Query()
	p := PageRequest{Limit: DefaultLimit}
	if vs, ok := q["limit"]; ok {
		n, err := strconv.Atoi(vs[0])
		if len(vs) > 1 || err != nil || n < 1 || n > MaxLimit {
			return p, fieldError("limit", "must be one integer from 1 to %d", MaxLimit)
		}
		p.Limit = n
	}
	if vs, ok := q["cursor"]; ok {
		if len(vs) > 1 || !validCursor(vs[0]) {
			return p, fieldError("cursor", "must be a next_cursor value from a previous page")
		}
		p.Cursor = vs[0]
	}
	return p, nil
}

func validCursor(s string) bool {
	if s == "" || len(s) > maxCursorLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '=') {
			return false
		}
	}
	return true
}

// fieldError is a 400 about one named field or parameter.
func fieldError(field, format string, args ...any) *Error {
	e := Errorf(http.StatusBadRequest, format, args...)
	e.Errors = []FieldError{{Field: field, Detail: e.Detail}}
	e.Detail = field + " " + e.Detail
	return e
}

// FieldErrorf returns a 400 *Error about one request field or query parameter, its
// detail formatted from format and args.
func FieldErrorf(field, format string, args ...any) *Error {
	return fieldError(field, format, args...)
}
