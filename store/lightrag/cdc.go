package lightrag

import (
	"bufio"
	"io"
)

// Content-defined chunking cuts a byte stream where a rolling hash of the last
// bytes meets a condition, so an insertion or a deletion changes only the chunks
// around it: the others are cut at the same places and stored once. The bounds
// keep chunks between chunkMin and chunkMax bytes, chunkAvg on average.
const (
	chunkMin = 8 << 10
	chunkAvg = 32 << 10
	chunkMax = 128 << 10
)

// gear is the table of the gear rolling hash: 256 fixed pseudo-random words
// (SplitMix64 from a fixed seed), so the same bytes are always cut alike.
var gear = func() (t [256]uint64) {
	x := uint64(0x6c69676874726167)
	for i := range t {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		t[i] = z ^ (z >> 31)
	}
	return t
}()

// chunker cuts what it reads into chunks.
type chunker struct {
	r   *bufio.Reader
	buf []byte
}

func newChunker(r io.Reader) *chunker {
	return &chunker{r: bufio.NewReaderSize(r, 1<<20), buf: make([]byte, 0, chunkMax)}
}

// next returns the next chunk, valid until the following call, or io.EOF.
func (c *chunker) next() ([]byte, error) {
	const mask = chunkAvg - 1 // chunkAvg is a power of two
	c.buf = c.buf[:0]
	var h uint64
	for len(c.buf) < chunkMax {
		b, err := c.r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		c.buf = append(c.buf, b)
		h = h<<1 + gear[b]
		if len(c.buf) >= chunkMin && h&(mask<<16) == 0 {
			break
		}
	}
	if len(c.buf) == 0 {
		return nil, io.EOF
	}
	return c.buf, nil
}
