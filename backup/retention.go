package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/meta"
)

// Retention says which completed snapshots of a graph to keep; a snapshot is kept
// if any rule keeps it. Each Keep* bucket rule keeps the newest snapshot of each of
// the last N hours, days, weeks or months that have one. The zero value keeps
// everything.
type Retention struct {
	KeepLast    int           `json:"keep_last,omitempty"`
	KeepHourly  int           `json:"keep_hourly,omitempty"`
	KeepDaily   int           `json:"keep_daily,omitempty"`
	KeepWeekly  int           `json:"keep_weekly,omitempty"`
	KeepMonthly int           `json:"keep_monthly,omitempty"`
	KeepWithin  time.Duration `json:"keep_within,omitempty"`
}

// IsZero reports whether r keeps everything.
func (r Retention) IsZero() bool { return r == Retention{} }

// Validate rejects negative counts and durations.
func (r Retention) Validate() error {
	if r.KeepLast < 0 || r.KeepHourly < 0 || r.KeepDaily < 0 || r.KeepWeekly < 0 || r.KeepMonthly < 0 || r.KeepWithin < 0 {
		return fmt.Errorf("%w: retention counts and durations must not be negative", ErrInvalid)
	}
	return nil
}

// keep applies r to snapshots ordered newest first and reports, for each, the rules
// that keep it (empty: remove). now anchors KeepWithin. A snapshot whose
// RetainUntil is in the future is always kept.
func (r Retention) keep(snaps []meta.Snapshot, now time.Time) [][]string {
	reasons := make([][]string, len(snaps))
	if r.IsZero() {
		for i := range reasons {
			reasons[i] = []string{"no policy"}
		}
		return reasons
	}
	type bucketRule struct {
		name  string
		n     int
		key   func(time.Time) string
		taken map[string]bool
	}
	rules := []*bucketRule{
		{"hourly", r.KeepHourly, func(t time.Time) string { return t.Format("2006-01-02T15") }, map[string]bool{}},
		{"daily", r.KeepDaily, func(t time.Time) string { return t.Format("2006-01-02") }, map[string]bool{}},
		{"weekly", r.KeepWeekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }, map[string]bool{}},
		{"monthly", r.KeepMonthly, func(t time.Time) string { return t.Format("2006-01") }, map[string]bool{}},
	}
	for i, s := range snaps {
		t := s.StartedAt.UTC()
		if i < r.KeepLast {
			reasons[i] = append(reasons[i], "last")
		}
		if r.KeepWithin > 0 && now.Sub(t) <= r.KeepWithin {
			reasons[i] = append(reasons[i], "within")
		}
		if !s.RetainUntil.IsZero() && s.RetainUntil.After(now) {
			reasons[i] = append(reasons[i], "retain-until")
		}
		for _, rule := range rules {
			k := rule.key(t)
			if len(rule.taken) < rule.n && !rule.taken[k] {
				rule.taken[k] = true
				reasons[i] = append(reasons[i], rule.name)
			}
		}
	}
	return reasons
}

// PruneResult lists what Prune kept and removed.
type PruneResult struct {
	GraphID string            `json:"graph_id"`
	Kept    map[string]string `json:"kept"` // snapshot id → reasons
	Removed []string          `json:"removed"`
	// Pinned counts the snapshots kept only because something still needs them
	// (a checkpoint, a replication not yet done; see Pinner).
	Pinned int  `json:"pinned"`
	DryRun bool `json:"dry_run"`
}

// Prune applies a retention policy to a graph's completed snapshots and removes the
// rest (their rows and manifests; their data goes at the next GC). Failed snapshot
// rows older than the newest kept snapshot are removed too. With dryRun it only says
// what it would do.
func (e *Engine) Prune(ctx context.Context, graphID string, r Retention, dryRun bool) (*PruneResult, error) {
	if !ValidGraphID(graphID) {
		return nil, fmt.Errorf("%w: graph id %q", ErrInvalid, graphID)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	unlock := e.lockGraph(graphID)
	defer unlock()
	snaps, err := e.allSnapshots(ctx, meta.SnapshotFilter{GraphID: graphID, Status: meta.SnapshotCompleted})
	if err != nil {
		return nil, err
	}
	pins, err := e.Pins(ctx, graphID)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{GraphID: graphID, Kept: map[string]string{}, Removed: []string{}, DryRun: dryRun}
	for i, why := range r.keep(snaps, time.Now().UTC()) {
		if len(why) > 0 {
			res.Kept[snaps[i].ID] = strings.Join(why, ",")
			continue
		}
		if pin, ok := pins[snaps[i].ID]; ok {
			res.Kept[snaps[i].ID] = "pinned: " + pin
			res.Pinned++
			continue
		}
		res.Removed = append(res.Removed, snaps[i].ID)
		if dryRun {
			continue
		}
		if err := e.deleteSnapshot(ctx, &snaps[i]); err != nil {
			return res, err
		}
		e.m.pruned.Add(ctx, 1, metric.WithAttributes(attribute.String("graph", graphID)))
	}
	return res, nil
}

// allSnapshots pages through every snapshot row matching f, newest first.
func (e *Engine) allSnapshots(ctx context.Context, f meta.SnapshotFilter) ([]meta.Snapshot, error) {
	var all []meta.Snapshot
	f.Limit = 1000
	for {
		page, next, err := e.store.ListSnapshots(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		f.Cursor = next
	}
}

// Delete removes one snapshot: its manifest, then its row. A pinned snapshot (see
// Pinner) is ErrBusy. Its data is collected by
// the next GC once no other manifest needs it. Snapshots built on it stay whole:
// each manifest lists every object of its own chain.
func (e *Engine) Delete(ctx context.Context, snapshotID string) error {
	if !meta.ValidID(snapshotID) {
		return fmt.Errorf("%w: snapshot id %q", ErrInvalid, snapshotID)
	}
	row, err := e.store.GetSnapshot(ctx, snapshotID)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("%w: snapshot %s", ErrNotFound, snapshotID)
		}
		return err
	}
	if row.Status == meta.SnapshotRunning || row.Status == meta.SnapshotPending {
		return fmt.Errorf("%w: snapshot %s is %s", ErrBusy, snapshotID, row.Status)
	}
	unlock := e.lockGraph(row.GraphID)
	defer unlock()
	if row.Status == meta.SnapshotCompleted {
		pins, err := e.pins(ctx, row.GraphID, false)
		if err != nil {
			return err
		}
		if why, ok := pins[row.ID]; ok {
			return pinnedError(row, why)
		}
	}
	return e.deleteSnapshot(ctx, row)
}

// deleteSnapshot removes the manifest first: a row without a manifest is repaired by
// Reindex, a manifest without a row would be resurrected by it.
func (e *Engine) deleteSnapshot(ctx context.Context, row *meta.Snapshot) error {
	key := row.ManifestKey
	if key == "" {
		key = manifestKey(row.GraphID, row.ID)
	}
	if err := e.bucket.Delete(ctx, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("backup: delete manifest of %s: %w", row.ID, err)
	}
	if e.live.forget(row.GraphID, row.ID) {
		e.m.liveCacheHeld(ctx, row.GraphID, 0)
	}
	if err := e.store.DeleteSnapshot(ctx, row.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("backup: delete snapshot %s: %w", row.ID, err)
	}
	return nil
}
