package graphvault_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/graphvault/graphvault"
)

// The deployment files of docs/deploy, which docs/DEPLOY.md walks through. The
// tests below hold each of them to what the code does: the Dockerfile's build
// stage is run, the flags of every command line are the server's, the metric
// names of the alert rules are a running Vault's, and promtool and
// systemd-analyze check their files where they are installed.
const (
	deployDir     = "docs/deploy"
	dockerfile    = deployDir + "/Dockerfile"
	systemdUnit   = deployDir + "/graphvault.service"
	promConfig    = deployDir + "/prometheus.yml"
	promRules     = deployDir + "/graphvault-alerts.yml"
	deployPage    = "docs/DEPLOY.md"
	serverPackage = "./examples/server"
	serverBinary  = "/usr/local/bin/graphvault-server" // where the unit, the image and the page install it
)

// dockerInstruction is one instruction of a Dockerfile, continuation lines joined.
type dockerInstruction struct {
	line  int
	cmd   string // upper case
	flags []string
	args  string
}

// knownDockerInstructions are the Dockerfile instructions of the reference.
var knownDockerInstructions = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
	"LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

// parseDockerfile reads a Dockerfile: comments and blank lines skipped, lines
// ending in a backslash joined with the next, flags (--name=value) taken off.
func parseDockerfile(t *testing.T, path string) []dockerInstruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			if cur.Len() > 0 && trimmed == "" {
				t.Errorf("%s:%d: a blank line inside a continued instruction", path, i+1)
			}
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		fields := strings.Fields(cur.String())
		in := dockerInstruction{line: start, cmd: strings.ToUpper(fields[0])}
		rest := strings.TrimSpace(strings.TrimPrefix(cur.String(), fields[0]))
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.flags = append(in.flags, f)
			rest = strings.TrimSpace(r)
		}
		in.args = rest
		out = append(out, in)
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Errorf("%s: the last instruction ends in a backslash", path)
	}
	return out
}

// dockerStage is the instructions of one FROM.
type dockerStage struct {
	image, name string
	ins         []dockerInstruction
}

func dockerStages(t *testing.T, ins []dockerInstruction) []dockerStage {
	t.Helper()
	var stages []dockerStage
	for _, in := range ins {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := dockerStage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				t.Fatalf("%s:%d: FROM %s", dockerfile, in.line, in.args)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", dockerfile, in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	return stages
}

// execForm decodes the JSON array form of CMD, ENTRYPOINT and VOLUME.
func execForm(t *testing.T, in dockerInstruction) []string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(in.args), &args); err != nil {
		t.Fatalf("%s:%d: %s is not in exec form (a JSON array): %v", dockerfile, in.line, in.cmd, err)
	}
	return args
}

// goVersion returns the go directive of go.mod as major.minor.
func goVersion(t *testing.T) (int, int) {
	t.Helper()
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major, minor
}

var (
	serverOnce  sync.Once
	serverPath  string
	serverErr   error
	serverFlags map[string]bool
)

// builtServer builds examples/server as the Dockerfile's build stage does (its
// go build command, run here with the output in a temporary folder) and returns
// the binary and the flags it takes, rotate-key's included.
func builtServer(t *testing.T) (string, map[string]bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds examples/server; not with -short")
	}
	serverOnce.Do(func() {
		env, args := dockerGoBuild(t)
		dir, err := os.MkdirTemp("", "graphvault-deploy-test-")
		if err != nil {
			serverErr = err
			return
		}
		serverPath = filepath.Join(dir, "graphvault-server")
		for i, a := range args {
			if a == "-o" {
				args[i+1] = serverPath
			}
		}
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			serverErr = &buildError{args: args, env: env, out: out, err: err}
			return
		}
		serverFlags = map[string]bool{}
		for _, sub := range [][]string{{"-h"}, {"rotate-key", "-h"}} {
			out, _ := exec.Command(serverPath, sub...).CombinedOutput()
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if m := regexp.MustCompile(`^  -([a-z][a-z0-9-]*)`).FindStringSubmatch(sc.Text()); m != nil {
					serverFlags[m[1]] = true
				}
			}
		}
		if len(serverFlags) == 0 {
			serverErr = &buildError{args: []string{"-h"}, err: io.ErrUnexpectedEOF}
		}
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return serverPath, serverFlags
}

