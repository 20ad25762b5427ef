// Command server is graphvault's main job: the snapshot API, scheduled snapshots,
// replication, recovery, metrics, health and the dashboard for a set of graphs,
// with no set-up. It is flags around a graphvault.Vault.
//
//	go run ./examples/server
//
// With no flags it keeps metadata in SQLite and snapshots in a folder, both under
// ./graphvault-data, serves a LightRAG-shaped demo graph "graph1", takes a snapshot
// of every graph each hour, and listens on :9621.
//
// Flags:
//
//	-addr ADDR        listen address (default :9621)
//	-data DIR         metadata and snapshots (default ./graphvault-data)
//	-graphml PATH     serve a GraphML file as a graph named after the file (repeatable)
//	-demo             serve the demo graph graph1 (default: unless -graphml is given)
//	-every D          snapshot period per graph (default 1h); 0 disables the schedule
//	-keep N           snapshots kept per graph by the schedule's retention (default 48)
//	-token T          bearer token for changes and graph content (or GRAPHVAULT_TOKEN)
//	-read-token T     bearer token for graph content only (or GRAPHVAULT_READ_TOKEN)
//	-close-status     status (health, metrics, lists, dashboard) needs a token too
//	-rate R           changes per second allowed per client address (default 20)
//	-target-root DIR  folder file replication targets may lie in (repeatable;
//	                  default DATA/targets); the data folder and bucket are refused
//	-target-allow H   host or host:port http and s3 targets may be at (repeatable;
//	                  default any host)
//	-secret-key K     key sealing target secrets at rest, 64 hex digits (or
//	                  GRAPHVAULT_SECRET_KEY; default the key file)
//	-secret-key-file F  file holding that key (default DATA/secret.key, made if missing)
//	-previous-secret-key K  a key replaced by a rotation: secrets it sealed are sealed
//	                  again with the current key at start (repeatable)
//
// Every graph the store knows is served again at start, restored from its newest
// intact snapshot, whether or not -demo is given.
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
	"strings"
	"syscall"
	"time"

	"github.com/graphvault/graphvault"
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
	addr string
	cfg  graphvault.Config
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	c := &o.cfg
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", ":9621", "listen address")
	fs.StringVar(&c.Data, "data", "graphvault-data", "folder for metadata and snapshots")
	fs.Var((*stringList)(&c.GraphML), "graphml", "serve a GraphML file as a graph (repeatable)")
	fs.BoolVar(&c.Demo, "demo", false, "serve the demo graph graph1 (default: unless -graphml is given)")
	fs.DurationVar(&c.Every, "every", time.Hour, "snapshot period per graph; 0 disables")
	fs.IntVar(&c.Keep, "keep", 48, "snapshots kept per graph by the schedule")
	fs.StringVar(&c.Token, "token", "", "bearer token for changes and graph content (default $GRAPHVAULT_TOKEN)")
	fs.StringVar(&c.ReadToken, "read-token", "", "bearer token for graph content only (default $GRAPHVAULT_READ_TOKEN)")
	fs.BoolVar(&c.CloseStatus, "close-status", false, "status (health, metrics, lists, dashboard) needs a token too")
	fs.Float64Var(&c.Rate, "rate", 20, "changes per second allowed per client address")
	fs.Var((*stringList)(&c.TargetRoots), "target-root", "folder file replication targets may lie in (repeatable; default DATA/targets)")
	fs.Var((*stringList)(&c.TargetHosts), "target-allow", "host or host:port http and s3 targets may be at (repeatable; default any host)")
	fs.StringVar(&c.SecretKey, "secret-key", "", "key sealing target secrets at rest, 64 hex digits (default $GRAPHVAULT_SECRET_KEY, else the key file)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", "", "file holding the key sealing target secrets (default DATA/secret.key, made if missing)")
	fs.Var((*stringList)(&c.PreviousSecretKeys), "previous-secret-key", "a key replaced by a rotation; secrets it sealed are sealed again at start (repeatable)")
	if err := fs.Parse(joinDemoValue(args)); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	demoSet := false
	fs.Visit(func(f *flag.Flag) { demoSet = demoSet || f.Name == "demo" })
	if !demoSet {
		c.Demo = len(c.GraphML) == 0
	}
	if c.Token == "" {
		c.Token = getenv("GRAPHVAULT_TOKEN")
	}
	if c.ReadToken == "" {
		c.ReadToken = getenv("GRAPHVAULT_READ_TOKEN")
	}
	if c.SecretKey == "" && c.SecretKeyFile == "" {
		c.SecretKey = getenv("GRAPHVAULT_SECRET_KEY")
	}
	if c.Every < 0 || c.Keep < 1 || c.Rate <= 0 {
		return o, fmt.Errorf("-every must not be negative, -keep must be at least 1 and -rate above 0")
	}
	return o, nil
}

// joinDemoValue keeps the older "-demo true" and "-demo false" working now that
// -demo is a switch: the value is joined to the flag ("-demo=true").
func joinDemoValue(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "-demo" || a == "--demo") && i+1 < len(args) && (args[i+1] == "true" || args[i+1] == "false") {
			a += "=" + args[i+1]
			i++
		}
		out = append(out, a)
	}
	return out
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
	o.cfg.Logger = log
	v, err := graphvault.Open(ctx, o.cfg)
	if err != nil {
		return err
	}
	defer v.Close(context.Background())

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           v.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printWhere(stdout, ln.Addr(), o.cfg, v.GraphIDs())
	if err := v.Start(ctx); err != nil {
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
	return errors.Join(srv.Shutdown(sctx), v.Close(sctx))
}

func printWhere(w io.Writer, addr net.Addr, c graphvault.Config, graphs []string) {
	host := addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		host = fmt.Sprintf("localhost:%d", tcp.Port)
	}
	fmt.Fprintf(w, "graphvault listening on http://%s\n", host)
	fmt.Fprintf(w, "  data:        %s (metadata graphvault.db, snapshots bucket/)\n", c.Data)
	fmt.Fprintf(w, "  graphs:      %s\n", strings.Join(graphs, ", "))
	fmt.Fprintf(w, "  snapshots:   http://%s/api/backup/backup/graphs/{id}/snapshots\n", host)
	fmt.Fprintf(w, "  metrics:     http://%s/api/monitoring/metrics/prometheus\n", host)
	fmt.Fprintf(w, "  health:      http://%s/api/monitoring/health\n", host)
	fmt.Fprintf(w, "  dashboard:   http://%s/api/monitoring/dashboard\n", host)
	if c.Every > 0 {
		fmt.Fprintf(w, "  schedule:    a snapshot of each graph every %v, keeping %d\n", c.Every, c.Keep)
	} else {
		fmt.Fprintln(w, "  schedule:    off")
	}
	if c.Token != "" {
		fmt.Fprintln(w, "  auth:        a bearer token is required for every change and for graph content")
	} else {
		fmt.Fprintln(w, "  auth:        none (set -token or GRAPHVAULT_TOKEN to require a bearer token)")
	}
}
