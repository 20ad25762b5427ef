// Command replica follows a graph replicated by graphvault: it restores the newest
// snapshot of the graph held by a replication target, then applies the journal
// segments the primary ships there, so its own graph stays a copy of the primary's
// a second or so behind. It can be promoted to stand in for the primary.
//
//	go run ./examples/replica -source DIR_OR_URL -graph ID [-token T] [-out FILE.graphml] [-promote]
//
// -source is a file target's directory, or the receive endpoint of an http target
// (http:// or https://, with -token). The follower keeps the graph in memory and,
// with -out, writes it as GraphML every -write-every. It prints its position and lag
// every -report. A gap in the journal is never skipped: the follower resyncs from a
// newer snapshot at the target when there is one, and otherwise waits and reports.
//
// -promote catches up with what the target holds, stops following, writes -out and
// prints the position reached. Without it the follower runs until interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
}

type options struct {
	source, graph, token, out string
	promote                   bool
	poll, writeEvery, report  time.Duration
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("replica", flag.ContinueOnError)
	fs.StringVar(&o.source, "source", "", "a file target's directory, or an http target's receive URL")
	fs.StringVar(&o.graph, "graph", "", "id of the graph to follow")
	fs.StringVar(&o.token, "token", os.Getenv("GRAPHVAULT_TOKEN"), "bearer token of an http source (default $GRAPHVAULT_TOKEN)")
	fs.StringVar(&o.out, "out", "", "GraphML file the graph is written to")
	fs.BoolVar(&o.promote, "promote", false, "catch up, stop following, write -out and print the position")
	fs.DurationVar(&o.poll, "poll", 200*time.Millisecond, "how often the target is read")
	fs.DurationVar(&o.writeEvery, "write-every", 5*time.Second, "how often -out is written")
	fs.DurationVar(&o.report, "report", 5*time.Second, "how often the position and lag are printed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.source == "" || o.graph == "" {
		return o, errors.New("-source and -graph are required")
	}
	return o, nil
}

// openSource opens a directory or a receive endpoint as a bucket.
func openSource(source, token string) (*blob.Bucket, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		if token == "" {
			return nil, errors.New("an http source needs -token")
		}
		return blob.NewBucket(replication.NewReceiverDriver(source, token, nil)), nil
	}
	if _, err := os.Stat(source); err != nil {
		return nil, fmt.Errorf("-source: %w", err)
	}
	d, err := fileblob.Open(source)
	if err != nil {
		return nil, err
	}
	return blob.NewBucket(d), nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	b, err := openSource(o.source, o.token)
	if err != nil {
		return err
	}
	defer b.Close()
	f, err := NewFollower(Config{Bucket: b, GraphID: o.graph, GraphML: o.out, WriteEvery: o.writeEvery, Poll: o.poll,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	if o.promote {
		if err := f.Sync(ctx); err != nil {
			return err
		}
		pos, err := f.Promote(ctx)
		if err != nil {
			return err
		}
		nodes, edges := f.Graph().Len()
		fmt.Fprintf(out, "promoted graph %s at position %d: %d nodes, %d edges\n", o.graph, pos, nodes, edges)
		if o.out != "" {
			fmt.Fprintf(out, "written to %s\n", o.out)
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t := time.NewTicker(o.report)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			if _, perr := f.Promote(context.WithoutCancel(ctx)); perr != nil { // final write of -out
				err = errors.Join(err, perr)
			}
			st := f.Status()
			fmt.Fprintf(out, "stopped at position %d\n", st.Position)
			return err
		case <-t.C:
			st := f.Status()
			fmt.Fprintf(out, "position %d (target HEAD %d), lag %.3fs, resyncs %d%s\n", st.Position, st.Head, st.LagSeconds, st.Resyncs, gapNote(st.Gap))
		}
	}
}

func gapNote(gap string) string {
	if gap == "" {
		return ""
	}
	return ", waiting: " + gap
}