type buildError struct {
	args, env []string
	out       []byte
	err       error
}

func (e *buildError) Error() string {
	return "the Dockerfile's build stage (" + strings.Join(e.env, " ") + " go " + strings.Join(e.args, " ") + ") fails: " + e.err.Error() + "\n" + string(e.out)
}

// dockerGoBuild returns the environment and the arguments of the go build of
// the Dockerfile's build stage.
func dockerGoBuild(t *testing.T) (env, args []string) {
	t.Helper()
	for _, st := range dockerStages(t, parseDockerfile(t, dockerfile)) {
		for _, in := range st.ins {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			fields := shellWords(t, in.args)
			for len(fields) > 0 && strings.Contains(fields[0], "=") {
				env, fields = append(env, fields[0]), fields[1:]
			}
			if len(fields) < 2 || fields[0] != "go" || fields[1] != "build" {
				t.Fatalf("%s:%d: RUN %s: want [VAR=value ...] go build ...", dockerfile, in.line, in.args)
			}
			return env, append([]string{"build"}, fields[2:]...)
		}
	}
	t.Fatalf("%s: no RUN go build", dockerfile)
	return nil, nil
}

// shellWords splits a command line as a POSIX shell does for words and quotes
// (no expansions): -ldflags="-s -w" is one word, -ldflags=-s -w.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case strings.ContainsRune("\\$`;&|<>()", r):
			t.Fatalf("%q: the test reads plain commands only, not %q", line, r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("%q: unterminated quote", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// checkFlags checks that every flag of a command line is one the server takes.
func checkFlags(t *testing.T, where string, args []string, flags map[string]bool) {
	t.Helper()
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || len(a) < 2 || a[1] >= '0' && a[1] <= '9' {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			t.Errorf("%s: the server has no flag -%s", where, name)
		}
	}
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, dockerfile)
	for _, in := range ins {
		if !slices.Contains(knownDockerInstructions, in.cmd) {
			t.Errorf("%s:%d: unknown instruction %s", dockerfile, in.line, in.cmd)
		}
	}
	stages := dockerStages(t, ins)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	// The build stage's Go is at least the one go.mod asks for.
	m := regexp.MustCompile(`^golang:(\d+)\.(\d+)`).FindStringSubmatch(build.image)
	if m == nil || build.name == "" {
		t.Fatalf("the build stage is FROM %s AS %q, want golang:<version> AS a name", build.image, build.name)
	}
	major, minor := goVersion(t)
	if a, _ := strconv.Atoi(m[1]); a != major {
		t.Fatalf("the build stage's Go %s.%s, go.mod's %d.%d", m[1], m[2], major, minor)
	} else if b, _ := strconv.Atoi(m[2]); b < minor {
		t.Fatalf("the build stage's Go %s.%s is older than go.mod's %d.%d", m[1], m[2], major, minor)
	}
	find := func(st dockerStage, cmd string) []dockerInstruction {
		var out []dockerInstruction
		for _, in := range st.ins {
			if in.cmd == cmd {
				out = append(out, in)
			}
		}
		return out
	}
	// What the build stage copies is in the repository.
	for _, in := range find(build, "COPY") {
		f := strings.Fields(in.args)
		for _, src := range f[:len(f)-1] {
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s:%d: COPY %s: %v", dockerfile, in.line, src, err)
			}
		}
	}
	// The run stage takes the binary from the build stage, runs as a user that
	// is not root, and checks its health.
	copied := false
	for _, in := range find(final, "COPY") {
		copied = copied || slices.Contains(in.flags, "--from="+build.name)
	}
	if !copied {
		t.Errorf("the run stage copies nothing --from=%s", build.name)
	}
	users := find(final, "USER")
	if len(users) == 0 {
		t.Fatal("the run stage has no USER: it would run as root")
	}
	if u, _, _ := strings.Cut(users[len(users)-1].args, ":"); u == "root" || u == "0" {
		t.Fatalf("the run stage runs as %s", users[len(users)-1].args)
	}
	exposed := find(final, "EXPOSE")
	hc := find(final, "HEALTHCHECK")
	if len(hc) != 1 || len(exposed) != 1 {
		t.Fatalf("the run stage has %d HEALTHCHECK and %d EXPOSE, want one of each", len(hc), len(exposed))
	}
	port := strings.Fields(exposed[0].args)[0]
	if !strings.HasPrefix(hc[0].args, "CMD ") || !strings.Contains(hc[0].args, "127.0.0.1:"+port+"/api/monitoring/health") {
		t.Fatalf("HEALTHCHECK %s: want a CMD asking 127.0.0.1:%s/api/monitoring/health", hc[0].args, port)
	}
	entry, cmd := find(final, "ENTRYPOINT"), find(final, "CMD")
	if len(entry) != 1 || len(cmd) != 1 {
		t.Fatalf("the run stage has %d ENTRYPOINT and %d CMD, want one of each", len(entry), len(cmd))
	}
	if e := execForm(t, entry[0]); len(e) != 1 || e[0] != serverBinary {
		t.Fatalf("ENTRYPOINT %v, want [%s]", e, serverBinary)
	}
	args := execForm(t, cmd[0])
	if i := slices.Index(args, "-addr"); i < 0 || i+1 == len(args) || args[i+1] != ":"+port {
		t.Errorf("CMD %v does not listen on the exposed port %s", args, port)
	}

	// The build stage builds examples/server, without cgo, as it is written.
	env, goArgs := dockerGoBuild(t)
	if !slices.Contains(goArgs, serverPackage) || !slices.Contains(env, "CGO_ENABLED=0") {
		t.Fatalf("the build stage runs %v go %v, want CGO_ENABLED=0 and %s", env, goArgs, serverPackage)
	}
	_, flags := builtServer(t)
	checkFlags(t, dockerfile+" CMD", args, flags)
}

