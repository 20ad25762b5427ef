package arena

import (
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// advised names, for each huge page of the heap that a block has asked huge
// pages for, the block that asked last. A block's cleanup may run after the
// runtime has already given its memory to a new block: it withdraws the advice
// only from the pages no other block has claimed since.
var advised struct {
	sync.Mutex
	owner map[uintptr]uint64 // huge page address → block
	next  uint64
}

// adviseHuge asks for huge pages from the first huge page boundary in b to the
// first one at or after its end. The range runs on past b so that its last
// partial huge page is huge too: blocks are allocated one after the other, and
// the next block fills the rest of that page. It is advice: memory already
// touched keeps its pages, and where the system has no huge pages nothing
// changes. When b is collected the advice is withdrawn from the pages wholly
// inside it, so that memory the runtime reuses for small objects and gives back
// in parts is not gathered into huge pages again.
func adviseHuge(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(len(b)) + hugePage - 1) &^ (hugePage - 1)
	if end <= start {
		return
	}
	advised.Lock()
	defer advised.Unlock()
	if madvise(start, end-start, unix.MADV_HUGEPAGE) != nil {
		return
	}
	if advised.owner == nil {
		advised.owner = make(map[uintptr]uint64)
	}
	advised.next++
	id := advised.next
	for a := start; a < end; a += hugePage {
		advised.owner[a] = id
	}
	inner := (p + uintptr(len(b))) &^ (hugePage - 1)
	runtime.AddCleanup(unsafe.SliceData(b), func(id uint64) { withdraw(start, inner, end, id) }, id)
}

// withdraw forgets the huge pages in [start, end) that block id still owns, and
// ends the advice for those before inner: the page from inner on is shared with
// whatever follows the block.
func withdraw(start, inner, end uintptr, id uint64) {
	advised.Lock()
	defer advised.Unlock()
	for a := start; a < end; a += hugePage {
		if advised.owner[a] != id {
			continue
		}
		delete(advised.owner, a)
		if a < inner {
			_ = madvise(a, hugePage, unix.MADV_NOHUGEPAGE)
		}
	}
}

// madvise takes addresses, not a slice: the range may run past the allocation
// it starts in, and a cleanup must not hold the block it is about.
func madvise(addr, n uintptr, advice int) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, n, uintptr(advice))
	if errno != 0 {
		return errno
	}
	return nil
}
