// Package replication copies snapshots to other places and shows how far behind
// each place is.
//
// A [Service] keeps replication targets in the metadata store: a directory
// ("file"), an S3-compatible bucket ("s3") or another graphvault server's receive
// endpoint ("http", see [NewReceiver]). Each target opens as a blob bucket.
// [Service.Replicate] pushes one snapshot to one or every enabled target, copying
// only the objects the target lacks or holds damaged, the manifest last, so a target
// never shows a snapshot whose objects are not all there. Because objects are
// content-addressed, a run interrupted by a crash is resumed by running it again: it
// copies only what is still missing. Every run to a target is recorded as a
// store.ReplicationEvent whose status is "ok" only if every object and the manifest
// were confirmed present at the target.
//
// Automatic replication: [New] subscribes the service to the engine's commits
// (backup.Engine.Subscribe); after [Service.Start], every committed snapshot is
// pushed to every enabled target in the background, and a periodic pass checks the
// targets' health and catches up targets that missed snapshots (while they were
// down, or because the queue was full). [Service.Close] ends the subscription.
//
// Continuous replication: with [WithJournal], the change journal of every graph of
// a catalog that keeps one (graph.Journal) is shipped to every enabled target every
// second ([WithJournalInterval]) as hash-named segments with a HEAD (layout at
// [JournalPrefix]); a gap in the primary's journal is reported and shipping
// restarts from a baseline snapshot replicated first. A pass that ships records a
// replication event of kind "journal" with the batches, bytes and positions it
// shipped; an idle pass records none (see [Service.ShipJournal]). Snapshot status
// (up to date, lag) reads only the events of kind "snapshot". examples/replica follows a
// target. [Service.Failover] restores a graph from the freshest source whose
// snapshot passes full verification, then replays its journal tail.
//
// Secrets (the S3 secret key, the http bearer token) live only in the target's
// Secret field: they are never returned by the API, written to logs, put in errors
// or used as metric labels.
//
// # Errors
//
// [ErrInvalid] for a malformed target or argument (nothing is stored), [ErrNotFound]
// for an unknown target or snapshot, [ErrConflict] for a target name already taken,
// [ErrUnreachable] when a target could not be reached, [ErrCorrupt] when a source
// object fails its hash check (it is never sent), [ErrClosed] after Close,
// [ErrNotAllowed] for a target outside the allowed roots and hosts (nothing is
// stored). The store and backup sentinels stay reachable through errors.Is. An
// error a target caused is a [*TargetError]: its status, S3 code or network class
// only, never text the target sent.
//
// # Metrics
//
// Recorded through the meter provider given with [WithMeterProvider], meter named
// by this package's import path; target is the target's name, never a URL or
// secret: graphvault.replication.bytes{target,result} (By, object bytes sent),
// graphvault.replication.objects{target,result} (result copied, skipped or failed),
// graphvault.replication.operations{target,result} (one per replication run or
// check; result ok or failed), graphvault.replication.errors{target},
// graphvault.replication.lag{target,graph} (s, gauge),
// graphvault.replication.journal.position{target,graph} (gauge, newest batch held),
// graphvault.replication.journal.batches{target,result} (result ok, failed or gap)
// and graphvault.replication.journal.lag{target,graph} (s, gauge: age of the oldest
// batch not shipped yet, 0 when caught up).
package replication
