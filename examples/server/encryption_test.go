package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunMain is not a test: the tests run the test binary with
// GRAPHVAULT_TEST_MAIN_ARGS set to see what main prints and how it exits.
func TestRunMain(t *testing.T) {
	env := os.Getenv("GRAPHVAULT_TEST_MAIN_ARGS")
	if env == "" {
		t.Skip("runs main for the other tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(env), &args); err != nil {
		t.Fatal(err)
	}
	os.Args = append([]string{"server"}, args...)
	main()
	os.Exit(0)
}

// runMain runs main in a child process with args and returns its standard
// output, its standard error and its exit status.
func runMain(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunMain$")
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "GRAPHVAULT_TEST_MAIN_ARGS="+string(js))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// keyFile writes a key file with text and returns its path.
func keyFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "snapshot.key")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshotGraph1 takes a snapshot of graph1 and returns whether it is encrypted.
func snapshotGraph1(t *testing.T, base string) bool {
	t.Helper()
	status, body, _ := call(t, "POST", base+"/api/backup/backup/graphs/graph1/snapshots?wait=true", "")
	if status != http.StatusCreated {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	var snap struct{ Encrypted bool }
	if err := json.Unmarshal(body, &snap); err != nil {
		t.Fatal(err)
	}
	return snap.Encrypted
}

// The key comes from -encryption-key-file or GRAPHVAULT_ENCRYPTION_KEY_FILE; a
// start without it, or with another key, prints one line naming the flag and
// exits 1; rotate-key moves the snapshots to a new key, after which only the new
// key starts the server.
func TestEncryptionKeyFile(t *testing.T) {
	dir := t.TempDir()
	oldKey := keyFile(t, hex.EncodeToString(bytes.Repeat([]byte{1}, 32))+"\n")
	newKey := keyFile(t, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))+"\n")
	env := map[string]string{"GRAPHVAULT_ENCRYPTION_KEY_FILE": oldKey}
	base, stop, done := startServerEnv(t, func(k string) string { return env[k] }, "-data", dir, "-every", "0")
	if !snapshotGraph1(t, base) {
		t.Fatal("the snapshot is not encrypted")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	wrongKey := keyFile(t, strings.Repeat("ab", 32))
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no key", nil, "no encryption key is given"},
		{"another key", []string{"-encryption-key-file", wrongKey}, "1 of the 1 data keys"},
		{"an unreadable key file", []string{"-encryption-key-file", filepath.Join(dir, "missing.key")}, "encryption key file"},
		{"a key file of the wrong size", []string{"-encryption-key-file", keyFile(t, "abcd")}, "32 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runMain(t, append([]string{"-addr", "127.0.0.1:0", "-data", dir, "-every", "0"}, tc.args...)...)
			if status != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", status, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "server: ") ||
				!strings.Contains(stderr, tc.says) || !strings.Contains(stderr, "(set -encryption-key-file or GRAPHVAULT_ENCRYPTION_KEY_FILE)") {
				t.Fatalf("stderr %q: want one line saying %q and naming the flag", stderr, tc.says)
			}
			if strings.Contains(stdout, "graphvault listening") {
				t.Fatal("the server started")
			}
		})
	}

	if _, stderr, status := runMain(t, "rotate-key", "-data", dir, "-encryption-key-file", oldKey); status != 1 || !strings.Contains(stderr, "-new") {
		t.Fatalf("rotate-key without -new: status %d, %q", status, stderr)
	}
	stdout, stderr, status := runMain(t, "rotate-key", "-data", dir, "-encryption-key-file", oldKey, "-new", newKey)
	if status != 0 || !strings.Contains(stdout, "rotated 1 data keys") {
		t.Fatalf("rotate-key: status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	if _, stderr, status := runMain(t, "-addr", "127.0.0.1:0", "-data", dir, "-every", "0", "-encryption-key-file", oldKey); status != 1 || !strings.Contains(stderr, "wrong encryption key") {
		t.Fatalf("the old key after rotate-key: status %d, %q", status, stderr)
	}
	base, _, _ = startServer(t, "-data", dir, "-every", "0", "-demo=false", "-encryption-key-file", newKey)
	if !snapshotGraph1(t, base) {
		t.Fatal("the snapshot after the rotation is not encrypted")
	}
	status, body, _ := call(t, "GET", base+"/api/backup/backup/graphs/graph1/snapshots", "")
	var list struct {
		Items []struct{ Status string } `json:"items"`
	}
	if err := json.Unmarshal(body, &list); status != http.StatusOK || err != nil || len(list.Items) != 2 {
		t.Fatalf("snapshots after the rotation: %d %s", status, body)
	}
	for _, it := range list.Items {
		if it.Status != "completed" {
			t.Fatalf("a snapshot is %s after the starts with wrong keys: %s", it.Status, body)
		}
	}
}
