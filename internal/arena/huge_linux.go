package arena

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// advised counts, for each huge page of the heap that blocks have asked huge
// pages for, the blocks that asked and are not yet collected. A block's cleanup
// may run after the runtime has already given its memory to a new block; the
// advice ends when the last block on a page is collected.
var advised struct {
	sync.Mutex
	blocks map[uintptr]int // huge page address → blocks
}

// hugeOff is the runtime's own switch, GODEBUG=disablethp=1, which keeps the
// heap out of transparent huge pages; the advice would undo it, so it is not
// given. The last setting of a name in GODEBUG counts, as for the runtime.
var hugeOff = func() bool {
	settings := strings.Split(os.Getenv("GODEBUG"), ",")
	slices.Reverse(settings)
	for _, kv := range settings {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "disablethp="); ok {
			return v == "1"
		}
	}
	return false
}()

// adviseHuge asks for huge pages from the first huge page boundary in b to the
// first one at or after its end. The range runs on past b so that its last
// partial huge page is huge too: blocks are allocated one after the other, and
// the next block fills the rest of that page. It is advice: memory already
// touched keeps its pages, and where the system has no huge pages nothing
// changes. When b is collected the advice is withdrawn from the pages no other
// block has asked for, so that memory the runtime reuses for small objects and
// gives back in parts is not gathered into huge pages again.
func adviseHuge(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(len(b)) + hugePage - 1) &^ (hugePage - 1)
	if end <= start || hugeOff {
		return
	}
	advised.Lock()
	defer advised.Unlock()
	if madvise(start, end-start, unix.MADV_HUGEPAGE) != nil {
		return
	}
	if advised.blocks == nil {
		advised.blocks = make(map[uintptr]int)
	}
	for a := start; a < end; a += hugePage {
		advised.blocks[a]++
	}
	runtime.AddCleanup(unsafe.SliceData(b), withdraw, [2]uintptr{start, end})
}

// withdraw is a collected block's cleanup: it ends the advice for the huge
// pages in [r[0], r[1]) that no other block asked for.
func withdraw(r [2]uintptr) {
	advised.Lock()
	defer advised.Unlock()
	for a := r[0]; a < r[1]; a += hugePage {
		if advised.blocks[a]--; advised.blocks[a] > 0 {
			continue
		}
		delete(advised.blocks, a)
		_ = madvise(a, hugePage, unix.MADV_NOHUGEPAGE)
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
