package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// serverPackage is the example server, built when no -server is given.
const serverPackage = "github.com/graphvault/graphvault/examples/server"

// startTimeout bounds how long the server may take to say where it listens.
const startTimeout = 2 * time.Minute

// server is the example server running as a child process.
type server struct {
	url     string
	startup time.Duration
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	waitErr error
	out     *tailBuffer
}

// serverExecutable returns the path of the example server's executable. "go run
// -exec" hands the executable it built to the -exec program instead of running
// it. The go command keeps executables made by go run in its build cache, so a
// second run links nothing; but on a cache miss the path it hands over is in a
// work folder removed when it returns, so the call is made once more, when the
// executable should be in the cache. If it is still not (the sources changed in
// between), the server is built into dir.
func serverExecutable(ctx context.Context, dir string) (string, error) {
	for range 2 {
		out, err := goCommand(ctx, "run", "-exec", "echo", serverPackage)
		if err != nil {
			return "", err
		}
		path := strings.TrimSpace(out)
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			return path, nil
		}
	}
	path := filepath.Join(dir, "server")
	if runtime.GOOS == "windows" {
		path += ".exe"
	}
	_, err := goCommand(ctx, "build", "-o", path, serverPackage)
	return path, err
}

// goCommand runs the go command and returns its standard output.
func goCommand(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// startServer starts the server on a free loopback port with dataDir as its data
// folder, no schedule and the demo graph, and returns once it listens. With no exe
// it builds the example server, into workDir if need be.
func startServer(ctx context.Context, exe, workDir, dataDir string) (*server, error) {
	if exe == "" {
		var err error
		if exe, err = serverExecutable(ctx, workDir); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	cmd := exec.Command(exe, "-addr", "127.0.0.1:0", "-data", dataDir, "-every", "0", "-demo", "true")
	cmd.Env = append(os.Environ(), "GRAPHVAULT_TOKEN=")
	s := &server{cmd: cmd, done: make(chan struct{}), out: &tailBuffer{max: 64 << 10}}
	cmd.Stderr = s.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	found := make(chan string, 1)
	go func() {
		// The first line naming the address is the sign; everything is kept for
		// an error message, and the pipe is drained until the server exits.
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.out, line)
			if rest, ok := strings.CutPrefix(line, "graphvault listening on "); ok && !sent {
				found <- strings.TrimSpace(rest)
				sent = true
			}
		}
		io.Copy(s.out, stdout) //nolint:errcheck // a line too long for the scanner; kept for the message only
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case s.url = <-found:
	case <-s.done:
		return nil, fmt.Errorf("server exited before listening (%v):\n%s", s.waitErr, s.out)
	case <-timer.C:
		return nil, errors.Join(fmt.Errorf("server did not listen within %v:\n%s", startTimeout, s.out), s.stop())
	case <-ctx.Done():
		return nil, errors.Join(context.Cause(ctx), s.stop())
	}
	if err := checkLoopback(s.url); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	s.startup = time.Since(start)
	return s, nil
}

// stop asks the server to shut down and waits for it; after 30 s it is killed.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		s.cmd.Process.Kill() //nolint:errcheck // it may have exited already; Wait says
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		s.cmd.Process.Kill() //nolint:errcheck // Wait says how it ended
		<-s.done
		return fmt.Errorf("server did not stop within 30 s; killed:\n%s", s.out)
	}
	if s.waitErr != nil {
		return fmt.Errorf("server: %w:\n%s", s.waitErr, s.out)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// checkLoopback refuses a URL whose host is not a loopback address: the load is
// for a server on this machine only.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("server URL %q: want http or https", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("server URL %q: only a loopback address (127.0.0.1, ::1, localhost) may be loaded", raw)
	}
	return nil
}
