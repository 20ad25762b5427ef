// Package crashtest holds the crash tests of the backup engine, of snapshot
// replication to a file target and of checkpoint creation. Its test binary runs a
// workload of snapshots, restores, verifications, garbage collections,
// replications and checkpoints on a SQLite store and a file bucket in a child
// process (the test binary itself, started again with an environment variable),
// kills the child with SIGKILL at seeded points — at random delays, and inside
// replication and checkpoint creation — and checks after every kill that nothing
// committed was lost, nothing partial became visible, and a retry completes what
// was cut short.
//
//	go test ./internal/crashtest/                      # short seed set (CI): 12 kills
//	GRAPHVAULT_LONG=1 go test ./internal/crashtest/    # long seed set: 108 kills
//	go test ./internal/crashtest/ -long -seed=7        # one seed, long schedule
//
// The package has no API; see RELIABILITY.md at the repository root.
package crashtest
