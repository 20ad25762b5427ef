// Package kmerge merges sorted runs into one sorted sequence. Large sets are sorted
// as runs while they are collected and merged once at the end, which needs neither
// one large allocation nor a copy to grow it.
package kmerge

import "container/heap"

// Merge calls fn with every element of runs in the order of cmp, each run being
// sorted by it. It stops at fn's first error and returns it. The runs are consumed:
// their slices are resliced, not their elements changed.
func Merge[T any](runs [][]T, cmp func(a, b T) int, fn func(T) error) error {
	h := &runHeap[T]{cmp: cmp}
	for _, r := range runs {
		if len(r) > 0 {
			h.runs = append(h.runs, r)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		v := h.runs[0][0]
		if h.runs[0] = h.runs[0][1:]; len(h.runs[0]) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// runHeap orders runs by their first element.
type runHeap[T any] struct {
	runs [][]T
	cmp  func(a, b T) int
}

func (h *runHeap[T]) Len() int           { return len(h.runs) }
func (h *runHeap[T]) Less(i, j int) bool { return h.cmp(h.runs[i][0], h.runs[j][0]) < 0 }
func (h *runHeap[T]) Swap(i, j int)      { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *runHeap[T]) Push(x any)         { h.runs = append(h.runs, x.([]T)) }
func (h *runHeap[T]) Pop() any {
	last := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return last
}
