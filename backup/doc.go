// Package backup takes, restores, verifies, compares and prunes snapshots of graphs.
//
// An [Engine] keeps snapshot data in a blob bucket and snapshot rows in the
// metadata store. Every snapshot restores on its own: its manifest lists every
// object of its chain. A full snapshot writes every record; an incremental one
// writes only the records that changed since its parent, plus tombstones: those
// the graph's journal names, when it keeps one, or else those whose fingerprint
// differs from the parent chain's (read from the chain, or from memory with
// [WithLiveCache]); past the [ChainPolicy] the chain is merged into a synthetic
// full without reading the graph again. Segments are zstd-compressed, optionally
// sealed with AES-256-GCM, and stored under the SHA-256 of their bytes, so
// unchanged segments are stored once and any damage is found on read. FORMAT.md
// describes the layout byte by byte.
//
// Records travel in the encoding of the segments when the graph allows it: a view
// that holds its records encoded (store/memgraph's) hands them to a snapshot as
// they are, and a whole restore into a writer that stores them encoded (memgraph
// again) gives it the records as read, checked but not decoded. Any other view or
// writer gets decoded nodes and edges.
//
// Several instances may share one store and one bucket. A [Scheduler] runs a
// job only while it holds the graph's store lease (renewed while the job runs,
// see [WithLeaseTTL]), so each slot runs once across them. An engine named with
// [WithInstance] labels its snapshots with the instance, and
// [Engine.ResolveAbandoned] settles only the running rows whose instance the
// caller knows to be gone; [Engine.ResolveInterrupted] settles every row older
// than a bound, for a store nobody else writes.
//
// # Errors
//
// [ErrNotFound] for an unknown snapshot or graph; [ErrCorrupt] (as a *[CorruptError]
// naming the object) for a missing, truncated or altered object; [ErrWrongKey] when
// an encrypted snapshot cannot be opened; [ErrInvalid] for malformed arguments;
// [ErrBusy] for a conflicting operation in progress; [ErrEmptySelection] for a
// partial restore whose selection matches no node (nothing is written).
//
// # Metrics
//
// Recorded through the meter provider given to [New], meter named by this package's
// import path: graphvault.backup.snapshots{kind,result},
// graphvault.backup.snapshot.duration (s), graphvault.backup.written{graph} (By),
// graphvault.backup.scanned{graph} (By), graphvault.backup.records{graph},
// graphvault.backup.last_success_timestamp{graph} (s),
// graphvault.backup.restores{result}, graphvault.backup.restore.duration (s),
// graphvault.backup.verifications{mode,result}, graphvault.backup.verify.duration (s),
// graphvault.backup.pruned{graph}, graphvault.backup.gc.deleted, graphvault.backup.gc.freed (By),
// graphvault.backup.live_cache.lookups{result}, graphvault.backup.live_cache.records{graph}.
// The counters whose label sets are known (kinds, modes, results) are present at
// zero from [New]; the per-graph series from [Engine.InitMetrics] or the graph's
// first snapshot. The newest snapshot's nodes, edges and size are the monitoring
// package's, read from the store.
package backup
