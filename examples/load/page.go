package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The clients check every list answer they read. encoding/json scans a body twice
// (json.Unmarshal validates it whole before decoding it) with a scanner that
// costs several nanoseconds a byte; at thousands of 20 to 60 KB pages a second
// that took a whole core of the two the clients share with the server, and the
// run measured the clients' decoding as much as the server. parsePage checks the
// same thing in one pass that costs about a nanosecond a byte: the body is one
// valid JSON value (RFC 8259, as json.Valid has it), an object whose "items" is an
// array, and whose "next_cursor", if present, is a string. It is stricter than
// json.Unmarshal into snapshotPage only in that keys must match exactly and appear
// once; FuzzParsePage holds it to the same answers otherwise.

// maxDepth is how deeply values may nest, as in encoding/json.
const maxDepth = 10000

// parsePage checks b as a page and returns its next cursor.
func parsePage(b []byte) (next string, err error) {
	p := pageParser{b: b}
	next, err = p.page()
	if err != nil {
		return "", fmt.Errorf("decode page: %w", err)
	}
	return next, nil
}

type pageParser struct {
	b     []byte
	i     int
	depth int
}

var errSyntax = errors.New("invalid JSON")

func (p *pageParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, p.i)
}

func (p *pageParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// page parses the top-level object, noting items and next_cursor.
func (p *pageParser) page() (string, error) {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return "", errNotPage
	}
	p.i++
	p.depth = 1 // the page itself, as encoding/json counts
	var next string
	items, cursor := false, false
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.space()
			start := p.i
			raw, err := p.string()
			if err != nil {
				return "", err
			}
			key := string(p.b[start+1 : p.i-1])
			if raw {
				key = "" // an escaped key is none of ours
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return "", p.fail("missing colon")
			}
			p.i++
			p.space()
			parsed := false
			switch key {
			case "items":
				if items {
					return "", errors.New(`"items" twice`)
				}
				items = true
				if p.i >= len(p.b) || p.b[p.i] != '[' {
					return "", errNotPage
				}
			case "next_cursor":
				if cursor {
					return "", errors.New(`"next_cursor" twice`)
				}
				cursor = true
				if p.i >= len(p.b) || p.b[p.i] != '"' {
					return "", errors.New("next_cursor is not a string")
				}
				start := p.i
				escaped, err := p.string()
				if err != nil {
					return "", err
				}
				next = string(p.b[start+1 : p.i-1])
				// encoding/json turns escapes and bytes that are not UTF-8 (into
				// U+FFFD); the cursor must be the string it decodes.
				if escaped || !utf8.ValidString(next) {
					if err := json.Unmarshal(p.b[start:p.i], &next); err != nil {
						return "", err
					}
				}
				parsed = true
			}
			if !parsed {
				if err := p.value(); err != nil {
					return "", err
				}
			}
			p.space()
			if p.i >= len(p.b) {
				return "", p.fail("unterminated object")
			}
			if p.b[p.i] == '}' {
				p.i++
				break
			}
			if p.b[p.i] != ',' {
				return "", p.fail("missing comma")
			}
			p.i++
		}
	}
	p.space()
	if p.i != len(p.b) {
		return "", p.fail("data after the value")
	}
	if !items {
		return "", errNotPage
	}
	return next, nil
}

// value parses one value of any kind.
func (p *pageParser) value() error {
	if p.i >= len(p.b) {
		return p.fail("missing value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.string()
		return err
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return p.fail("unexpected character")
}

func (p *pageParser) nest() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("nested too deeply")
	}
	return nil
}

func (p *pageParser) object() error {
	if err := p.nest(); err != nil {
		return err
	}
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return nil
	}
	for {
		p.space()
		if _, err := p.string(); err != nil {
			return err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.fail("missing colon")
		}
		p.i++
		p.space()
		if err := p.value(); err != nil {
			return err
		}
		if done, err := p.after('}', "unterminated object"); done || err != nil {
			return err
		}
	}
}

// after reads what follows a member or an element: the closing byte ends the
// container (done), a comma announces another one.
func (p *pageParser) after(closing byte, unterminated string) (done bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, p.fail(unterminated)
	}
	switch p.b[p.i] {
	case closing:
		p.i++
		p.depth--
		return true, nil
	case ',':
		p.i++
		return false, nil
	}
	return false, p.fail("missing comma")
}

func (p *pageParser) array() error {
	if err := p.nest(); err != nil {
		return err
	}
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return nil
	}
	for {
		p.space()
		if err := p.value(); err != nil {
			return err
		}
		if done, err := p.after(']', "unterminated array"); done || err != nil {
			return err
		}
	}
}

// plain marks the bytes a string holds as they are: not a quote, not a
// backslash, not a control character.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// string parses a string and reports whether it holds escapes.
func (p *pageParser) string() (escaped bool, err error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false, p.fail("missing string")
	}
	p.i++
	for {
		for p.i < len(p.b) && plain[p.b[p.i]] {
			p.i++
		}
		if p.i >= len(p.b) {
			return false, p.fail("unterminated string")
		}
		switch p.b[p.i] {
		case '"':
			p.i++
			return escaped, nil
		case '\\':
			escaped = true
			p.i++
			if p.i >= len(p.b) {
				return false, p.fail("unterminated escape")
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for range 4 {
					if p.i >= len(p.b) || !isHex(p.b[p.i]) {
						return false, p.fail("bad \\u escape")
					}
					p.i++
				}
			default:
				return false, p.fail("bad escape")
			}
		default:
			return false, p.fail("control character in string")
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (p *pageParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

func (p *pageParser) number() error {
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return p.fail("bad number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return p.fail("bad fraction")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return p.fail("bad exponent")
		}
	}
	return nil
}

func (p *pageParser) literal(word string) error {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.fail("bad literal")
	}
	p.i += len(word)
	return nil
}
