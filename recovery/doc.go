// Package recovery keeps graphs recoverable and says whether they are: it runs the
// health checks that find real problems in what protects a graph.
//
// A [Checker] is one small check of one component: [StoreCheck] pings the metadata
// store and reads its migrations table, [BucketCheck] writes, reads back, compares
// and deletes a probe object, [SnapshotFreshnessCheck] finds each graph's newest
// completed snapshot, judges its age and verifies it, [SchedulerCheck] reads a
// backup scheduler's jobs for failed and overdue runs, and [ReplicationLagCheck]
// judges how long ago each enabled replication target last succeeded. Hosts add their own by
// implementing the interface.
//
// [Health] runs a set of checkers concurrently, each under a timeout, so a check
// that hangs is reported as failed instead of holding the report up. Every result is
// recorded as a store.HealthEvent; the [Report] carries the overall status (the worst
// of the checks) and the reasons for it. Health runs on demand with [Health.Run] and
// on an interval between [Health.Start] and [Health.Close]; [Health.Last] returns the
// newest report without running anything.
//
// # Errors
//
// A check never returns an error: what goes wrong becomes a fail or warn [Result]
// whose Message says why (a timed-out check says "timed out", a check that panics
// says so). [NewHealth] returns an error wrapping [ErrInvalid] for a nil store, a nil
// checker, two checkers with the same component and name, or a bad option; Start
// returns [ErrBusy] when the runner is already started. A health event that cannot
// be recorded is logged and the report still returned.
//
// # Metrics
//
// Through the meter provider given with [WithHealthMeterProvider] (the global one
// otherwise), meter named by this package's import path:
//   - graphvault.health.status (gauge, {component, check}): 1 pass, 0.5 warn, 0 fail,
//     set after every run.
//   - graphvault.health.checks (counter, {check}, attributes component, check and
//     result "pass", "warn" or "fail"): checks run.
//   - graphvault.health.check.duration (histogram, s, {component, check}): how long
//     each check took.
//
// # Checkpoints and restores
//
// A [Service] (made by [New] over a backup engine and a graph catalog) creates
// checkpoints that bind several graphs, each to a snapshot and the journal position
// it reflects; [Service.Validate] verifies them in full and records the outcome on
// the checkpoint and as health events (component "recovery", check "checkpoint",
// which [CheckpointCheck] also reports under). [Service.Plan] builds a dry-run
// [Plan] for a checkpoint or for a graph at a point in time (a snapshot, then the
// graph's journal replayed up to that time), saying whether the point is reached
// exactly; [Service.Execute] verifies the snapshots and runs it. [Service.Status]
// says per graph how much data a restore now would lose and how long it should take.
// [NewHandler] serves all of it, and the health answer, over HTTP. Its errors are
// [ErrInvalid], [ErrNotFound] (also a checkpoint naming a graph that does not exist
// and has no snapshots), [ErrCorrupt] (naming the object) and [ErrInexact] (the point
// asked for cannot be reached exactly and the nearest earlier one was not allowed).
// Its metrics, through [WithMeterProvider]: graphvault.recovery.checkpoints
// (counter), graphvault.recovery.validations{result} (valid, invalid, error),
// graphvault.recovery.restores{result} (ok, refused, failed) and
// graphvault.recovery.restore.duration (histogram, s, {result}).
package recovery
