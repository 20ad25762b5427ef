package arena

import (
	"strings"
	"testing"
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

func BenchmarkBytes(b *testing.B) {
	rec := make([]byte, 540)
	b.SetBytes(int64(len(rec)))
	var a Arena
	for b.Loop() {
		a.Bytes(rec)
	}
}
