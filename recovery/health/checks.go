package health

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// StoreCheck checks that the metadata store answers and is migrated: it pings the
// database and reads the migrations table. Component "store", name "database".
type StoreCheck struct {
	st *meta.Store
}

// NewStoreCheck returns a check of st.
func NewStoreCheck(st *meta.Store) *StoreCheck { return &StoreCheck{st: st} }

// Component returns "store".
func (*StoreCheck) Component() string { return "store" }

// Name returns "database".
func (*StoreCheck) Name() string { return "database" }

// Check pings the store, then counts the applied migrations and reads the newest
// version. No migration recorded, or a table that cannot be read, fails.
func (c *StoreCheck) Check(ctx context.Context) Result {
	details := map[string]any{"dialect": c.st.Dialect()}
	start := time.Now()
	if err := c.st.Ping(ctx); err != nil {
		return Result{Status: Fail, Message: "unreachable: " + err.Error(), Details: details}
	}
	details["ping_seconds"] = time.Since(start).Seconds()
	var row struct {
		Count   int64 `bun:"n"`
		Version int64 `bun:"v"`
	}
	err := c.st.DB().NewSelect().TableExpr(meta.MigrationsTable).
		ColumnExpr("COUNT(*) AS n").ColumnExpr("COALESCE(MAX(version), 0) AS v").
		Scan(ctx, &row.Count, &row.Version)
	if err != nil {
		return Result{Status: Fail, Message: "cannot read the migrations table: " + err.Error(), Details: details}
	}
	details["migrations"] = row.Count
	details["schema_version"] = row.Version
	if row.Count == 0 {
		return Result{Status: Fail, Message: "not migrated: no migration recorded", Details: details}
	}
	// A real table of the schema must answer too: a recorded migration whose tables
	// were dropped is as broken as none.
	if _, err := c.st.CountSnapshots(ctx, meta.SnapshotFilter{}); err != nil {
		return Result{Status: Fail, Message: "cannot read the snapshots table: " + err.Error(), Details: details}
	}
	return Result{Status: Pass, Message: fmt.Sprintf("reachable, schema version %d", row.Version), Details: details}
}

// BucketCheck checks that a bucket is writable and readable: it writes a small
// random probe object under "health/", reads it back, compares the bytes and deletes
// it. Component "bucket", name as given.
type BucketCheck struct {
	name string
	b    *blob.Bucket
}

// ProbePrefix is the key prefix of the probe objects [BucketCheck] writes.
const ProbePrefix = "health/"

// NewBucketCheck returns a check of b named name ("data", a target's name).
func NewBucketCheck(name string, b *blob.Bucket) *BucketCheck {
	return &BucketCheck{name: name, b: b}
}

// Component returns "bucket".
func (*BucketCheck) Component() string { return "bucket" }

// Name returns the name given to NewBucketCheck.
func (c *BucketCheck) Name() string { return c.name }

// Check writes, reads back, compares and deletes one probe object. A write, read or
// delete that fails, or bytes read back that differ, fails the check.
func (c *BucketCheck) Check(ctx context.Context) Result {
	probe := make([]byte, 64)
	if _, err := rand.Read(probe); err != nil {
		return Result{Status: Fail, Message: "making the probe: " + err.Error()}
	}
	key := ProbePrefix + "probe-" + meta.NewID()
	details := map[string]any{"key": key, "bytes": len(probe)}
	start := time.Now()
	if err := c.b.Put(ctx, key, probe); err != nil {
		return Result{Status: Fail, Message: "write failed: " + err.Error(), Details: details}
	}
	got, err := c.b.Get(ctx, key)
	var res Result
	switch {
	case err != nil:
		res = Result{Status: Fail, Message: "read failed: " + err.Error()}
	case !bytes.Equal(got, probe):
		res = Result{Status: Fail, Message: fmt.Sprintf("read back %d bytes that differ from the %d written", len(got), len(probe))}
	}
	// Delete even after a failed read, with a context of its own so that a
	// timed-out read does not leave the probe behind.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if derr := c.b.Delete(dctx, key); derr != nil && res.Status == "" {
		res = Result{Status: Fail, Message: "delete failed: " + derr.Error()}
	}
	if res.Status == "" {
		res = Result{Status: Pass, Message: "write, read and delete succeeded"}
	}
	details["round_trip_seconds"] = time.Since(start).Seconds()
	res.Details = details
	return res
}

