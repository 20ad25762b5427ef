package replication

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/meta"
)

// ReplicateOptions tune one replication. The zero value pushes to every enabled
// target and checks objects already at a target by their size.
type ReplicateOptions struct {
	// TargetID names one target (enabled or not); empty means every enabled one.
	TargetID string
	// VerifyContent reads every object already at the target and checks its SHA-256;
	// a damaged one is sent again. Without it, objects are checked by size.
	VerifyContent bool
}

// Result says what one replication run to one target did. It is also recorded as a
// meta.ReplicationEvent with the id EventID.
type Result struct {
	TargetID       string        `json:"target_id"`
	TargetName     string        `json:"target_name"`
	GraphID        string        `json:"graph_id"`
	SnapshotID     string        `json:"snapshot_id"`
	EventID        string        `json:"event_id,omitempty"`
	OK             bool          `json:"ok"`
	Bytes          int64         `json:"bytes"`           // object bytes sent, manifest included
	ObjectsCopied  int64         `json:"objects_copied"`  // sent, the manifest included
	ObjectsSkipped int64         `json:"objects_skipped"` // already at the target, intact
	ObjectsResent  int64         `json:"objects_resent"`  // at the target but damaged; counted in copied too
	Duration       time.Duration `json:"duration_ns"`
	Error          string        `json:"error,omitempty"`
}

// Replicate copies a completed snapshot to one target or to every enabled one, in
// parallel. Per target it copies only the objects the target lacks or holds
// damaged, with bounded concurrency and retries, and writes the manifest last; runs
// to one target are serialized. It returns one Result per target, and an error
// joining the failures (or saying why nothing could start).
func (s *Service) Replicate(ctx context.Context, snapshotID string, opts ReplicateOptions) ([]Result, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if !meta.ValidID(snapshotID) {
		return nil, fmt.Errorf("%w: snapshot id %q is not a ULID", ErrInvalid, snapshotID)
	}
	var targets []meta.Target
	if opts.TargetID != "" {
		t, err := s.Get(ctx, opts.TargetID)
		if err != nil {
			return nil, err
		}
		targets = []meta.Target{*t}
	} else {
		all, err := s.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range all {
			if t.Enabled {
				targets = append(targets, t)
			}
		}
	}
	src, err := s.loadSource(ctx, snapshotID)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i := range targets {
		wg.Go(func() { results[i] = s.replicateTo(ctx, &targets[i], src, opts) })
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if !r.OK {
			errs = append(errs, fmt.Errorf("target %s: %s", r.TargetName, r.Error))
		}
	}
	if len(errs) > 0 {
		return results, fmt.Errorf("replication: snapshot %s: %w", snapshotID, errors.Join(errs...))
	}
	return results, nil
}

// source is a snapshot to replicate: its manifest's bytes and the objects it names.
type source struct {
	row      *meta.Snapshot
	manifest []byte
	objects  []backup.Object // unique keys; sizes from the manifest, or stat for data keys
}

