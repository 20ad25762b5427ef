// Command lightrag backs up the knowledge graph of a LightRAG working directory, the
// graph_chunk_entity_relation.graphml file, into graphvault and restores it: the job a
// folder copy used to do, with incremental snapshots that cost what changed, full
// verification and a restore that never leaves a partial file.
//
// Usage:
//
//	lightrag [-data DIR] [-v] [-json] COMMAND [ARGS]
//
//	snapshot [-graph ID] [-check] [-chunked] FILE.graphml
//	                                         take a snapshot, print its id
//	list [-graph ID]                         list the snapshots, newest first
//	restore [-force] SNAPSHOT_ID OUT.graphml write a snapshot's file back, byte for byte
//	verify SNAPSHOT_ID                       read and check every object of a snapshot
//	watch [-graph ID] [-every 1m] [-chunked] FILE.graphml
//	                                         snapshot whenever the file changes
//	diff [-keys 20] SNAPSHOT_A SNAPSHOT_B   what changed from A to B, store by store
//
// # Working directories
//
// snapshot and watch also take a LightRAG working directory (rag_storage/, or a
// folder of workspaces rag_storage/<workspace>/) in place of FILE.graphml: the whole
// folder is one snapshot (store/lightrag), the GraphML, the key-value and vector
// stores and every other file, and restore ID OUT gives the folder back at OUT byte
// for byte. A folder of workspaces is a graph per workspace, named after it, and
// snapshot prints one id per workspace. A folder whose files, sizes, times and
// inodes are those the latest snapshot recorded (read at least two seconds after
// the last change) gets no new snapshot; its latest id is printed. diff lists the
// entities, relations, documents, chunks, cache entries and vectors added, removed
// and changed between two snapshots of a working directory or a GraphML file (-keys
// of each, then a count), and the files whose bytes changed. list counts only the graph's nodes (entities) in NODES.
//
// Flags may come before or after a command's arguments; -data, -v and -json are
// accepted by every command too. DIR (default ./graphvault-data) holds the
// metadata database graphvault.db (SQLite), the snapshot data in bucket/ and, in
// index/, per graph the fingerprints of the elements of the file as last
// snapshotted, so that the snapshot of a rewritten file decodes only the records
// that changed (lightrag.File, built on graphml.IndexedFile); snapshot and watch
// create it.
//
// A snapshot of a GraphML file keeps, beside its nodes and edges, the file's
// layout: NetworkX's writer (lxml or ElementTree), the key declarations with their
// ids, the node order, the edge order and the orientation of each undirected edge.
// restore writes the file back from them and checks it against the file's SHA-256:
// a file NetworkX wrote comes back byte for byte. A file no NetworkX writer could
// have made comes back as the same graph, written as NetworkX would, and restore
// says so on standard error.
//
// With -chunked, snapshot and watch keep the file's own bytes instead (see
// lightrag.Chunked): no element is decoded, so the snapshot runs at the speed of
// reading and compressing the file, a rewritten file stores patches of the pieces
// whose elements changed, and any file comes back byte for byte. Such snapshots
// hold no entities: diff restores both snapshots beside the vault to compare
// their graphs.
//
// The graph id defaults to the name of the folder FILE is in (LightRAG's working
// directory), changed where needed into a valid graph id: letters, digits, '.', '_'
// and '-', starting with a letter or digit. The first snapshot of a graph is full,
// later ones are incremental.
//
// snapshot prints only the new snapshot's id on standard output; watch prints one id
// per line as it takes snapshots. A file unchanged since the latest snapshot of its
// graph gets no new snapshot: snapshot prints the latest one's id (the snapshot that
// holds this content) and says so on standard error.
//
// # Knowing a file is unchanged
//
// A snapshot records the file's stamp: its size, modification time, change time and
// inode (the last two on Linux). A file whose stamp is the recorded one is taken as
// unchanged at the cost of a stat, without reading it, as restic does by default:
// the change time cannot be set back by a program that restores the modification
// time, and the inode moves when a writer replaces the file by a rename. The stamp
// is trusted only when the snapshot read the file at least two seconds after its
// last change, so that a rewrite of the same size within one tick of the file
// system's clock is not missed; otherwise, and when the stamp moved, the file is
// read and its SHA-256 compared with the latest snapshot's. -check hashes the file
// even when its stamp is the recorded one. Everything else (progress, notes) goes to standard
// error. list prints a table: ID, GRAPH, KIND, STATUS, TIME (UTC, when the snapshot
// was started), NODES, EDGES and BYTES, the bytes the snapshot added to the bucket.
//
// # Reading a file LightRAG is writing
//
// LightRAG rewrites the file in place. Each read copies the file aside, hashing it,
// and checks that its stamp did not move during the copy and that the copy is a
// whole GraphML document (its head reads and it ends with </graphml>); if not, it
// waits a moment and tries once more. Snapshots are taken from the copy, so they
// are consistent, and the snapshot reads the copy once, checking all of it.
//
// watch checks the file's stamp every interval (at start, against the latest
// snapshot's) and reads it only when it moved; it takes a snapshot only when the content hash differs from
// the last snapshot's (kept as the snapshot label sha256, so a restarted watch does
// not repeat one). A failed read or snapshot is reported and retried at the next
// interval. SIGINT or SIGTERM stops it after the snapshot in progress, if any; a
// second signal kills it.
//
// # Restoring
//
// restore writes the graph into a temporary file in OUT's folder and renames it over
// OUT only once the whole snapshot has been read and checked, so OUT is either the old
// file or the complete new one. It refuses to replace an existing OUT without -force.
// Stop LightRAG before restoring over its working file. The output is GraphML as
// NetworkX writes it: nx.read_graphml reads back the graph that was snapshotted.
//
// # JSON output
//
// With -json, results go to standard output as JSON, with snake_case names and
// every field present; notes stay on standard error. snapshot and watch write one
// object a line per snapshot taken or found unchanged (id, graph, kind, parent,
// source, nodes, edges, records, bytes_new, unchanged); list an array of its rows
// (time in RFC 3339, UTC); restore an object (snapshot, graph, out, files, nodes,
// edges, reencoded); verify an object (snapshot, graph, ok, objects, bytes, nodes,
// edges, problems), exiting 1 as without -json when a problem is found; diff an
// object (from, to, truncated, stores), each store with every key added, removed
// and changed, not cut to -keys, and their counts. nodes counts the graph's nodes
// (entities), as list does, but in verify every node record checked, as its text.
//
// # Progress
//
// When standard error is a terminal, snapshot, watch (for each snapshot), restore
// and verify draw one line of progress on it, redrawn in place up to ten times a
// second, once the work has run for a second, and cleared when it ends: a restore
// shows a bar of the records written against the snapshot's; a snapshot its phase,
// the records and bytes stored so far (an incremental one stores only the changed
// records, so it has no total); verify, which reports nothing while it runs, the
// time it has taken. Notes and -v's log clear the line before they are written.
// Without a terminal nothing is drawn.
//
// # Exit status
//
// 0 on success, 2 for a usage error (unknown command, missing or extra arguments,
// bad flags), 1 for any other error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a second one
		// kills the process even if a snapshot is still being finished.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the process exit status for it.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "lightrag: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "lightrag: %v\n", err)
		return 1
	}
}

