// Package crashtest holds the crash tests of the backup engine. Its test binary
// runs a workload of snapshots, restores, verifications and garbage collections on
// a SQLite store and a file bucket in a child process (the test binary itself,
// started again with an environment variable), kills the child with SIGKILL at
// seeded points, and checks after every kill that nothing committed was lost and
// nothing partial became visible.
//
//	go test ./internal/crashtest/                      # short seed set (CI)
//	GRAPHVAULT_LONG=1 go test ./internal/crashtest/    # long seed set, 60 kills
//	go test ./internal/crashtest/ -long -seed=7        # one seed, long schedule
//
// The package has no API; see RELIABILITY.md at the repository root.
package crashtest
