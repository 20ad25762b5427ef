package lightrag

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// errNotPython is a JSON file this package does not re-encode exactly; it is kept
// in chunks instead.
var errNotPython = errors.New("not JSON as Python writes it")

// jsonReader reads JSON values from a stream, copying each one minified: the
// whitespace between tokens dropped, every token (strings with their escapes,
// numbers, NaN and Infinity, which Python writes) kept as written.
type jsonReader struct {
	r *bufio.Reader
}

func newJSONReader(r io.Reader) *jsonReader {
	return &jsonReader{r: bufio.NewReaderSize(r, 1<<20)}
}

func (j *jsonReader) byte() (byte, error) {
	c, err := j.r.ReadByte()
	if err == io.EOF {
		return 0, fmt.Errorf("%w: unexpected end", errNotPython)
	}
	return c, err
}

// peek returns the next byte that is not whitespace, without consuming it.
func (j *jsonReader) peek() (byte, error) {
	for {
		c, err := j.byte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\n', '\r', '\t':
			continue
		}
		return c, j.r.UnreadByte()
	}
}

// expect consumes the next non-space byte, which must be c.
func (j *jsonReader) expect(c byte) error {
	got, err := j.peek()
	if err != nil {
		return err
	}
	if got != c {
		return fmt.Errorf("%w: %q where %q was expected", errNotPython, got, c)
	}
	_, err = j.byte()
	return err
}

// end reports whether only whitespace is left.
func (j *jsonReader) end() error {
	for {
		c, err := j.r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch c {
		case ' ', '\n', '\r', '\t':
			continue
		}
		return fmt.Errorf("%w: content after the value", errNotPython)
	}
}

// object reads a JSON object, calling member with each key; member must read
// the member's value.
func (j *jsonReader) object(member func(key string) error) error {
	if err := j.expect('{'); err != nil {
		return err
	}
	var key []byte
	for first := true; ; first = false {
		c, err := j.peek()
		if err != nil {
			return err
		}
		if c == '}' {
			j.r.ReadByte()
			return j.end()
		}
		if !first {
			if err := j.expect(','); err != nil {
				return err
			}
		}
		if err := j.expect('"'); err != nil {
			return err
		}
		if key, err = j.str(key[:0]); err != nil {
			return err
		}
		if err := j.expect(':'); err != nil {
			return err
		}
		if err := member(string(key)); err != nil {
			return err
		}
	}
}

// str appends a string token's content (between the quotes, escapes kept) to b.
// The opening quote has been consumed.
func (j *jsonReader) str(b []byte) ([]byte, error) {
	for {
		chunk, err := j.r.ReadSlice('"')
		if err == bufio.ErrBufferFull {
			b = append(b, chunk...)
			continue
		}
		if err == io.EOF {
			return b, fmt.Errorf("%w: unterminated string", errNotPython)
		}
		if err != nil {
			return b, err
		}
		b = append(b, chunk[:len(chunk)-1]...)
		// The quote ends the string unless an odd number of backslashes precede it.
		n := 0
		for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
			n++
		}
		if n%2 == 0 {
			for _, c := range chunk[:len(chunk)-1] {
				if c < 0x20 {
					return b, fmt.Errorf("%w: control character in a string", errNotPython)
				}
			}
			return b, nil
		}
		b = append(b, '"')
	}
}

// value appends the next value, minified, to b.
func (j *jsonReader) value(b []byte, depth int) ([]byte, error) {
	if depth > 512 {
		return b, fmt.Errorf("%w: nested too deep", errNotPython)
	}
	c, err := j.peek()
	if err != nil {
		return b, err
	}
	switch c {
	case '"':
		j.r.ReadByte()
		b = append(b, '"')
		if b, err = j.str(b); err != nil {
			return b, err
		}
		return append(b, '"'), nil
	case '{', '[':
		j.r.ReadByte()
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		b = append(b, c)
		first := true
		for {
			n, err := j.peek()
			if err != nil {
				return b, err
			}
			if n == closing {
				j.r.ReadByte()
				return append(b, closing), nil
			}
			if !first {
				if err := j.expect(','); err != nil {
					return b, err
				}
				b = append(b, ',')
			}
			first = false
			if c == '{' {
				if err := j.expect('"'); err != nil {
					return b, err
				}
				b = append(b, '"')
				if b, err = j.str(b); err != nil {
					return b, err
				}
				b = append(b, '"')
				if err := j.expect(':'); err != nil {
					return b, err
				}
				b = append(b, ':')
			}
			if b, err = j.value(b, depth+1); err != nil {
				return b, err
			}
		}
	}
	// A number or a literal: a run of the characters they are made of.
	start := len(b)
	for {
		c, err := j.r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return b, err
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.') {
			j.r.UnreadByte()
			break
		}
		b = append(b, c)
	}
	if len(b) == start {
		return b, fmt.Errorf("%w: unexpected %q", errNotPython, c)
	}
	return b, nil
}

