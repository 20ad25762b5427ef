// Package graphml reads and writes GraphML the way NetworkX writes it, which is the
// file LightRAG's default graph storage keeps (graph_chunk_entity_relation.graphml).
//
// Reading and writing both stream: a [Decoder] holds only the key declarations and
// the set of node IDs it has seen (to reject duplicate nodes and dangling edges), and
// [Write] walks a [graph.View] twice, once to collect the key declarations that must
// come first in the file and once to write the nodes and edges. [Load] streams a file
// into a [graph.Writer]; [File] is a graph kept in a GraphML file on disk.
//
// # Types
//
// Each <key> declares a name and a type. On reading, int, long and integer become
// int64, float and double become float64 (a double "1" stays a float64), boolean
// becomes bool (true/false in any case, and 0/1, as NetworkX accepts), string stays a
// string. A <default> in a key is applied to every node or edge that has no value for
// it. Keys for "all" apply to nodes and edges; graph-level data (keys for "graph") has
// no place in [graph.Meta] and is checked, then dropped.
//
// On writing, int64 is written as long, float64 as double (formatted as Python's repr
// does: shortest round trip, "1.0" rather than "1", "1e-05"), bool as boolean
// ("True"/"False", as Python prints them), string as string. A list or map property
// is written as its JSON text in a string attribute, so it reads back as that string.
// A nil property is not written (GraphML has no null). When one attribute name holds
// values of several types, one key is declared per (domain, name, type), as NetworkX does.
//
// Node labels and edge types are not GraphML concepts. They are written, only when not
// empty, as the reserved string attributes __labels__ (a JSON array) on nodes and
// __type__ on edges, and mapped back on reading; LightRAG files have neither. A node
// property named __labels__ or an edge property named __type__ cannot be written.
//
// The output has NetworkX's shape: the XML declaration with single quotes, the graphml
// element with its namespace and schema location, the keys (newest first, as
// NetworkX's writer inserts them), <graph edgedefault=...>, the nodes, then the edges,
// indented by two spaces. LightRAG's own attributes are written in the order LightRAG
// creates them (entity_id, entity_type, description, source_id, file_path,
// created_at; weight, description, keywords, source_id, file_path, created_at), other
// attributes after them by name, so a LightRAG file written back is unchanged.
//
// [IndexedFile] is a File with an index beside it, so that a view of a file that was
// rewritten with a few records changed decodes only those, and offers them as a
// journal (the backup engine then writes only them).
//
// Reading is fast for the files NetworkX writes: a scanner reads their nodes and
// edges straight from the input buffer and leaves anything else (the head, comments,
// other elements and attributes, anything in error) to encoding/xml, element by
// element, so the results and the errors are those of encoding/xml.
//
// The reader accepts files with or without indentation, ids holding spaces, quotes,
// slashes or any Unicode, and the GraphML namespace or none. Nodes must come before
// the edges that use them, as NetworkX writes them. Elements of other namespaces,
// <desc> and <port> are skipped; only the first <graph> of a document is read; nested
// graphs and hyperedges are rejected.
//
// # Errors
//
// Reading returns a [*ParseError] for bad input, never panics. It carries the line
// and column and wraps [ErrSyntax] when the XML itself is not well formed (a
// truncated file, for one) or [ErrMalformed] when the XML is valid but is not a graph
// this package can read: an undeclared key, a value that does not parse as its
// declared type, a duplicate node id, an edge to a node not declared before it, a
// missing id, source or target. An id that [graph.ValidateID] rejects also wraps
// [graph.ErrInvalidID]. Errors from the underlying reader and from the context are
// returned wrapped as they are.
//
// Writing returns an error wrapping [graph.ErrInvalidID] or [graph.ErrInvalidValue]
// for a node, edge or value that cannot be written, including strings holding
// characters XML 1.0 cannot carry (control characters other than tab, newline and
// carriage return), and [ErrMalformed] for a duplicate node or an edge whose ends are
// not among the nodes.
package graphml
