package arena

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
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
	// Memory an earlier test left resident keeps its small pages when reused.
	debug.FreeOSMemory()
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(b, []byte("[never]")) {
		t.Skip("this system offers no transparent huge pages")
	}
}

// fillBlock fills a bulk arena's blocks until one of BulkBlock bytes has been
// filled from its start to its end, writing every page as a restore does, and
// returns that block's address.
func fillBlock(a *Arena) uintptr {
	for {
		first := len(a.block) == 0 || cap(a.block)-len(a.block) < maxRegion
		r := a.Alloc(maxRegion)
		for i := 0; i < len(r); i += 4096 {
			r[i] = 1
		}
		if first && cap(a.block) == BulkBlock {
			start := uintptr(unsafe.Pointer(unsafe.SliceData(a.block)))
			for len(a.block)+maxRegion <= cap(a.block) {
				r := a.Alloc(maxRegion)
				for i := 0; i < len(r); i += 4096 {
					r[i] = 1
				}
			}
			return start
		}
	}
}

func TestBulkBlocksAreHugePages(t *testing.T) {
	needHugePages(t)
	a := NewBulk()
	start := fillBlock(a)
	var huge int64
	for _, m := range mappings(t) {
		if m.hi > start && m.lo < start+BulkBlock {
			huge += m.hugeBytes
		}
	}
	// At least the huge pages wholly inside the block; usually all of it.
	if huge < BulkBlock-hugePage {
		t.Errorf("the mappings of a filled bulk block hold %d bytes of huge pages, want at least %d", huge, BulkBlock-hugePage)
	}
	runtime.KeepAlive(a)
}

func TestCollectedBlocksLoseTheAdvice(t *testing.T) {
	needHugePages(t)
	inner := (fillBlock(NewBulk()) + hugePage - 1) &^ (hugePage - 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		for _, m := range mappings(t) {
			if m.lo <= inner && inner < m.hi {
				for _, f := range m.flags {
					if f == "nh" {
						return
					}
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
		fillBlock(NewBulk())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		advised.Lock()
		n := len(advised.owner)
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
