// Command soak runs graphvault's moving parts together for a while on loopback and
// checks at the end that nothing was lost or damaged.
//
//	go run ./examples/soak -duration 10m -json soak.json
//
// In one process it opens a graphvault.Vault, as examples/server does — a SQLite
// metadata store and a folder bucket under -data, the backup engine, its schedule,
// recovery, health, the metric collector and replication with journal shipping —
// with a memgraph primary as its one graph and a file replication target, serves
// the Vault's handler on a loopback port with no limit on changes, and for
// -duration runs all of this at once:
//
//   - writers apply batches to the memgraph primary (upserts of nodes and edges
//     with their ends, deletions of edges and nodes), at most -write-rate batches
//     a second in all;
//   - the schedule snapshots the primary every -every and its retention keeps the
//     newest 48 (and the checkpoints'); a trigger loop asks the API for a snapshot
//     every -trigger and for a checkpoint every -checkpoint;
//   - every committed snapshot is pushed to a file target, and the primary's journal
//     is shipped there every second; a follower in the same process restores the
//     target's newest snapshot and applies the journal segments after it, as
//     examples/replica does;
//   - -clients API clients read snapshot lists, stats, metrics, the Prometheus
//     exposition, health and replication status, and ask for quick verifications.
//
// Every -sample it records the heap in use, the number of goroutines and the
// counters so far. When the time is up the writers stop, the schedule is held off
// (the soak takes the store lease the scheduler runs under), and the run checks
// that the target has the newest snapshot, that the follower catches up and equals
// the primary, that every completed snapshot verifies in full, that no snapshot
// failed, no replication run failed, no API call failed and nothing was logged at
// error level; then it closes the Vault. It prints the samples as a table,
// the throughput (write batches and operations a second, snapshots, API requests a
// second), the errors and the checks, writes the same as JSON with -json FILE, and
// ends with PASS, or FAIL and exit status 1.
//
// Flags:
//
//	-duration D     how long the load runs (default 2m)
//	-nodes N        nodes of the primary at the start, with 3N edges (default 2000)
//	-writers N      concurrent writers (default 2)
//	-write-rate R   write batches a second, all writers together (default 200)
//	-every D        scheduled snapshot period (default 5s); the schedule looks for
//	                due snapshots once a second, so a shorter period takes at most
//	                one a second
//	-trigger D      period of snapshots asked through the API (default 7s)
//	-checkpoint D   period of checkpoints asked through the API (default 30s)
//	-clients N      concurrent API clients (default 4)
//	-think D        mean pause of an API client between calls (default 20ms)
//	-sample D       how often memory is sampled (default 5s)
//	-data DIR       keep the store, bucket and target in DIR (default: a temporary
//	                folder, removed at the end); each run starts a new primary, so
//	                a DIR an earlier run left is for inspection, not for another run
//	-json FILE      write the results as JSON
//	-v              log the library's info messages to stderr
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res, err := run(ctx, c, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !res.Pass {
		os.Exit(1)
	}
}

// config holds the command line settings.
type config struct {
	duration   time.Duration
	nodes      int
	writers    int
	writeRate  float64
	every      time.Duration
	trigger    time.Duration
	checkpoint time.Duration
	clients    int
	think      time.Duration
	sample     time.Duration
	data       string
	jsonFile   string
	verbose    bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 2*time.Minute, "how long the load runs")
	fs.IntVar(&c.nodes, "nodes", 2000, "nodes of the primary at the start (with 3N edges)")
	fs.IntVar(&c.writers, "writers", 2, "concurrent writers")
	fs.Float64Var(&c.writeRate, "write-rate", 200, "write batches a second, all writers together")
	fs.DurationVar(&c.every, "every", 5*time.Second, "scheduled snapshot period")
	fs.DurationVar(&c.trigger, "trigger", 7*time.Second, "period of snapshots asked through the API")
	fs.DurationVar(&c.checkpoint, "checkpoint", 30*time.Second, "period of checkpoints asked through the API")
	fs.IntVar(&c.clients, "clients", 4, "concurrent API clients")
	fs.DurationVar(&c.think, "think", 20*time.Millisecond, "mean pause of an API client between calls")
	fs.DurationVar(&c.sample, "sample", 5*time.Second, "how often memory is sampled")
	fs.StringVar(&c.data, "data", "", "keep the store, bucket and target in this folder")
	fs.StringVar(&c.jsonFile, "json", "", "write the results as JSON to this file")
	fs.BoolVar(&c.verbose, "v", false, "log the library's info messages")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.duration <= 0:
		return c, errors.New("-duration must be positive")
	case c.nodes < 10:
		return c, errors.New("-nodes must be at least 10")
	case c.writers < 1 || c.clients < 0:
		return c, errors.New("-writers must be at least 1 and -clients not negative")
	case c.writeRate <= 0:
		return c, errors.New("-write-rate must be positive")
	case c.every < 10*time.Millisecond || c.trigger <= 0 || c.checkpoint <= 0 || c.sample <= 0:
		return c, errors.New("-every must be at least 10ms; -trigger, -checkpoint and -sample positive")
	case c.think < 0:
		return c, errors.New("-think must not be negative")
	}
	return c, nil
}