const usage = `usage: lightrag [-data DIR] [-v] [-json] COMMAND [ARGS]

commands:
  snapshot [-graph ID] [-check] [-chunked] FILE.graphml
                                           take a snapshot, print its id
  list [-graph ID]                           list the snapshots, newest first
  restore [-force] SNAPSHOT_ID OUT.graphml   write a snapshot as GraphML
  verify SNAPSHOT_ID                         read and check every object of a snapshot
  watch [-graph ID] [-every 1m] [-chunked] FILE.graphml
                                           snapshot whenever the file changes
  diff [-keys 20] SNAPSHOT_A SNAPSHOT_B      what changed, store by store

A working directory (DIR) may stand for FILE.graphml in snapshot and watch; restore
writes a directory or a file, as the snapshot was taken.

flags:
  -data DIR   where snapshots are kept (default ./graphvault-data)
  -v          log what the library does
  -json       write results as JSON (snapshot, watch, list, restore, verify, diff)
`

// usageError is a command line the program cannot run; main prints the usage with it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// globals are the flags every command accepts.
type globals struct {
	data    string
	verbose bool
	json    bool
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.data, "data", g.data, "directory keeping the snapshots")
	fs.BoolVar(&g.verbose, "v", g.verbose, "log what the library does")
	fs.BoolVar(&g.json, "json", g.json, "write the results as JSON")
}

// run runs the command line args (without the program name). Only results go to
// stdout; progress and notes go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g := globals{data: "graphvault-data"}
	top := newFlagSet("lightrag", stderr)
	g.register(top)
	if err := top.Parse(args); err != nil {
		return flagError(err)
	}
	if top.NArg() == 0 {
		return usagef("no command given")
	}
	cmd, rest := top.Arg(0), top.Args()[1:]
	c := &cli{g: g, stdout: stdout, stderr: stderr}
	if isTerminal(stderr) {
		// Notes and the log go through the status line, which clears the
		// progress display before each of them.
		c.status = &statusLine{w: stderr}
		c.stderr = c.status
	}
	switch cmd {
	case "snapshot":
		return c.snapshot(ctx, rest)
	case "list":
		return c.list(ctx, rest)
	case "restore":
		return c.restore(ctx, rest)
	case "verify":
		return c.verify(ctx, rest)
	case "watch":
		return c.watch(ctx, rest)
	case "diff":
		return c.diff(ctx, rest)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}

// cli holds what every command needs.
type cli struct {
	g      globals
	stdout io.Writer
	stderr io.Writer
	status *statusLine // the progress display's line; nil when stderr is not a terminal
}

func (c *cli) infof(format string, args ...any) {
	fmt.Fprintf(c.stderr, format+"\n", args...)
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // the usage is printed once, by main, for a usage error
	return fs
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usagef("%v", err)
}

// parseArgs parses a command's flags wherever they stand among its arguments ("watch
// FILE -every 1m" as well as "watch -every 1m FILE"), which the flag package alone
// does not, and checks that exactly want positional arguments remain. Everything
// after "--" is positional.
func (c *cli) parseArgs(fs *flag.FlagSet, args []string, want ...string) ([]string, error) {
	c.g.register(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) == len(want):
	case len(want) == 0:
		return nil, usagef("%s takes no arguments, got %q", fs.Name(), pos)
	default:
		return nil, usagef("%s takes %s, got %q", fs.Name(), strings.Join(want, " "), pos)
	}
	return pos, nil
}
