package arena

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// vma is one mapping of /proc/self/smaps, with what the tests read of it.
type vma struct {
	lo, hi    uintptr
	hugeBytes int64
	flags     []string
}

func mappings(t *testing.T) []vma {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	var out []vma
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			var lo, hi uintptr
			if _, err := fmt.Sscanf(fields[0], "%x-%x", &lo, &hi); err == nil {
				out = append(out, vma{lo: lo, hi: hi})
			}
		case len(out) > 0 && fields[0] == "AnonHugePages:":
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			out[len(out)-1].hugeBytes = kb << 10
		case len(out) > 0 && fields[0] == "VmFlags:":
			out[len(out)-1].flags = fields[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func needHugePages(t *testing.T) {
	if hugeOff {
		t.Skip("GODEBUG=disablethp=1")
	}
	// Memory an earlier test left resident keeps its small pages when reused.
	debug.FreeOSMemory()
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(b, []byte("[never]")) {
		t.Skip("this system offers no transparent huge pages")
	}
}

// fillBlocks fills a bulk arena until n blocks of BulkBlock bytes have been
// filled from start to end, writing every page and keeping every block
// reachable as a restore does, and returns the lowest start and the highest
// end of those n blocks.
func fillBlocks(a *Arena, n int) (lo, hi uintptr) {
	kept = make([][]byte, 0, n*BulkBlock/maxRegion+1024) // no growth between blocks
	for n > 0 {
		r := a.Alloc(maxRegion)
		kept = append(kept, r)
		for i := 0; i < len(r); i += 4096 {
			r[i] = 1
		}
		if cap(a.block) == BulkBlock && cap(a.block)-len(a.block) < maxRegion {
			start := uintptr(unsafe.Pointer(unsafe.SliceData(a.block)))
			if lo == 0 || start < lo {
				lo = start
			}
			hi = max(hi, start+BulkBlock)
			n--
		}
	}
	return lo, hi
}

// TestBulkBlocksAreHugePages fills bulk blocks in a child process: memory the
// test process used before keeps its small pages when it is reused, and only a
// fresh heap says whether the advice took.
// kept holds the regions fillBlocks cut, as records hold a restore's.
var kept [][]byte

func TestBulkBlocksAreHugePages(t *testing.T) {
	if os.Getenv("ARENA_TEST_FRESH_HEAP") == "off" {
		if !hugeOff {
			t.Fatal("GODEBUG=disablethp=1 is not seen")
		}
		a := NewBulk()
		lo, hi := fillBlocks(a, 4)
		for _, m := range mappings(t) {
			if m.hi > lo && m.lo < hi && slices.Contains(m.flags, "hg") {
				t.Errorf("with disablethp=1, blocks at %x-%x are advised for huge pages", lo, hi)
			}
		}
		runtime.KeepAlive(a)
		return
	}
	needHugePages(t)
	if os.Getenv("ARENA_TEST_FRESH_HEAP") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBulkBlocksAreHugePages$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ARENA_TEST_FRESH_HEAP=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		// With the runtime's switch set, the same blocks get no advice.
		cmd = exec.Command(os.Args[0], "-test.run=^TestBulkBlocksAreHugePages$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ARENA_TEST_FRESH_HEAP=off", "GODEBUG=disablethp=0,disablethp=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("with disablethp=1: %v\n%s", err, out)
		}
		return
	}
	a := NewBulk()
	lo, hi := fillBlocks(a, 4)
	var huge int64
	for _, m := range mappings(t) {
		if m.hi > lo && m.lo < hi && slices.Contains(m.flags, "hg") {
			huge += m.hugeBytes
		}
	}
	// The blocks follow one another: all but the start of the first are in
	// mappings advised for huge pages, and are huge.
	if hi-lo > 4*BulkBlock+hugePage {
		t.Fatalf("the blocks do not follow one another: %x to %x", lo, hi)
	}
	if want := int64(4*BulkBlock - hugePage); huge < want {
		t.Errorf("the mappings of %d MiB of filled bulk blocks hold %d bytes of huge pages, want at least %d", (hi-lo)>>20, huge, want)
	}
	runtime.KeepAlive(a)
}

func TestCollectedBlocksLoseTheAdvice(t *testing.T) {
	needHugePages(t)
	lo, _ := fillBlocks(NewBulk(), 2)
	kept = nil
	inner := (lo + hugePage - 1) &^ (hugePage - 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		for _, m := range mappings(t) {
			if m.lo <= inner && inner < m.hi {
				if slices.Contains(m.flags, "nh") {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("a collected bulk block's pages are still advised for huge pages")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCollectedBlocksAreForgotten(t *testing.T) {
	needHugePages(t)
	for range 4 {
		fillBlocks(NewBulk(), 2)
		kept = nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		advised.Lock()
		n := len(advised.blocks)
		advised.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d huge pages of collected blocks are still remembered", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
