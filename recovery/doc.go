// Package recovery keeps graphs recoverable and says whether they are: it binds
// graphs into checkpoints, validates them, plans and runs restores to a checkpoint
// or to a point in time, and serves all of it over HTTP. The health framework its
// checks run in is package [health].
//
// A [Service] (made by [New] over a backup engine and a graph catalog) creates
// checkpoints that bind several graphs, each to a snapshot and the journal position
// it reflects; [Service.Validate] verifies them in full and records the outcome on
// the checkpoint and as health events (component "recovery", check "checkpoint").
// [Service.Plan] builds a dry-run [Plan] for a checkpoint or for a graph at a point
// in time (a snapshot, then the graph's journal replayed up to that time), saying
// whether the point is reached exactly; [Service.Execute] verifies the snapshots and
// runs it. [Service.Status] says per graph how much data a restore now would lose
// and how long it should take.
//
// [CheckpointCheck] is the [health.Checker] of checkpoints: it reports under the
// same component and check as Validate, judging the newest checkpoint by a
// [CheckpointPolicy] (whether having none at all is a warning).
//
// [NewHandler] serves the service and a [health.Runner]'s answer on an [api.Mux],
// with the scope of each route and the status of each error listed in its doc; it
// triggers the runner after every change it makes, so that GET /health follows.
//
// # Errors
//
// [ErrInvalid] for a rejected argument, [ErrNotFound] for an unknown checkpoint,
// graph or snapshot (also a checkpoint naming a graph that does not exist and has
// no snapshots), [ErrCorrupt] for missing or damaged data (the error names the
// object) and [ErrInexact] when the point asked for cannot be reached exactly and
// the nearest earlier one was not allowed. Errors of the backup engine, the graph
// catalog and the metadata store come through wrapped. A check never returns an
// error: what goes wrong becomes a fail or warn result.
//
// # Metrics
//
// Through the meter provider given with [WithMeterProvider] (the global one
// otherwise), meter named by this package's import path:
//   - graphvault.recovery.checkpoints (counter, {checkpoint}): checkpoints created.
//   - graphvault.recovery.validations (counter, {validation}, attribute result:
//     valid, invalid or error): checkpoint validations.
//   - graphvault.recovery.restores (counter, {restore}, attribute result: ok,
//     refused or failed): planned restores run.
//   - graphvault.recovery.restore.duration (histogram, s, attribute result): how
//     long each restore took.
package recovery
