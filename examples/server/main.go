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
//	-graphml-chunked  keep those files' own bytes in pieces (store/lightrag.Chunked):
//	                  faster snapshots; diffs and node selections then see pieces
//	-lightrag DIR     serve a LightRAG working directory whole, one graph per
//	                  workspace (repeatable): snapshots hold every file of it and
//	                  restores give them back byte for byte
//	-demo             serve the demo graph graph1 (default: unless -graphml or
//	                  -lightrag is given)
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
//	-encryption-key-file F  file holding the master key snapshots are encrypted
//	                  with: 32 random bytes, or their hex or base64 text (or
//	                  GRAPHVAULT_ENCRYPTION_KEY_FILE; default none, not encrypted)
//
// A key that is missing or wrong for encrypted snapshots in the bucket stops the
// start with one line naming the flag, and exit status 1. To change the key, stop
// every instance that shares the bucket and run
//
//	server rotate-key -encryption-key-file OLD -new NEW [-data DIR ...]
//
// with the flags that say where the bucket and the store are; then start them
// with -encryption-key-file NEW. A rotation cut short is finished by running it
// again.
//
// Where things live, and how this instance names itself among those that share
// them (each flag has an environment variable beside it, used when the flag is
// not given):
//
//	-store DSN        metadata store: a path or file: URI (SQLite, default
//	                  DATA/graphvault.db), postgres://..., mysql://... (GRAPHVAULT_STORE)
//	-bucket URL       snapshots: a folder or file:// URL (default DATA/bucket),
//	                  s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R&secure=false with
//	                  AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, mem:// (GRAPHVAULT_BUCKET)
//	-instance NAME    this instance's name in leases and snapshots (default
//	                  host/pid; GRAPHVAULT_INSTANCE)
//	-lease-ttl D      how long this instance's leases hold unrenewed (default 30s;
//	                  GRAPHVAULT_LEASE_TTL)
//	-shutdown-timeout D  on SIGTERM or SIGINT, how long running work may take to
//	                  finish before it is cancelled (default 30s; GRAPHVAULT_SHUTDOWN_TIMEOUT)
//
// A store or bucket that cannot be reached or written stops the start with one
// line on stderr naming the flag to fix, and exit status 1. SIGTERM stops
// taking requests, lets running work finish or cancels it at the timeout,
// settles its snapshots, gives up its leases and exits 0. Instances given the
// same -store and -bucket share their snapshots, checkpoints and targets, and
// each scheduled snapshot is taken by one of them.
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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/meta"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "server:", explain(err))
		os.Exit(1)
	}
}

// options are the command line settings.
type options struct {
	addr     string
	shutdown time.Duration
	cfg      graphvault.Config
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	return parseFlagsWith(args, getenv, stderr, nil)
}

// parseFlagsWith is parseFlags with more flags, which more defines.
func parseFlagsWith(args []string, getenv func(string) string, stderr io.Writer, more func(*flag.FlagSet)) (options, error) {
	var o options
	c := &o.cfg
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", ":9621", "listen address")
	fs.StringVar(&c.Data, "data", "graphvault-data", "folder for metadata and snapshots")
	fs.Var((*stringList)(&c.GraphML), "graphml", "serve a GraphML file as a graph (repeatable)")
	fs.BoolVar(&c.ChunkedGraphML, "graphml-chunked", false, "keep -graphml files' own bytes in pieces: faster snapshots; diffs and node selections then see pieces")
	fs.Var((*stringList)(&c.LightRAG), "lightrag", "serve a LightRAG working directory whole, a graph per workspace (repeatable)")
	fs.BoolVar(&c.Demo, "demo", false, "serve the demo graph graph1 (default: unless -graphml or -lightrag is given)")
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
	// Where things live, and this instance among those sharing them.
	fs.StringVar(&c.Store, "store", "", "metadata store DSN: a path or file: (SQLite), postgres://..., mysql://... (default $GRAPHVAULT_STORE, else DATA/graphvault.db)")
	fs.StringVar(&c.Bucket, "bucket", "", "snapshot bucket URL: a folder, file://, s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R&secure=false, mem:// (default $GRAPHVAULT_BUCKET, else DATA/bucket)")
	fs.StringVar(&c.Instance, "instance", "", "this instance's name in leases and snapshots (default $GRAPHVAULT_INSTANCE, else host/pid)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", 0, "how long this instance's leases hold unrenewed (default $GRAPHVAULT_LEASE_TTL, else 30s)")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 0, "on SIGTERM, how long running work may take before it is cancelled (default $GRAPHVAULT_SHUTDOWN_TIMEOUT, else 30s)")
	// Encryption at rest.
	fs.StringVar(&c.EncryptionKeyFile, "encryption-key-file", "", "file holding the master key snapshots are encrypted with: 32 bytes, or their hex or base64 text (default $GRAPHVAULT_ENCRYPTION_KEY_FILE; none: not encrypted)")
	if more != nil {
		more(fs)
	}
	if err := fs.Parse(joinDemoValue(args)); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	demoSet := false
	fs.Visit(func(f *flag.Flag) { demoSet = demoSet || f.Name == "demo" })
	if !demoSet {
		c.Demo = len(c.GraphML) == 0 && len(c.LightRAG) == 0
	}
	if c.Token == "" {
		c.Token = getenv("GRAPHVAULT_TOKEN")
	}
	if c.ReadToken == "" {
		c.ReadToken = getenv("GRAPHVAULT_READ_TOKEN")
	}
	if err := placesFromEnv(&o, getenv); err != nil {
		return o, err
	}
	if c.EncryptionKeyFile == "" {
		c.EncryptionKeyFile = getenv("GRAPHVAULT_ENCRYPTION_KEY_FILE")
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
	if len(args) > 0 && args[0] == "rotate-key" {
		return rotateKey(ctx, args[1:], stdout, getenv)
	}
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
	o.cfg.Instance = v.Instance()
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
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	err = errors.Join(srv.Shutdown(sctx), v.Close(sctx))
	if errors.Is(err, context.DeadlineExceeded) {
		// Work still running at the timeout was cancelled and its snapshots
		// marked failed: a stop as asked for.
		log.Warn("shutdown: work still running after -shutdown-timeout was cancelled", "timeout", o.shutdown)
		return nil
	}
	return err
}

