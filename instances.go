package graphvault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	_ "github.com/graphvault/graphvault/store/blob/fileblob" // registers "file"
	_ "github.com/graphvault/graphvault/store/blob/memblob"  // registers "mem"
	_ "github.com/graphvault/graphvault/store/blob/s3blob"   // registers "s3"
	"github.com/graphvault/graphvault/store/meta"
)

// Start-up errors. Each names, in its message, the setting to fix (the Config
// field and examples/server's flag and environment variable), on one line.
var (
	// ErrStore reports a metadata store that cannot be reached or migrated.
	ErrStore = errors.New("graphvault: metadata store unavailable")
	// ErrBucket reports a bucket that cannot be reached or written.
	ErrBucket = errors.New("graphvault: bucket unavailable")
	// ErrInstance reports an instance name another running instance sharing
	// the store holds.
	ErrInstance = errors.New("graphvault: instance name in use")
)

// DefaultLeaseTTL is how long an instance's leases hold without renewal when
// Config.LeaseTTL is not set.
const DefaultLeaseTTL = 30 * time.Second

// setupError is a start-up error one setting can fix: the sentinel, what
// failed and its cause, as a SettingError naming the Config field.
func setupError(sentinel error, what string, cause error, setting string) error {
	err := fmt.Errorf("%w: %s", sentinel, what)
	if cause != nil {
		err = fmt.Errorf("%w: %s: %w", sentinel, what, cause)
	}
	return &SettingError{Setting: setting, Err: err}
}

