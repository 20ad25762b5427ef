// Command server is graphvault's main job: the snapshot API, scheduled snapshots,
// metrics, health and the dashboard for a set of graphs, with no set-up.
//
//	go run ./examples/server
//
// With no flags it keeps metadata in SQLite and snapshots in a folder, both under
// ./graphvault-data, serves a LightRAG-shaped demo graph "graph1" when the store is
// empty, takes a snapshot of every graph each hour, and listens on :9621.
//
// Flags:
//
//	-addr ADDR       listen address (default :9621)
//	-data DIR        metadata and snapshots (default ./graphvault-data)
//	-graphml PATH    serve a GraphML file as a graph named after the file (repeatable)
//	-demo            serve the demo graph graph1 (default: when the store is empty)
//	-every D         snapshot period per graph (default 1h); 0 disables the schedule
//	-keep N          snapshots kept per graph by the schedule's retention (default 48)
//	-token T         bearer token required for every mutating call (or GRAPHVAULT_TOKEN)
//	-rate R          mutating calls per second allowed per client address (default 20)
//
// Graphs served from memory (the demo) are restored from their newest snapshot when
// the server starts again, so their content survives restarts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// options are the command line settings.
type options struct {
	addr    string
	data    string
	graphml []string
	demo    string // "", "true" or "false"
	every   time.Duration
	keep    int
	token   string
	rate    float64
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", ":9621", "listen address")
	fs.StringVar(&o.data, "data", "graphvault-data", "folder for metadata and snapshots")
	fs.Var((*stringList)(&o.graphml), "graphml", "serve a GraphML file as a graph (repeatable)")
	demo := fs.String("demo", "", "serve the demo graph graph1 (default: when the store is empty)")
	fs.DurationVar(&o.every, "every", time.Hour, "snapshot period per graph; 0 disables")
	fs.IntVar(&o.keep, "keep", 48, "snapshots kept per graph by the schedule")
	fs.StringVar(&o.token, "token", "", "bearer token for mutating calls (default $GRAPHVAULT_TOKEN)")
	fs.Float64Var(&o.rate, "rate", 20, "mutating calls per second allowed per client address")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *demo {
	case "", "true", "false":
		o.demo = *demo
	default:
		return o, fmt.Errorf("-demo must be true or false")
	}
	if o.token == "" {
		o.token = getenv("GRAPHVAULT_TOKEN")
	}
	if o.every < 0 || o.keep < 1 || o.rate <= 0 {
		return o, fmt.Errorf("-every must not be negative, -keep must be at least 1 and -rate above 0")
	}
	abs, err := filepath.Abs(o.data)
	if err != nil {
		return o, err
	}
	o.data = abs
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	o, err := parseFlags(args, getenv, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	app, err := newApp(ctx, o, log)
	if err != nil {
		return err
	}
	defer app.close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.handler,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	app.printWhere(stdout, ln.Addr())
	if err := app.start(ctx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing running work")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	return errors.Join(err, app.shutdown(sctx))
}
