package kmerge

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMergeSorts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sizes := range [][]int{nil, {0}, {5}, {3, 0, 7}, {100, 1, 50, 50, 9}} {
		var runs [][]int
		var want []int
		for _, n := range sizes {
			run := make([]int, n)
			for i := range run {
				run[i] = r.IntN(40) // repeats within and across runs
			}
			slices.Sort(run)
			runs = append(runs, run)
			want = append(want, run...)
		}
		slices.Sort(want)
		var got []int
		if err := Merge(runs, cmp.Compare[int], func(v int) error { got = append(got, v); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sizes %v: got %v, want %v", sizes, got, want)
		}
	}
}

func TestMergeStopsAtTheFirstError(t *testing.T) {
	stop := errors.New("stop")
	seen := 0
	err := Merge([][]int{{1, 3, 5}, {2, 4, 6}}, cmp.Compare[int], func(v int) error {
		if seen++; v == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 4 {
		t.Fatalf("got %v after %d values, want stop after 4", err, seen)
	}
}
