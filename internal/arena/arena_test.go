package arena

import (
	"runtime/debug"
	"strings"
	"testing"
	"unsafe"
)

func TestRegionsDoNotOverlap(t *testing.T) {
	var a Arena
	var got [][]byte
	var want []string
	for i := range 5000 {
		s := strings.Repeat(string(rune('a'+i%26)), i%300)
		if i%97 == 0 {
			s = strings.Repeat("x", maxRegion+1) // allocated alone
		}
		got = append(got, a.Bytes([]byte(s)))
		want = append(want, s)
	}
	for i := range got {
		if string(got[i]) != want[i] {
			t.Fatalf("region %d changed: %q", i, got[i])
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("region %d has room to grow into the next one", i)
		}
	}
}

func TestStrings(t *testing.T) {
	var a Arena
	if s := a.Concat("n:", "", "id"); s != "n:id" {
		t.Errorf("Concat = %q", s)
	}
	if s := a.String(""); s != "" {
		t.Errorf("String of empty = %q", s)
	}
	b := []byte("mutable")
	s := a.String(string(b))
	b[0] = 'M'
	if s != "mutable" {
		t.Errorf("String shares its argument: %q", s)
	}
}

func TestPair(t *testing.T) {
	var a Arena
	val := []byte("value")
	k, v := a.Pair("key", val)
	if k != "key" || string(v) != "value" {
		t.Fatalf("Pair = %q, %q", k, v)
	}
	if unsafe.Add(unsafe.Pointer(unsafe.StringData(k)), len(k)) != unsafe.Pointer(&v[0]) {
		t.Error("the value does not follow the key")
	}
	if cap(v) != len(v) {
		t.Error("the value has room to grow into the next region")
	}
	val[0] = 'V'
	if string(v) != "value" {
		t.Errorf("Pair shares its argument: %q", v)
	}
}

func BenchmarkBytes(b *testing.B) {
	rec := make([]byte, 540)
	b.SetBytes(int64(len(rec)))
	var a Arena
	for b.Loop() {
		a.Bytes(rec)
	}
}

func TestBulkRegions(t *testing.T) {
	a := NewBulk()
	first := a.Alloc(10)
	if cap(first) != 10 {
		t.Fatalf("region cap %d", cap(first))
	}
	if cap(a.block) != Block {
		t.Errorf("first bulk block of %d bytes, want %d", cap(a.block), Block)
	}
	held := cap(a.block)
	for blocks := 0; cap(a.block) < BulkBlock; blocks++ {
		for cap(a.block)-len(a.block) >= maxRegion {
			a.Alloc(maxRegion)
		}
		a.Alloc(maxRegion) // starts the next block
		if n := cap(a.block); n != min(max(Block, held/4), BulkBlock) {
			t.Fatalf("after %d bytes in blocks, a block of %d, want a quarter of that", held, n)
		}
		held += cap(a.block)
		if blocks > 1000 {
			t.Fatal("bulk blocks never reach BulkBlock")
		}
	}
}

// BenchmarkFill fills fresh memory with records, as a restore does: the memory
// is given back to the system before each round, so every round pays for first
// touches.
func BenchmarkFill(b *testing.B) {
	rec := make([]byte, 500)
	const total = 256 << 20
	for _, bc := range []struct {
		name string
		new  func() *Arena
	}{{"blocks", func() *Arena { return new(Arena) }}, {"bulk", NewBulk}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				b.StopTimer()
				debug.FreeOSMemory()
				b.StartTimer()
				a := bc.new()
				for n := 0; n < total; n += len(rec) {
					a.Bytes(rec)
				}
			}
		})
	}
}
