// Package lightrag snapshots a whole LightRAG working directory as one graphvault
// snapshot and restores it byte for byte.
//
// A working directory (rag_storage/, or rag_storage/<workspace>/) holds the graph
// graph_chunk_entity_relation.graphml (written by NetworkX), the key-value stores
// kv_store_*.json (Python's json.dump(indent=2, ensure_ascii=False)) and the
// nano-vectordb files vdb_*.json ({"embedding_dim": N, "data": [...], "matrix":
// "<base64 of float32 rows>"}, json.dump(ensure_ascii=False)). A [Dir] is such a
// folder (or one GraphML file) as a [graph.Graph]: the backup engine snapshots its
// View, restores into its Replace, and merges a partial restore through its Apply.
// [Workspaces] finds the workspaces of a folder: one graph each. A [File] is one
// GraphML file read through graphml.IndexedFile, so that the snapshot of a
// rewritten file decodes and writes only what changed, with the same records a
// single-file Dir snapshot holds: a Dir restores it byte for byte.
//
// # How a working directory maps onto a snapshot
//
// The engine snapshots a graph of node and edge records, with one manifest and one
// commit point per snapshot; diff, verify, retention, GC, encryption, replication
// and checkpoints all work on those records. The least invasive way to carry files
// that are not the graph is therefore as node records of their own, told apart by
// a reserved label and by an id that starts with U+0001, a character no GraphML
// node id can hold (XML 1.0 cannot carry it), so they never meet an entity. The
// snapshot format, the engine and every other package stay as they are; a new
// record kind would have changed the format, every reader of it and every
// consumer of graph.View. The records are:
//
//   - the graph: each GraphML node and edge as itself (entities and relations), so
//     graph diffs, partial restores and counts mean what they mean elsewhere;
//   - [LabelKV] "\x01kv\x01<file>\x01<key>": one per top-level entry of a key-value
//     store, {"json": the entry minified, every token as written}. An incremental
//     snapshot costs the entries that changed;
//   - [LabelVDB] "\x01vdb\x01<file>\x01<__id__>": one per data entry of a vector
//     store with its matrix row, {"json": entry, "vector": base64 of the row's
//     float32 bytes};
//   - [LabelChunk] "\x01chunk\x01<hex of the first 16 bytes of its SHA-256>": a
//     content-defined chunk (gear hash, 8 KiB to 128 KiB, about 40 KiB) of any other
//     file, or of an order stream below; {"text"} when UTF-8, else {"b64"}. Equal
//     chunks are one record;
//   - [LabelFile] "\x01file\x01<path>": one per file, folder (empty ones included)
//     and symbolic link, dotfiles too: kind, mode, size, SHA-256, the chunks of its
//     content or of its order stream, and for GraphML the writer's head;
//   - [LabelRoot] "\x01root": whether the snapshot is of a folder or of one file;
//   - [LabelPiece] "\x01piece\x01<hex xxh3-128 of its first line>" and [LabelPatch]
//     "\x01patch\x01<same>": a [Chunked] [File]'s pieces and the patches of
//     those whose elements changed, instead of the graph's records (see pieceNode
//     and patch); the file record lists the pieces in order, "+" marking a
//     patched one.
//
// The order of a store's entries (a Python dict keeps insertion order; a vector
// store's rows are in data order) is an order stream, one key or __id__ a line,
// kept in chunks: an entry that changes in place changes no chunk, an appended
// one changes the last.
//
// Vector files are kept at record level, not in chunks: a row is 4·dim bytes, not
// a multiple of 3, so removing or inserting one row shifts the base64 text of every
// row after it and content-defined chunks of the file would all change; as
// records, a changed entry costs its row. docs/BENCHMARKS.md has the figures.
//
// Byte for byte. At snapshot time each store file is re-encoded from what its
// records will hold (kv with indent=2, vdb on one line with ", " and ": ", the
// matrix as one base64 string) and the result's SHA-256 compared with the file's;
// a file that does not re-encode exactly, or is not JSON, is kept in chunks, and
// its file record says why. A GraphML file is decoded into the graph's records and
// its layout read ([graphml.ReadLayout]: NetworkX's writer — lxml or ElementTree
// —, the key declarations with their ids and order, the graph data, the node
// order, the edge order and orientation, any element whose data are not in key
// order); the layout's head goes in the file record and its nodes and edges in an
// order stream (node ids in file order; an edge names its ends by their index
// among the nodes, and only its target when its source is the previous edge's,
// as NetworkX writes edges grouped by source). Written back with
// [graphml.WriteLayout], it must give the file's SHA-256; where it does not for a
// file NetworkX laid out (ElementTree leaves carriage returns in text raw, which
// XML readers turn into line feeds), the file's own bytes are kept in chunks
// beside its records. A file no NetworkX writer made is re-encoded as the same
// graph (NetworkX's read_graphml sees the same nodes, edges and data) and
// [RestoreReport] lists the file. A [File] does
// not write the layout back when it snapshots (that would cost a whole write of
// a large file); it keeps the bytes of a file that holds a carriage return, and
// its restore writes the layout, compares, and lists a file whose bytes
// NetworkX's writers do not give.
//
// A restore of one GraphML file keeps the graph's records, as they arrive, in an
// unlinked spill file beside the target (memory-mapped where the system allows),
// with 16 bytes a record in memory, and reads them back in the file's order; other
// restores hold the records in memory.
//
// A restore writes every file into a new folder beside the target and checks each
// against its SHA-256 before the new folder takes the old one's place
// (renameat2(RENAME_EXCHANGE) where the system has it); a damaged record or a
// missing one fails the restore, which then writes nothing. The engine itself
// checks the hash of every object it reads.
//
// # Consistency with a running LightRAG
//
// LightRAG rewrites its files at the end of each insert. A snapshot copies the
// folder aside, comparing each file's size, modification time, inode and mode
// before and after it is read, and the whole listing before and after the whole
// set: a file that moved, or one added or removed, makes it read the whole set
// again, at most [WithRetries] times with a doubling wait, and then fail with
// [ErrUnsettled]. Records are taken from the copy, so a snapshot never mixes two
// saves.
//
// # Errors
//
// [ErrUnsettled], [ErrUnsupported], [ErrCorrupt], [ErrExists]; others are the
// file system's, wrapped.
//
// # Metrics
//
// None of its own: snapshots and restores are recorded by the backup engine.
package lightrag
