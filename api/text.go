package api

import (
	"net/http"
	"net/url"
	"unicode/utf8"
)

// CheckJSONText returns a 400 *Error unless body is valid text: UTF-8 throughout,
// and no \u escape that stands for half of a surrogate pair. Decoding such a body
// would silently turn the offending bytes into U+FFFD, so a name or a label would
// be stored other than as sent. The error says at which line and column the text
// breaks. [Decode] checks every request body with it; a handler that reads a JSON
// document as bytes (an object it stores) calls it itself.
func CheckJSONText(body []byte) error {
	if off, ok := invalidUTF8(body); ok {
		line, col := position(body, int64(off))
		return Errorf(http.StatusBadRequest, "the request body is not valid UTF-8 at line %d, column %d", line, col)
	}
	if off, ok := loneSurrogate(body); ok {
		line, col := position(body, int64(off))
		return Errorf(http.StatusBadRequest, "the \\u escape at line %d, column %d is half of a surrogate pair, which is not valid text", line, col)
	}
	return nil
}

// invalidUTF8 returns the offset of the first byte of b that is not part of a
// valid UTF-8 encoding.
func invalidUTF8(b []byte) (int, bool) {
	if utf8.Valid(b) {
		return 0, false
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i, true
		}
		i += n
	}
	return 0, false
}

// loneSurrogate returns the offset of the first \u escape of b that encodes a
// UTF-16 surrogate not paired with its other half. In valid JSON a backslash only
// occurs in strings, so every backslash starts an escape; in invalid JSON the
// decoder reports the syntax error if this finds nothing.
func loneSurrogate(b []byte) (int, bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hexEscape(b, i)
		switch {
		case !ok:
			i++ // skip the escaped character, which may be a backslash
		case r >= 0xD800 && r < 0xDC00:
			if lo, ok := hexEscape(b, i+6); !ok || lo < 0xDC00 || lo >= 0xE000 {
				return i, true
			}
			i += 11
		case r >= 0xDC00 && r < 0xE000:
			return i, true
		default:
			i += 5
		}
	}
	return 0, false
}

// hexEscape decodes the \uXXXX escape at b[i:], if there is one.
func hexEscape(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// checkRequestText returns a 400 *Error unless r's path and query are valid
// UTF-8 once decoded, and the query is well formed.
func checkRequestText(r *http.Request) error {
	if !utf8.ValidString(r.URL.Path) {
		return Errorf(http.StatusBadRequest, "the path is not valid UTF-8")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Errorf(http.StatusBadRequest, "the query is malformed")
	}
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return Errorf(http.StatusBadRequest, "a query parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return fieldError(k, "is not valid UTF-8")
			}
		}
	}
	return nil
}