// FreshnessPolicy says how old a graph's newest completed snapshot may be.
type FreshnessPolicy struct {
	// WarnAfter: an older newest snapshot warns. Default 25h (a daily schedule and
	// an hour to run it).
	WarnAfter time.Duration
	// FailAfter: an older newest snapshot fails. Zero means twice WarnAfter;
	// negative means age never fails.
	FailAfter time.Duration
	// PerGraph overrides WarnAfter for some graphs; FailAfter is then twice the
	// override unless it is negative.
	PerGraph map[string]time.Duration
	// FullVerify verifies the newest snapshot fully (reads and hashes every object)
	// instead of quickly (every object present with its size).
	FullVerify bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SnapshotFreshnessCheck checks every graph's newest completed snapshot: its age
// against a [FreshnessPolicy], and its integrity with [backup.Engine.Verify].
// Component "backup", name "snapshots".
type SnapshotFreshnessCheck struct {
	e      *backup.Engine
	graphs graph.Catalog
	p      FreshnessPolicy
}

// NewSnapshotFreshnessCheck returns a check of the snapshots e keeps. The graphs
// checked are those of the catalog when it is not nil (a graph without any snapshot
// then warns), and otherwise every graph that has snapshots in the meta.
func NewSnapshotFreshnessCheck(e *backup.Engine, graphs graph.Catalog, p FreshnessPolicy) *SnapshotFreshnessCheck {
	if p.WarnAfter <= 0 {
		p.WarnAfter = 25 * time.Hour
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &SnapshotFreshnessCheck{e: e, graphs: graphs, p: p}
}

// Component returns "backup".
func (*SnapshotFreshnessCheck) Component() string { return "backup" }

// Name returns "snapshots".
func (*SnapshotFreshnessCheck) Name() string { return "snapshots" }

// GraphFreshness is what [SnapshotFreshnessCheck] found for one graph; the check's
// Details hold one under "graphs" → graph id.
type GraphFreshness struct {
	Status     Status    `json:"status"`
	Snapshot   string    `json:"snapshot,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	AgeSeconds float64   `json:"age_seconds"`
	Verified   bool      `json:"verified"` // the snapshot passed verification in this check
	VerifyMode string    `json:"verify_mode,omitempty"`
	Problem    string    `json:"problem,omitempty"`
}

// Check judges every graph and returns the worst status, with one message part per
// graph that is not passing.
func (c *SnapshotFreshnessCheck) Check(ctx context.Context) Result {
	var ids []string
	var err error
	if c.graphs != nil {
		ids, err = c.graphs.GraphIDs(ctx)
	} else {
		ids, err = c.e.Store().GraphIDs(ctx)
	}
	if err != nil {
		return Result{Status: Fail, Message: "listing graphs: " + err.Error()}
	}
	if len(ids) == 0 {
		return Result{Status: Pass, Message: "no graphs to check", Details: map[string]any{"graphs": map[string]GraphFreshness{}}}
	}
	status := Pass
	var msgs []string
	per := make(map[string]GraphFreshness, len(ids))
	for _, id := range ids {
		if ctx.Err() != nil {
			return Result{Status: Fail, Message: "interrupted: " + ctx.Err().Error()}
		}
		g := c.graph(ctx, id)
		per[id] = g
		status = status.Worse(g.Status)
		if g.Status != Pass {
			msgs = append(msgs, id+": "+g.Problem)
		}
	}
	msg := fmt.Sprintf("%d graphs fresh and verified", len(ids))
	if len(msgs) > 0 {
		sort.Strings(msgs)
		msg = strings.Join(msgs, "; ")
	}
	return Result{Status: status, Message: msg, Details: map[string]any{"graphs": per}}
}

func (c *SnapshotFreshnessCheck) graph(ctx context.Context, id string) GraphFreshness {
	sn, err := c.e.Store().LatestSnapshot(ctx, id, meta.SnapshotCompleted)
	if errors.Is(err, meta.ErrNotFound) {
		return GraphFreshness{Status: Warn, Problem: "no completed snapshot"}
	}
	if err != nil {
		return GraphFreshness{Status: Fail, Problem: "reading snapshots: " + err.Error()}
	}
	warnAfter := c.p.WarnAfter
	if d, ok := c.p.PerGraph[id]; ok && d > 0 {
		warnAfter = d
	}
	failAfter := c.p.FailAfter
	if failAfter == 0 || failAfter > 0 && c.p.PerGraph[id] > 0 {
		failAfter = 2 * warnAfter
	}
	finished := sn.FinishedAt
	if finished.IsZero() {
		finished = sn.CreatedAt
	}
	age := c.p.Now().Sub(finished)
	g := GraphFreshness{Status: Pass, Snapshot: sn.ID, FinishedAt: finished, AgeSeconds: age.Seconds()}
	switch {
	case failAfter > 0 && age > failAfter:
		g.Status, g.Problem = Fail, fmt.Sprintf("newest snapshot %s is %s old, more than %s", sn.ID, age.Round(time.Second), failAfter)
	case age > warnAfter:
		g.Status, g.Problem = Warn, fmt.Sprintf("newest snapshot %s is %s old, more than %s", sn.ID, age.Round(time.Second), warnAfter)
	}
	g.VerifyMode = "quick"
	if c.p.FullVerify {
		g.VerifyMode = "full"
	}
	rep, err := c.e.Verify(ctx, sn.ID, c.p.FullVerify)
	switch {
	case err != nil:
		g.Status, g.Problem = Fail, fmt.Sprintf("verifying snapshot %s: %v", sn.ID, err)
	case !rep.OK:
		p := rep.Problems[0]
		g.Status = Fail
		g.Problem = fmt.Sprintf("snapshot %s is corrupt: object %s: %s", sn.ID, p.Object, p.Detail)
		if n := len(rep.Problems); n > 1 {
			g.Problem += fmt.Sprintf(" (and %d more problems)", n-1)
		}
	default:
		g.Verified = true
	}
	return g
}

// SchedulePolicy says when a scheduled job is late.
type SchedulePolicy struct {
	// Grace is how long past its next run a job may be before it warns. Zero means
	// the job's period.
	Grace time.Duration
	// FailAfter is how long past its next run a job may be before it fails. Zero
	// means three periods.
	FailAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SchedulerCheck checks a backup scheduler: a job whose last run failed fails, a job
// whose next run is overdue (the scheduler is stopped or stuck) warns and then
// fails, and a scheduler without jobs warns. Component "backup", name "scheduler".
type SchedulerCheck struct {
	s *backup.Scheduler
	p SchedulePolicy
}

// NewSchedulerCheck returns a check of s.
func NewSchedulerCheck(s *backup.Scheduler, p SchedulePolicy) *SchedulerCheck {
	if p.Now == nil {
		p.Now = time.Now
	}
	return &SchedulerCheck{s: s, p: p}
}

// Component returns "backup".
func (*SchedulerCheck) Component() string { return "backup" }

// Name returns "scheduler".
func (*SchedulerCheck) Name() string { return "scheduler" }

// JobHealth is what [SchedulerCheck] found for one job; the check's Details hold one
// under "jobs" → graph id.
type JobHealth struct {
	Status         Status    `json:"status"`
	Runs           int       `json:"runs"`
	Failures       int       `json:"failures"`
	LastRun        time.Time `json:"last_run,omitzero"`
	NextRun        time.Time `json:"next_run"`
	OverdueSeconds float64   `json:"overdue_seconds,omitempty"`
	Problem        string    `json:"problem,omitempty"`
}

// Check reads the scheduler's status; it does not run anything.
func (c *SchedulerCheck) Check(ctx context.Context) Result {
	jobs := c.s.Status()
	if len(jobs) == 0 {
		return Result{Status: Warn, Message: "no scheduled jobs", Details: map[string]any{"jobs": map[string]JobHealth{}}}
	}
	now := c.p.Now()
	status := Pass
	var msgs []string
	per := make(map[string]JobHealth, len(jobs))
	for _, j := range jobs {
		jh := JobHealth{Status: Pass, Runs: j.Runs, Failures: j.Failures, LastRun: j.LastRun, NextRun: j.NextRun}
		grace, failAfter := c.p.Grace, c.p.FailAfter
		if grace <= 0 {
			grace = j.Every
		}
		if failAfter <= 0 {
			failAfter = 3 * j.Every
		}
		overdue := now.Sub(j.NextRun)
		switch {
		case j.LastError != "":
			jh.Status, jh.Problem = Fail, fmt.Sprintf("last run failed (%d of %d runs failed): %s", j.Failures, j.Runs, j.LastError)
		case overdue > failAfter:
			jh.Status, jh.Problem = Fail, fmt.Sprintf("run overdue by %s", overdue.Round(time.Second))
		case overdue > grace:
			jh.Status, jh.Problem = Warn, fmt.Sprintf("run overdue by %s", overdue.Round(time.Second))
		}
		if overdue > 0 {
			jh.OverdueSeconds = overdue.Seconds()
		}
		per[j.GraphID] = jh
		status = status.Worse(jh.Status)
		if jh.Status != Pass {
			msgs = append(msgs, j.GraphID+": "+jh.Problem)
		}
	}
	msg := fmt.Sprintf("%d jobs on time", len(jobs))
	if len(msgs) > 0 {
		msg = strings.Join(msgs, "; ")
	}
	return Result{Status: status, Message: msg, Details: map[string]any{"jobs": per}}
}

// LagPolicy says how far behind a replication target may be.
type LagPolicy struct {
	// WarnAfter: a target whose last successful replication finished longer ago
	// warns. Default 1h.
	WarnAfter time.Duration
	// FailAfter: longer ago than this fails. Zero means four times WarnAfter.
	FailAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ReplicationLagCheck checks every enabled replication target in the store: the
// time since its last successful replication finished against a [LagPolicy]. A
// target that never succeeded warns; one whose newest event failed warns with the
// error. Component "replication", name "lag".
type ReplicationLagCheck struct {
	st *meta.Store
	p  LagPolicy
}

// NewReplicationLagCheck returns a check of the targets kept in st.
func NewReplicationLagCheck(st *meta.Store, p LagPolicy) *ReplicationLagCheck {
	if p.WarnAfter <= 0 {
		p.WarnAfter = time.Hour
	}
	if p.FailAfter <= 0 {
		p.FailAfter = 4 * p.WarnAfter
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return &ReplicationLagCheck{st: st, p: p}
}

// Component returns "replication".
func (*ReplicationLagCheck) Component() string { return "replication" }

// Name returns "lag".
func (*ReplicationLagCheck) Name() string { return "lag" }

// TargetLag is what [ReplicationLagCheck] found for one target; the check's
// Details hold one under "targets" → target name.
type TargetLag struct {
	Status      Status    `json:"status"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LagSeconds  float64   `json:"lag_seconds,omitempty"`
	Problem     string    `json:"problem,omitempty"`
}

// Check reads the targets and their newest events; it contacts no target.
func (c *ReplicationLagCheck) Check(ctx context.Context) Result {
	targets, err := c.st.ListTargets(ctx)
	if err != nil {
		return Result{Status: Fail, Message: "listing targets: " + err.Error()}
	}
	now := c.p.Now()
	status := Pass
	var msgs []string
	per := map[string]TargetLag{}
	for _, t := range targets {
		if !t.Enabled {
			continue
		}
		tl := TargetLag{Status: Pass}
		ok, _, err := c.st.ListReplicationEvents(ctx, meta.EventFilter{TargetID: t.ID, Status: meta.EventOK, Limit: 1})
		if err != nil {
			return Result{Status: Fail, Message: "reading events of " + t.Name + ": " + err.Error()}
		}
		newest, _, err := c.st.ListReplicationEvents(ctx, meta.EventFilter{TargetID: t.ID, Limit: 1})
		if err != nil {
			return Result{Status: Fail, Message: "reading events of " + t.Name + ": " + err.Error()}
		}
		if len(ok) == 0 {
			tl.Status, tl.Problem = Warn, "never replicated successfully"
		} else {
			e := ok[0]
			tl.LastSuccess = e.StartedAt.Add(time.Duration(e.DurationSeconds * float64(time.Second)))
			lag := max(now.Sub(tl.LastSuccess), 0)
			tl.LagSeconds = lag.Seconds()
			switch {
			case lag > c.p.FailAfter:
				tl.Status, tl.Problem = Fail, fmt.Sprintf("last success %s ago, more than %s", lag.Round(time.Second), c.p.FailAfter)
			case lag > c.p.WarnAfter:
				tl.Status, tl.Problem = Warn, fmt.Sprintf("last success %s ago, more than %s", lag.Round(time.Second), c.p.WarnAfter)
			}
		}
		if len(newest) > 0 && newest[0].Status == meta.EventFailed && tl.Status == Pass {
			tl.Status, tl.Problem = Warn, "newest replication failed: "+newest[0].Error
		}
		per[t.Name] = tl
		status = status.Worse(tl.Status)
		if tl.Status != Pass {
			msgs = append(msgs, t.Name+": "+tl.Problem)
		}
	}
	msg := fmt.Sprintf("%d targets within %s", len(per), c.p.WarnAfter)
	if len(msgs) > 0 {
		msg = strings.Join(msgs, "; ")
	}
	return Result{Status: status, Message: msg, Details: map[string]any{"targets": per}}
}
