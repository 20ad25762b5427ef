// Command load puts the read side of the example server under load: many
// concurrent clients listing snapshots and reading stats, metrics and health from a
// server whose SQLite store holds thousands of snapshot rows.
//
//	go run ./examples/load -clients 200 -duration 30s -rows 10000
//
// Unless -url is given it prepares a data folder first: a real snapshot of each of
// a few generated graphs (so that health checks and restores at start find real
// data), then -rows snapshot rows in all written straight into the metadata store,
// spread over the months before, mostly completed, some failed. It starts the
// server (./examples/server, built through the go command's cache) on a free
// loopback port with that folder, and stops it at the end.
//
// Every client loops until the duration is over, each time picking one of these
// GET calls by weight:
//
//	30  /api/backup/backup/graphs/{id}/snapshots?limit=20|50|100[&status=]
//	    and then up to 3 more pages by next_cursor
//	12  /api/backup/backup/stats
//	10  /api/monitoring/metrics
//	10  /api/monitoring/metrics/prometheus
//	10  /api/monitoring/metrics/summary
//	12  /api/monitoring/stats/backups
//	 8  /api/monitoring/health
//
// By default clients wait for nothing between calls: every client always has a
// call in flight, so the run measures the server saturated at the concurrency
// asked, and latency is mostly queueing (by Little's law the mean latency is the
// number of clients over the throughput). With -think D each client pauses a random
// time between 0 and 2D (mean D) before each call, as pollers and dashboards do,
// and the run measures latency at about clients/D calls a second.
//
// A call fails when it gets no answer, an answer other than 2xx, or (for lists) a
// body that is not a page: not one valid JSON object with an items array and, if
// any, a string next_cursor. Pages are checked in one pass (see parsePage), so
// that checking them takes little of the CPU the clients share with the server.
// Latency is measured from sending the request to reading the last byte of the
// answer.
//
// It prints, per endpoint and in all, requests, errors, latency percentiles and
// throughput, writes the same as JSON with -json FILE, and ends with PASS when no
// call failed and the p99 of all calls is within -p99, MISS (exit status 1)
// otherwise.
//
// Flags:
//
//	-clients N     concurrent clients (default 200)
//	-duration D    how long the clients run (default 30s)
//	-think D       mean pause of a client before each call (default 0: none)
//	-rows N        snapshot rows the store holds (default 10000)
//	-p99 D         the p99 latency the run must stay within (default 100ms)
//	-timeout D     per-call timeout (default 10s)
//	-json FILE     write the results as JSON
//	-url URL       load a running server at a loopback address; nothing is seeded
//	-data DIR      prepare the data folder in DIR and keep it; a folder whose store
//	               already holds snapshots is used as it is
//	-server PATH   server executable to start instead of building ./examples/server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	rep, err := run(ctx, c, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !rep.Pass {
		os.Exit(1)
	}
}

// config is what a run does; the flags fill it.
type config struct {
	clients  int
	duration time.Duration
	think    time.Duration
	rows     int
	p99      time.Duration
	timeout  time.Duration
	jsonPath string
	url      string
	data     string
	server   string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.clients, "clients", 200, "concurrent clients")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long the clients run")
	fs.DurationVar(&c.think, "think", 0, "mean pause of a client between calls; 0 for none")
	fs.IntVar(&c.rows, "rows", 10000, "snapshot rows the store holds")
	fs.DurationVar(&c.p99, "p99", 100*time.Millisecond, "the p99 latency the run must stay within")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-call timeout")
	fs.StringVar(&c.jsonPath, "json", "", "write the results as JSON to this file")
	fs.StringVar(&c.url, "url", "", "load a running server at a loopback address instead of starting one")
	fs.StringVar(&c.data, "data", "", "prepare the data folder here and keep it (default: a temporary folder)")
	fs.StringVar(&c.server, "server", "", "server executable (default: build ./examples/server)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.clients < 1:
		return c, errors.New("-clients must be at least 1")
	case c.duration <= 0 || c.p99 <= 0 || c.timeout <= 0:
		return c, errors.New("-duration, -p99 and -timeout must be positive")
	case c.think < 0:
		return c, errors.New("-think must not be negative")
	case c.url == "" && c.rows < len(seedGraphs):
		return c, fmt.Errorf("-rows must be at least %d, one real snapshot per graph", len(seedGraphs))
	case c.url != "" && (c.data != "" || c.server != ""):
		return c, errors.New("-url loads a running server: -data and -server do not apply")
	}
	if c.url != "" {
		if err := checkLoopback(c.url); err != nil {
			return c, err
		}
	}
	return c, nil
}

// run prepares and starts a server unless c.url names one, loads it and reports.
func run(ctx context.Context, c config, stdout io.Writer) (_ *Report, err error) {
	base := c.url
	rows := 0
	if base == "" {
		work, err := os.MkdirTemp("", "graphvault-load-")
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, os.RemoveAll(work)) }()
		dir := c.data
		if dir == "" {
			dir = filepath.Join(work, "data")
		}
		start := time.Now()
		seeded, err := prepare(ctx, dir, c.rows)
		if err != nil {
			return nil, fmt.Errorf("prepare data: %w", err)
		}
		rows = seeded.rows
		if seeded.reused {
			fmt.Fprintf(stdout, "data: %s holds %d snapshot rows already; used as it is\n", dir, rows)
		} else {
			fmt.Fprintf(stdout, "data: %d snapshot rows of %d graphs written in %v\n", rows, len(seedGraphs), time.Since(start).Round(time.Millisecond))
		}
		srv, err := startServer(ctx, c.server, work, dir)
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, srv.stop()) }()
		base = srv.url
		fmt.Fprintf(stdout, "server: %s (started in %v)\n", base, srv.startup.Round(time.Millisecond))
	}

	l, err := newLoad(ctx, base, c)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "load: %d clients, think time %v, for %v against %s, graphs %v\n", c.clients, c.think, c.duration, base, l.graphs)
	res := l.run(ctx)
	rep := newReport(res, c, rows, l.graphs)
	printReport(stdout, rep)
	if c.jsonPath != "" {
		if err := writeJSON(c.jsonPath, rep); err != nil {
			return rep, err
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return rep, nil
}
