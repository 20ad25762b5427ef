package lightrag

import (
	"context"
	"slices"

	"github.com/zeebo/xxh3"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
	"github.com/graphvault/graphvault/store/graphml"
)

// DiffGraphs compares the graphs of two GraphML files entity by entity and
// relation by relation, in what DiffRecords takes: the snapshots of a Chunked
// File hold the file's bytes and no records, so they are compared this way
// once they are restored. Only a hash of each record is held, not the graphs.
func DiffGraphs(ctx context.Context, a, b string) ([]RecordChange, error) {
	type edgeSum struct {
		e   graph.Edge
		sum uint64
	}
	var buf []byte
	nodeSum := func(n graph.Node) (uint64, error) {
		var err error
		buf, err = wire.AppendNode(buf[:0], n.Labels, n.Props)
		return xxh3.Hash(buf), err
	}
	edgeHash := func(e graph.Edge) (uint64, error) {
		var err error
		buf, err = wire.AppendEdge(buf[:0], e.Props)
		return xxh3.Hash(buf), err
	}
	read := func(path string, node func(graph.Node, uint64), edge func(string, graph.Edge, uint64)) error {
		v, err := graphml.NewFile(path).View(ctx)
		if err != nil {
			return err
		}
		defer v.Close()
		directed := v.Meta().Directed
		for n, err := range v.Nodes(ctx) {
			if err != nil {
				return err
			}
			sum, err := nodeSum(n)
			if err != nil {
				return err
			}
			node(n, sum)
		}
		for e, err := range v.Edges(ctx) {
			if err != nil {
				return err
			}
			sum, err := edgeHash(e)
			if err != nil {
				return err
			}
			s, t := e.Source, e.Target
			if !directed && t < s {
				s, t = t, s // as the key names an undirected edge
			}
			edge(e.Key(directed), graph.Edge{Source: s, Target: t, Type: e.Type}, sum)
		}
		return nil
	}
	nodes := map[string]uint64{}
	edges := map[string]edgeSum{}
	err := read(a, func(n graph.Node, sum uint64) { nodes[n.ID] = sum },
		func(k string, e graph.Edge, sum uint64) { edges[k] = edgeSum{e, sum} })
	if err != nil {
		return nil, err
	}
	var changes []RecordChange
	err = read(b, func(n graph.Node, sum uint64) {
		old, ok := nodes[n.ID]
		switch {
		case !ok:
			changes = append(changes, RecordChange{Change: Added, NodeID: n.ID})
		case old != sum:
			changes = append(changes, RecordChange{Change: Changed, NodeID: n.ID})
		}
		delete(nodes, n.ID)
	}, func(k string, e graph.Edge, sum uint64) {
		old, ok := edges[k]
		switch {
		case !ok:
			changes = append(changes, RecordChange{Change: Added, Source: e.Source, Target: e.Target, Type: e.Type})
		case old.sum != sum:
			changes = append(changes, RecordChange{Change: Changed, Source: e.Source, Target: e.Target, Type: e.Type})
		}
		delete(edges, k)
	})
	if err != nil {
		return nil, err
	}
	removedNodes := make([]string, 0, len(nodes))
	for id := range nodes {
		removedNodes = append(removedNodes, id)
	}
	slices.Sort(removedNodes)
	for _, id := range removedNodes {
		changes = append(changes, RecordChange{Change: Removed, NodeID: id})
	}
	removedEdges := make([]string, 0, len(edges))
	for k := range edges {
		removedEdges = append(removedEdges, k)
	}
	slices.Sort(removedEdges)
	for _, k := range removedEdges {
		e := edges[k].e
		changes = append(changes, RecordChange{Change: Removed, Source: e.Source, Target: e.Target, Type: e.Type})
	}
	return changes, nil
}

// FileChanges returns the changes of file records among changes: which files'
// bytes changed, which DiffGraphs does not say.
func FileChanges(changes []RecordChange) []RecordChange {
	var out []RecordChange
	for _, c := range changes {
		if isReserved(c.NodeID) && splitID(c.NodeID)[0] == "file" {
			out = append(out, c)
		}
	}
	return out
}