// unitFile is a systemd unit: section, then key, then the values in order.
type unitFile map[string]map[string][]string

// knownUnitKeys are the directives of systemd.unit(5), systemd.service(5),
// systemd.exec(5), systemd.kill(5) and systemd.resource-control(5) the unit may use.
var knownUnitKeys = map[string][]string{
	"Unit": {"Description", "Documentation", "After", "Before", "Wants", "Requires", "BindsTo", "PartOf",
		"Conflicts", "StartLimitIntervalSec", "StartLimitBurst", "ConditionPathExists"},
	"Service": {"Type", "User", "Group", "DynamicUser", "Environment", "EnvironmentFile", "LoadCredential",
		"LoadCredentialEncrypted", "ExecStartPre", "ExecStart", "ExecReload", "ExecStop", "KillSignal", "KillMode",
		"TimeoutStartSec", "TimeoutStopSec", "Restart", "RestartSec", "RestartPreventExitStatus", "SuccessExitStatus",
		"StateDirectory", "StateDirectoryMode", "WorkingDirectory", "UMask", "LimitNOFILE", "MemoryMax",
		"NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
		"ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
		"RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality",
		"MemoryDenyWriteExecute", "SystemCallArchitectures", "SystemCallFilter", "CapabilityBoundingSet",
		"AmbientCapabilities", "ReadWritePaths", "ReadOnlyPaths"},
	"Install": {"WantedBy", "RequiredBy", "Alias"},
}

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	var cont strings.Builder
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cont.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";")) {
			continue
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cont.WriteString(body + " ")
			continue
		}
		cont.WriteString(trimmed)
		full := cont.String()
		cont.Reset()
		if strings.HasPrefix(full, "[") {
			if !strings.HasSuffix(full, "]") {
				t.Fatalf("%s:%d: section header %s", path, i+1, full)
			}
			section = strings.Trim(full, "[]")
			if _, ok := knownUnitKeys[section]; !ok {
				t.Errorf("%s:%d: unknown section [%s]", path, i+1, section)
			}
			u[section] = map[string][]string{}
			continue
		}
		key, value, ok := strings.Cut(full, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: %q is not key=value in a section", path, i+1, full)
		}
		key = strings.TrimSpace(key)
		if !slices.Contains(knownUnitKeys[section], key) {
			t.Errorf("%s:%d: unknown key %s in [%s]", path, i+1, key, section)
		}
		u[section][key] = append(u[section][key], strings.TrimSpace(value))
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	u := parseUnit(t, systemdUnit)
	one := func(section, key string) string {
		t.Helper()
		v := u[section][key]
		if len(v) != 1 || v[0] == "" {
			t.Fatalf("[%s] %s: %q, want one value", section, key, v)
		}
		return v[0]
	}
	one("Unit", "Description")
	one("Install", "WantedBy")
	if user := one("Service", "User"); user == "root" || user == "0" {
		t.Fatalf("the service runs as %s", user)
	}
	if s := one("Service", "KillSignal"); s != "SIGTERM" {
		t.Errorf("KillSignal=%s, want SIGTERM: the server stops gracefully on it", s)
	}
	execStart := strings.Fields(one("Service", "ExecStart"))
	if execStart[0] != serverBinary {
		t.Fatalf("ExecStart runs %s, want %s", execStart[0], serverBinary)
	}
	// The stop timeout leaves the server's own shutdown bound time to finish.
	stop, err := time.ParseDuration(one("Service", "TimeoutStopSec") + "s")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(execStart, "-shutdown-timeout"); i >= 0 {
		if d, err := time.ParseDuration(execStart[i+1]); err != nil || stop <= d {
			t.Errorf("TimeoutStopSec=%v is not above -shutdown-timeout %s", stop, execStart[i+1])
		}
	}
	// The key file the server reads is the credential the unit loads.
	if i := slices.Index(execStart, "-encryption-key-file"); i >= 0 {
		cred, _, _ := strings.Cut(one("Service", "LoadCredential"), ":")
		if execStart[i+1] != "${CREDENTIALS_DIRECTORY}/"+cred {
			t.Errorf("-encryption-key-file %s is not the credential %s", execStart[i+1], cred)
		}
	}
	bin, flags := builtServer(t)
	checkFlags(t, systemdUnit+" ExecStart", execStart[1:], flags)

	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is parsed only")
	}
	// systemd-analyze verify wants the program to exist.
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "graphvault.service")
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(b, []byte(serverBinary), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// promRuleFile is the part of a Prometheus rule file the test reads; unknown
// fields are refused.
type promRuleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type promConfigFile struct {
	Global        map[string]string `yaml:"global"`
	RuleFiles     []string          `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// metricNames are the graphvault families an expression reads.
var metricNames = regexp.MustCompile(`\bgraphvault_[a-z0-9_]+\b`)

func TestPrometheusRules(t *testing.T) {
	var cfg promConfigFile
	decodeYAML(t, promConfig, &cfg)
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].MetricsPath != "/api/monitoring/metrics/prometheus" {
		t.Fatalf("%s: want one scrape config of /api/monitoring/metrics/prometheus: %+v", promConfig, cfg.ScrapeConfigs)
	}
	job := cfg.ScrapeConfigs[0].JobName
	if !slices.Contains(cfg.RuleFiles, filepath.Base(promRules)) {
		t.Fatalf("%s loads %v, not %s", promConfig, cfg.RuleFiles, filepath.Base(promRules))
	}

	var rules promRuleFile
	decodeYAML(t, promRules, &rules)
	used := map[string][]string{} // family: the alerts that read it
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			switch {
			case r.Alert == "" || r.Expr == "":
				t.Errorf("a rule of group %s has no alert name or expression", g.Name)
			case r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning":
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, r.Labels["severity"])
			case r.Annotations["summary"] == "":
				t.Errorf("%s has no summary", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if strings.Contains(r.Expr, "up{") && !strings.Contains(r.Expr, `job="`+job+`"`) {
				t.Errorf("%s reads up of another job than %s", r.Alert, job)
			}
			for _, m := range metricNames.FindAllString(r.Expr, -1) {
				used[m] = append(used[m], r.Alert)
			}
		}
	}
	// The families that matter each have an alert.
	for _, want := range []string{"graphvault_backup_last_success_timestamp_seconds", "graphvault_replication_lag_seconds", "graphvault_health_status"} {
		if used[want] == nil {
			t.Errorf("no alert reads %s", want)
		}
	}

	// Every family the rules read is in the exposition of a running Vault that
	// took a snapshot, replicated it and shipped its journal to a file target,
	// and ran its health checks.
	exposed := exposition(t)
	for name, by := range used {
		if !exposed[name] {
			t.Errorf("alerts %v read %s, which a running Vault does not export", by, name)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed: the rules are parsed and their metric names checked, not run through promtool check rules")
	}
	for _, args := range [][]string{{"check", "rules", promRules}, {"check", "config", promConfig}} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Logf("promtool checked %d alerts: %s", len(alerts), strings.Join(alerts, ", "))
}

// exposition returns the families a running Vault exports, with the series
// names of histograms (_bucket, _sum, _count) too.
func exposition(t *testing.T) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Demo: true, ReplicationInterval: 100 * time.Millisecond,
		HealthInterval: 100 * time.Millisecond, SampleInterval: 100 * time.Millisecond})
	if err := v.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := serveVault(t, v.Handler())
	target := filepath.Join(dir, "targets", "copy")
	if status, body := send(t, "POST", srv.URL+"/api/backup/replication/targets", "",
		`{"name":"copy","kind":"file","config":{"path":"`+target+`"}}`); status != http.StatusCreated {
		t.Fatalf("target: %d %s", status, body)
	}
	snapshotDemo(t, v)
	changeDemo(t, v, "journal-entry")
	want := []string{"graphvault_backup_last_success_timestamp_seconds", "graphvault_replication_lag_seconds",
		"graphvault_replication_journal_lag_seconds", "graphvault_health_status"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body := send(t, "GET", srv.URL+"/api/monitoring/metrics/prometheus", "", "")
		if status != http.StatusOK {
			t.Fatalf("exposition: %d", status)
		}
		names := map[string]bool{}
		for _, line := range strings.Split(string(body), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
				names[f[2]] = true
				if len(f) == 4 && f[3] == "histogram" {
					for _, s := range []string{"_bucket", "_sum", "_count"} {
						names[f[2]+s] = true
					}
				}
			}
		}
		if !slices.ContainsFunc(want, func(n string) bool { return !names[n] }) || time.Now().After(deadline) {
			return names
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeployPage checks docs/DEPLOY.md: every graphvault-server command line in
// its code blocks takes flags the server has, and every file it links exists.
func TestDeployPage(t *testing.T) {
	b, err := os.ReadFile(deployPage)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#\s]+)\)`).FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], "://") {
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(deployPage), m[1])); err != nil {
			t.Errorf("%s links %s: %v", deployPage, m[1], err)
		}
	}
	_, flags := builtServer(t)
	commands, inBlock := 0, false
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		words := strings.Fields(line)
		if len(words) == 0 || words[0] != "graphvault-server" {
			continue
		}
		commands++
		args := shellWords(t, line)[1:]
		if len(args) > 0 && args[0] == "rotate-key" {
			args = args[1:]
		}
		checkFlags(t, fmt.Sprintf("%s:%d", deployPage, i+1), args, flags)
	}
	if commands < 4 {
		t.Fatalf("%s has %d graphvault-server command lines, want at least 4", deployPage, commands)
	}
}