// placesFromEnv fills the settings of where things live that no flag gave from
// the environment, and the defaults of the durations.
func placesFromEnv(o *options, getenv func(string) string) error {
	c := &o.cfg
	for _, s := range []struct {
		v   *string
		env string
	}{{&c.Store, "GRAPHVAULT_STORE"}, {&c.Bucket, "GRAPHVAULT_BUCKET"}, {&c.Instance, "GRAPHVAULT_INSTANCE"}} {
		if *s.v == "" {
			*s.v = getenv(s.env)
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		env string
		def time.Duration
	}{{&c.LeaseTTL, "GRAPHVAULT_LEASE_TTL", graphvault.DefaultLeaseTTL}, {&o.shutdown, "GRAPHVAULT_SHUTDOWN_TIMEOUT", 30 * time.Second}} {
		if *d.v == 0 && getenv(d.env) != "" {
			v, err := time.ParseDuration(getenv(d.env))
			if err != nil {
				return fmt.Errorf("%s: %v", d.env, err)
			}
			*d.v = v
		}
		if *d.v < 0 {
			return fmt.Errorf("%s (or its flag) must not be negative", d.env)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return nil
}

func printWhere(w io.Writer, addr net.Addr, c graphvault.Config, graphs []string) {
	host := addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		host = fmt.Sprintf("localhost:%d", tcp.Port)
	}
	fmt.Fprintf(w, "graphvault listening on http://%s\n", host)
	store, bucket := c.Store, c.Bucket
	if store == "" {
		store = filepath.Join(c.Data, "graphvault.db")
	}
	if bucket == "" {
		bucket = filepath.Join(c.Data, "bucket")
	}
	fmt.Fprintf(w, "  store:       %s\n", meta.RedactDSN(store))
	fmt.Fprintf(w, "  bucket:      %s\n", bucket)
	fmt.Fprintf(w, "  instance:    %s\n", c.Instance)
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

// rotateKey is the rotate-key command: it wraps the data keys of every encrypted
// snapshot in the bucket under the key of the file -new names instead of the key
// of -encryption-key-file. The other flags say where the bucket and the store
// are, as for the server.
func rotateKey(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	var newFile string
	o, err := parseFlagsWith(args, getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&newFile, "new", "", "rotate-key: file holding the new master key (32 bytes, or their hex or base64 text)")
	})
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if newFile == "" {
		return errors.New("rotate-key needs -new FILE, the file holding the new key")
	}
	newKey, err := graphvault.ReadEncryptionKeyFile(newFile)
	if err != nil {
		return fmt.Errorf("-new: %w", err)
	}
	o.cfg.Logger = slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := graphvault.RotateEncryptionKey(ctx, o.cfg, newKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rotated %d data keys; start every instance with -encryption-key-file %s\n", n, newFile)
	return nil
}

// settingFlags name the flag and environment variable of each Config field a
// start-up error can name (graphvault.SettingError).
var settingFlags = map[string]string{
	"EncryptionKeyFile": "-encryption-key-file or GRAPHVAULT_ENCRYPTION_KEY_FILE",
	"EncryptionKey":     "-encryption-key-file or GRAPHVAULT_ENCRYPTION_KEY_FILE",
	"Store":             "-store or GRAPHVAULT_STORE",
	"Bucket":            "-bucket or GRAPHVAULT_BUCKET",
	"Instance":          "-instance or GRAPHVAULT_INSTANCE, one name per instance",
}

// explain says what went wrong in one line; an error one setting can fix names
// the flag to set instead of the Config field.
func explain(err error) string {
	var se *graphvault.SettingError
	if errors.As(err, &se) {
		if f, ok := settingFlags[se.Setting]; ok {
			return strings.Join(strings.Fields(fmt.Sprintf("%v (set %s)", se.Err, f)), " ")
		}
	}
	return err.Error()
}
