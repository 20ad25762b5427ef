package main

import (
	"context"
	"os"
)

// The program's whole output: counts, kinds and the comparisons of the restored
// graphs. Snapshot ids and sizes vary from run to run and are not printed.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// snapshot 1: full, 4 nodes, 3 edges
	// snapshot 2: incremental, 5 nodes, 3 edges
	// snapshot 2 stored only what changed: 3 new or changed records, 1 deleted; parent is snapshot 1: true
	// restored snapshot 1: 4 nodes, 3 edges, equal to the graph at snapshot time: true
	// restored snapshot 2: 5 nodes, 3 edges, equal to the graph at snapshot time: true
}
