package memgraph

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRunsKeepTheLastOfEachKey loads sequences made of sorted runs, with keys
// repeated within and across runs and more runs than maxRuns, and checks that the
// merged tree holds the last record added for each key, in order, and that every
// other record was reported lost exactly once.
func TestRunsKeepTheLastOfEachKey(t *testing.T) {
	type rec struct{ key, seq int }
	less := func(a, b *rec) bool { return a.key < b.key }
	r := rand.New(rand.NewPCG(1, 2))
	for c := range 500 {
		var in []*rec
		for range 1 + r.IntN(2*maxRuns) {
			keys := make([]int, r.IntN(40))
			for i := range keys {
				keys[i] = r.IntN(60)
			}
			slices.Sort(keys) // equal neighbours too
			for _, k := range keys {
				in = append(in, &rec{k, len(in)})
			}
		}
		s := newRuns(less)
		lost := map[*rec]int{}
		for _, x := range in {
			if old, replaced := s.add(x); replaced {
				lost[old]++
			}
		}
		tree := s.merge(func(x *rec) { lost[x]++ })

		last := map[int]*rec{}
		for _, x := range in {
			last[x.key] = x
		}
		var got []*rec
		tree.Scan(func(x *rec) bool { got = append(got, x); return true })
		if len(got) != len(last) {
			t.Fatalf("case %d: %d records kept, want %d", c, len(got), len(last))
		}
		for i, x := range got {
			if i > 0 && got[i-1].key >= x.key {
				t.Fatalf("case %d: keys %d then %d", c, got[i-1].key, x.key)
			}
			if last[x.key] != x {
				t.Fatalf("case %d: key %d keeps record %d, want %d", c, x.key, x.seq, last[x.key].seq)
			}
		}
		for _, x := range in {
			want := 1
			if last[x.key] == x {
				want = 0
			}
			if lost[x] != want {
				t.Fatalf("case %d: record %d (key %d) reported lost %d times, want %d", c, x.seq, x.key, lost[x], want)
			}
		}
	}
}

func TestRunsEmpty(t *testing.T) {
	if n := newRuns(lessNode).merge(func(*nodeRec) { t.Fatal("lost") }).Len(); n != 0 {
		t.Fatalf("%d records", n)
	}
}
