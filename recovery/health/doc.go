// Package health runs the checks that find real problems in what protects a graph,
// records their results and says whether the whole is healthy.
//
// A [Checker] is one small check of one component: [StoreCheck] pings the metadata
// store and reads its migrations table, [BucketCheck] writes, reads back, compares
// and deletes a probe object under [ProbePrefix], [SnapshotFreshnessCheck] finds
// each graph's newest completed snapshot, judges its age and verifies it,
// [SchedulerCheck] reads a backup scheduler's jobs for failed and overdue runs,
// [ReplicationLagCheck] judges how long ago each enabled replication target last
// succeeded, and [JournalCheck] finds journal gaps that make point-in-time recovery
// past the newest snapshot impossible. The checks that judge an age take a policy
// struct whose zero value is a sensible default. Other packages add checks of
// their own (recovery.CheckpointCheck), and so do hosts, by implementing the
// interface.
//
// A [Runner] (made by [New]) runs a set of checkers concurrently, each under a
// timeout, so a check that hangs is reported as failed instead of holding the
// report up. Every result is recorded as a meta.HealthEvent; the [Report] carries
// the overall status (the worst of the checks) and the reasons for it. A Runner
// runs on demand with [Runner.Run], and between [Runner.Start] and [Runner.Close]
// in a loop of its own: at once, within about 100 ms of a [Runner.Trigger] (which
// hosts call when something the checks look at changes, so that the report is not
// an interval stale), and an interval after the previous run otherwise.
// [Runner.Last] returns the newest report without running anything.
//
// # Errors
//
// A check never returns an error: what goes wrong becomes a fail or warn [Result]
// whose Message says why (a timed-out check says "timed out", a check that panics
// says so). [New] returns an error wrapping [ErrInvalid] for a nil store, a nil
// checker, two checkers with the same component and name, or a bad option; Start
// returns [ErrBusy] when the runner is already started. A health event that cannot
// be recorded is logged and the report still returned.
//
// # Metrics
//
// Through the meter provider given with [WithMeterProvider] (the global one
// otherwise), meter named by this package's import path:
//   - graphvault.health.status (gauge, attributes component and check): 1 pass,
//     0.5 warn, 0 fail, set after every run.
//   - graphvault.health.checks (counter, {check}, attributes component, check and
//     result "pass", "warn" or "fail"): checks run.
//   - graphvault.health.check.duration (histogram, s, attributes component and
//     check): how long each check took.
package health
