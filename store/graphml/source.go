package graphml

import "io"

const (
	// sourceSize is the size a source's buffer starts at.
	sourceSize = 256 << 10
	// maxWindow bounds the buffer of a source: an element longer than this is read
	// by the XML decoder, which needs no window.
	maxWindow = 64 << 20
)

// source buffers the input for both readers of a Decoder: encoding/xml reads it a
// byte at a time (it implements io.ByteReader, so xml.Decoder does not buffer it
// again and never reads ahead of the token it returns), and the fast scanner looks
// at whole elements in its window. Errors are sticky.
type source struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // sticky: io.EOF or the reader's error
	rerr     error // the reader's error other than io.EOF, told apart from XML syntax errors
}

// ReadByte implements io.ByteReader for encoding/xml.
func (s *source) ReadByte() (byte, error) {
	if s.pos == s.end && !s.fill(false) {
		return 0, s.err
	}
	b := s.buf[s.pos]
	s.pos++
	return b, nil
}

// Read implements io.Reader.
func (s *source) Read(p []byte) (int, error) {
	if s.pos == s.end && !s.fill(false) {
		return 0, s.err
	}
	n := copy(p, s.buf[s.pos:s.end])
	s.pos += n
	return n, nil
}

// window returns the bytes buffered and not consumed.
func (s *source) window() []byte { return s.buf[s.pos:s.end] }

// advance consumes n bytes of the window.
func (s *source) advance(n int) { s.pos += n }

// more reads more input into the window, growing the buffer when the window fills
// it, up to maxWindow. It reports false when nothing more can be had: end of input,
// a read error, or a window of maxWindow.
func (s *source) more() bool { return s.fill(true) }

// fill reads at least one more byte after the window. With grow, a full buffer is
// doubled; without, the window must be empty.
func (s *source) fill(grow bool) bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		if !grow || len(s.buf) >= maxWindow {
			return false
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			if err != io.EOF {
				s.rerr = err
			}
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	s.err, s.rerr = io.ErrNoProgress, io.ErrNoProgress
	return false
}
