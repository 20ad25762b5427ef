package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// ContentTypeJSON is the media type of JSON requests and answers.
const ContentTypeJSON = "application/json"

// DefaultMaxBodyBytes is the body size limit handlers use unless configured: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// WriteJSON answers with status and v encoded as JSON. A nil v writes no body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, ContentTypeJSON, status, v)
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		// A value the handler built that does not encode is a bug; say so without detail.
		b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"response encoding failed"}`)
		contentType, status = ContentTypeProblem, http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client is gone; nothing to do
}

// Decode reads r's body as exactly one JSON value into v. The body must be present,
// be at most maxBytes long (413 otherwise), have Content-Type application/json (415
// otherwise), be valid text (400 for invalid UTF-8, see [CheckJSONText]) and name
// no field v lacks (400). Malformed JSON is 400 with the line and column where it
// failed. The error is an *Error for WriteError.
func Decode(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	present, err := DecodeOptional(w, r, v, maxBytes)
	if err == nil && !present {
		return Errorf(http.StatusBadRequest, "a JSON request body is required")
	}
	return err
}

// DecodeOptional is Decode for a body the caller may leave out: an empty body (or
// one of only white space) leaves v as it is and reports present false.
func DecodeOptional(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) (present bool, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return false, nil
	}
	if r.ContentLength > maxBytes {
		return false, tooLarge(maxBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return false, tooLarge(maxBytes)
		}
		return false, &Error{Status: http.StatusBadRequest, Detail: "reading the request body failed", Err: err}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
		return true, err
	}
	if err := CheckJSONText(body); err != nil {
		return true, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return true, decodeError(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := position(body, dec.InputOffset())
		return true, Errorf(http.StatusBadRequest, "the request body must hold a single JSON value; more follows at line %d, column %d", line, col)
	}
	return true, nil
}

func tooLarge(maxBytes int64) error {
	return Errorf(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", maxBytes)
}

func checkJSONType(ct string) error {
	if ct == "" {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type must be %s", ContentTypeJSON)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != ContentTypeJSON {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type must be %s, not %q", ContentTypeJSON, ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Errorf(http.StatusUnsupportedMediaType, "charset must be utf-8, not %q", cs)
	}
	return nil
}

// decodeError turns a decoding error into a 400 that says where decoding failed.
func decodeError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		line, col := position(body, syn.Offset-1)
		return Errorf(http.StatusBadRequest, "malformed JSON at line %d, column %d: %s", line, col, trimJSON(syn.Error()))
	case errors.As(err, &typ):
		line, col := position(body, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("wrong type for %s at line %d, column %d: got JSON %s, want %s", field, line, col, typ.Value, typeName(typ)),
			Errors: []FieldError{{Field: field, Detail: fmt.Sprintf("must be %s", typeName(typ))}},
		}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		line, col := position(body, int64(len(body)))
		return Errorf(http.StatusBadRequest, "malformed JSON at line %d, column %d: unexpected end of input", line, col)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("unknown field %q", name),
			Errors: []FieldError{{Field: name, Detail: "unknown field"}},
		}
	}
	// Errors from a field's own UnmarshalJSON (a bad duration, an unknown enum value).
	return Errorf(http.StatusBadRequest, "invalid JSON value: %s", trimJSON(err.Error()))
}

func typeName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	switch e.Type.Kind().String() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return e.Type.String()
}

func trimJSON(s string) string { return strings.TrimPrefix(s, "json: ") }

// position converts a byte offset into a 1-based line and column.
func position(body []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(body)))
	before := body[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