func (s *Service) loadSource(ctx context.Context, snapshotID string) (*source, error) {
	m, err := s.engine.Manifest(ctx, snapshotID)
	if err != nil {
		if errors.Is(err, backup.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	row, err := s.store.GetSnapshot(ctx, snapshotID)
	if err != nil {
		return nil, storeErr(err)
	}
	raw, err := s.src.Get(ctx, row.ManifestKey)
	if err != nil {
		return nil, fmt.Errorf("replication: read manifest: %w", err)
	}
	if dm, err := DecodeManifest(raw); err != nil || dm.Root != m.Root {
		return nil, fmt.Errorf("%w: manifest %s changed while read", ErrCorrupt, row.ManifestKey)
	}
	src := &source{row: row, manifest: raw}
	seen := map[string]bool{}
	add := func(o backup.Object) {
		if !seen[o.Key] {
			seen[o.Key] = true
			src.objects = append(src.objects, o)
		}
	}
	for _, o := range m.Objects() {
		if o.Size == 0 && !seen[o.Key] { // data keys: the manifest records no size
			a, err := s.src.Stat(ctx, o.Key)
			if err != nil {
				return nil, fmt.Errorf("replication: data key %s: %w", o.Key, err)
			}
			o.Size = a.Size
		}
		add(o)
	}
	return src, nil
}

// run counts what one replication run did; it is shared by the copy goroutines.
type run struct {
	bytes, copied, skipped, resent atomic.Int64
}

func (s *Service) replicateTo(ctx context.Context, t *meta.Target, src *source, opts ReplicateOptions) Result {
	mu := s.targetLock(t.ID)
	mu.Lock()
	defer mu.Unlock()
	start := s.cfg.now()
	res := Result{TargetID: t.ID, TargetName: t.Name, GraphID: src.row.GraphID, SnapshotID: src.row.ID}
	var r run
	err := s.push(ctx, t, src, opts, &r)
	res.Duration = s.cfg.now().Sub(start)
	res.Bytes, res.ObjectsCopied, res.ObjectsSkipped, res.ObjectsResent = r.bytes.Load(), r.copied.Load(), r.skipped.Load(), r.resent.Load()
	res.OK = err == nil
	if err != nil {
		res.Error = scrub(err, t.Secret).Error()
	}
	ev := &meta.ReplicationEvent{
		TargetID: t.ID, GraphID: src.row.GraphID, SnapshotID: src.row.ID, Kind: meta.EventSnapshot,
		Status: meta.EventOK, Bytes: res.Bytes, ObjectsCopied: res.ObjectsCopied, ObjectsSkipped: res.ObjectsSkipped,
		JournalPos: src.row.JournalPos, StartedAt: start, DurationSeconds: res.Duration.Seconds(), Error: res.Error,
	}
	if !res.OK {
		ev.Status = meta.EventFailed
	}
	// The event is recorded even when ctx ended: the attempt happened.
	if err := s.store.AddReplicationEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("cannot record replication event", "target", t.Name, "snapshot", src.row.ID, "err", err)
	} else {
		res.EventID = ev.ID
	}
	s.m.run(ctx, t.Name, res)
	if res.OK {
		s.log.Info("snapshot replicated", "target", t.Name, "graph", res.GraphID, "snapshot", res.SnapshotID,
			"copied", res.ObjectsCopied, "skipped", res.ObjectsSkipped, "bytes", res.Bytes)
	} else {
		s.log.Warn("snapshot replication failed", "target", t.Name, "graph", res.GraphID, "snapshot", res.SnapshotID, "err", res.Error)
	}
	s.refreshLag(context.WithoutCancel(ctx), t, src.row.GraphID)
	return res
}

// push copies the objects, then the manifest. Write order is the crash-safety
// argument: the manifest goes only after every object it names is confirmed at the
// target, so a target never shows a snapshot it cannot restore; a crash leaves
// unreferenced objects that the next run finds and skips.
func (s *Service) push(ctx context.Context, t *meta.Target, src *source, opts ReplicateOptions, r *run) error {
	dst, err := s.bucketFor(ctx, t)
	if err != nil {
		return err
	}
	var lim *rate.Limiter
	if s.cfg.bandwidth > 0 {
		lim = rate.NewLimiter(rate.Limit(s.cfg.bandwidth), int(max(s.cfg.bandwidth, 64<<10)))
	}
	c := copier{s: s, dst: dst, lim: lim, verify: opts.VerifyContent, r: r, target: t.Name}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.concurrency)
	for _, o := range src.objects {
		g.Go(func() error { return c.object(gctx, o) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return c.manifest(ctx, src.row.ManifestKey, src.manifest)
}

type copier struct {
	s      *Service
	dst    *blob.Bucket
	lim    *rate.Limiter
	verify bool
	r      *run
	target string
}

// retry runs fn up to the policy's attempts, each under the attempt timeout, with
// exponential backoff and jitter between them. Errors that retrying cannot fix
// (the end of ctx, a damaged source object, an invalid key) stop it early.
func (c *copier) retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	p := c.s.cfg.retry
	delay := p.BaseDelay
	var err error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.s.cfg.attempt)
		err = fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		if errors.Is(err, errPermanent) || errors.Is(err, blob.ErrInvalidKey) || attempt >= p.Attempts {
			return fmt.Errorf("%s: after %d attempts: %w", what, attempt, err)
		}
		c.s.m.errors.Add(ctx, 1, c.s.m.targetAttr(c.target))
		d := delay/2 + rand.N(delay/2+1) // jitter in [d/2, d]
		tm := time.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-tm.C:
		}
		delay = min(delay*2, p.MaxDelay)
	}
}

var errPermanent = errors.New("not retried")

