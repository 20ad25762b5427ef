// Package graph is the graph model graphvault protects and the small interfaces a
// host implements so that its graph can be snapshotted, restored and followed.
//
// A graph is a set of nodes and a set of edges. A node is identified by its ID; an
// edge by the triple (Source, Target, Type). In an undirected graph (the shape
// LightRAG keeps) the edge (a, b, t) and the edge (b, a, t) are the same edge: see
// [EdgeKey]. Property values are JSON-compatible: nil, bool, int64, float64, string,
// []any and map[string]any (see [NormalizeValue]).
//
// The host implements:
//   - [Reader]: a consistent [View] of one graph, streamed node by node, then edge by edge;
//   - [Writer]: replace a graph's whole content, or apply a batch of changes;
//   - optionally [Journal]: the ordered change batches since a position, named by
//     [Meta.Journal] so that positions of different journals are never compared;
//   - optionally, on views, [Getter] and [Counter] (read single records and know
//     the graph's size: with a Journal, an incremental snapshot then reads only
//     what changed) and [Normalized] (the content was checked on its way in:
//     snapshots skip checking it again).
//
// store/memgraph implements all of them; store/graph/graphtest is the conformance
// suite every implementation runs.
//
// # Errors
//
// [ErrInvalidID] for an ID or key that is empty, not UTF-8, holds a NUL byte or is
// too long; [ErrInvalidValue] for a property value that is not JSON-compatible;
// [ErrNotFound] for a graph that does not exist; [ErrExists] when a catalog is asked
// to add a graph under an id it already holds; [ErrJournalGap] when a journal can no
// longer serve the position asked for. Implementations wrap them with %w.
package graph

import (
	"context"
	"errors"
	"iter"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	ErrInvalidID    = errors.New("graph: invalid id")
	ErrInvalidValue = errors.New("graph: invalid property value")
	ErrNotFound     = errors.New("graph: not found")
	ErrExists       = errors.New("graph: already exists")
	ErrJournalGap   = errors.New("graph: journal gap")
	ErrClosed       = errors.New("graph: closed")
)

// Node is a vertex with labels and properties.
type Node struct {
	ID     string         `json:"id"`
	Labels []string       `json:"labels,omitempty"`
	Props  map[string]any `json:"props,omitempty"`
}

// Edge is a relation from Source to Target with a type and properties. Its identity
// is (Source, Target, Type); Type may be empty.
type Edge struct {
	Source string         `json:"source"`
	Target string         `json:"target"`
	Type   string         `json:"type,omitempty"`
	Props  map[string]any `json:"props,omitempty"`
}

// Meta describes a view of a graph.
type Meta struct {
	// Directed is false for undirected graphs, where (a, b, t) and (b, a, t) are one edge.
	Directed bool
	// Position is the journal position the view reflects: every batch with Seq <=
	// Position is in the view and none after it. Zero when the graph has no journal.
	Position uint64
	// Journal names the journal Position counts in, unique per journal: positions
	// of views with different Journal values are unrelated (a graph made afresh
	// counts from 1 again). Empty when unknown, and then positions are never
	// compared across views.
	Journal string
	// Normalized, given to Writer.Replace, promises that every node and edge the
	// sequences yield is valid and already in the form Normalize returns, with
	// labels and maps nobody else holds: content decoded from a snapshot is. The
	// writer may skip checking it again. Views leave it false.
	Normalized bool
}

// View is a consistent, read-only picture of one graph. Nodes and Edges may each be
// called more than once and see the same content; a View is used by one goroutine at
// a time. A node or edge it yields, with its labels and property maps, is not
// changed afterwards: readers may hand it to other goroutines while the iteration
// goes on. The caller must Close it.
type View interface {
	Meta() Meta
	// Nodes yields every node once, then stops. Edges yields every edge once. A
	// stable order across views (for example by key) makes snapshots deduplicate better.
	Nodes(ctx context.Context) iter.Seq2[Node, error]
	Edges(ctx context.Context) iter.Seq2[Edge, error]
	Close() error
}

// Normalized is an optional View method. A view whose every node and edge passed
// Normalize or Adopt when it was written (memgraph's views do) returns true, and
// readers such as the backup engine skip checking ids and text again. A view that
// says so falsely makes snapshots that restore refuses as corrupt.
type Normalized interface {
	Normalized() bool
}

// Getter is an optional View method set for reading single records of the view.
// Incremental snapshots use it with a Journal to read only what changed.
type Getter interface {
	// Node returns the node with the id, and whether it exists.
	Node(ctx context.Context, id string) (Node, bool, error)
	// Edge returns the edge with the key, and whether it exists; in an undirected
	// graph the ends may be given either way round.
	Edge(ctx context.Context, source, target, typ string) (Edge, bool, error)
}

// Counter is an optional View method: how many nodes and edges the view holds,
// known without reading them. With a Journal and a Getter it lets an incremental
// snapshot read only what changed and still record the graph's size.
type Counter interface {
	Counts() (nodes, edges int64)
}

// Reader opens consistent views of a graph. View may be called concurrently.
type Reader interface {
	View(ctx context.Context) (View, error)
}

// Writer changes a graph's content. Calls are serialized by the implementation.
type Writer interface {
	// Replace swaps the whole content of the graph for the nodes, then the edges, the
	// two sequences yield. If either yields an error or ctx ends, the graph is left as
	// it was. Edges whose ends are not among the nodes are an error. Replace may keep
	// the labels and property maps it is given (a bulk load need not copy them), so
	// the caller must not change them afterwards.
	Replace(ctx context.Context, meta Meta, nodes iter.Seq2[Node, error], edges iter.Seq2[Edge, error]) error
	// Apply applies the operations of one batch in order, atomically.
	Apply(ctx context.Context, ops []Op) error
}

// Graph is what most hosts hand over: a graph that can be read and written.
type Graph interface {
	Reader
	Writer
}

// Journal is an ordered, gap-free sequence of change batches. Positions start at 1
// and grow by one per batch. Changes may be called concurrently with writes.
type Journal interface {
	// Changes yields the batches with Seq > after, in order, up to the newest batch
	// stored when it is called. If batches after `after` are no longer kept it yields
	// an error wrapping ErrJournalGap first.
	Changes(ctx context.Context, after uint64) iter.Seq2[Batch, error]
}

// OpKind says what an Op does.
type OpKind uint8

// Operation kinds. OpReset removes every node and edge. Replace is journaled as one
// batch: OpReset followed by upserts of the whole new content, so the journal alone
// can rebuild the graph.
const (
	OpUpsertNode OpKind = iota + 1
	OpDeleteNode
	OpUpsertEdge
	OpDeleteEdge
	OpReset
)

func (k OpKind) String() string {
	switch k {
	case OpUpsertNode:
		return "upsert_node"
	case OpDeleteNode:
		return "delete_node"
	case OpUpsertEdge:
		return "upsert_edge"
	case OpDeleteEdge:
		return "delete_edge"
	case OpReset:
		return "reset"
	}
	return "unknown"
}

// Op is one change. For OpUpsertNode, Node is the whole new node; for OpDeleteNode
// only Node.ID is read, and the node's edges are deleted with it. For OpUpsertEdge,
// Edge is the whole new edge (its ends must exist); for OpDeleteEdge only its key
// fields are read.
type Op struct {
	Kind OpKind `json:"kind"`
	Node Node   `json:"node,omitzero"`
	Edge Edge   `json:"edge,omitzero"`
}

// Batch is one journal entry: the operations applied together at Time.
type Batch struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Ops  []Op      `json:"ops"`
}