var validInstance = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$`)

// withPlaceDefaults fills and checks Store, Bucket, Instance and LeaseTTL.
func (c *Config) withPlaceDefaults() error {
	if c.Store == "" {
		c.Store = filepath.Join(c.Data, "graphvault.db")
	}
	if c.Bucket == "" {
		c.Bucket = filepath.Join(c.Data, "bucket")
	}
	if c.Instance != "" && !validInstance.MatchString(c.Instance) {
		return fmt.Errorf("%w: instance name %q: up to 200 letters, digits and . _ : @ / -, starting with a letter or digit", ErrInvalid, c.Instance)
	}
	switch {
	case c.LeaseTTL < 0:
		return fmt.Errorf("%w: LeaseTTL must not be negative", ErrInvalid)
	case c.LeaseTTL == 0:
		c.LeaseTTL = DefaultLeaseTTL
	}
	return nil
}

// localPath returns the file or folder a store DSN or bucket URL names on this
// machine, or "" when it names a server.
func localPath(s string) string {
	if s == ":memory:" || strings.HasPrefix(s, "mem://") {
		return ""
	}
	if rest, ok := strings.CutPrefix(s, "file:"); ok {
		if u, err := url.Parse(s); err == nil && u.Path != "" {
			rest = u.Path
		}
		s = rest
	} else if scheme, _, ok := strings.Cut(s, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		return ""
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return ""
	}
	return abs
}

// openStore opens and migrates the metadata store Config.Store names.
func (v *Vault) openStore(ctx context.Context, opts ...meta.Option) error {
	st, err := meta.Open(ctx, v.cfg.Store, opts...)
	if err == nil {
		v.store = st
		return nil
	}
	what := "cannot open it"
	var me *meta.Error
	switch {
	case errors.Is(err, meta.ErrInvalid):
		what = "invalid DSN"
	case errors.As(err, &me) && me.Op == "ping":
		what = "unreachable"
	case errors.As(err, &me) && me.Op == "migrate":
		what = "not migrated, and migrating it failed"
	}
	return setupError(ErrStore, meta.RedactDSN(v.cfg.Store)+" "+what, err, "Store")
}

// openBucketDriver opens the bucket Config.Bucket names and checks that it takes
// a write: an object is written, read back and deleted.
func (v *Vault) openBucketDriver(ctx context.Context) (blob.Driver, error) {
	where := v.cfg.Bucket
	if u, err := url.Parse(where); err == nil && u.User != nil {
		where = u.Redacted()
	}
	drv, err := blob.OpenDriver(ctx, v.cfg.Bucket)
	if err != nil {
		what := "unreachable"
		if errors.Is(err, blob.ErrInvalidURL) {
			what = "invalid URL"
		}
		return nil, setupError(ErrBucket, where+" "+what, err, "Bucket")
	}
	if err := probeBucket(ctx, drv); err != nil {
		return nil, errors.Join(setupError(ErrBucket, where+" not writable", err, "Bucket"), drv.Close())
	}
	return drv, nil
}

// probeKey is where the start-up write check puts its object; the ULID makes it
// one instance's own.
func probeKey() string { return "graphvault-probe/" + meta.NewID() }

func probeBucket(ctx context.Context, drv blob.Driver) error {
	key, want := probeKey(), []byte("graphvault start-up write check")
	if err := drv.Put(ctx, key, want); err != nil {
		return err
	}
	got, err := drv.Get(ctx, key)
	if err == nil && !bytes.Equal(got, want) {
		err = errors.New("an object written reads back different")
	}
	return errors.Join(err, drv.Delete(ctx, key))
}

// processNames are the instance names the Vaults open in this process use, so
// that the default name is unique among them too.
var processNames struct {
	sync.Mutex
	m map[string]bool
}

// claimName reserves the instance name in this process, making the default
// "host/pid" (then "host/pid-2", ...) when none is given.
func claimName(name string) (string, error) {
	processNames.Lock()
	defer processNames.Unlock()
	if processNames.m == nil {
		processNames.m = map[string]bool{}
	}
	if name != "" {
		if processNames.m[name] {
			return "", setupError(ErrInstance, fmt.Sprintf("another Vault of this process is named %q", name), nil, "Instance")
		}
		processNames.m[name] = true
		return name, nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	base := fmt.Sprintf("%s/%d", host, os.Getpid())
	name = base
	for i := 2; processNames.m[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	processNames.m[name] = true
	return name, nil
}

func releaseName(name string) {
	processNames.Lock()
	defer processNames.Unlock()
	delete(processNames.m, name)
}

func nameInProcess(name string) bool {
	processNames.Lock()
	defer processNames.Unlock()
	return processNames.m[name]
}

// instanceLease is the lease an instance holds while it is open.
func instanceLease(name string) string { return "graphvault.instance." + name }

// instance is this Vault's presence among the instances sharing the store: the
// lease it holds and renews, and the goroutine renewing it.
type instance struct {
	name, holder string
	held         bool
	cancel       context.CancelFunc
	done         chan struct{}
	stopOnce     sync.Once
}

// join takes the instance lease. A lease of the same name held by a process of
// this host that is gone is taken over at once; one held by another live
// instance is waited for, up to one lease time, in case it is a previous run of
// this instance that was killed; then join fails with ErrInstance.
func (v *Vault) join(ctx context.Context) error {
	inst := &v.inst
	inst.holder = inst.name + "#" + meta.NewID()
	lease, ttl := instanceLease(inst.name), v.cfg.LeaseTTL
	deadline := time.Now().Add(ttl + ttl/3)
	for {
		ok, err := v.store.AcquireLease(ctx, lease, inst.holder, ttl)
		if err != nil {
			return setupError(ErrStore, "cannot take the instance lease", err, "Store")
		}
		if ok {
			inst.held = true
			break
		}
		l, err := v.store.GetLease(ctx, lease)
		if err == nil && processGone(strings.SplitN(l.Holder, "#", 2)[0]) {
			if err := v.store.ReleaseLease(ctx, lease, l.Holder); err != nil {
				return setupError(ErrStore, "cannot release a gone process's instance lease", err, "Store")
			}
			continue
		}
		if time.Now().After(deadline) {
			return setupError(ErrInstance, fmt.Sprintf("instance %q is running elsewhere (its lease is renewed)", inst.name), nil, "Instance")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ttl / 10):
		}
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	inst.cancel, inst.done = cancel, make(chan struct{})
	go v.heartbeat(hctx)
	return nil
}

// heartbeat renews the instance lease every third of its time to live and
// settles the rows of instances that stopped meanwhile.
func (v *Vault) heartbeat(ctx context.Context) {
	defer close(v.inst.done)
	ttl := v.cfg.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := v.store.AcquireLease(ctx, instanceLease(v.inst.name), v.inst.holder, ttl)
		switch {
		case err != nil && ctx.Err() == nil:
			v.log.Warn("renew instance lease", "instance", v.inst.name, "err", err)
		case err == nil && !ok:
			v.log.Error("instance lease taken by another instance of the same name", "instance", v.inst.name)
		}
		if n, err := v.engine.ResolveAbandoned(ctx, v.abandonedBy(false)); err != nil && ctx.Err() == nil {
			v.log.Warn("settle snapshots of stopped instances", "err", err)
		} else if n > 0 {
			v.log.Info("settled snapshots of stopped instances", "count", n)
			v.refreshHealth()
		}
	}
}

// leave stops the heartbeat and gives the instance lease up; safe to call twice
// and on a Vault that never joined.
func (v *Vault) leave() error {
	var err error
	v.inst.stopOnce.Do(func() {
		if v.inst.cancel != nil {
			v.inst.cancel()
			<-v.inst.done
		}
		if v.inst.held {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = v.store.ReleaseLease(ctx, instanceLease(v.inst.name), v.inst.holder)
		}
		releaseName(v.inst.name)
	})
	return err
}

// abandonedBy tells whether a pending or running snapshot row is abandoned: no
// live instance is writing it.
//   - A row of this instance is abandoned at start (this instance holds its
//     name's lease, so the row is a previous run's), never afterwards.
//   - A row of another instance is abandoned when that instance's lease is
//     gone (released, or expired: it stopped renewing it), or when its default
//     name (host/pid) says it ran on this host in a process that no longer exists.
//   - A row that names no instance (written before instances were named, or by
//     an engine without backup.WithInstance) is abandoned once older than
//     Config.TempMaxAge.
func (v *Vault) abandonedBy(atStart bool) func(context.Context, *meta.Snapshot) (bool, error) {
	return func(ctx context.Context, row *meta.Snapshot) (bool, error) {
		owner := row.Labels[backup.InstanceLabel]
		switch {
		case owner == "":
			return time.Since(row.StartedAt) > v.cfg.TempMaxAge, nil
		case owner == v.inst.name:
			return atStart, nil
		}
		l, err := v.store.GetLease(ctx, instanceLease(owner))
		if errors.Is(err, meta.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return l.Expired(time.Now()) || processGone(owner), nil
	}
}

// processGone reports whether a default instance name ("host/pid" or
// "host/pid-N") names a process of this host that no longer exists. Any other
// name, or a process that may exist, is not gone.
func processGone(name string) bool {
	host, rest, ok := strings.Cut(name, "/")
	if !ok {
		return false
	}
	if me, err := os.Hostname(); err != nil || me != host {
		return false
	}
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return !nameInProcess(name)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH)
}

// localPaths are the files and folders of this machine among the store DSNs and
// bucket URLs given.
func localPaths(places ...string) []string {
	var out []string
	for _, p := range places {
		if l := localPath(p); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Instance returns the name this Vault goes by among the instances sharing its
// store (Config.Instance, or the default made from the host name and process id).
func (v *Vault) Instance() string { return v.inst.name }