// object makes one object present and intact at the target.
func (c *copier) object(ctx context.Context, o backup.Object) error {
	var data []byte // read from the source once, on the first attempt that needs it
	resent := false
	err := c.retry(ctx, "object "+o.Key, func(ctx context.Context) error {
		ok, damaged, err := c.present(ctx, o)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		resent = resent || damaged
		if data == nil {
			if data, err = c.read(ctx, o); err != nil {
				return err
			}
		}
		if err := c.send(ctx, o.Key, data, false); err != nil {
			return err
		}
		// Verify after copy: a write the target lost or cut short is found here.
		a, err := c.dst.Stat(ctx, o.Key)
		if err != nil {
			return fmt.Errorf("check after copy: %w", err)
		}
		if a.Size != int64(len(data)) {
			return fmt.Errorf("%w: check after copy: %d bytes at the target, %d sent", ErrCorrupt, a.Size, len(data))
		}
		return nil
	})
	if err != nil {
		c.s.m.objects.Add(ctx, 1, c.s.m.resultAttr(c.target, "failed"))
		return err
	}
	if data != nil {
		c.r.copied.Add(1)
		if resent {
			c.r.resent.Add(1)
		}
		c.s.m.objects.Add(ctx, 1, c.s.m.resultAttr(c.target, "copied"))
	} else {
		c.r.skipped.Add(1)
		c.s.m.objects.Add(ctx, 1, c.s.m.resultAttr(c.target, "skipped"))
	}
	return nil
}

// present reports whether the target holds o intact (size, and the hash its key
// names when verifying content); damaged is true when it holds a wrong one.
func (c *copier) present(ctx context.Context, o backup.Object) (ok, damaged bool, err error) {
	a, err := c.dst.Stat(ctx, o.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if o.Size > 0 && a.Size != o.Size {
		return false, true, nil
	}
	if !c.verify || !isContentKey(o.Key) {
		return true, false, nil
	}
	b, err := c.dst.Get(ctx, o.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if !hashMatches(o.Key, b) {
		return false, true, nil
	}
	return true, false, nil
}

// read gets o from the source and checks it, so that damage is never spread.
func (c *copier) read(ctx context.Context, o backup.Object) ([]byte, error) {
	b, err := c.s.src.Get(ctx, o.Key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w: source object missing", errPermanent, ErrCorrupt)
		}
		return nil, fmt.Errorf("read source: %w", err)
	}
	if (o.Size > 0 && int64(len(b)) != o.Size) || (isContentKey(o.Key) && !hashMatches(o.Key, b)) {
		return nil, fmt.Errorf("%w: %w: the source object fails its size or hash check", errPermanent, ErrCorrupt)
	}
	return b, nil
}

// send writes data to the target after the bandwidth limiter allows it.
func (c *copier) send(ctx context.Context, key string, data []byte, ifAbsent bool) error {
	if c.lim != nil {
		for n := len(data); n > 0; {
			chunk := min(n, c.lim.Burst())
			if err := c.lim.WaitN(ctx, chunk); err != nil {
				return err
			}
			n -= chunk
		}
	}
	var err error
	if ifAbsent {
		err = c.dst.PutIfAbsent(ctx, key, data)
	} else {
		err = c.dst.Put(ctx, key, data)
	}
	if err != nil {
		return err
	}
	c.r.bytes.Add(int64(len(data)))
	c.s.m.bytes.Add(ctx, int64(len(data)), c.s.m.resultAttr(c.target, "ok"))
	return nil
}

// manifest writes the manifest with put-if-absent. One already there with the same
// bytes is skipped; a damaged one is replaced; an intact different one is a
// conflict.
func (c *copier) manifest(ctx context.Context, key string, data []byte) error {
	sent := false
	err := c.retry(ctx, "manifest "+key, func(ctx context.Context) error {
		err := c.send(ctx, key, data, true)
		if err == nil {
			sent = true
		} else if !errors.Is(err, blob.ErrExists) {
			return err
		}
		old, err := c.dst.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("check after copy: %w", err)
		}
		if bytes.Equal(old, data) {
			return nil
		}
		if _, derr := DecodeManifest(old); derr == nil {
			return fmt.Errorf("%w: %w: the target holds a different manifest under %s", errPermanent, ErrConflict, key)
		}
		// Damaged (or cut short by the target): replace it, then check again.
		if err := c.send(ctx, key, data, false); err != nil {
			return err
		}
		sent = true
		return fmt.Errorf("%w: damaged manifest replaced, checking again", ErrCorrupt)
	})
	if err != nil {
		c.s.m.objects.Add(ctx, 1, c.s.m.resultAttr(c.target, "failed"))
		return err
	}
	if sent {
		c.r.copied.Add(1)
		c.s.m.objects.Add(ctx, 1, c.s.m.resultAttr(c.target, "copied"))
	} else {
		c.r.skipped.Add(1)
		c.s.m.objects.Add(ctx, 1, c.s.m.resultAttr(c.target, "skipped"))
	}
	return nil
}

func isContentKey(key string) bool { return contentKeyPattern.MatchString(key) }

func hashMatches(key string, b []byte) bool {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == path.Base(key)
}
