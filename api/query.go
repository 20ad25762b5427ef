package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// QueryBool reads a boolean query parameter: absent or empty is false; true, false,
// 1 and 0 are accepted; anything else, or the parameter given twice, is a 400
// *Error.
func QueryBool(r *http.Request, name string) (bool, error) {
	vs, ok := r.URL.Query()[name]
	if !ok || len(vs) == 1 && vs[0] == "" {
		return false, nil
	}
	if len(vs) == 1 {
		switch vs[0] {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
	}
	return false, fieldError(name, "must be true or false")
}

// QueryInt reads an integer query parameter between lo and hi, def when absent. A
// value out of range, malformed or given twice is a 400 *Error.
func QueryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	vs, ok := r.URL.Query()[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(vs[0])
	if len(vs) > 1 || err != nil || n < lo || n > hi {
		return def, fieldError(name, "must be one integer from %d to %d", lo, hi)
	}
	return n, nil
}

// Duration is a time.Duration written in JSON as a Go duration string ("90s",
// "72h").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"72h\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("malformed duration %q: want a string such as \"90s\" or \"72h\"", s)
	}
	*d = Duration(v)
	return nil
}
