// Package graphtest is the conformance suite every graph implementation runs, and
// the helpers other packages' tests use to compare and generate graphs.
//
// An implementation's test calls [Run] with a function that returns a new, empty
// graph:
//
//	func TestConformance(t *testing.T) {
//		graphtest.Run(t, func(t *testing.T, directed bool) graphtest.Graph {
//			return mygraph.New(directed)
//		})
//	}
//
// The suite checks content round trips with exact Go types, batch atomicity,
// cascading deletes, undirected edge identity, id and value validation, view
// isolation under concurrent writes, repeatable and interruptible iteration and,
// when the graph also implements [graph.Journal], positions, Changes and replay.
//
// [Diff] and [Equal] compare two graphs with a readable first difference;
// [Content] holds expected content; [Generate] makes deterministic LightRAG-shaped
// graphs of any size.
package graphtest

import (
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// Graph is what a harness returns: a new, empty graph. If it also implements
// [graph.Journal], the journal tests run; otherwise they are skipped. The harness
// releases what the graph holds with t.Cleanup.
type Graph interface {
	graph.Graph
}

// Run runs the conformance suite, for an undirected and a directed graph, calling
// newGraph for each test that needs a graph. Besides what the graph package
// documents, the suite expects what journal replay relies on: deleting a node or
// an edge that does not exist succeeds and changes nothing, Apply accepts
// [graph.OpReset], and a failed Apply or Replace is not journaled. Views must
// check their context: iterating with a cancelled context yields its error.
func Run(t *testing.T, newGraph func(t *testing.T, directed bool) Graph) {
	t.Helper()
	for _, directed := range []bool{false, true} {
		name := "undirected"
		if directed {
			name = "directed"
		}
		t.Run(name, func(t *testing.T) {
			s := &suite{newGraph: newGraph, directed: directed}
			for _, tc := range s.tests() {
				t.Run(tc.name, tc.run)
			}
		})
	}
}