// pyWriter writes minified JSON the way Python's json.dump does: with indent=2
// (newlines, two spaces per level, "," and ": ") or, with indent 0, on one line
// with ", " and ": " (its default separators).
type pyWriter struct {
	w      *bufio.Writer
	indent int
}

// value writes one minified value at the given nesting level and returns what
// follows it in v.
func (p *pyWriter) value(v []byte, level int) ([]byte, error) {
	if len(v) == 0 {
		return v, fmt.Errorf("%w: empty value", errNotPython)
	}
	switch v[0] {
	case '"':
		end := stringEnd(v)
		if end < 0 {
			return v, fmt.Errorf("%w: unterminated string", errNotPython)
		}
		p.w.Write(v[:end])
		return v[end:], nil
	case '{', '[':
		closing := byte('}')
		if v[0] == '[' {
			closing = ']'
		}
		p.w.WriteByte(v[0])
		v = v[1:]
		if len(v) > 0 && v[0] == closing {
			p.w.WriteByte(closing)
			return v[1:], nil
		}
		for first := true; ; first = false {
			if !first {
				p.w.WriteByte(',')
				if p.indent == 0 {
					p.w.WriteByte(' ')
				}
			}
			p.newline(level + 1)
			if closing == '}' {
				end := stringEnd(v)
				if end < 0 || end >= len(v) || v[end] != ':' {
					return v, fmt.Errorf("%w: bad member", errNotPython)
				}
				p.w.Write(v[:end])
				p.w.WriteString(": ")
				v = v[end+1:]
			}
			var err error
			if v, err = p.value(v, level+1); err != nil {
				return v, err
			}
			if len(v) == 0 {
				return v, fmt.Errorf("%w: unterminated container", errNotPython)
			}
			if v[0] == closing {
				p.newline(level)
				p.w.WriteByte(closing)
				return v[1:], nil
			}
			if v[0] != ',' {
				return v, fmt.Errorf("%w: %q in a container", errNotPython, v[0])
			}
			v = v[1:]
		}
	}
	i := 0
	for i < len(v) && v[i] != ',' && v[i] != '}' && v[i] != ']' {
		i++
	}
	p.w.Write(v[:i])
	return v[i:], nil
}

func (p *pyWriter) newline(level int) {
	if p.indent == 0 {
		return
	}
	p.w.WriteByte('\n')
	for range level * p.indent {
		p.w.WriteByte(' ')
	}
}

// stringEnd returns the index just past the string token that v starts with, or -1.
func stringEnd(v []byte) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// writeValue writes a whole minified value, which must be all of v.
func (p *pyWriter) writeValue(v []byte, level int) error {
	rest, err := p.value(v, level)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: trailing bytes in a value", errNotPython)
	}
	return nil
}

// writeKV writes a key-value store as Python's json.dump(indent=2) does: the
// entries are (key token content, minified value) pairs in file order.
func writeKV(w *bufio.Writer, entries func(yield func(key string, value []byte) bool) error) error {
	p := &pyWriter{w: w, indent: 2}
	w.WriteByte('{')
	n := 0
	var werr error
	err := entries(func(key string, value []byte) bool {
		if n > 0 {
			w.WriteByte(',')
		}
		n++
		p.newline(1)
		w.WriteByte('"')
		w.WriteString(key)
		w.WriteString(`": `)
		if werr = p.writeValue(value, 1); werr != nil {
			return false
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if n > 0 {
		p.newline(0)
	}
	w.WriteByte('}')
	return nil
}

// isJSONString reports whether v is one whole string token.
func isJSONString(v []byte) bool {
	return len(v) >= 2 && v[0] == '"' && stringEnd(v) == len(v)
}
