// Package arena hands out byte regions cut from large blocks, so that loading
// millions of small records makes few objects for the garbage collector to track.
//
// A region is written once, when it is handed out, and never again, so a string
// may share its bytes (String, Concat). A block stays allocated while any region
// cut from it is reachable: records that are later replaced or deleted free their
// memory only block by block. An Arena is used by one goroutine at a time.
//
// An arena made by NewBulk is for loading a whole graph at once: its blocks grow
// with what it holds, up to BulkBlock, and where the system offers transparent
// huge pages they are asked for them, so filling fresh memory takes one page
// fault per 2 MiB instead of one per 4 KiB. On a virtual machine a fault on
// fresh memory can cost microseconds, and a restore of millions of records fills
// gigabytes of it. GODEBUG=disablethp=1, the runtime's switch that keeps the
// heap out of huge pages, turns the advice off too.
package arena

import "unsafe"

// Block is the size of the blocks regions are cut from.
const Block = 64 << 10

// BulkBlock is the size a bulk arena's blocks grow to: a huge page. Blocks are
// allocated one after another, so with the advice running on to the next huge
// page boundary (see adviseHuge) a run of them lies in huge pages whatever
// their size; a small block wastes less at the end of a load. A block is a quarter
// of what the arena's blocks hold so far (at least Block), so the unused end of
// the last one is at most a fifth of the arena's memory.
const BulkBlock = 2 << 20

// maxRegion is the largest region cut from a block; larger ones are allocated alone.
const maxRegion = Block / 8

// Arena cuts regions from its current block. The zero value is ready to use.
type Arena struct {
	block []byte
	bulk  bool
	held  int // bytes in the blocks of a bulk arena
}

// NewBulk returns an arena whose blocks grow to BulkBlock and are advised for
// huge pages.
func NewBulk() *Arena { return &Arena{bulk: true} }

// Alloc returns a region of n bytes, zeroed.
func (a *Arena) Alloc(n int) []byte {
	if n > maxRegion {
		return make([]byte, n)
	}
	if cap(a.block)-len(a.block) < n {
		a.block = a.newBlock()
	}
	l := len(a.block)
	a.block = a.block[:l+n]
	return a.block[l : l+n : l+n]
}

func (a *Arena) newBlock() []byte {
	if !a.bulk {
		return make([]byte, 0, Block)
	}
	n := min(max(a.held/4, Block), BulkBlock)
	a.held += n
	b := make([]byte, 0, n)
	adviseHuge(b[:n])
	return b
}

// Bytes returns a copy of b.
func (a *Arena) Bytes(b []byte) []byte {
	r := a.Alloc(len(b))
	copy(r, b)
	return r
}

// Pair returns copies of key and val in one region, val right after key, so that
// one pointer reaches both.
func (a *Arena) Pair(key string, val []byte) (string, []byte) {
	r := a.Alloc(len(key) + len(val))
	copy(r, key)
	copy(r[len(key):], val)
	return unsafe.String(unsafe.SliceData(r), len(key)), r[len(key):]
}

// String returns a copy of s.
func (a *Arena) String(s string) string { return a.Concat(s) }

// Concat returns the strings joined, as one copy.
func (a *Arena) Concat(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return ""
	}
	r := a.Alloc(n)[:0]
	for _, p := range parts {
		r = append(r, p...)
	}
	return unsafe.String(unsafe.SliceData(r), len(r))
}
